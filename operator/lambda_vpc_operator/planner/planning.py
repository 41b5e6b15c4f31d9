"""Decide, for one attachment, what to do next.

``plan_attachment`` and ``plan_release`` are purely computational functions with no side effects:
the reconciler gathers everything they need into a ``Situation`` (what AWS said, what failed, what
the cluster knows), calls them, and carries out the returned ``Plan``. Branches are taken in order;
each has a one-line comment on why it comes where it does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_vpc_operator.models import owners
from lambda_vpc_operator.models.attachments import AttachmentSpec, DeletionPolicy, DriftPolicy
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import (
    DETACHED,
    FunctionObservation,
    FunctionState,
    UpdateStatus,
    VpcSettings,
)
from lambda_vpc_operator.models.reactivations import ReactivationPolicy
from lambda_vpc_operator.planner import conditions, delays, hints, network_readiness, readiness
from lambda_vpc_operator.planner.conditions import ConditionSpec, ConditionType, Reason, Status
from lambda_vpc_operator.planner.plans import Event, EventType, Outcome, Plan, UpdateVpcConfig
from lambda_vpc_operator.planner.reactivation import REQUEST_ANNOTATION, ReactivationPlan
from lambda_vpc_operator.planner.validation import Problem, Severity

# States in which Lambda will not run the function for reasons outside the VpcConfig: Stalled,
# with the reason naming the state (botocore lambda model, State).
NOT_INVOCABLE_STATES = {
    FunctionState.DEACTIVATED: Reason.FUNCTION_DEACTIVATED,
    FunctionState.ACTIVE_NON_INVOCABLE: Reason.FUNCTION_NOT_INVOCABLE,
}


@dataclasses.dataclass(frozen=True)
class Situation:
    """Everything known about one attachment at one moment, apart from its spec."""

    generation: int
    observed: FunctionObservation | None  # None: AWS says the function does not exist
    conditions: Sequence[Mapping[str, Any]] = ()  # status.conditions as they are now
    applied_generation: int | None = None  # the generation last seen fully applied on AWS
    read_failure: Failure | None = None  # reading the function failed; observed is meaningless
    action_failure: Failure | None = None  # our UpdateFunctionConfiguration was refused
    conflict_with: str | None = None  # "namespace/name" of the attachment that owns the function
    problems: Sequence[Problem] = ()  # preflight findings for the desired network
    attempt: int = 0  # consecutive waits so far, for the growing delay
    resync: bool = False  # a scheduled re-check rather than a spec change or a transition poll
    # We sent this generation's VpcConfig and have not seen it in sync yet (memory, or status.sentGeneration
    # after a restart): a failed update is then ours; otherwise someone else's (``foreign_failure``).
    update_sent: bool = False
    just_claimed: bool = False  # this look wrote the owner tag: no change before a later look sees it
    network: network_readiness.NetworkSituation | None = None  # ENIs, subnet facts, time; None: no network verdict


def desired_vpc(spec: AttachmentSpec) -> VpcSettings:
    # Selectors are resolved into the ids first (reconciliation.selecting); unresolved, nothing is desired.
    return VpcSettings.of(spec.subnet_ids or (), spec.security_group_ids or (), spec.ipv6_allowed_for_dual_stack)


def describe_vpc(vpc: VpcSettings) -> str:
    if not vpc.attached:
        return "no VPC"
    ipv6 = ", IPv6 dual-stack allowed" if vpc.ipv6_allowed_for_dual_stack else ""
    return (
        f"subnets {', '.join(sorted(vpc.subnet_ids))}; "
        f"security groups {', '.join(sorted(vpc.security_group_ids))}{ipv6}"
    )


def plan_start(generation: int) -> tuple[ConditionSpec, ...]:
    """kstatus: the first act on a new generation is to say that work is under way."""
    message = f"Reconciling generation {generation}"
    return (
        conditions.ready(Status.UNKNOWN, Reason.PROGRESSING, message),
        conditions.network_ready(Status.UNKNOWN, Reason.PROGRESSING, message),
        conditions.reconciling(Reason.PROGRESSING, message),
    )


def _stall(reason: str, message: str, *, requeue_after: float | None = None) -> Plan:
    return Plan(
        outcome=Outcome.STALLED,
        conditions=(conditions.ready(Status.FALSE, reason, message), conditions.stalled(reason, message)),
        requeue_after=requeue_after,
    )


def _wait(reason: str, message: str, delay: float, *, ready: Status = Status.FALSE) -> Plan:
    return Plan(
        outcome=Outcome.WAIT,
        conditions=(conditions.ready(ready, reason, message), conditions.reconciling(reason, message)),
        requeue_after=delay,
    )


def _failure_wait(failure: Failure, attempt: int, role: str | None = None) -> Plan:
    """A transient refusal from AWS: wait as long as AWS asked, or back off."""
    if failure.kind == FailureKind.ROLE_PERMISSIONS:
        # Not the spec's fault: the role is fixed on IAM, or IAM is still propagating it.
        delay = delays.role_delay(attempt)
        plan = _wait(
            Reason.ROLE_MISSING_PERMISSIONS,
            f"AWS refused the VpcConfig because the execution role {role or 'of the function'} may not manage "
            f"network interfaces ({failure.code}: {failure.message}); attach AWSLambdaVPCAccessExecutionRole "
            f"(or ec2:CreateNetworkInterface, ec2:DescribeNetworkInterfaces, ec2:DeleteNetworkInterface) to the "
            f"role; a role just changed can take a while to propagate. Retrying in {delay:g}s",
            delay,
        )
        if delay >= delays.ROLE_MAX_WAIT:
            # Retried at the slow end for a while now: a human must fix the role. Say so (kstatus
            # settles: Failed), and keep retrying every 5 minutes (still a WAIT: the delay holds).
            ready, _ = plan.conditions or ()
            plan = dataclasses.replace(
                plan, conditions=(ready, conditions.stalled(Reason.ROLE_MISSING_PERMISSIONS, ready.message))
            )
        return plan
    if failure.kind == FailureKind.THROTTLED:
        delay = failure.retry_after or delays.THROTTLE_FALLBACK
        return _wait(Reason.THROTTLED, f"AWS throttled the request ({failure.code}); retrying in {delay:g}s", delay)
    if failure.kind == FailureKind.CONFLICT:
        delay = delays.wait_delay(attempt)
        return _wait(Reason.UPDATE_IN_PROGRESS, f"AWS is applying another update ({failure.code}); waiting", delay)
    if failure.kind == FailureKind.STALE_REVISION:
        return _wait(Reason.UPDATING, "The function changed while we updated it; reading it again", delays.REREAD)
    delay = delays.wait_delay(attempt)
    return _wait(Reason.AWS_UNAVAILABLE, f"AWS call failed ({failure.code}: {failure.message}); retrying", delay)


def _failure_stall(failure: Failure, function: str) -> Plan:
    """A refusal no retry fixes: name it and what to do."""
    if failure.kind == FailureKind.NOT_FOUND:
        return _not_found(function)
    if failure.kind == FailureKind.ASSUME_ROLE:
        # Refused while refreshing the role's credentials mid-look (planner.accounts says the rest).
        return _stall(
            Reason.ASSUME_ROLE_FAILED,
            f"sts:AssumeRole of the attachment's role was refused ({failure.code}: {failure.message}); fix the "
            "role's trust policy (`lambda-vpc-operator policy iam` prints it)",
            requeue_after=delays.ROLE_MAX_WAIT,
        )
    if failure.kind == FailureKind.ACCESS_DENIED:
        return _stall(
            Reason.ACCESS_DENIED,
            f"The operator's AWS credentials were refused ({failure.code}: {failure.message}); grant the "
            "operator's role lambda:GetFunction, lambda:UpdateFunctionConfiguration and ec2:Describe* "
            "(see docs/iam-policy.json)",
        )
    return _stall(
        Reason.INVALID_CONFIGURATION,
        f"AWS refused the VpcConfig ({failure.code}: {failure.message}); fix spec and apply again",
    )


def _not_found(function: str) -> Plan:
    return _stall(
        Reason.FUNCTION_NOT_FOUND,
        f"Lambda function {function} does not exist in this account and region; create it or fix "
        "spec.functionName (checked again every few minutes)",
        requeue_after=delays.FUNCTION_NOT_FOUND_RECHECK,
    )


def transition_events(current: Sequence[Mapping[str, Any]], plan: Plan) -> tuple[Event, ...]:
    """Events for flips only, so a condition reported again never repeats its Event."""
    if plan.conditions is None:
        return ()
    events: list[Event] = []
    wanted = {c.type: c for c in plan.conditions}
    stalled = wanted.get(ConditionType.STALLED)
    before = conditions.find(current, ConditionType.STALLED)
    if stalled is not None and (
        before is None or before.get("status") != Status.TRUE or before.get("reason") != stalled.reason
    ):
        events.append(Event(EventType.WARNING, "Stalled", f"{stalled.reason}: {stalled.message}"))
    ready = wanted.get(ConditionType.READY)
    if ready is not None and ready.status == Status.TRUE and not conditions.is_true(current, ConditionType.READY):
        events.append(Event(EventType.NORMAL, "Updated", ready.message))
    return tuple(events)


def _with_transitions(current: Sequence[Mapping[str, Any]], plan: Plan) -> Plan:
    return dataclasses.replace(plan, events=plan.events + transition_events(current, plan))


def plan_attachment(spec: AttachmentSpec, situation: Situation) -> Plan:
    """The next step for a live attachment (see module docstring)."""
    note = foreign_failure(spec, situation)
    if note is not None and situation.observed is not None:
        # Someone else's failed update: judge our configuration as Lambda kept it.
        kept = dataclasses.replace(situation.observed, last_update_status=UpdateStatus.SUCCESSFUL,
                                   last_update_status_reason=None, last_update_status_reason_code=None)  # fmt: skip
        situation = dataclasses.replace(situation, observed=kept)
    plan = _decide(spec, situation)
    if situation.network is not None:
        # Ready requires NetworkReady: the ENIs decide whether "in sync" is ready yet.
        plan = network_readiness.overlay(
            plan, function=spec.function_name, desired=desired_vpc(spec), observed=situation.observed,
            generation=situation.generation, current=situation.conditions, attempt=situation.attempt,
            network=situation.network, problems=situation.problems,
        )  # fmt: skip
    if note is not None:
        plan = _noted(plan, note)
    return _with_transitions(situation.conditions, plan)


def plan_after_update(spec: AttachmentSpec, after: Situation) -> Plan:
    """What a look that sent (or tried) its update reports: the plan on what the write answered
    (usually InProgress, or the refusal in ``after.action_failure``), never a second write in one
    look (the next look decides, after the delay), and not the Updating Event again (the plan that
    sent the update posted it)."""
    plan = plan_attachment(spec, after)
    if plan.action is not None and plan.outcome == Outcome.UPDATE:
        plan = dataclasses.replace(plan, action=None, events=())
    return dataclasses.replace(plan, events=tuple(e for e in plan.events if e.reason != Reason.UPDATING))


def revivable(plan: Plan, observed: FunctionObservation, status: Mapping[str, Any]) -> bool:
    """Reactivation concerns a function whose configuration is in place (or being rebuilt by us)."""
    if plan.outcome in (Outcome.IN_SYNC, Outcome.IDLE):
        return True
    rebuilding = bool((status.get("reactivation") or {}).get("startedTime"))
    return plan.outcome == Outcome.WAIT and observed.state == FunctionState.PENDING and rebuilding


def with_reactivation(plan: Plan, revival: ReactivationPlan, current: Sequence[Mapping[str, Any]]) -> Plan:
    """The look's plan with the reactivation's: when the reactivation speaks for Ready (its
    conditions), they replace the plan's, NetworkReady stays what the network is, and the transition
    Events are those of the conditions reported; its requeue comes first if sooner."""
    requeue = [d for d in (plan.requeue_after, revival.requeue_after) if d is not None]
    merged = dataclasses.replace(
        plan, events=plan.events + revival.events, requeue_after=min(requeue) if requeue else None
    )
    if revival.conditions is None:
        return merged
    network_ready = tuple(c for c in plan.conditions or () if c.type == ConditionType.NETWORK_READY)
    merged = dataclasses.replace(merged, conditions=revival.conditions + network_ready)
    return dataclasses.replace(merged, events=revival.events + transition_events(current, merged))


def _decide(spec: AttachmentSpec, s: Situation) -> Plan:
    desired = desired_vpc(spec)
    function = spec.function_name

    # Another attachment owns this function: touching AWS would make the two fight forever.
    if s.conflict_with is not None:
        return _stall(
            Reason.CONFLICT,
            f"Lambda function {function} is already attached by LambdaVpcAttachment {s.conflict_with}, "
            "created earlier; delete one of the two",
        )

    # Preflight errors: never write a configuration we know cannot work.
    errors = [p for p in s.problems if p.severity == Severity.ERROR]
    if errors:
        return _stall(errors[0].reason, "; ".join(p.message for p in errors))

    # We could not read the function: a passing failure keeps the last verdict, others stall.
    if s.read_failure is not None:
        if s.read_failure.transient:
            plan = _failure_wait(s.read_failure, s.attempt)
            return dataclasses.replace(plan, conditions=None)
        return _failure_stall(s.read_failure, function)

    observed = s.observed
    if observed is None:
        return _not_found(function)

    # Our last write was refused: the failure says whether to wait or to ask a human.
    if s.action_failure is not None:
        if s.action_failure.transient:
            return _failure_wait(s.action_failure, s.attempt, observed.role)
        return _failure_stall(s.action_failure, function)

    # A Failed function cannot take a configuration until its owner repairs it.
    if observed.state == FunctionState.FAILED:
        code = observed.state_reason_code or Reason.FUNCTION_FAILED
        advice = hints.hint(observed.state_reason_code, observed.role, **network_readiness.culprits(
            observed.state_reason_code, desired, observed, s.network))  # fmt: skip
        reason_text = (observed.state_reason or code).rstrip(".")
        return _stall(code, f"Lambda function {function} is Failed: {reason_text}. {advice}".strip())

    # Lambda refuses updates while one is in progress or the function is Pending: wait for it.
    if observed.busy:
        delay = delays.wait_delay(s.attempt)
        if observed.state == FunctionState.PENDING:
            return _wait(
                Reason.FUNCTION_PENDING,
                f"Lambda function {function} is Pending ({observed.state_reason_code or 'no reason given'}): "
                "Lambda is preparing its network interfaces",
                delay,
            )
        return _wait(
            Reason.UPDATE_IN_PROGRESS,
            f"Lambda is applying a configuration update to {function} (LastUpdateStatus InProgress)",
            delay,
        )

    applied = readiness.config_applied(desired, observed)

    # Our configuration is there but its last update failed, or our own update of this generation
    # failed and Lambda rolled it back: AWS told us why, asynchronously. Writing the spec again at
    # once would fail the same way (a loop of updates and ENI attempts), so only transient causes
    # are retried right away.
    if observed.last_update_status == UpdateStatus.FAILED and (applied or s.update_sent):
        code = observed.last_update_status_reason_code or Reason.UPDATE_FAILED
        if code in hints.TRANSIENT_REASON_CODES or s.resync:
            # Transient causes clear by themselves; anything else is retried only at resync pace.
            return Plan(
                outcome=Outcome.UPDATE,
                conditions=(
                    conditions.ready(Status.FALSE, code, f"Retrying the update after {code}"),
                    conditions.reconciling(Reason.UPDATING, f"Retrying the update after {code}"),
                ),
                action=UpdateVpcConfig(desired, observed.revision_id),
                events=(Event(EventType.NORMAL, Reason.UPDATING, f"Retrying after {code}: {describe_vpc(desired)}"),),
                requeue_after=delays.wait_delay(s.attempt),
            )
        reason_text = (observed.last_update_status_reason or code).rstrip(".")
        advice = hints.hint(code, observed.role, **network_readiness.culprits(code, desired, observed, s.network))
        return _stall(code, f"The VPC update of {function} failed: {reason_text}. {advice}".strip())

    if not applied:
        # We have just tagged it: TagResource is last-writer-wins, so another installation may hold it
        # now. The next look's GetFunction shows whose tag stuck; only then is the VpcConfig written.
        if s.just_claimed:
            return _wait(
                Reason.CLAIMING,
                f"Tagged Lambda function {function} {owners.TAG}; confirming the claim before changing it",
                delays.FIRST_WAIT,
            )
        drift = s.applied_generation == s.generation
        # Someone changed the function behind our back and the user asked us only to tell.
        if drift and spec.drift_policy == DriftPolicy.REPORT:
            message = (
                f"VpcConfig of {function} was changed outside Kubernetes: AWS has {describe_vpc(observed.vpc)}, "
                f"spec wants {describe_vpc(desired)}; driftPolicy Report leaves it; revert it on AWS or set "
                "driftPolicy: Correct"
            )
            plan = _stall(Reason.DRIFT_DETECTED, message)
            already = conditions.find(s.conditions, ConditionType.STALLED)
            reported = already is not None and already.get("reason") == Reason.DRIFT_DETECTED
            report = () if reported else (Event(EventType.WARNING, "DriftDetected", message),)
            return dataclasses.replace(plan, outcome=Outcome.DRIFT_REPORTED, events=report)
        # Spec change, or drift to correct: write the desired configuration.
        events: tuple[Event, ...]
        if drift:
            reason = Reason.CORRECTING_DRIFT
            message = f"Restoring VpcConfig changed outside Kubernetes: {describe_vpc(desired)}"
            events = (
                Event(
                    EventType.WARNING,
                    "DriftDetected",
                    f"AWS has {describe_vpc(observed.vpc)}, spec wants {describe_vpc(desired)}",
                ),
                Event(EventType.NORMAL, "DriftCorrected", message),
            )
        else:
            reason = Reason.UPDATING
            message = f"Setting VpcConfig of {function}: {describe_vpc(desired)}"
            events = (Event(EventType.NORMAL, Reason.UPDATING, message),)
        return Plan(
            outcome=Outcome.UPDATE,
            conditions=(conditions.ready(Status.FALSE, reason, message), conditions.reconciling(reason, message)),
            action=UpdateVpcConfig(desired, observed.revision_id),
            events=events,
            requeue_after=delays.FIRST_WAIT,
        )

    # Applied. Active means ready; Inactive is applied but cold; anything else is a transition.
    if observed.state in readiness.READY_STATES or observed.state is None:
        message = f"Lambda function {function} is Active in {observed.vpc_id or 'its VPC'}: {describe_vpc(desired)}"
        return Plan(
            outcome=Outcome.IN_SYNC,
            conditions=(conditions.ready(Status.TRUE, Reason.ATTACHED, message),),
            applied=True,
        )
    if observed.state == FunctionState.INACTIVE:
        return _idle(spec, observed)
    # AWS-side states that no VpcConfig of ours changes: a human must act on the function itself.
    if observed.state in NOT_INVOCABLE_STATES:
        reason_text = (observed.state_reason or observed.state_reason_code or "no reason given").rstrip(".")
        plan = _stall(
            NOT_INVOCABLE_STATES[observed.state],
            f"Lambda function {function} is {observed.state} ({reason_text}): Lambda will not run it and no "
            "VpcConfig update changes that; fix the cause AWS names on the function itself (checked again at "
            "each resync)",
        )
        return dataclasses.replace(plan, applied=True)
    plan = _wait(
        Reason.TRANSITIONING,
        f"Lambda function {function} is {observed.state}; waiting for it to become Active",
        delays.wait_delay(s.attempt),
    )
    return dataclasses.replace(plan, applied=True)


def _idle(spec: AttachmentSpec, observed: FunctionObservation) -> Plan:
    """Inactive: a settled verdict for each reactivation policy (kstatus must never stay InProgress).

    Auto is work under way (``planner.reactivation`` reports it); Disabled is what the user asked
    for, so Ready=True (Current) with the reason Inactive; Manual waits for a human: Stalled naming
    the annotation that reactivates the function.
    """
    function = spec.function_name
    message = (
        f"Lambda function {function} is Inactive ({observed.state_reason_code or 'no reason given'}): "
        "its network interfaces were reclaimed and the next invoke will fail while Lambda rebuilds them"
    )
    policy = spec.reactivation.policy
    found: tuple[ConditionSpec, ...]
    if policy == ReactivationPolicy.DISABLED:
        message += "; reactivation policy Disabled: the operator leaves it so"
        found = (conditions.ready(Status.TRUE, Reason.INACTIVE, message),)
    elif policy == ReactivationPolicy.MANUAL:
        message += (
            f"; reactivation policy Manual: annotate the attachment {REQUEST_ANNOTATION}=<new value> to "
            f"reactivate it (kubectl annotate lva <name> {REQUEST_ANNOTATION}=$(date +%s) --overwrite)"
        )
        found = (conditions.ready(Status.FALSE, Reason.INACTIVE, message), conditions.stalled(Reason.INACTIVE, message))
    else:
        found = (
            conditions.ready(Status.FALSE, Reason.INACTIVE, message),
            conditions.reconciling(Reason.INACTIVE, message),
        )
    return Plan(outcome=Outcome.IDLE, conditions=found, applied=True)


def foreign_failure(spec: AttachmentSpec, s: Situation) -> str | None:
    """A failed update that is not ours, described; None otherwise.

    Ours is the VpcConfig we sent for this generation and have not seen in place yet
    (``Situation.update_sent``, kept in status across restarts). A Failed LastUpdateStatus while our
    configuration is in place and we sent nothing is someone else's (a CI code deploy): Lambda aborts
    a failed update and keeps the previous configuration (aws-facts "Errors"), ours included, so it is
    reported, never stalled on nor masked by sending our configuration again.
    """
    observed = s.observed
    if (
        observed is None
        or s.read_failure is not None
        or s.action_failure is not None
        or s.update_sent
        or observed.last_update_status != UpdateStatus.FAILED
        or observed.state == FunctionState.FAILED
        or not readiness.config_applied(desired_vpc(spec), observed)
    ):
        return None
    code = observed.last_update_status_reason_code or Reason.UPDATE_FAILED
    reason_text = (observed.last_update_status_reason or code).rstrip(".")
    return (
        f"Note: the last update of {spec.function_name}, not sent by this operator, failed ({code}: "
        f"{reason_text}); Lambda kept the previous configuration, and the VpcConfig is as specified"
    )


def _noted(plan: Plan, note: str) -> Plan:
    """``plan`` with ``note`` added to Ready's message."""
    if plan.conditions is None:
        return plan
    noted = tuple(
        dataclasses.replace(c, message=f"{c.message}. {note}" if c.message else note)
        if c.type == ConditionType.READY else c
        for c in plan.conditions
    )  # fmt: skip
    return dataclasses.replace(plan, conditions=noted)


@dataclasses.dataclass(frozen=True)
class Release:
    """What deleting an attachment must consider."""

    policy: DeletionPolicy
    observed: FunctionObservation | None
    owned: bool  # False when this attachment lost a conflict and never touched the function
    read_failure: Failure | None = None
    action_failure: Failure | None = None
    attempt: int = 0
    detach_sent: bool = False  # we already asked AWS to detach during this deletion
    # Why a function is not ours to change, for the Retained Event (guardrails: a policy denial, an owner tag).
    not_owned: str = "this attachment never owned the function"
    # deletionPolicy Restore: the configuration an adopted function had (None: it was in no VPC).
    restore: VpcSettings | None = None


def restored_vpc(previous: Mapping[str, Any] | None) -> VpcSettings | None:
    """status.ownership.previousVpcConfig as the configuration Restore puts back."""
    if not previous:
        return None
    return VpcSettings.of(
        previous.get("subnetIds") or (), previous.get("securityGroupIds") or (),
        previous.get("ipv6AllowedForDualStack"),
    )  # fmt: skip


def plan_release(function: str, r: Release) -> Plan:
    """The next step while an attachment is being deleted."""
    # Retain, or never ours: the function stays exactly as it is.
    if r.policy == DeletionPolicy.RETAIN or not r.owned:
        why = "deletionPolicy Retain" if r.owned else r.not_owned
        return Plan(outcome=Outcome.RELEASED, conditions=None, events=(
            Event(EventType.NORMAL, "Retained", f"Left Lambda function {function} as it is ({why})"),
        ))  # fmt: skip
    if r.read_failure is not None:
        if r.read_failure.kind == FailureKind.NOT_FOUND:
            return Plan(outcome=Outcome.RELEASED, conditions=None)
        if r.read_failure.transient:
            return _failure_wait(r.read_failure, r.attempt)
        return _failure_stall(r.read_failure, function)
    observed = r.observed
    # The function is gone: nothing is attached any more.
    if observed is None:
        return Plan(outcome=Outcome.RELEASED, conditions=None)
    if r.action_failure is not None:
        if r.action_failure.kind == FailureKind.NOT_FOUND:
            return Plan(outcome=Outcome.RELEASED, conditions=None)
        if r.action_failure.transient:
            return _failure_wait(r.action_failure, r.attempt)
        return _failure_stall(r.action_failure, function)
    # Lambda refuses a detach while it is busy; the finalizer stays until it is done.
    if observed.busy:
        return _wait(Reason.DETACHING, f"Waiting for Lambda to finish updating {function} before releasing it",
                     delays.wait_delay(r.attempt))  # fmt: skip
    # Detach, or Restore: what the function had before we adopted it (no VPC if it had none).
    target = r.restore if r.policy == DeletionPolicy.RESTORE and r.restore is not None else DETACHED
    restoring = target != DETACHED
    if observed.vpc != target and observed.last_update_status == UpdateStatus.FAILED and r.detach_sent:
        # Lambda refused what we sent, after the call (e.g. a recorded subnet that no longer exists):
        # sending it again would fail again. A human decides; nothing more is written.
        code = observed.last_update_status_reason_code or Reason.UPDATE_FAILED
        other = "Detach or Retain" if restoring else "Retain"
        return _stall(
            code,
            f"{'Restoring' if restoring else 'Detaching'} Lambda function {function} failed: "
            f"{(observed.last_update_status_reason or code).rstrip('.')}. Fix it on AWS, or set deletionPolicy "
            f"to {other} to let the attachment go",
            requeue_after=delays.FUNCTION_NOT_FOUND_RECHECK,
        )
    if observed.vpc == target:
        if observed.last_update_status == UpdateStatus.FAILED and r.detach_sent:
            return dataclasses.replace(
                _failure_wait(
                    Failure(FailureKind.SERVICE_ERROR, observed.last_update_status_reason_code or "Failed",
                            observed.last_update_status_reason or "detach failed"),
                    r.attempt,
                ),
                action=UpdateVpcConfig(target, observed.revision_id),
            )  # fmt: skip
        done = (
            Event(EventType.NORMAL, "Restored", f"Put back the VpcConfig {function} had before: {describe_vpc(target)}")
            if restoring
            else Event(EventType.NORMAL, "Detached", f"Removed Lambda function {function} from its VPC")
        )
        return Plan(outcome=Outcome.RELEASED, conditions=None, events=(done,) if r.detach_sent else ())
    message = (
        f"Restoring the VpcConfig Lambda function {function} had before it was adopted (deletionPolicy Restore): "
        f"{describe_vpc(target)}"
        if restoring
        else f"Detaching Lambda function {function} from its VPC (deletionPolicy {r.policy})"
    )
    return Plan(
        outcome=Outcome.UPDATE,
        conditions=(
            conditions.ready(Status.FALSE, Reason.DETACHING, message),
            conditions.reconciling(Reason.DETACHING, message),
        ),
        action=UpdateVpcConfig(target, observed.revision_id),
        requeue_after=delays.FIRST_WAIT,
    )
