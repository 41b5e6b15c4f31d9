"""One AWS request shared by concurrent askers, as a task that never ends in an exception.

Why: the observers, the ENI reader and the role check coalesce concurrent askers into one request
held by an asyncio task (``SingleFlight``: one in flight per key, forgotten when done; the callers
keep their own caches, and their TTLs, around it).

When kopf stops (SIGTERM, SIGINT), it waits for every task left in the loop and re-raises the
exception of any that failed (kopf ``run_tasks``: "hung" tasks). A shared request that failed while
its askers were being cancelled (a throttle, a reset connection) made a graceful stop end in a
traceback and exit code 1 (found by the chaos run, tests/chaos). So the shared task holds the
exception as its value, and each asker raises it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(frozen=True)
class Settled(Generic[T]):
    """What a shared request ended in: a value or an exception (never both)."""

    value: T | None = None
    error: Exception | None = None

    def unwrap(self) -> T:
        if self.error is not None:
            raise self.error
        return cast(T, self.value)


async def settled(awaitable: Awaitable[T]) -> Settled[T]:
    """Await ``awaitable``; its exception becomes the outcome (a cancellation still propagates)."""
    try:
        return Settled(value=await awaitable)
    except Exception as exc:
        return Settled(error=exc)


class SingleFlight(Generic[K, T]):
    """At most one request in flight per key; every caller asking meanwhile awaits the same one."""

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[Settled[T]]] = {}

    async def run(self, key: K, request: Callable[[], Awaitable[T]], name: str) -> T:
        """The answer of the request in flight for ``key``, or of ``request()`` started now (``name``
        names its task). A request in flight started after the caller's cache went stale, so the
        caller may take its answer as fresh."""
        task = self.start(key, request, name)
        # Shielded: one caller's cancellation must not cancel the request the others wait for.
        return (await asyncio.shield(task)).unwrap()

    def start(self, key: K, request: Callable[[], Awaitable[T]], name: str) -> asyncio.Task[Settled[T]]:
        """The request in flight for ``key``, or ``request()`` started now, for nobody to wait for (the
        task is kept here until it ends)."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.create_task(settled(request()), name=name)
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return task

    def in_flight(self, key: K) -> bool:
        """A request for ``key`` is in flight: ``run`` now joins it."""
        return key in self._tasks

    def tasks(self) -> list[asyncio.Task[Settled[T]]]:
        """The requests in flight."""
        return list(self._tasks.values())

    def _forget(self, key: K, task: asyncio.Task[Settled[T]]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        # Retrieve the outcome so that a request whose callers all gave up is not logged as unhandled.
        if not task.cancelled():
            task.exception()
