"""Counting the looks that raised, by exception class, for the metrics endpoint.

A look that raises is a bug (ours or a library's) or an answer nobody expected; the status says it
for one attachment (planner.errors), this count says it for the whole operator, where an alert can
watch it (handlers.metrics: lambda_vpc_operator_reconcile_errors_total).
"""

from __future__ import annotations

import collections
import threading


class ErrorCounter:
    def __init__(self) -> None:
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()

    def count(self, handler: str, error: str) -> None:
        with self._lock:
            self._counts[handler, error] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


# The process-wide count: (handler: reconcile or release, exception class) -> failed looks.
errors = ErrorCounter()
