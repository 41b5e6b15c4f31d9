"""Reconciler._network: how old a reading of a VPC's ENIs a look accepts (aws.enis' shared cache)."""

from __future__ import annotations

from typing import Any

from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.enis import EniFacts
from lambda_vpc_operator.models.functions import (
    FunctionObservation,
    FunctionRef,
    FunctionState,
    UpdateStatus,
    VpcSettings,
)
from lambda_vpc_operator.models.settings import OperatorSettings
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reconciler import Reconciler

RESYNC = 30.0
SPEC = AttachmentSpec.model_validate(
    {"functionName": "orders", "subnetIds": ["subnet-a"], "securityGroupIds": ["sg-1"]}
)
ENI = EniFacts("eni-1", "subnet-a", "vpc-1", "us-east-1a", "in-use", "10.0.0.5", frozenset({"sg-1"}))


class Interfaces:
    """aws.enis as the reconciler sees it: answers the ENIs and records the age each ask accepts."""

    def __init__(self, enis: tuple[EniFacts, ...]) -> None:
        self.enis = enis
        self.asked: list[float | None] = []

    async def in_vpc(self, region: str | None, vpc_id: str, *, max_age: float | None = None) -> Any:
        self.asked.append(max_age)
        return self.enis

    def age(self, region: str | None, vpc_id: str) -> float:
        return 1.0


class Gateway:
    def __init__(self, interfaces: Interfaces) -> None:
        self.enis = interfaces


def observed() -> FunctionObservation:
    return FunctionObservation(
        name="orders", arn="arn:aws:lambda:us-east-1:123456789012:function:orders",
        vpc=VpcSettings.of(["subnet-a"], ["sg-1"]), vpc_id="vpc-1", state=FunctionState.ACTIVE,
        state_reason=None, state_reason_code=None, last_update_status=UpdateStatus.SUCCESSFUL,
        last_update_status_reason=None, last_update_status_reason_code=None, revision_id="r1", role=None,
    )  # fmt: skip


async def network(interfaces: Interfaces, *, steady: bool) -> None:
    reconciler = Reconciler(Gateway(interfaces), OperatorSettings(resync_interval=RESYNC))  # type: ignore[arg-type]
    ref = FunctionRef.parse("orders", "us-east-1")
    situation = await reconciler._network(ref, SPEC, observed(), {}, AttachmentMemory(), 1, steady=steady)
    assert situation.enis == interfaces.enis


async def test_a_steady_look_takes_a_reading_up_to_a_resync_old() -> None:
    # The looks of a VPC's attachments are spread over the resync interval: each accepting a reading
    # that old, they share one DescribeNetworkInterfaces per interval, not one per INTERFACES_TTL.
    interfaces = Interfaces((ENI,))
    await network(interfaces, steady=True)
    assert interfaces.asked == [RESYNC]


async def test_a_look_of_a_change_takes_the_short_ttl() -> None:
    # After a write or a new generation the ENIs move: the cache's own short TTL (None) applies.
    interfaces = Interfaces((ENI,))
    await network(interfaces, steady=False)
    assert interfaces.asked == [None]
