"""Reconciler.parse and reconcile: what an API server without the CRD's CEL rules lets through still stalls,
named, before any AWS call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
import pytest

from lambda_vpc_operator.aws import AwsGateway, metrics
from lambda_vpc_operator.models.settings import OperatorSettings
from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.conditions import ConditionType
from lambda_vpc_operator.planner.plans import Event
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reconciler import AttachmentView, InvalidSpec, Reconciler

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"


def _parse(**spec: Any) -> None:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    reconciler = Reconciler(AwsGateway.create("us-east-1", session=session), OperatorSettings())
    reconciler.parse(AttachmentView("ns", "a", 1, spec, {}))


def test_region_contradicting_the_arn() -> None:
    with pytest.raises(InvalidSpec, match=r"^spec.region contradicts the region of the ARN in spec.functionName"):
        _parse(functionName=ARN, region="eu-west-1", subnetIds=["subnet-1"], securityGroupIds=["sg-1"])
    _parse(functionName=ARN, region="us-east-1", subnetIds=["subnet-1"], securityGroupIds=["sg-1"])


def test_ids_and_selector_together() -> None:
    with pytest.raises(InvalidSpec, match=r"^set exactly one of spec.subnetIds and spec.subnetSelector"):
        _parse(functionName="orders", subnetIds=["subnet-1"], subnetSelector={"tags": {"a": "b"}},
               securityGroupIds=["sg-1"])  # fmt: skip


class Recorder:
    """The Reporter: status patches merged as the API server would, Events kept."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = {}
        self.events: list[Event] = []

    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        self.status = {**self.status, **patch}
        return self.status

    def post(self, event: Event) -> None:
        self.events.append(event)


async def test_reconcile_stalls_a_region_contradicting_the_arn_without_any_aws_call() -> None:
    # What an old CRD (without ARN_REGION_RULE) or an API server without CEL lets through.
    sent: list[str] = []
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")

    def refuse(request: Any, **_: Any) -> None:
        sent.append(f"{request.method} {request.url}")
        raise AssertionError(f"an AWS request was sent: {request.url}")

    session.events.register("before-send", refuse)  # every client of the session, every region
    aws = AwsGateway.create("us-east-1", session=session)
    before = metrics.calls.total()
    reconciler = Reconciler(aws, OperatorSettings())
    spec = {"functionName": ARN, "region": "eu-west-1", "subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"]}
    view = AttachmentView("ns", "a", 1, spec, {})
    memory, reporter = AttachmentMemory(), Recorder()

    delay = await reconciler.reconcile(view, reporter, memory)
    # Not retried soon: only a new generation can fix a spec (the resync, no hot loop).
    assert delay >= OperatorSettings().resync_interval

    ready = conditions.find(reporter.status["conditions"], ConditionType.READY)
    stalled = conditions.find(reporter.status["conditions"], ConditionType.STALLED)
    assert ready is not None and (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert stalled is not None and (stalled["status"], stalled["reason"]) == ("True", "InvalidSpec")
    for message in (ready["message"], stalled["message"]):
        assert "spec.region" in message and "drop spec.region or fix the ARN" in message, message
    assert reporter.status["observedGeneration"] == 1
    assert [(e.type, e.reason) for e in reporter.events] == [("Warning", "Stalled")]
    assert "spec.region" in reporter.events[0].message

    # The next look says the same and posts nothing new; nothing was ever sent to AWS.
    await reconciler.reconcile(AttachmentView("ns", "a", 1, spec, reporter.status), reporter, memory)
    assert len(reporter.events) == 1
    assert sent == [] and metrics.calls.total() == before
