"""A clock the unit tests move by hand, for the aws layer's caches, TTLs and budgets.

Imported as ``from clocks import VirtualClock`` (pytest puts tests/unit on sys.path, as tests/e2e's
``harness``); not a conftest, so that no test imports conftest.
"""

from __future__ import annotations

import asyncio


class VirtualClock:
    """monotonic() and sleep(): a test sets or advances ``now``; sleeping advances it instead of waiting."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)  # still a suspension point, as a real sleep is
