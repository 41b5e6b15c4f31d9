"""Resolve spec.subnetSelector / spec.securityGroupSelector into ids, before anything else looks.

The result is the spec with literal ids substituted (``Resolution.spec``), so the preflight, the
tenant policy, the plan and the status judge resolved ids exactly as literal ones. Resolved once
per generation and again at each resync (``AttachmentMemory.selection``); a change of the matching
set is an Event naming what was added and removed, and clears ``appliedGeneration`` so the plan
writes it as a spec change, not as drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.aws import AwsGateway
from lambda_vpc_operator.aws.errors import AwsError
from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.planner import selectors
from lambda_vpc_operator.planner.plans import Event
from lambda_vpc_operator.planner.selectors import Selection
from lambda_vpc_operator.planner.validation import Problem
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory

RESOLVED_SUBNETS = "resolvedSubnetIds"
RESOLVED_GROUPS = "resolvedSecurityGroupIds"


@dataclasses.dataclass(frozen=True)
class Resolution:
    spec: AttachmentSpec  # with the resolved ids in subnetIds / securityGroupIds
    problem: Problem | None = None  # Stalled: the selector is wrong or EC2 refuses to tell
    failure: Failure | None = None  # a passing EC2 failure: look again soon
    status_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    events: tuple[Event, ...] = ()

    @property
    def resolved(self) -> bool:
        return self.problem is None and self.failure is None


async def resolve(
    aws: AwsGateway,
    spec: AttachmentSpec,
    region: str,
    memory: AttachmentMemory,
    status: Mapping[str, Any],
    generation: int,
    resync: bool,
) -> Resolution:
    if not spec.selects:
        # Back to literal ids: forget what a selector resolved to.
        stale = {k: None for k in (RESOLVED_SUBNETS, RESOLVED_GROUPS) if status.get(k) is not None}
        return Resolution(spec, status_fields=stale)
    if memory.selection_generation == generation and memory.selection is not None and not resync:
        subnets, groups = memory.selection
        return Resolution(_with_ids(spec, subnets, groups))
    try:
        # A new generation or a resync reads again (answers younger than aws.selections.REFRESH_WINDOW
        # are shared): the matching set follows the tags within one resync.
        first = memory.selection_generation != generation
        subnet_pick, group_pick = await _select(aws, spec, region, refresh=first or resync, first=first)
    except AwsError as exc:
        if exc.failure.kind == FailureKind.ACCESS_DENIED:
            field = selectors.SUBNET_SELECTOR if spec.subnet_selector else selectors.GROUP_SELECTOR
            return Resolution(spec, problem=selectors.unreadable(field, exc.failure))
        return Resolution(spec, failure=exc.failure)
    problem = subnet_pick.problem or group_pick.problem or selectors.both_in_one_vpc(subnet_pick, group_pick)
    if problem is not None:
        memory.selection = None
        return Resolution(spec, problem=problem)
    subnets = subnet_pick.ids if spec.subnet_selector else tuple(spec.subnet_ids or ())
    groups = group_pick.ids if spec.security_group_selector else tuple(spec.security_group_ids or ())
    memory.selection_generation, memory.selection = generation, (subnets, groups)
    fields: dict[str, Any] = {
        RESOLVED_SUBNETS: list(subnets) if spec.subnet_selector else None,
        RESOLVED_GROUPS: list(groups) if spec.security_group_selector else None,
    }
    events = tuple(e for e in (
        selectors.changed("subnet", status.get(RESOLVED_SUBNETS), subnets) if spec.subnet_selector else None,
        selectors.changed("security group", status.get(RESOLVED_GROUPS), groups)
        if spec.security_group_selector else None,
    ) if e is not None)  # fmt: skip
    if events:
        fields["appliedGeneration"] = None  # the new set is a change to make, not drift to report
    return Resolution(_with_ids(spec, subnets, groups), status_fields=fields, events=events)


async def _select(
    aws: AwsGateway, spec: AttachmentSpec, region: str, *, refresh: bool, first: bool
) -> tuple[Selection, Selection]:
    subnet_pick = group_pick = Selection()
    if (wanted := spec.subnet_selector) is not None:
        found = await aws.selections.subnets(region, wanted.vpc_id, wanted.tags, refresh=refresh)
        routes = None
        vpcs = {s.vpc_id for s in found}
        if spec.require_internet_access and len(vpcs) == 1:
            # requireInternetAccess picks the private subnets with a NAT route (one read per VPC, cached).
            routes = await aws.routes.of_vpcs(region, sorted(vpcs), refresh=first)
        subnet_pick = selectors.select_subnets(
            found, wanted.tags, vpc_id=wanted.vpc_id, one_per_zone=wanted.one_per_availability_zone, routes=routes
        )
    if (chosen := spec.security_group_selector) is not None:
        found_groups = await aws.selections.groups(region, chosen.vpc_id, chosen.tags, refresh=refresh)
        group_pick = selectors.select_groups(found_groups, chosen.tags, vpc_id=chosen.vpc_id)
    return subnet_pick, group_pick


def _with_ids(spec: AttachmentSpec, subnets: tuple[str, ...], groups: tuple[str, ...]) -> AttachmentSpec:
    return spec.model_copy(update={"subnet_ids": list(subnets), "security_group_ids": list(groups)})
