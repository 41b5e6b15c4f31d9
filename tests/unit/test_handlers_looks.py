"""handlers.looks: one scheduler for every attachment's looks (what kopf's daemons did, per object)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.handlers import looks as looks_module
from lambda_vpc_operator.handlers.looks import Looks, compact, expand
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory

BODY = {"metadata": {"name": "a", "uid": "u1", "managedFields": [{"manager": "kubectl"}]}, "spec": {"x": 1}}


class Recorder:
    """A look that records what it saw and asks for ``delay``; it can be held until released."""

    def __init__(self, delay: float = 60.0) -> None:
        self.delay = delay
        self.seen: list[Mapping[str, Any]] = []
        self.running = 0
        self.most_at_once = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, raw: Mapping[str, Any], memory: AttachmentMemory) -> float:
        self.seen.append(raw)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            return self.delay
        finally:
            self.running -= 1


async def _until(predicate: Any, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def _run(scenario: Any) -> Any:
    async def main() -> Any:
        return await scenario()

    return asyncio.run(main())


def test_the_compact_body_drops_managed_fields_only() -> None:
    assert expand(compact(BODY)) == {"metadata": {"name": "a", "uid": "u1"}, "spec": {"x": 1}}


def test_a_new_attachment_is_looked_at_at_once_then_after_its_delay() -> None:
    async def scenario() -> None:
        look = Recorder(delay=0.2)
        looks = Looks(look)
        runner = asyncio.create_task(looks.run())
        assert looks.upsert("u1", BODY, AttachmentMemory())
        await _until(lambda: len(look.seen) == 1)
        assert not looks.upsert("u1", {**BODY, "spec": {"x": 2}}, AttachmentMemory())  # known: body only
        await _until(lambda: len(look.seen) == 2)  # the resync, with the latest body
        assert look.seen[1]["spec"] == {"x": 2}
        await looks.close()
        runner.cancel()

    _run(scenario)


def test_a_wake_during_a_look_looks_again_right_after_it() -> None:
    async def scenario() -> None:
        look = Recorder(delay=3600)
        look.gate = asyncio.Event()
        looks = Looks(look)
        runner = asyncio.create_task(looks.run())
        looks.upsert("u1", BODY, AttachmentMemory())
        await _until(lambda: look.running == 1)
        looks.wake("u1")  # a spec change while the look runs
        looks.wake("u1")
        look.gate.set()
        await _until(lambda: len(look.seen) == 2)
        await asyncio.sleep(0.05)
        assert len(look.seen) == 2 and look.most_at_once == 1  # never two looks of one attachment
        await looks.close()
        runner.cancel()

    _run(scenario)


def test_due_looks_all_run_side_by_side() -> None:
    async def scenario() -> None:
        look = Recorder()
        look.gate = asyncio.Event()  # every look waits (for a budget, for AWS)
        looks = Looks(look)
        runner = asyncio.create_task(looks.run())
        for i in range(100):
            looks.upsert(f"u{i}", BODY, AttachmentMemory())
        await _until(lambda: look.running == 100)  # none waits behind the others
        look.gate.set()
        await _until(lambda: len(look.seen) == 100)
        await looks.close()
        runner.cancel()

    _run(scenario)


def test_stop_lets_the_running_look_finish_and_starts_no_other() -> None:
    async def scenario() -> None:
        look = Recorder(delay=0.01)
        look.gate = asyncio.Event()
        looks = Looks(look)
        runner = asyncio.create_task(looks.run())
        looks.upsert("u1", BODY, AttachmentMemory())
        await _until(lambda: look.running == 1)
        stopping = asyncio.create_task(looks.stop("u1"))  # the release handler, at the deletion
        await asyncio.sleep(0.05)
        assert not stopping.done()  # it waits for the look
        look.gate.set()
        await stopping
        looks.wake("u1")
        await asyncio.sleep(0.1)
        assert len(look.seen) == 1
        await looks.close()
        runner.cancel()

    _run(scenario)


def test_stop_cancels_a_look_that_outlives_the_grace() -> None:
    async def scenario() -> None:
        look = Recorder()
        look.gate = asyncio.Event()  # never set
        looks = Looks(look, grace=0.05)
        runner = asyncio.create_task(looks.run())
        looks.upsert("u1", BODY, AttachmentMemory())
        await _until(lambda: look.running == 1)
        await looks.stop("u1")
        assert look.running == 0  # cancelled
        await looks.close()
        runner.cancel()

    _run(scenario)


def test_while_kopf_pauses_this_replica_no_look_starts(monkeypatch: Any) -> None:
    monkeypatch.setattr(looks_module, "PAUSE_CHECK", 0.02)

    async def scenario() -> None:
        paused = [True]
        look = Recorder(delay=3600)
        looks = Looks(look, paused=lambda: paused[0])
        runner = asyncio.create_task(looks.run())
        looks.upsert("u1", BODY, AttachmentMemory())
        await asyncio.sleep(0.1)
        assert look.seen == []
        paused[0] = False  # kopf resumed: every attachment is looked at
        await _until(lambda: len(look.seen) == 1)
        await looks.close()
        runner.cancel()

    _run(scenario)


def test_a_removed_attachment_is_never_looked_at_again() -> None:
    async def scenario() -> None:
        look = Recorder(delay=0.01)
        looks = Looks(look)
        runner = asyncio.create_task(looks.run())
        looks.upsert("u1", BODY, AttachmentMemory())
        await _until(lambda: len(look.seen) >= 1)
        looks.remove("u1")
        seen = len(look.seen)
        await asyncio.sleep(0.1)
        assert len(look.seen) == seen and "u1" not in looks.entries
        await looks.close()
        runner.cancel()

    _run(scenario)
