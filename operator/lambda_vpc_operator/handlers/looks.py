"""One scheduler runs every attachment's looks: no kopf daemon per attachment.

Why: a kopf daemon per object cost about 30 KB each (kopf's copy of the body it keeps fresh for the
daemon, the daemon's task, stopper and logger): 150 MB at 5,000 attachments, most of the
operator's memory (docs/benchmarks.md "Memory"). Here an attachment is an ``Entry``: its latest
body as compact JSON, its ``AttachmentMemory``, and when its next look is due. One task sleeps until
the earliest due look or a wake-up, starts every due look, and never runs two looks of one
attachment together. No cap on looks running at once, as there was none on daemons: a look mostly
waits for a budget token or an AWS answer, and a cap let looks waiting on the control plane's
budget starve the others (the first full chaos run: a live attachment read 60 to 135 s apart).

What kopf's daemons guaranteed, kept here:
- a spec change, an annotation or a policy change wakes the attachment at once (``wake``), even in
  the middle of a look (it looks again right after);
- deletion: ``stop`` lets a running look finish (``grace``, then cancels it) and starts no other,
  before the release handler acts, as kopf stopped the daemon before ``on.delete``;
- peering: while kopf pauses this replica (another has priority), no look starts and running ones
  finish or are cancelled after ``grace`` (``kopf_fixes.paused`` is kopf's own pause);
- exit: ``close`` gives running looks ``EXIT_GRACE`` seconds, then cancels them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import json
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lambda_vpc_operator.reconciliation.memories import AttachmentMemory

logger = logging.getLogger(__name__)

GRACE = 30.0  # seconds a running look may take to finish once stopped (kopf's cancellation_timeout before)
# At exit, less: a look still running after it mostly waits for a budget token, and a write already
# sent lands anyway (its RevisionId guards it); the chaos run's graceful stops took 30 s with GRACE.
EXIT_GRACE = 5.0
PAUSE_CHECK = 1.0  # seconds between two checks of kopf's pause when nothing else happens

Look = Callable[[Mapping[str, Any], AttachmentMemory], Awaitable[float]]


@dataclasses.dataclass(slots=True)
class Entry:
    key: str  # the attachment's uid
    body: bytes  # the latest body the watch delivered, compressed JSON (``compact``)
    memory: AttachmentMemory
    due: float = 0.0  # the event loop's time of the next look
    task: asyncio.Task[None] | None = None
    woken: bool = False  # woken while its look ran: look again right after
    stopped: bool = False  # being deleted: no more looks


def compact(raw: Mapping[str, Any]) -> bytes:
    """The body without what no look reads (managedFields: often the biggest part of an object), as
    JSON compressed (conditions and ENI rows repeat themselves: about a third of the JSON's size)."""
    metadata = {k: v for k, v in (raw.get("metadata") or {}).items() if k != "managedFields"}
    return zlib.compress(json.dumps({**raw, "metadata": metadata}, separators=(",", ":")).encode(), 1)


def expand(body: bytes) -> dict[str, Any]:
    """The body ``compact`` kept, decoded for one look."""
    decoded: dict[str, Any] = json.loads(zlib.decompress(body))
    return decoded


class Looks:
    def __init__(
        self,
        look: Look,
        *,
        paused: Callable[[], bool] = lambda: False,
        grace: float = GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.look = look
        self.paused = paused
        self.grace = grace
        self.clock = clock
        self.entries: dict[str, Entry] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._pushed = 0  # tie-breaker: equal due times keep their order
        self._changed = asyncio.Event()
        self._closing = False

    # -- what the handlers tell --

    def upsert(self, key: str, raw: Mapping[str, Any], memory: AttachmentMemory) -> bool:
        """The watch's latest body of ``key``; True when it is new (its first look is due now)."""
        entry = self.entries.get(key)
        if entry is not None:
            entry.body = compact(raw)
            return False
        entry = self.entries[key] = Entry(key, compact(raw), memory)
        self._schedule(entry, self.clock())
        return True

    def wake(self, key: str) -> None:
        """Look at ``key`` now (or right after its running look)."""
        entry = self.entries.get(key)
        if entry is None or entry.stopped:
            return
        if entry.task is not None:
            entry.woken = True
        else:
            self._schedule(entry, self.clock())

    async def stop(self, key: str) -> None:
        """No more looks of ``key``; a running one may finish within ``grace`` seconds, else is cancelled."""
        entry = self.entries.get(key)
        if entry is None:
            return
        entry.stopped = True
        if entry.task is not None:
            await _finish(entry.task, self.grace)

    def remove(self, key: str) -> None:
        """The object is gone (the watch's DELETED)."""
        entry = self.entries.pop(key, None)
        if entry is not None:
            entry.stopped = True
            entry.memory.drop_ticket()  # its place in a budget's queue, if a look parked there
            if entry.task is not None:
                entry.task.cancel()

    # -- the scheduler task --

    async def run(self) -> None:
        """Start due looks for ever (kopf's startup handler runs it; ``close`` ends it)."""
        while not self._closing:
            self._changed.clear()
            if self.paused():
                await self._pause()
                continue
            self._start_due()
            # At least once a second: kopf's pause is a toggle of its own, checked rather than awaited.
            timeout = PAUSE_CHECK
            if self._heap:
                timeout = min(timeout, max(0.0, self._heap[0][0] - self.clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    async def close(self, grace: float = EXIT_GRACE) -> None:
        """Stop starting looks; running ones get ``grace`` seconds, then are cancelled."""
        self._closing = True
        self._changed.set()
        tasks = [e.task for e in self.entries.values() if e.task is not None]
        await asyncio.gather(*(_finish(task, grace) for task in tasks))

    def _start_due(self) -> None:
        now = self.clock()
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            entry = self.entries.get(key)
            if entry is None or entry.stopped or entry.task is not None or entry.due != due:
                continue  # gone, deleting, running, or rescheduled since this was pushed
            entry.task = asyncio.get_running_loop().create_task(self._look(entry), name=f"look at {key}")

    async def _look(self, entry: Entry) -> None:
        delay: float | None = None
        try:
            delay = await self.look(expand(entry.body), entry.memory)
        except asyncio.CancelledError:
            raise
        except Exception:  # the look catches its own (planner.errors); this is the scheduler's backstop
            logger.exception("%s: look failed outside its own error handling", entry.key)
            delay = GRACE
        finally:
            entry.task = None
            if not entry.stopped and not self._closing and self.entries.get(entry.key) is entry:
                if entry.woken or delay is None:
                    entry.woken = False
                    delay = 0.0 if delay is not None else GRACE
                self._schedule(entry, self.clock() + delay)
            self._changed.set()

    async def _pause(self) -> None:
        """kopf paused this replica: let running looks finish (or cancel them), start none."""
        tasks = [e.task for e in self.entries.values() if e.task is not None]
        if tasks:
            logger.info("Paused by kopf's peering: %d running look(s) finish, no new one starts", len(tasks))
            await asyncio.gather(*(_finish(task, self.grace) for task in tasks))
        while self.paused() and not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), PAUSE_CHECK)
            self._changed.clear()
        # Resumed: kopf lists again and every attachment's event arrives; look at each now anyway.
        now = self.clock()
        for entry in self.entries.values():
            if not entry.stopped and entry.task is None:
                self._schedule(entry, now)

    def _schedule(self, entry: Entry, due: float) -> None:
        entry.due = due
        self._pushed += 1
        heapq.heappush(self._heap, (due, self._pushed, entry.key))
        self._changed.set()


async def _finish(task: asyncio.Task[None], grace: float) -> None:
    """Wait for ``task`` up to ``grace`` seconds, then cancel it and wait for that."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
