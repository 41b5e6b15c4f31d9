"""The end of a deletion: the owner tag to remove, and the wait for Lambda to delete the ENIs.

Pure: ``reconciliation.releasing`` gathers the facts (the function's tags, the VPC's Lambda ENIs,
the combinations other functions use) and carries out what these functions decide.

Why wait at all (``spec.waitForNetworkCleanup``): Lambda deletes a detached function's Hyperplane
ENIs late, up to 20 minutes after the detach (aws-facts "Hyperplane ENIs"); a pipeline that deletes
the subnets or security groups right after the attachment fails with DependencyViolation until
then. An ENI is shared by every function with the same (subnet, security-group set), so one that
another function still uses will never go: it is not waited for. The wait is bounded by
``spec.deletionTimeout``: a deletion never blocks forever.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lambda_vpc_operator.models.enis import EniFacts
from lambda_vpc_operator.models.failures import Failure
from lambda_vpc_operator.models.functions import VpcSettings
from lambda_vpc_operator.models.owners import TAG
from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.conditions import Status
from lambda_vpc_operator.planner.plans import Event, EventType, Outcome, Plan

WAITING_FOR_NETWORK_CLEANUP = "WaitingForNetworkCleanup"
NETWORK_CLEANED_UP = "NetworkCleanedUp"
NETWORK_CLEANUP_TIMED_OUT = "NetworkCleanupTimedOut"
DELETION_TIMED_OUT = "DeletionTimedOut"
OWNER_TAG_REMOVED = "OwnerTagRemoved"
OWNER_TAG_KEPT = "OwnerTagKept"
# Polls while Lambda deletes ENIs (minutes): one shared DescribeNetworkInterfaces per VPC each.
CLEANUP_POLL = 10.0

Combo = tuple[str, frozenset[str]]  # (subnet, exact security-group set): one Hyperplane ENI


def owner_tag_is_ours(tags: Mapping[str, str] | None, written: str | None) -> bool:
    """Remove the owner tag only while it still holds the value we wrote (someone may have re-tagged it)."""
    return tags is not None and written is not None and tags.get(TAG) == written


def former_vpc(status: Mapping[str, Any]) -> VpcSettings:
    """The configuration the function had as last observed before the deletion (status.subnetIds, ...)."""
    return VpcSettings.of(status.get("subnetIds") or (), status.get("securityGroupIds") or ())


def combos_of(configurations: Iterable[VpcSettings]) -> frozenset[Combo]:
    return frozenset((s, c.security_group_ids) for c in configurations for s in c.subnet_ids)


def remaining(former: VpcSettings, enis: Sequence[EniFacts], shared: frozenset[Combo]) -> list[EniFacts]:
    """The ENIs of ``former``'s combinations that still exist and serve no other function."""
    return sorted(
        (e for e in enis if e.subnet_id in former.subnet_ids and e.group_ids == former.security_group_ids
         and (e.subnet_id, e.group_ids) not in shared),
        key=lambda e: (e.subnet_id, e.interface_id),
    )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Cleanup:
    former: VpcSettings
    enis: Sequence[EniFacts] | None  # None: DescribeNetworkInterfaces failed
    shared: frozenset[Combo]
    started: datetime.datetime
    now: datetime.datetime
    timeout: float  # seconds (spec.deletionTimeout)
    read_failure: Failure | None = None


def _rows(enis: Sequence[EniFacts]) -> list[dict[str, Any]]:
    return [
        {"subnetId": e.subnet_id, "availabilityZone": e.availability_zone, "networkInterfaceId": e.interface_id,
         "status": e.status}
        for e in enis
    ]  # fmt: skip


def plan_cleanup(function: str, c: Cleanup, started_text: str) -> Plan:
    """Released once the ENIs are gone or the timeout has passed (an Event either way); else wait."""
    left = remaining(c.former, c.enis or (), c.shared)
    elapsed = (c.now - c.started).total_seconds()
    if c.enis is not None and not left:
        return Plan(outcome=Outcome.RELEASED, conditions=None, events=(Event(
            EventType.NORMAL, NETWORK_CLEANED_UP,
            f"Lambda deleted the network interfaces {function} used alone; released after {elapsed:.0f}s",
        ),))  # fmt: skip
    unknown = f" (could not read them: {c.read_failure.code})" if c.read_failure is not None else ""
    ids = ", ".join(e.interface_id for e in left) or "unknown"
    if elapsed >= c.timeout:
        return Plan(outcome=Outcome.RELEASED, conditions=None, events=(Event(
            EventType.WARNING, NETWORK_CLEANUP_TIMED_OUT,
            f"Released {function} after spec.deletionTimeout ({c.timeout:.0f}s) with network interfaces still "
            f"there{unknown}: {ids}; Lambda deletes them later, and deleting their subnets or security groups "
            "fails until then",
        ),))  # fmt: skip
    message = (
        f"Detached {function}; waiting {elapsed:.0f}s of at most {c.timeout:.0f}s (spec.deletionTimeout) for Lambda "
        f"to delete its network interfaces{unknown}: {ids}"
    )
    return Plan(
        outcome=Outcome.WAIT,
        conditions=(
            conditions.ready(Status.FALSE, WAITING_FOR_NETWORK_CLEANUP, message),
            conditions.reconciling(WAITING_FOR_NETWORK_CLEANUP, message),
        ),
        requeue_after=min(CLEANUP_POLL, max(1.0, c.timeout - elapsed)),
        status_fields={"networkCleanup": {"startedTime": started_text, "remainingNetworkInterfaces": _rows(left)}},
    )


def untag_failed(function: str, failure: Failure) -> Event:
    return Event(
        EventType.WARNING, OWNER_TAG_KEPT,
        f"Could not remove the {TAG} tag from {function} ({failure.code}: {failure.message}); grant the operator "
        "lambda:UntagResource, or remove the tag by hand (another attachment may then take the function)",
    )  # fmt: skip


def give_up(
    function: str, waiting: Plan, deleted_at: datetime.datetime | None, now: datetime.datetime, timeout: float
) -> Plan | None:
    """A deletion that still waits ``timeout`` seconds (spec.deletionTimeout) after its deletionTimestamp,
    for Lambda to be free, for a role STS refuses, for a write AWS refuses, is released anyway (a
    deletion never blocks forever), with a Warning saying why it waited and that AWS was left as it
    was. None while there is time left."""
    if deleted_at is None or (now - deleted_at).total_seconds() < timeout:
        return None
    why = next((c.message for c in waiting.conditions or () if c.type == conditions.ConditionType.READY), "")
    return Plan(outcome=Outcome.RELEASED, conditions=None, events=(Event(
        EventType.WARNING, DELETION_TIMED_OUT,
        f"Released after spec.deletionTimeout ({timeout:.0f}s) without finishing: {why or 'still waiting'}. "
        f"Lambda function {function} was left on AWS as it was; change it there if needed",
    ),))  # fmt: skip
