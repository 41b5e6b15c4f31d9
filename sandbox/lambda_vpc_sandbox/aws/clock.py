"""The simulated clock: real time plus an offset that only grows.

Why: AWS takes seconds to minutes to create a Hyperplane ENI and up to 20 minutes to delete one
(aws-facts "Hyperplane ENIs"), and 14 days to deem a function idle (aws-facts "Inactive functions").
Tests must not wait that long. Every transition of the simulator is a deadline on this clock and is
evaluated lazily on the next request, so ``advance`` makes any delay pass at once, with no timers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Clock:
    """Simulated time in epoch seconds: ``time.time() + offset``; ``advance`` adds to the offset."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._source() + self._offset

    def advance(self, seconds: float) -> float:
        """Move simulated time forward (never back: deadlines already passed stay passed)."""
        if seconds < 0:
            raise ValueError(f"The clock only moves forward, not by {seconds} seconds.")
        with self._lock:
            self._offset += seconds
            return self._source() + self._offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
