"""Reconciler.fail: a look that raised becomes ReconcileError in status, an Event once, a count."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.models.settings import OperatorSettings
from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.conditions import ConditionType
from lambda_vpc_operator.planner.plans import Event
from lambda_vpc_operator.reconciliation import failing
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reconciler import AttachmentView, Reconciler


class Recorder:
    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.status: dict[str, Any] = {}
        self.events: list[Event] = []

    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.broken:
            raise ConnectionError("the API server is gone")
        self.status = {**self.status, **patch}
        return self.status

    def post(self, event: Event) -> None:
        self.events.append(event)


VIEW = AttachmentView("ns", "a", 2, {"functionName": "f"}, {})


async def test_failures_report_back_off_post_once_and_stall() -> None:
    failing.errors.reset()
    reconciler = Reconciler(None, OperatorSettings(stall_after_errors=3))  # type: ignore[arg-type]
    memory, reporter = AttachmentMemory(), Recorder()
    delays = []
    for _ in range(3):
        delays.append(await reconciler.fail(VIEW, reporter, memory, KeyError("Configuration"), "reconcile"))
    assert delays[0] < delays[1] < delays[2]
    stalled = conditions.find(reporter.status["conditions"], ConditionType.STALLED)
    assert stalled is not None and "KeyError: 'Configuration'" in stalled["message"]
    assert [e.reason for e in reporter.events] == ["ReconcileError"]  # once per distinct error
    assert failing.errors.snapshot() == {("reconcile", "KeyError"): 3}
    reconciler.recovered(memory)
    assert (memory.failures, memory.last_error) == (0, None)


async def test_a_failing_status_write_does_not_raise() -> None:
    reconciler = Reconciler(None, OperatorSettings())  # type: ignore[arg-type]
    delay = await reconciler.fail(VIEW, Recorder(broken=True), AttachmentMemory(), RuntimeError("x"), "reconcile")
    assert 0 < delay <= 300
