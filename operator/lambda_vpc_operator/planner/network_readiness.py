"""Network readiness: is the function's Hyperplane ENI there in every subnet it should reach?

AWS accepting a VpcConfig is not the function reaching the VPC: Lambda builds one ENI per
(subnet, security-group set), which can take minutes (aws-facts "Hyperplane ENIs"). This module
turns the ENIs (``models.enis``), the subnet facts and Lambda's own state into the
``NetworkReady`` condition, the per-subnet status rows, the ``WaitingForNetworkInterfaces`` wait
and the ``SlowProvisioning`` warning. ``Ready`` requires ``NetworkReady``.

Purely computational, like ``planning``: the reconciler gathers a ``NetworkSituation`` (including
the time), and ``overlay`` refines the plan ``planning`` decided on. Branches are in order, each
with the reason it comes where it does.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_vpc_operator.models.enis import (
    EniFacts,
    NetworkInterfaceStatus,
    interfaces_by_id,
    interfaces_by_subnet,
)
from lambda_vpc_operator.models.failures import Failure
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, VpcSettings
from lambda_vpc_operator.models.networks import NetworkFacts
from lambda_vpc_operator.models.reactivations import duration_seconds
from lambda_vpc_operator.planner import conditions, delays, readiness, validation
from lambda_vpc_operator.planner.conditions import ConditionSpec, ConditionType, Reason, Status
from lambda_vpc_operator.planner.plans import Event, EventType, Outcome, Plan
from lambda_vpc_operator.planner.reactivation import format_time, parse_time

DEFAULT_READINESS_TIMEOUT = "15m"
# aws-facts "Hyperplane ENIs": after a VPC switch "invocations keep using the old VPC for several
# minutes", and Lambda needs up to 20 minutes to delete an ENI, and only if no other function uses
# it. The previous VPC's ENIs are shown until gone, but no longer than this after the new network
# is ready: an old ENI still there by then serves other functions, not this one.
PREVIOUS_VPC_WINDOW = 20 * 60.0
# Status field names (camelCase, as written).
ROWS = "networkInterfaces"
PREVIOUS_ROWS = "previousNetworkInterfaces"
READY_TIME = "networkReadyTime"
READY_SECONDS = "networkReadySeconds"


@dataclasses.dataclass(frozen=True)
class NetworkSituation:
    """What the reconciler found about the network, beside the function itself."""

    now: datetime.datetime
    # Lambda ENIs of the VPC the function is (being) attached to; None: not read (the function does
    # not hold the spec's configuration yet, or reading failed).
    enis: tuple[EniFacts, ...] | None = None
    # Lambda ENIs of each VPC left behind (``previous_vpcs``); a VPC missing here was not read.
    previous_enis: Mapping[str, tuple[EniFacts, ...]] = dataclasses.field(default_factory=dict)
    facts: NetworkFacts | None = None  # the preflight's subnet/group facts (free addresses, zones)
    status: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # the status as it is now
    readiness_timeout: str = DEFAULT_READINESS_TIMEOUT
    slow_reported: bool = False  # SlowProvisioning was already posted for this generation
    read_failure: Failure | None = None  # DescribeNetworkInterfaces failed


# -- which VPCs to read (the reconciler asks before it reads) -------------------------------------


def interfaces_vpc(desired: VpcSettings, observed: FunctionObservation | None) -> str | None:
    """The VPC whose ENIs matter now: the function's, once it holds (or is applying) the spec's
    configuration; None before that, when the desired combinations serve other functions only."""
    if observed is None or not desired.attached or not readiness.config_applied(desired, observed):
        return None
    return observed.vpc_id


def previous_vpcs(status: Mapping[str, Any], observed: FunctionObservation | None) -> set[str]:
    """VPCs whose ENIs status shows (or must now show) as ``previousNetworkInterfaces``."""
    current = observed.vpc_id if observed is not None else None
    found = {row.get("vpcId") for row in status.get(PREVIOUS_ROWS) or () if row.get("vpcId")}
    left = _left_vpc(status, observed)
    if left is not None:
        found.add(left)
    found.discard(current)
    return {v for v in found if v}


def _left_vpc(status: Mapping[str, Any], observed: FunctionObservation | None) -> str | None:
    """AWS moved the function out of the VPC status last reported: that VPC, else None."""
    before = status.get("vpcId")
    if observed is None or not before or not observed.vpc_id or before == observed.vpc_id:
        return None
    return str(before)


# -- rows ----------------------------------------------------------------------------------------


def _row(subnet_id: str, eni: EniFacts | None, facts: NetworkFacts | None) -> dict[str, Any]:
    subnet = facts.subnets.get(subnet_id) if facts is not None else None
    row = NetworkInterfaceStatus(
        subnet_id=subnet_id,
        availability_zone=(eni.availability_zone if eni is not None else None)
        or (subnet.availability_zone if subnet is not None else None),
        network_interface_id=eni.interface_id if eni is not None else None,
        status=eni.status if eni is not None else None,
        private_ip_address=eni.private_ip_address if eni is not None else None,
        low_free_ip_addresses=validation.low_on_addresses(subnet) or None,
    )
    return row.model_dump(by_alias=True, exclude_none=True)


def rows(desired: VpcSettings, enis: Mapping[str, EniFacts], facts: NetworkFacts | None) -> list[dict[str, Any]]:
    """One row per desired subnet, sorted, with its ENI when there is one."""
    return [_row(s, enis.get(s), facts) for s in sorted(desired.subnet_ids)]


def previous_rows(
    status: Mapping[str, Any],
    observed: FunctionObservation | None,
    network: NetworkSituation,
    network_ready_since: datetime.datetime | None,
) -> list[dict[str, Any]]:
    """The previous VPC's ENIs, refreshed, until AWS has deleted them (or the window is over)."""
    current = observed.vpc_id if observed is not None else None
    candidates = [dict(r) for r in status.get(PREVIOUS_ROWS) or ()]
    left = _left_vpc(status, observed)
    if left is not None:
        # The switch just happened: the rows status showed so far are the VPC left behind.
        known = {r.get("networkInterfaceId") for r in candidates}
        candidates += [
            {**r, "vpcId": left}
            for r in status.get(ROWS) or ()
            if r.get("networkInterfaceId") and r.get("networkInterfaceId") not in known
        ]
    if network_ready_since is not None and (network.now - network_ready_since).total_seconds() > PREVIOUS_VPC_WINDOW:
        return []
    kept: list[dict[str, Any]] = []
    for row in candidates:
        vpc_id = row.get("vpcId")
        if not vpc_id or vpc_id == current:
            continue  # back in that VPC: its ENIs are current again
        read = network.previous_enis.get(vpc_id)
        if read is None:
            kept.append(row)  # not read this time: show what we knew
            continue
        eni = interfaces_by_id(read).get(row.get("networkInterfaceId") or "")
        if eni is None:
            continue  # gone: AWS deleted it
        refreshed = {**row, "status": eni.status}
        if eni.private_ip_address:
            refreshed["privateIpAddress"] = eni.private_ip_address
        kept.append(refreshed)
    return sorted(kept, key=lambda r: (r.get("subnetId") or "", r.get("networkInterfaceId") or ""))


# -- messages ------------------------------------------------------------------------------------


def format_elapsed(seconds: float) -> str:
    """42s, 3m05s, 1h02m."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    return f"{total // 3600}h{total % 3600 // 60:02d}m"


def _describe(eni: EniFacts) -> str:
    address = f", {eni.private_ip_address}" if eni.private_ip_address else ""
    return f"{eni.subnet_id}: {eni.interface_id} {eni.status}{address}"


def _pending(subnets: Sequence[str], found: Mapping[str, EniFacts]) -> str:
    return "; ".join(
        f"{s}: {found[s].interface_id} {found[s].status}" if s in found else f"{s}: no ENI yet" for s in subnets
    )


def _lambda_phase(observed: FunctionObservation) -> str:
    if observed.state == FunctionState.PENDING:
        return f"State Pending ({observed.state_reason_code or 'no reason given'})"
    if observed.busy:
        return "LastUpdateStatus InProgress"
    return f"State {observed.state.value if observed.state else 'unknown'}"


# -- the overlay ---------------------------------------------------------------------------------


def _find(plan_conditions: Sequence[ConditionSpec], type_: ConditionType) -> ConditionSpec | None:
    return next((c for c in plan_conditions if c.type == type_), None)


def _since(current: Sequence[Mapping[str, Any]], now: datetime.datetime) -> datetime.datetime | None:
    """When the work now under way began: Reconciling's flip to True (a spec change announces it)."""
    reconciling = conditions.find(current, ConditionType.RECONCILING)
    if reconciling is None or reconciling.get("status") != Status.TRUE:
        return None
    return parse_time(reconciling.get("lastTransitionTime"))


def _with_network(plan_conditions: Sequence[ConditionSpec], network_ready: ConditionSpec) -> tuple[ConditionSpec, ...]:
    """Plan conditions with NetworkReady right after Ready (any earlier NetworkReady replaced)."""
    result: list[ConditionSpec] = []
    for c in plan_conditions:
        if c.type == ConditionType.NETWORK_READY:
            continue
        result.append(c)
        if c.type == ConditionType.READY:
            result.append(network_ready)
    if network_ready not in result:
        result.insert(0, network_ready)
    return tuple(result)


def overlay(
    plan: Plan,
    *,
    function: str,
    desired: VpcSettings,
    observed: FunctionObservation | None,
    generation: int,
    current: Sequence[Mapping[str, Any]],
    attempt: int,
    network: NetworkSituation,
    problems: Sequence[validation.Problem] = (),
) -> Plan:
    """``plan`` with NetworkReady, the status rows, and Ready held back until the ENIs are there."""
    # A passing read failure keeps the last verdict, rows included.
    if plan.conditions is None:
        return plan
    now = network.now
    status = network.status
    ready = _find(plan.conditions, ConditionType.READY)
    applied_here = interfaces_vpc(desired, observed) is not None and observed is not None
    found: dict[str, EniFacts] = {}
    if applied_here and network.enis is not None:
        found = interfaces_by_subnet(network.enis, desired.subnet_ids, desired.security_group_ids)
    missing = readiness.unready_subnets(desired, found)  # what NetworkReady waits for, defined once
    before = conditions.find(current, ConditionType.NETWORK_READY)
    was_ready = (
        before is not None and before.get("status") == Status.TRUE and before.get("observedGeneration") == generation
    )
    since = _since(current, now)
    fields: dict[str, Any] = {}
    events: tuple[Event, ...] = ()

    # Rows: kept as they are when the ENIs could not be read, rebuilt otherwise.
    if not (applied_here and network.enis is None):
        fields[ROWS] = rows(desired, found, network.facts) or None

    outcome, requeue_after, plan_conditions = plan.outcome, plan.requeue_after, plan.conditions
    waiting = observed is not None and applied_here and (
        # Lambda is still building (Pending) or applying (InProgress) our configuration.
        (plan.outcome == Outcome.WAIT and observed.busy)
        # Lambda says Active, but an ENI is missing and the network was never ready for this generation.
        or (plan.outcome == Outcome.IN_SYNC and network.enis is not None and bool(missing) and not was_ready)
    )
    if plan.outcome == Outcome.IN_SYNC and not waiting:
        if network.enis is None:
            # ENIs unreadable (or not read): Lambda is Active only once they are ready (aws-facts).
            code = network.read_failure.code if network.read_failure is not None else "not read"
            message = f"Lambda reports {function} Active; its network interfaces could not be read ({code})"
        elif missing:
            # Lambda says Active and the network was ready: an ENI being replaced is no outage.
            message = (
                f"Lambda reports {function} Active; AWS is replacing network interfaces "
                f"({_pending(missing, found)})"
            )
        else:
            message = f"Network interfaces ready in {len(found)} subnet(s): " + "; ".join(
                _describe(found[s]) for s in sorted(found)
            )
        warnings = [p.message for p in problems if p.severity == validation.Severity.WARNING]
        if warnings:
            message += ". Warning: " + " ".join(warnings)
        network_ready = conditions.network_ready(Status.TRUE, Reason.NETWORK_INTERFACES_READY, message)
        if before is None or before.get("status") != Status.TRUE:
            fields[READY_TIME] = format_time(now)
            if since is not None:
                fields[READY_SECONDS] = round((now - since).total_seconds(), 1)
    elif waiting:
        assert observed is not None
        started = since or now
        elapsed = (now - started).total_seconds()
        timeout = duration_seconds(network.readiness_timeout)
        if found and not missing:
            detail = f"every ENI is ready; Lambda is finishing ({_lambda_phase(observed)})"
        else:
            detail = f"{_lambda_phase(observed)}; {_pending(missing, found)}"
        message = f"Waiting {format_elapsed(elapsed)} for the network interfaces of {function}: {detail}"
        if elapsed >= timeout:
            message += f"; slower than spec.readinessTimeout ({network.readiness_timeout}), still waiting"
            if not network.slow_reported:
                events = (Event(EventType.WARNING, Reason.SLOW_PROVISIONING, message),)
        reason = Reason.WAITING_FOR_NETWORK_INTERFACES
        plan_conditions = (
            conditions.ready(Status.FALSE, reason, message),
            conditions.reconciling(reason, message),
        )
        network_ready = conditions.network_ready(Status.FALSE, reason, message)
        outcome = Outcome.WAIT
        requeue_after = delays.wait_delay(attempt) if plan.requeue_after is None else plan.requeue_after
    else:
        # Anything else (updating, stalled, Inactive, ...): the network is not ready for the same reason.
        status_of = ready.status if ready is not None and ready.status != Status.TRUE else Status.FALSE
        reason_of = ready.reason if ready is not None else Reason.PROGRESSING
        network_ready = conditions.network_ready(status_of, reason_of, ready.message if ready is not None else "")

    network_ready_since = None
    if network_ready.status == Status.TRUE:
        network_ready_since = parse_time(fields.get(READY_TIME) or status.get(READY_TIME))
    fields[PREVIOUS_ROWS] = previous_rows(status, observed, network, network_ready_since) or None
    return dataclasses.replace(
        plan,
        outcome=outcome,
        conditions=_with_network(plan_conditions, network_ready),
        requeue_after=requeue_after,
        events=plan.events + events,
        status_fields={**plan.status_fields, **fields},
    )


# -- failure messages ----------------------------------------------------------------------------


def culprits(
    code: str | None, desired: VpcSettings, observed: FunctionObservation | None, network: NetworkSituation | None
) -> dict[str, str]:
    """Names for ``hints.hint``: the subnet, security group or VPC an asynchronous failure is about,
    from the ENI and subnet facts (AWS' reason text often names none)."""
    if network is None:
        return {}
    facts = network.facts
    subnets = sorted(desired.subnet_ids)
    found: Mapping[str, EniFacts] = {}
    if network.enis is not None and interfaces_vpc(desired, observed) is not None:
        found = interfaces_by_subnet(network.enis, desired.subnet_ids, desired.security_group_ids)
    # Subnets that already have their ENI are not the ones that failed.
    suspects = [s for s in subnets if s not in found or not found[s].usable] or subnets
    names: dict[str, str] = {}
    if code == "SubnetOutOfIPAddresses" and facts is not None:
        known = [facts.subnets[s] for s in suspects if s in facts.subnets]
        full = [s for s in known if s.available_ip_addresses < validation.LOW_FREE_ADDRESSES] or known
        if full:
            # No counts: they move all the time in subnets shared with pods, and a stalled status
            # must not be rewritten at every resync (aws-facts "Subnet free addresses move").
            low = validation.LOW_FREE_ADDRESSES
            listing = ", ".join(
                f"{s.subnet_id} ({s.availability_zone}, "
                f"{'fewer than ' + str(low) if s.available_ip_addresses < low else 'few'} free IPv4 addresses)"
                for s in sorted(full, key=lambda s: s.subnet_id)
            )
            names["subnet"] = f"subnet {listing} in spec.subnetIds"
    elif code == "InvalidSubnet":
        unknown = [s for s in suspects if facts is not None and s not in facts.subnets] or suspects
        names["subnet"] = f"subnet {', '.join(unknown)} in spec.subnetIds"
    elif code == "InvalidSecurityGroup":
        groups = sorted(desired.security_group_ids)
        unknown = [g for g in groups if facts is not None and g not in facts.security_groups] or groups
        names["group"] = f"security group {', '.join(unknown)} in spec.securityGroupIds"
    elif code == "EniLimitExceeded":
        vpc_id = (observed.vpc_id if observed is not None else None) or _desired_vpc(desired, facts)
        if vpc_id:
            count = f" (holds {len(network.enis)} Lambda ENIs)" if network.enis is not None else ""
            names["vpc"] = f"VPC {vpc_id}{count}"
    return names


def _desired_vpc(desired: VpcSettings, facts: NetworkFacts | None) -> str | None:
    if facts is None:
        return None
    vpcs = {facts.subnets[s].vpc_id for s in desired.subnet_ids if s in facts.subnets}
    return vpcs.pop() if len(vpcs) == 1 else None
