"""Decide whether to invoke a function to bring it back from Inactive, or to keep it warm.

Purely computational, like ``planning``: the reconciler passes what AWS reports, the spec's
``reactivation`` block, the ``status.reactivation`` record and the time. The record is written
*before* the invoke, so a restart in between never repeats an attempt.

Facts (aws-facts "Inactive functions and reactivation"): an invoke of an Inactive function fails
(ResourceNotReadyException, or CodeArtifactUserPendingException in the wild) and sets it Pending
while Lambda rebuilds its ENIs; if the rebuild fails it goes back to Inactive. DryRun is not known
to reactivate anything, so only real invokes are used.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState
from lambda_vpc_operator.models.reactivations import (
    InvocationType,
    ReactivationPolicy,
    ReactivationSpec,
    duration_seconds,
)
from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.conditions import ConditionSpec, Reason, Status
from lambda_vpc_operator.planner.plans import Event, EventType

# Lambda rebuilds the ENIs of a reactivated function in minutes (like creating them). Before a
# second invoke, give the first this long, doubling per attempt: 1, 2, 4, ... minutes.
ATTEMPT_WINDOW = 60.0
# While a reactivation is under way, look at the function this often.
POLL = 5.0

REQUEST_ANNOTATION = "lambdavpc.dev/reactivate"


class Result:
    STARTED = "Started"  # the invoke failed as expected: Lambda is rebuilding
    INVOKED = "Invoked"  # the invoke succeeded (the function was not cold after all)
    REACTIVATED = "Reactivated"
    FAILED = "Failed"
    KEPT_WARM = "KeptWarm"
    NOT_INACTIVE = "NotInactive"
    RECOVERED = "Recovered"  # Active again after we gave up (Failed), without our invoke


def parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def attempt_window(attempts: int, window: float = ATTEMPT_WINDOW) -> float:
    """How long attempt number ``attempts`` (1-based) gets before the next one."""
    return window * float(2 ** max(0, attempts - 1))


@dataclasses.dataclass(frozen=True)
class Invoke:
    payload: bytes
    invocation_type: InvocationType
    purpose: str  # Result.STARTED for a reactivation, Result.KEPT_WARM for keep-warm


@dataclasses.dataclass(frozen=True)
class ReactivationPlan:
    status: dict[str, Any]  # the new status.reactivation block (written before any invoke)
    invoke: Invoke | None = None
    conditions: tuple[ConditionSpec, ...] | None = None  # None: keep what the main plan said
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None


def _since(now: datetime.datetime, text: str | None) -> float | None:
    moment = parse_time(text)
    return None if moment is None else (now - moment).total_seconds()


def plan_reactivation(
    spec: ReactivationSpec,
    observed: FunctionObservation,
    record: Mapping[str, Any],
    *,
    function: str,
    now: datetime.datetime,
    request: str | None = None,
    last_sync_time: str | None = None,
    window: float = ATTEMPT_WINDOW,
) -> ReactivationPlan:
    """The next reactivation step for a function whose VpcConfig is already applied."""
    status = dict(record)
    stamp = format_time(now)
    attempts = int(status.get("attempts") or 0)
    started = status.get("startedTime")
    new_request = request is not None and request != status.get("handledRequest")
    state = observed.state

    # Back to Active while a reactivation was under way: done.
    if state == FunctionState.ACTIVE and started:
        duration = _since(now, started) or 0.0
        status.update(
            startedTime=None,
            lastResult=Result.REACTIVATED,
            lastSuccessTime=stamp,
            lastDurationSeconds=round(duration, 1),
        )
        message = f"Lambda function {function} is Active again after {duration:.0f}s and {attempts} invoke(s)"
        return ReactivationPlan(status, events=(Event(EventType.NORMAL, "Reactivated", message),))

    if state == FunctionState.ACTIVE:
        if status.get("lastResult") == Result.FAILED:
            # Active again after we gave up (someone invoked it, or Lambda recovered): that episode is
            # over, so the next Inactive period starts a fresh series of attempts instead of stalling.
            status.update(lastResult=Result.RECOVERED)
            message = f"Lambda function {function} is Active again after the reactivation failed"
            plan = _keep_warm(spec, status, function=function, now=now, last_sync_time=last_sync_time)
            return dataclasses.replace(plan, events=(Event(EventType.NORMAL, "Reactivated", message), *plan.events))
        if new_request:
            # Never invoke an Active function on request: it is warm, and the invoke would run its code.
            status.update(handledRequest=request, lastResult=Result.NOT_INACTIVE)
            message = f"Reactivation requested, but {function} is Active: nothing to do"
            return ReactivationPlan(status, events=(Event(EventType.NORMAL, "ReactivationSkipped", message),))
        return _keep_warm(spec, status, function=function, now=now, last_sync_time=last_sync_time)

    # Lambda is rebuilding (our invoke, or someone else's): watch it.
    if state == FunctionState.PENDING and started:
        message = f"Lambda is rebuilding the network interfaces of {function} (attempt {attempts})"
        return ReactivationPlan(
            status,
            conditions=(
                conditions.ready(Status.FALSE, Reason.REACTIVATING, message),
                conditions.reconciling(Reason.REACTIVATING, message),
            ),
            requeue_after=POLL,
        )

    if state != FunctionState.INACTIVE:
        return ReactivationPlan(status)

    # Inactive from here on.
    if spec.policy == ReactivationPolicy.DISABLED:
        return ReactivationPlan(status)  # never invoke; the main plan already says Ready=False, Inactive
    if spec.policy == ReactivationPolicy.MANUAL and not new_request:
        return ReactivationPlan(status)  # waits for the annotation
    if new_request:
        # A manual request starts a fresh series of attempts.
        status.update(handledRequest=request, attempts=0, startedTime=None)
        attempts, started = 0, None
    elif not started and status.get("lastResult") != Result.FAILED:
        # A new idle period: attempts (and so the attempt window) count from 1 again, not on from the
        # last period's; the record keeps the last period's count until this first invoke.
        attempts = 0

    if started and attempts >= spec.max_attempts:
        since_last = _since(now, status.get("lastAttemptTime")) or 0.0
        if since_last < attempt_window(attempts, window):
            return _reactivating(status, function, attempts, attempt_window(attempts, window) - since_last)
        first = status.get("lastResult") != Result.FAILED
        status.update(startedTime=None, lastResult=Result.FAILED)
        return _gave_up(status, observed, function, attempts, first=first)
    if status.get("lastResult") == Result.FAILED and not new_request:
        # Given up earlier: stay Stalled until someone asks again.
        return _gave_up(status, observed, function, attempts, first=False)

    # Never twice in one attempt window: the last invoke may still be rebuilding the ENIs.
    previous = _since(now, status.get("lastAttemptTime"))
    if started and previous is not None and previous < attempt_window(attempts, window):
        return _reactivating(status, function, attempts, attempt_window(attempts, window) - previous)

    attempts += 1
    status.update(
        attempts=attempts,
        startedTime=started or stamp,
        lastAttemptTime=stamp,
        lastInvokeTime=stamp,
        lastResult=None,
    )
    message = (
        f"Invoking Inactive function {function} to make Lambda rebuild its network interfaces (attempt {attempts})"
    )
    plan = _reactivating(status, function, attempts, POLL)
    return dataclasses.replace(
        plan,
        invoke=Invoke(spec.payload.encode(), spec.invocation_type, Result.STARTED),
        events=(Event(EventType.NORMAL, "ReactivationStarted", message),),
    )


def _gave_up(
    status: dict[str, Any], observed: FunctionObservation, function: str, attempts: int, *, first: bool
) -> ReactivationPlan:
    reason = observed.state_reason or observed.state_reason_code or "no reason given"
    message = (
        f"Lambda function {function} is still Inactive after {attempts} invoke(s): {reason}; check the "
        "execution role's ec2:CreateNetworkInterface permission and the subnets' free addresses, then "
        f"annotate {REQUEST_ANNOTATION}=<new value> to try again"
    )
    return ReactivationPlan(
        status,
        conditions=(
            conditions.ready(Status.FALSE, Reason.REACTIVATION_FAILED, message),
            conditions.stalled(Reason.REACTIVATION_FAILED, message),
        ),
        events=(Event(EventType.WARNING, "ReactivationFailed", message),) if first else (),
    )


def _reactivating(status: dict[str, Any], function: str, attempts: int, delay: float) -> ReactivationPlan:
    message = f"Reactivating Inactive function {function} (attempt {attempts})"
    return ReactivationPlan(
        status,
        conditions=(
            conditions.ready(Status.FALSE, Reason.REACTIVATING, message),
            conditions.reconciling(Reason.REACTIVATING, message),
        ),
        requeue_after=min(POLL, delay) if delay > 0 else POLL,
    )


def _keep_warm(
    spec: ReactivationSpec,
    status: dict[str, Any],
    *,
    function: str,
    now: datetime.datetime,
    last_sync_time: str | None,
) -> ReactivationPlan:
    if not spec.keep_warm_interval:
        return ReactivationPlan(status)
    interval = duration_seconds(spec.keep_warm_interval)
    # Counted from our last invoke, or from when the attachment last converged.
    since = _since(now, status.get("lastInvokeTime") or last_sync_time)
    if since is None:
        return ReactivationPlan(status)
    if since < interval:
        return ReactivationPlan(status, requeue_after=interval - since)
    stamp = format_time(now)
    status.update(lastInvokeTime=stamp, lastResult=Result.KEPT_WARM)
    message = f"Invoked {function} to keep it warm (keepWarmInterval {spec.keep_warm_interval})"
    return ReactivationPlan(
        status,
        invoke=Invoke(spec.payload.encode(), spec.invocation_type, Result.KEPT_WARM),
        events=(Event(EventType.NORMAL, "KeptWarm", message),),
        requeue_after=interval,
    )
