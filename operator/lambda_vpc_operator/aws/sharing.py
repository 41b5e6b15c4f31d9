"""One AWS request shared by concurrent askers, as a task that never ends in an exception.

Why: the observer, the ENI reader and the role check coalesce concurrent askers into one request
held by an asyncio task. When kopf stops (SIGTERM, SIGINT), it waits for every task left in the loop
and re-raises the exception of any that failed (kopf ``run_tasks``: "hung" tasks). A shared request
that failed while its askers were being cancelled (a throttle, a reset connection) made a graceful
stop end in a traceback and exit code 1 (found by the chaos run, tests/chaos). So the shared task
holds the exception as its value, and each asker raises it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a shared request ended in: a value or an exception (never both)."""

    value: T | None = None
    error: Exception | None = None

    def unwrap(self) -> T:
        if self.error is not None:
            raise self.error
        return cast(T, self.value)


async def settled(awaitable: Awaitable[T]) -> Outcome[T]:
    """Await ``awaitable``; its exception becomes the outcome (a cancellation still propagates)."""
    try:
        return Outcome(value=await awaitable)
    except Exception as exc:
        return Outcome(error=exc)
