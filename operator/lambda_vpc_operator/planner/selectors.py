"""Decide which subnets and security groups a tag selector stands for (spec.subnetSelector, ...).

Pure: ``aws.selections`` reads what EC2 holds for the selector's tags (one filtered Describe per
VPC and tag set, shared), the reconciler's glue (``reconciliation.selecting``) calls these
functions and substitutes the result for the literal ids, so everything after (preflight,
policies, the plan) judges resolved ids exactly as literal ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lambda_vpc_operator.models.attachments import MAX_SECURITY_GROUPS, MAX_SUBNETS
from lambda_vpc_operator.models.failures import Failure
from lambda_vpc_operator.models.networks import SecurityGroupFacts, SubnetFacts
from lambda_vpc_operator.models.routes import VpcRoutes
from lambda_vpc_operator.planner import conditions, delays, planning
from lambda_vpc_operator.planner.conditions import Reason, Status
from lambda_vpc_operator.planner.plans import Event, EventType, Outcome, Plan
from lambda_vpc_operator.planner.validation import Problem, Severity

SUBNET_SELECTOR = "spec.subnetSelector"
GROUP_SELECTOR = "spec.securityGroupSelector"
# Reasons (Stalled: nothing is written while a selector is wrong).
SELECTOR_MATCHES_NOTHING = "SelectorMatchesNothing"
SELECTOR_TOO_BROAD = "SelectorTooBroad"
# Event posted when a resolution at resync found another set than the last one.
SELECTION_CHANGED = "SelectionChanged"


@dataclasses.dataclass(frozen=True)
class Selection:
    """The ids a selector resolved to, or the error that stops the attachment."""

    ids: tuple[str, ...] = ()
    vpc_ids: frozenset[str] = frozenset()
    problem: Problem | None = None


def describe_tags(tags: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _nothing(field: str, tags: Mapping[str, str], vpc_id: str | None, extra: str = "") -> Problem:
    where = f" in {vpc_id}" if vpc_id else ""
    return Problem(
        Severity.ERROR, SELECTOR_MATCHES_NOTHING, field,
        f"{field} ({describe_tags(tags)}){where} matches no {extra}resource; tag the resources or fix the selector",
    )  # fmt: skip


def _mixed(field: str, vpcs: Iterable[str]) -> Problem:
    return Problem(
        Severity.ERROR, Reason.MIXED_VPCS, field,
        f"{field} matches resources in several VPCs ({', '.join(sorted(vpcs))}); a function lives in one VPC: "
        f"set {field}.vpcId",
    )  # fmt: skip


def select_subnets(
    found: Sequence[SubnetFacts],
    tags: Mapping[str, str],
    *,
    vpc_id: str | None,
    one_per_zone: bool,
    routes: Mapping[str, VpcRoutes] | None = None,
) -> Selection:
    """The subnets a selector stands for.

    ``routes`` (requireInternetAccess) keeps only subnets whose route table sends 0.0.0.0/0 to a
    NAT gateway or an equivalent (``models.routes``: not an internet gateway, which gives a
    function no public IP); ``one_per_zone`` keeps, per Availability Zone, the subnet with the most
    free addresses (ties: the smallest id, so the choice is stable).
    """
    field = SUBNET_SELECTOR
    if not found:
        return Selection(problem=_nothing(field, tags, vpc_id))
    vpcs = frozenset(s.vpc_id for s in found)
    if len(vpcs) > 1:
        return Selection(problem=_mixed(field, vpcs))
    eligible = list(found)
    if routes is not None:
        eligible = [s for s in found if _reaches_internet(s, routes)]
        if not eligible:
            extra = "private subnet with a NAT route (spec.requireInternetAccess) among its "
            return Selection(problem=_nothing(field, tags, vpc_id, extra))
    if one_per_zone:
        best: dict[str, SubnetFacts] = {}
        for subnet in sorted(eligible, key=lambda s: (-s.available_ip_addresses, s.subnet_id)):
            best.setdefault(subnet.availability_zone, subnet)
        eligible = list(best.values())
    if len(eligible) > MAX_SUBNETS:
        return Selection(problem=Problem(
            Severity.ERROR, SELECTOR_TOO_BROAD, field,
            f"{field} ({describe_tags(tags)}) matches {len(eligible)} subnets; Lambda takes at most {MAX_SUBNETS}: "
            f"narrow the tags or set {field}.onePerAvailabilityZone",
        ))  # fmt: skip
    return Selection(ids=tuple(sorted(s.subnet_id for s in eligible)), vpc_ids=vpcs)


def _reaches_internet(subnet: SubnetFacts, routes: Mapping[str, VpcRoutes]) -> bool:
    vpc = routes.get(subnet.vpc_id)
    table = vpc.table_of(subnet.subnet_id) if vpc is not None else None
    return table is not None and table.internet_route is not None


def select_groups(found: Sequence[SecurityGroupFacts], tags: Mapping[str, str], *, vpc_id: str | None) -> Selection:
    """The security groups a selector stands for."""
    field = GROUP_SELECTOR
    if not found:
        return Selection(problem=_nothing(field, tags, vpc_id))
    vpcs = frozenset(g.vpc_id for g in found)
    if len(vpcs) > 1:
        return Selection(problem=_mixed(field, vpcs))
    if len(found) > MAX_SECURITY_GROUPS:
        return Selection(problem=Problem(
            Severity.ERROR, SELECTOR_TOO_BROAD, field,
            f"{field} ({describe_tags(tags)}) matches {len(found)} security groups; Lambda takes at most "
            f"{MAX_SECURITY_GROUPS}: narrow the tags",
        ))  # fmt: skip
    return Selection(ids=tuple(sorted(g.group_id for g in found)), vpc_ids=vpcs)


def both_in_one_vpc(subnets: Selection, groups: Selection) -> Problem | None:
    """Selected subnets and groups must share a VPC (literal ids are judged by the preflight)."""
    if subnets.vpc_ids and groups.vpc_ids and subnets.vpc_ids != groups.vpc_ids:
        return _mixed(f"{SUBNET_SELECTOR} and {GROUP_SELECTOR}", subnets.vpc_ids | groups.vpc_ids)
    return None


def changed(kind: str, before: Sequence[str] | None, after: Sequence[str]) -> Event | None:
    """The Event saying what a new resolution added and removed; None for the first or an equal one."""
    if before is None or set(before) == set(after):
        return None
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else [])
    message = f"The {kind} selector now matches other {kind}s: {'; '.join(parts)}"
    return Event(EventType.NORMAL, SELECTION_CHANGED, message)


def plan_unresolved(
    problem: Problem | None, failure: Failure | None, current: Sequence[Mapping[str, Any]], attempt: int
) -> Plan:
    """A selector that cannot be resolved: Stalled naming it (nothing is written), or, when EC2 failed
    for a moment, a wait that keeps the last verdict (Ready never flaps on a passing failure)."""
    if problem is None:
        retry = failure.retry_after if failure is not None and failure.retry_after else delays.wait_delay(attempt)
        return Plan(outcome=Outcome.WAIT, conditions=None, requeue_after=retry)
    plan = Plan(
        outcome=Outcome.STALLED,
        conditions=(
            conditions.ready(Status.FALSE, problem.reason, problem.message),
            conditions.stalled(problem.reason, problem.message),
        ),
    )
    return dataclasses.replace(plan, events=planning.transition_events(current, plan))


def unreadable(field: str, failure: Failure) -> Problem:
    """EC2 refused the read (no ec2:Describe*): the selector cannot be resolved, which is an error."""
    return Problem(
        Severity.ERROR, Reason.ACCESS_DENIED, field,
        f"Could not resolve {field} ({failure.code}: {failure.message}); grant the operator the ec2:Describe* "
        "actions of docs/iam-policy.json (DescribeSubnets, DescribeSecurityGroups, DescribeRouteTables)",
    )  # fmt: skip
