"""plan_attachment: every branch of the decision for a live attachment, in the order it is taken."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings
from lambda_vpc_operator.planner import delays, hints
from lambda_vpc_operator.planner.planning import Situation, plan_attachment
from lambda_vpc_operator.planner.plans import EventType, Outcome, Plan, UpdateVpcConfig
from lambda_vpc_operator.planner.validation import Problem, Severity

MakeSpec = Callable[..., AttachmentSpec]
MakeObservation = Callable[..., FunctionObservation]

GENERATION = 3
T0 = "2025-01-01T00:00:00Z"
ROLE = "arn:aws:iam::123456789012:role/orders-exec"
# What the default spec asks for, and what UpdateFunctionConfiguration must receive for it (sorted).
DESIRED = VpcSettings.of(["subnet-a1", "subnet-b2"], ["sg-1", "sg-2"])
DESIRED_WIRE = {
    "SubnetIds": ["subnet-a1", "subnet-b2"],
    "SecurityGroupIds": ["sg-1", "sg-2"],
    "Ipv6AllowedForDualStack": False,
}
ELSEWHERE = VpcSettings.of(["subnet-z9"], ["sg-9"])  # another configuration, set outside Kubernetes


def situation(observed: FunctionObservation | None, **kwargs: Any) -> Situation:
    return Situation(generation=GENERATION, observed=observed, **kwargs)


def conds(plan: Plan) -> list[tuple[str, str, str]]:
    assert plan.conditions is not None
    return [(c.type.value, c.status.value, str(c.reason)) for c in plan.conditions]


def events(plan: Plan) -> list[tuple[str, str]]:
    return [(e.type.value, e.reason) for e in plan.events]


def condition(type_: str, status: str, reason: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": "",
        "observedGeneration": GENERATION,
        "lastTransitionTime": T0,
    }


READY_TRUE: Sequence[Mapping[str, Any]] = (condition("Ready", "True", "Attached"),)


def stalled_as(reason: str) -> Sequence[Mapping[str, Any]]:
    return (condition("Ready", "False", reason), condition("Stalled", "True", reason))


def stalled(reason: str) -> list[tuple[str, str, str]]:
    return [("Ready", "False", reason), ("Stalled", "True", reason)]


def waiting(reason: str) -> list[tuple[str, str, str]]:
    return [("Ready", "False", reason), ("Reconciling", "True", reason)]


# --- conflict -----------------------------------------------------------------------------------


def test_conflict_stalls_without_touching_aws(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    observed = make_observation(vpc=ELSEWHERE)  # would otherwise be an UPDATE
    plan = plan_attachment(make_spec(), situation(observed, conflict_with="team-a/orders-vpc"))
    assert plan.outcome == Outcome.STALLED
    assert plan.action is None
    assert conds(plan) == stalled("Conflict")
    assert plan.conditions is not None
    assert "team-a/orders-vpc" in plan.conditions[0].message
    assert events(plan) == [("Warning", "Stalled")]
    assert plan.requeue_after is None


def test_conflict_wins_over_preflight_errors_and_read_failures(make_spec: MakeSpec) -> None:
    s = situation(
        None,
        conflict_with="team-a/orders-vpc",
        problems=[Problem(Severity.ERROR, "SubnetNotFound", "spec.subnetIds", "missing")],
        read_failure=Failure(FailureKind.SERVICE_ERROR, "ServiceException", "boom"),
    )
    assert conds(plan_attachment(make_spec(), s)) == stalled("Conflict")


def test_conflict_already_reported_emits_no_new_event(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    s = situation(make_observation(), conflict_with="team-a/orders-vpc", conditions=stalled_as("Conflict"))
    plan = plan_attachment(make_spec(), s)
    assert plan.outcome == Outcome.STALLED
    assert plan.events == ()


# --- preflight ----------------------------------------------------------------------------------


def test_preflight_errors_stall_with_the_first_reason_and_every_message(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    problems = [
        Problem(Severity.ERROR, "SubnetNotFound", "spec.subnetIds", "subnet subnet-b2 is missing"),
        Problem(Severity.WARNING, "SingleAvailabilityZone", "spec.subnetIds", "one zone only"),
        Problem(Severity.ERROR, "MixedVpcs", "spec.subnetIds", "two VPCs"),
    ]
    plan = plan_attachment(make_spec(), situation(make_observation(vpc=ELSEWHERE), problems=problems))
    assert plan.outcome == Outcome.STALLED
    assert plan.action is None
    assert conds(plan) == stalled("SubnetNotFound")
    assert plan.conditions is not None
    assert plan.conditions[0].message == "subnet subnet-b2 is missing; two VPCs"


def test_preflight_warnings_alone_do_not_stop_the_update(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    problems = [Problem(Severity.WARNING, "LowFreeAddresses", "spec.subnetIds", "subnet-a1 has 3 free addresses")]
    observed = make_observation(vpc=ELSEWHERE)
    with_warnings = plan_attachment(make_spec(), situation(observed, problems=problems))
    without = plan_attachment(make_spec(), situation(observed))
    assert with_warnings.outcome == Outcome.UPDATE
    assert with_warnings == without


def test_preflight_errors_come_before_a_missing_function(make_spec: MakeSpec) -> None:
    problems = [Problem(Severity.ERROR, "SecurityGroupNotFound", "spec.securityGroupIds", "sg-1 is missing")]
    plan = plan_attachment(make_spec(), situation(None, problems=problems))
    assert conds(plan) == stalled("SecurityGroupNotFound")
    assert plan.requeue_after is None


# --- reading the function failed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "attempt", "requeue_after"),
    [
        pytest.param(Failure(FailureKind.THROTTLED, "TooManyRequestsException", "slow", 7.0), 0, 7.0,
                     id="throttled-retry-after"),
        pytest.param(Failure(FailureKind.THROTTLED, "TooManyRequestsException", "slow"), 0, delays.THROTTLE_FALLBACK,
                     id="throttled-fallback"),
        pytest.param(Failure(FailureKind.CONFLICT, "ResourceConflictException", "busy"), 2, 5.12, id="conflict"),
        pytest.param(Failure(FailureKind.STALE_REVISION, "PreconditionFailedException", "stale"), 4, delays.REREAD,
                     id="stale-revision"),
        pytest.param(Failure(FailureKind.SERVICE_ERROR, "ServiceException", "boom"), 1, 3.2, id="service-error"),
    ],
)  # fmt: skip
def test_transient_read_failure_waits_and_leaves_conditions_alone(
    make_spec: MakeSpec, failure: Failure, attempt: int, requeue_after: float
) -> None:
    s = situation(None, read_failure=failure, attempt=attempt, conditions=READY_TRUE)
    plan = plan_attachment(make_spec(), s)
    assert plan.outcome == Outcome.WAIT
    assert plan.conditions is None  # a passing failure must not flap Ready
    assert plan.events == ()
    assert plan.action is None
    assert plan.requeue_after == pytest.approx(requeue_after)


@pytest.mark.parametrize(
    ("failure", "reason", "requeue_after"),
    [
        pytest.param(Failure(FailureKind.NOT_FOUND, "ResourceNotFoundException", "gone"), "FunctionNotFound",
                     delays.FUNCTION_NOT_FOUND_RECHECK, id="not-found"),
        pytest.param(Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "no lambda:GetFunction"),
                     "AccessDenied", None, id="access-denied"),
        pytest.param(Failure(FailureKind.INVALID_PARAMETER, "InvalidParameterValueException", "bad name"),
                     "InvalidConfiguration", None, id="invalid-parameter"),
    ],
)  # fmt: skip
def test_permanent_read_failure_stalls(
    make_spec: MakeSpec, failure: Failure, reason: str, requeue_after: float | None
) -> None:
    plan = plan_attachment(make_spec(), situation(None, read_failure=failure))
    assert plan.outcome == Outcome.STALLED
    assert conds(plan) == stalled(reason)
    assert plan.requeue_after == requeue_after
    assert events(plan) == [("Warning", "Stalled")]


def test_access_denied_names_the_code_and_the_permissions_to_grant(make_spec: MakeSpec) -> None:
    failure = Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "not authorized")
    plan = plan_attachment(make_spec(), situation(None, read_failure=failure))
    assert plan.conditions is not None
    message = plan.conditions[0].message
    assert "AccessDeniedException: not authorized" in message
    assert "lambda:GetFunction" in message
    assert "lambda:UpdateFunctionConfiguration" in message


# --- the function does not exist ----------------------------------------------------------------


def test_missing_function_stalls_and_is_checked_again_later(make_spec: MakeSpec) -> None:
    plan = plan_attachment(make_spec(), situation(None))
    assert plan.outcome == Outcome.STALLED
    assert conds(plan) == stalled("FunctionNotFound")
    assert plan.requeue_after == delays.FUNCTION_NOT_FOUND_RECHECK == 300.0
    assert plan.conditions is not None
    assert "orders does not exist" in plan.conditions[0].message
    assert events(plan) == [("Warning", "Stalled")]
    assert plan.action is None


def test_missing_function_reported_again_emits_no_event(make_spec: MakeSpec) -> None:
    plan = plan_attachment(make_spec(), situation(None, conditions=stalled_as("FunctionNotFound")))
    assert plan.events == ()


# --- our UpdateFunctionConfiguration was refused ------------------------------------------------

ROLE_REFUSAL = "The provided execution role does not have permissions to call CreateNetworkInterface on EC2"


@pytest.mark.parametrize(
    ("failure", "attempt", "reason", "requeue_after"),
    [
        pytest.param(Failure(FailureKind.THROTTLED, "TooManyRequestsException", "slow", 12.0), 0, "Throttled", 12.0,
                     id="throttled"),
        pytest.param(Failure(FailureKind.THROTTLED, "TooManyRequestsException", "slow"), 3, "Throttled", 5.0,
                     id="throttled-no-retry-after"),
        pytest.param(Failure(FailureKind.CONFLICT, "ResourceConflictException", "in progress"), 0, "UpdateInProgress",
                     2.0, id="conflict"),
        pytest.param(Failure(FailureKind.STALE_REVISION, "PreconditionFailedException", "stale"), 0, "Updating", 0.5,
                     id="stale-revision"),
        pytest.param(Failure(FailureKind.SERVICE_ERROR, "ServiceException", "boom"), 20, "AwsUnavailable", 30.0,
                     id="service-error"),
        pytest.param(Failure(FailureKind.ROLE_PERMISSIONS, "InvalidParameterValueException", ROLE_REFUSAL), 0,
                     "RoleMissingPermissions", 10.0, id="role-refused"),
        pytest.param(Failure(FailureKind.ROLE_PERMISSIONS, "InvalidParameterValueException", ROLE_REFUSAL), 3,
                     "RoleMissingPermissions", 80.0, id="role-refused-again"),
    ],
)  # fmt: skip
def test_transient_action_failure_waits(
    make_spec: MakeSpec,
    make_observation: MakeObservation,
    failure: Failure,
    attempt: int,
    reason: str,
    requeue_after: float,
) -> None:
    s = situation(make_observation(vpc=ELSEWHERE), action_failure=failure, attempt=attempt)
    plan = plan_attachment(make_spec(), s)
    assert plan.outcome == Outcome.WAIT
    assert conds(plan) == waiting(reason)
    assert plan.action is None
    assert plan.requeue_after == pytest.approx(requeue_after)
    assert plan.events == ()


def test_a_role_refused_for_long_settles_as_stalled_and_is_still_retried(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    # kstatus: Reconciling for ever would keep Flux and Argo CD waiting; at the slow end a human must act.
    failure = Failure(FailureKind.ROLE_PERMISSIONS, "InvalidParameterValueException", ROLE_REFUSAL)
    s = situation(make_observation(vpc=ELSEWHERE), action_failure=failure, attempt=30)
    plan = plan_attachment(make_spec(), s)
    assert plan.outcome == Outcome.WAIT and plan.requeue_after == 300.0
    assert conds(plan) == [("Ready", "False", "RoleMissingPermissions"), ("Stalled", "True", "RoleMissingPermissions")]


def test_just_claimed_waits_before_the_update(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    plan = plan_attachment(make_spec(), situation(make_observation(vpc=ELSEWHERE), just_claimed=True))
    assert plan.outcome == Outcome.WAIT and plan.action is None
    assert conds(plan) == waiting("Claiming")


def test_just_claimed_in_sync_needs_no_wait(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    plan = plan_attachment(make_spec(), situation(make_observation(), just_claimed=True))
    assert plan.outcome == Outcome.IN_SYNC


@pytest.mark.parametrize(
    ("failure", "reason", "requeue_after"),
    [
        pytest.param(Failure(FailureKind.NOT_FOUND, "ResourceNotFoundException", "deleted"), "FunctionNotFound",
                     300.0, id="not-found"),
        pytest.param(Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "no ec2:DescribeSubnets"),
                     "AccessDenied", None, id="access-denied"),
        pytest.param(Failure(FailureKind.INVALID_PARAMETER, "InvalidParameterValueException",
                             "SubnetIds and SecurityIds must coexist or be both empty list."),
                     "InvalidConfiguration", None, id="invalid-parameter"),
    ],
)  # fmt: skip
def test_permanent_action_failure_stalls(
    make_spec: MakeSpec, make_observation: MakeObservation, failure: Failure, reason: str, requeue_after: float | None
) -> None:
    s = situation(make_observation(vpc=ELSEWHERE), action_failure=failure)
    plan = plan_attachment(make_spec(), s)
    assert plan.outcome == Outcome.STALLED
    assert conds(plan) == stalled(reason)
    assert plan.action is None
    assert plan.requeue_after == requeue_after


def test_role_refused_at_the_call_names_the_role_and_is_retried(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    """aws-facts "Refusals": a role refusal is fixed on IAM (or passes with propagation), not in the spec."""
    role = "arn:aws:iam::123456789012:role/orders-exec"
    failure = Failure(FailureKind.ROLE_PERMISSIONS, "InvalidParameterValueException", ROLE_REFUSAL)
    plan = plan_attachment(make_spec(), situation(make_observation(vpc=ELSEWHERE, role=role), action_failure=failure))
    assert plan.conditions is not None
    message = plan.conditions[0].message
    assert role in message and ROLE_REFUSAL in message and "fix spec" not in message
    assert plan.outcome == Outcome.WAIT and plan.requeue_after == delays.ROLE_FIRST_WAIT


def test_invalid_parameter_shows_aws_message(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    failure = Failure(FailureKind.INVALID_PARAMETER, "InvalidParameterValueException", "Subnet limit reached")
    plan = plan_attachment(make_spec(), situation(make_observation(vpc=ELSEWHERE), action_failure=failure))
    assert plan.conditions is not None
    assert "InvalidParameterValueException: Subnet limit reached" in plan.conditions[1].message


# --- State=Failed -------------------------------------------------------------------------------


def test_failed_function_stalls_with_its_reason_code_and_a_hint_naming_the_role(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    observed = make_observation(
        state=FunctionState.FAILED,
        state_reason="The function's execution role does not have permissions to call CreateNetworkInterface",
        state_reason_code="InsufficientRolePermissions",
        role=ROLE,
    )
    plan = plan_attachment(make_spec(), situation(observed))
    assert plan.outcome == Outcome.STALLED
    assert plan.action is None
    assert conds(plan) == stalled("InsufficientRolePermissions")
    assert plan.conditions is not None
    message = plan.conditions[0].message
    assert "does not have permissions to call CreateNetworkInterface" in message
    assert ROLE in message
    assert hints.VPC_ACCESS_ACTIONS in message
    assert events(plan) == [("Warning", "Stalled")]


def test_failed_function_with_unknown_role_says_so(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    observed = make_observation(state=FunctionState.FAILED, state_reason_code="InsufficientRolePermissions", role=None)
    plan = plan_attachment(make_spec(), situation(observed))
    assert plan.conditions is not None
    assert "(unknown role)" in plan.conditions[0].message


def test_failed_function_without_reason_code_stalls_as_function_failed(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    plan = plan_attachment(make_spec(), situation(make_observation(state=FunctionState.FAILED)))
    assert conds(plan) == stalled("FunctionFailed")
    assert plan.conditions is not None
    assert plan.conditions[0].message == "Lambda function orders is Failed: FunctionFailed."


def test_failed_function_wins_over_an_update_in_progress(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    observed = make_observation(
        state=FunctionState.FAILED, state_reason_code="InvalidSubnet", last_update_status=UpdateStatus.IN_PROGRESS
    )
    assert conds(plan_attachment(make_spec(), situation(observed))) == stalled("InvalidSubnet")


# --- busy: Pending or LastUpdateStatus=InProgress -----------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param({"state": FunctionState.PENDING, "state_reason_code": "Creating", "last_update_status": None},
                     "FunctionPending", id="pending"),
        pytest.param({"last_update_status": UpdateStatus.IN_PROGRESS}, "UpdateInProgress", id="update-in-progress"),
    ],
)  # fmt: skip
def test_busy_function_is_waited_for_without_an_update(
    make_spec: MakeSpec, make_observation: MakeObservation, overrides: dict[str, Any], reason: str
) -> None:
    observed = make_observation(vpc=ELSEWHERE, **overrides)  # differs from spec: still no write
    plan = plan_attachment(make_spec(), situation(observed))
    assert plan.outcome == Outcome.WAIT
    assert plan.action is None
    assert conds(plan) == waiting(reason)
    assert plan.requeue_after == delays.FIRST_WAIT
    assert plan.applied is False


def test_pending_message_names_the_reason_code(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    observed = make_observation(state=FunctionState.PENDING, state_reason_code="Restoring")
    plan = plan_attachment(make_spec(), situation(observed))
    assert plan.conditions is not None
    assert "Pending (Restoring)" in plan.conditions[0].message


@pytest.mark.parametrize(
    ("attempt", "requeue_after"),
    [
        pytest.param(0, 2.0, id="first"),
        pytest.param(1, 3.2, id="second"),
        pytest.param(2, 5.12, id="third"),
        pytest.param(5, 20.97152, id="sixth"),
        pytest.param(6, 30.0, id="capped"),
        pytest.param(100, 30.0, id="still-capped"),
    ],
)
@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"state": FunctionState.PENDING}, id="pending"),
        pytest.param({"last_update_status": UpdateStatus.IN_PROGRESS}, id="in-progress"),
    ],
)
def test_busy_waits_grow_with_each_attempt(
    make_spec: MakeSpec, make_observation: MakeObservation, overrides: dict[str, Any], attempt: int,
    requeue_after: float,
) -> None:  # fmt: skip
    plan = plan_attachment(make_spec(), situation(make_observation(**overrides), attempt=attempt))
    assert plan.requeue_after == pytest.approx(requeue_after)


# --- applied, but LastUpdateStatus=Failed -------------------------------------------------------


@pytest.mark.parametrize("code", sorted(hints.TRANSIENT_REASON_CODES))
def test_transient_update_failure_is_retried(make_spec: MakeSpec, make_observation: MakeObservation, code: str) -> None:
    observed = make_observation(
        last_update_status=UpdateStatus.FAILED, last_update_status_reason_code=code, revision_id="rev-11"
    )
    plan = plan_attachment(make_spec(), situation(observed, attempt=1, update_sent=True))
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(DESIRED, "rev-11")
    assert plan.action.vpc.to_aws() == DESIRED_WIRE
    assert conds(plan) == [("Ready", "False", code), ("Reconciling", "True", "Updating")]
    assert events(plan) == [("Normal", "Updating")]
    assert plan.events[0].message.startswith(f"Retrying after {code}: ")
    assert plan.requeue_after == pytest.approx(3.2)


@pytest.mark.parametrize("code", ["SubnetOutOfIPAddresses", "EniLimitExceeded", "InvalidSubnet",
                                  "InvalidSecurityGroup", "DisallowedByVpcEncryptionControl"])  # fmt: skip
def test_permanent_update_failure_stalls_naming_the_code(
    make_spec: MakeSpec, make_observation: MakeObservation, code: str
) -> None:
    observed = make_observation(
        last_update_status=UpdateStatus.FAILED,
        last_update_status_reason=f"Lambda could not complete the update: {code}",
        last_update_status_reason_code=code,
    )
    plan = plan_attachment(make_spec(), situation(observed, update_sent=True))
    assert plan.outcome == Outcome.STALLED
    assert plan.action is None
    assert conds(plan) == stalled(code)
    assert plan.conditions is not None
    message = plan.conditions[0].message
    assert f"Lambda could not complete the update: {code}" in message
    assert hints.hint(code) in message
    assert events(plan) == [("Warning", "Stalled")]


def test_update_failure_without_reason_code_stalls_as_update_failed(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    observed = make_observation(last_update_status=UpdateStatus.FAILED)
    plan = plan_attachment(make_spec(), situation(observed, update_sent=True))
    assert conds(plan) == stalled("UpdateFailed")
    assert plan.conditions is not None
    assert plan.conditions[0].message == "The VPC update of orders failed: UpdateFailed."


def test_permanent_update_failure_is_retried_on_resync(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    observed = make_observation(
        last_update_status=UpdateStatus.FAILED, last_update_status_reason_code="SubnetOutOfIPAddresses"
    )
    s = situation(observed, resync=True, update_sent=True, conditions=stalled_as("SubnetOutOfIPAddresses"))
    plan = plan_attachment(make_spec(), s)
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(DESIRED, "rev-7")
    assert conds(plan) == [("Ready", "False", "SubnetOutOfIPAddresses"), ("Reconciling", "True", "Updating")]
    assert events(plan) == [("Normal", "Updating")]


# --- applied, Failed, and not ours: someone else's update (a CI code deploy) -------------------


@pytest.mark.parametrize("resync", [False, True])
@pytest.mark.parametrize("code", ["InvalidZipFileException", "InternalError", "SubnetOutOfIPAddresses"])
def test_a_foreign_failed_update_is_reported_not_stalled_nor_masked(
    make_spec: MakeSpec, make_observation: MakeObservation, code: str, resync: bool
) -> None:
    observed = make_observation(
        last_update_status=UpdateStatus.FAILED,
        last_update_status_reason="Could not unzip uploaded file",
        last_update_status_reason_code=code,
    )
    s = situation(observed, resync=resync, attempt=1, conditions=READY_TRUE, applied_generation=GENERATION)
    plan = plan_attachment(make_spec(), s)
    assert plan.outcome == Outcome.IN_SYNC
    assert plan.action is None  # our configuration is in place: sending it again would only mask theirs
    assert conds(plan) == [("Ready", "True", "Attached")]
    assert plan.conditions is not None
    message = plan.conditions[0].message
    assert f"not sent by this operator, failed ({code}: Could not unzip uploaded file)" in message
    assert events(plan) == []


def test_a_foreign_failure_on_an_idle_function_keeps_the_idle_verdict(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    observed = make_observation(
        state=FunctionState.INACTIVE, state_reason_code="Idle",
        last_update_status=UpdateStatus.FAILED, last_update_status_reason_code="InvalidZipFileException",
    )  # fmt: skip
    plan = plan_attachment(make_spec(reactivation={"policy": "Disabled"}), situation(observed))
    assert plan.outcome == Outcome.IDLE
    assert conds(plan) == [("Ready", "True", "Inactive")]
    assert plan.conditions is not None
    assert "InvalidZipFileException" in plan.conditions[0].message


def test_our_own_failed_update_in_place_is_still_ours(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    # update_sent (memory, or status.sentGeneration after a restart): the failure is ours to report.
    observed = make_observation(
        last_update_status=UpdateStatus.FAILED, last_update_status_reason_code="EniLimitExceeded"
    )
    plan = plan_attachment(make_spec(), situation(observed, update_sent=True))
    assert conds(plan) == stalled("EniLimitExceeded")


# --- not applied: drift or a spec change --------------------------------------------------------


def test_drift_with_report_policy_is_reported_once(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    s = situation(make_observation(vpc=ELSEWHERE), applied_generation=GENERATION, conditions=READY_TRUE)
    plan = plan_attachment(make_spec(driftPolicy="Report"), s)
    assert plan.outcome == Outcome.DRIFT_REPORTED
    assert plan.action is None
    assert plan.requeue_after is None
    assert conds(plan) == stalled("DriftDetected")
    assert events(plan) == [("Warning", "DriftDetected"), ("Warning", "Stalled")]
    message = plan.events[0].message
    assert "subnets subnet-z9; security groups sg-9" in message  # what AWS has
    assert "subnets subnet-a1, subnet-b2; security groups sg-1, sg-2" in message  # what the spec wants


def test_drift_seen_again_emits_no_new_event(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    s = situation(
        make_observation(vpc=ELSEWHERE), applied_generation=GENERATION, conditions=stalled_as("DriftDetected")
    )
    plan = plan_attachment(make_spec(driftPolicy="Report"), s)
    assert plan.outcome == Outcome.DRIFT_REPORTED
    assert conds(plan) == stalled("DriftDetected")
    assert plan.events == ()


def test_drift_after_another_stall_is_reported(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    s = situation(make_observation(vpc=ELSEWHERE), applied_generation=GENERATION, conditions=stalled_as("Conflict"))
    plan = plan_attachment(make_spec(driftPolicy="Report"), s)
    assert events(plan) == [("Warning", "DriftDetected"), ("Warning", "Stalled")]


def test_drift_with_correct_policy_restores_the_spec(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    observed = make_observation(vpc=ELSEWHERE, revision_id="rev-12")
    plan = plan_attachment(make_spec(driftPolicy="Correct"), situation(observed, applied_generation=GENERATION))
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(DESIRED, "rev-12")
    assert conds(plan) == waiting("CorrectingDrift")
    assert events(plan) == [("Warning", "DriftDetected"), ("Normal", "DriftCorrected")]
    assert plan.requeue_after == delays.FIRST_WAIT


@pytest.mark.parametrize(
    "applied_generation",
    [pytest.param(None, id="never-applied"), pytest.param(GENERATION - 1, id="older-generation-applied")],
)
@pytest.mark.parametrize("drift_policy", ["Correct", "Report"])
def test_spec_change_is_applied_whatever_the_drift_policy(
    make_spec: MakeSpec, make_observation: MakeObservation, applied_generation: int | None, drift_policy: str
) -> None:
    observed = make_observation(vpc=ELSEWHERE, revision_id="rev-8")
    plan = plan_attachment(
        make_spec(driftPolicy=drift_policy), situation(observed, applied_generation=applied_generation)
    )
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(DESIRED, "rev-8")
    assert conds(plan) == waiting("Updating")
    assert events(plan) == [("Normal", "Updating")]
    assert plan.events[0].message == (
        "Setting VpcConfig of orders: subnets subnet-a1, subnet-b2; security groups sg-1, sg-2"
    )
    assert plan.requeue_after == delays.FIRST_WAIT
    assert plan.applied is False


def test_update_sends_sorted_ids_and_the_ipv6_flag(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    spec = make_spec(subnetIds=["subnet-c3", "subnet-a1", "subnet-b2"], securityGroupIds=["sg-b", "sg-a"],
                     ipv6AllowedForDualStack=True)  # fmt: skip
    plan = plan_attachment(spec, situation(make_observation()))
    assert plan.action is not None
    assert plan.action.vpc.to_aws() == {
        "SubnetIds": ["subnet-a1", "subnet-b2", "subnet-c3"],
        "SecurityGroupIds": ["sg-a", "sg-b"],
        "Ipv6AllowedForDualStack": True,
    }
    assert plan.action.revision_id == "rev-7"


def test_detached_function_is_attached(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    observed = make_observation(vpc=VpcSettings(), vpc_id=None)
    plan = plan_attachment(make_spec(), situation(observed))
    assert plan.outcome == Outcome.UPDATE
    assert plan.action is not None
    assert plan.action.vpc.to_aws() == DESIRED_WIRE


def test_not_applied_update_failure_is_overwritten_by_the_spec(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    # A failed update of some other configuration is no reason to stall: write ours.
    observed = make_observation(
        vpc=ELSEWHERE, last_update_status=UpdateStatus.FAILED, last_update_status_reason_code="InvalidSubnet"
    )
    plan = plan_attachment(make_spec(), situation(observed))
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(DESIRED, "rev-7")


@pytest.mark.parametrize("rolled_back_to", [pytest.param(VpcSettings(), id="detached"),
                                            pytest.param(ELSEWHERE, id="elsewhere")])  # fmt: skip
def test_our_failed_update_rolled_back_stalls_instead_of_looping(
    make_spec: MakeSpec, make_observation: MakeObservation, rolled_back_to: VpcSettings
) -> None:
    # Lambda aborted our update and kept the previous configuration: sending it again would fail again.
    observed = make_observation(
        vpc=rolled_back_to,
        last_update_status=UpdateStatus.FAILED,
        last_update_status_reason="No free IP addresses in subnet-a1",
        last_update_status_reason_code="SubnetOutOfIPAddresses",
    )
    plan = plan_attachment(make_spec(), situation(observed, update_sent=True))
    assert plan.outcome == Outcome.STALLED
    assert plan.action is None
    assert conds(plan) == stalled("SubnetOutOfIPAddresses")
    assert plan.conditions is not None
    assert "No free IP addresses in subnet-a1" in plan.conditions[0].message
    assert hints.hint("SubnetOutOfIPAddresses") in plan.conditions[0].message
    assert events(plan) == [("Warning", "Stalled")]


def test_our_failed_update_rolled_back_is_retried_on_resync(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    observed = make_observation(
        vpc=VpcSettings(), last_update_status=UpdateStatus.FAILED, last_update_status_reason_code="EniLimitExceeded"
    )
    s = situation(observed, update_sent=True, resync=True, conditions=stalled_as("EniLimitExceeded"))
    plan = plan_attachment(make_spec(), s)
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(DESIRED, "rev-7")
    assert conds(plan) == [("Ready", "False", "EniLimitExceeded"), ("Reconciling", "True", "Updating")]


@pytest.mark.parametrize("code", sorted(hints.TRANSIENT_REASON_CODES))
def test_our_failed_update_rolled_back_is_retried_at_once_when_transient(
    make_spec: MakeSpec, make_observation: MakeObservation, code: str
) -> None:
    observed = make_observation(
        vpc=VpcSettings(), last_update_status=UpdateStatus.FAILED, last_update_status_reason_code=code
    )
    plan = plan_attachment(make_spec(), situation(observed, update_sent=True, attempt=1))
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(DESIRED, "rev-7")
    assert plan.requeue_after == pytest.approx(3.2)


# --- applied: Active, Inactive, or another state ------------------------------------------------


@pytest.mark.parametrize(
    "state", [pytest.param(FunctionState.ACTIVE, id="active"), pytest.param(None, id="state-unknown")]
)
def test_in_sync_is_ready_and_applied(
    make_spec: MakeSpec, make_observation: MakeObservation, state: FunctionState | None
) -> None:
    plan = plan_attachment(make_spec(), situation(make_observation(state=state)))
    assert plan.outcome == Outcome.IN_SYNC
    assert conds(plan) == [("Ready", "True", "Attached")]
    assert plan.applied is True
    assert plan.action is None
    assert plan.requeue_after is None
    assert plan.conditions is not None
    assert plan.conditions[0].message == (
        "Lambda function orders is Active in vpc-0abc: subnets subnet-a1, subnet-b2; security groups sg-1, sg-2"
    )


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param((), [("Normal", "Updated")], id="first-status"),
        pytest.param(
            (condition("Ready", "False", "Updating"), condition("Reconciling", "True", "Updating")),
            [("Normal", "Updated")],
            id="after-update",
        ),
        pytest.param(READY_TRUE, [], id="already-ready"),
    ],
)
def test_updated_event_only_when_ready_flips(
    make_spec: MakeSpec,
    make_observation: MakeObservation,
    current: Sequence[Mapping[str, Any]],
    expected: list[tuple[str, str]],
) -> None:
    plan = plan_attachment(make_spec(), situation(make_observation(), conditions=current))
    assert events(plan) == expected


def test_in_sync_without_known_vpc_id_says_its_vpc(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    plan = plan_attachment(make_spec(), situation(make_observation(vpc_id=None)))
    assert plan.conditions is not None
    assert "is Active in its VPC:" in plan.conditions[0].message


@pytest.mark.parametrize(
    ("policy", "expected", "in_message"),
    [
        # Auto: the reactivation is work under way (planner.reactivation reports each step).
        pytest.param("Auto", [("Ready", "False", "Inactive"), ("Reconciling", "True", "Inactive")],
                     "next invoke will fail", id="auto"),
        # Disabled: idle as the user chose; attached as asked, so Ready (kstatus Current).
        pytest.param("Disabled", [("Ready", "True", "Inactive")], "policy Disabled: the operator leaves it so",
                     id="disabled"),
        # Manual: a human must annotate; Stalled names the annotation (kstatus Failed).
        pytest.param("Manual", [("Ready", "False", "Inactive"), ("Stalled", "True", "Inactive")],
                     "annotate the attachment lambdavpc.dev/reactivate=<new value>", id="manual"),
    ],
)  # fmt: skip
def test_inactive_function_is_applied_with_a_settled_verdict_per_policy(
    make_spec: MakeSpec, make_observation: MakeObservation, policy: str, expected: list[tuple[str, str, str]],
    in_message: str,
) -> None:  # fmt: skip
    observed = make_observation(state=FunctionState.INACTIVE, state_reason_code="Idle")
    plan = plan_attachment(make_spec(reactivation={"policy": policy}), situation(observed, conditions=READY_TRUE))
    assert plan.outcome == Outcome.IDLE
    assert conds(plan) == expected
    assert plan.applied is True
    assert plan.action is None
    assert plan.requeue_after is None
    assert plan.conditions is not None
    assert "Inactive (Idle)" in plan.conditions[0].message
    assert in_message in plan.conditions[0].message
    assert events(plan) == ([("Warning", "Stalled")] if policy == "Manual" else [])


@pytest.mark.parametrize("state", [FunctionState.DEACTIVATING, FunctionState.DELETING], ids=str)
def test_transitional_states_are_waited_for(
    make_spec: MakeSpec, make_observation: MakeObservation, state: FunctionState
) -> None:
    plan = plan_attachment(make_spec(), situation(make_observation(state=state), attempt=2))
    assert plan.outcome == Outcome.WAIT
    assert conds(plan) == waiting("Transitioning")
    assert plan.applied is True
    assert plan.action is None
    assert plan.requeue_after == pytest.approx(5.12)
    assert plan.conditions is not None
    assert f"is {state.value}; waiting" in plan.conditions[0].message


@pytest.mark.parametrize(
    ("state", "reason"),
    [(FunctionState.DEACTIVATED, "FunctionDeactivated"), (FunctionState.ACTIVE_NON_INVOCABLE, "FunctionNotInvocable")],
    ids=str,
)
def test_states_lambda_will_not_run_stall_until_a_human_acts(
    make_spec: MakeSpec, make_observation: MakeObservation, state: FunctionState, reason: str
) -> None:
    observed = make_observation(state=state, state_reason="Its capacity provider was deleted.",
                                state_reason_code="InvalidConfiguration")  # fmt: skip
    plan = plan_attachment(make_spec(), situation(observed, attempt=2))
    assert plan.outcome == Outcome.STALLED
    assert conds(plan) == stalled(reason)
    assert plan.applied is True
    assert plan.action is None
    assert plan.requeue_after is None  # looked at again at each resync
    assert plan.conditions is not None
    assert f"is {state.value} (Its capacity provider was deleted)" in plan.conditions[0].message


# --- perpetual-diff guards ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "vpc_config",
    [
        pytest.param({"SubnetIds": ["subnet-a1", "subnet-b2"], "SecurityGroupIds": ["sg-1", "sg-2"]}, id="sorted"),
        pytest.param({"SubnetIds": ["subnet-b2", "subnet-a1"], "SecurityGroupIds": ["sg-2", "sg-1"]}, id="reversed"),
        pytest.param({"SubnetIds": ["subnet-b2", "subnet-a1"], "SecurityGroupIds": ["sg-1", "sg-2"],
                      "VpcId": "vpc-0abc", "Ipv6AllowedForDualStack": None}, id="ipv6-null"),
        pytest.param({"SubnetIds": ["subnet-a1", "subnet-b2"], "SecurityGroupIds": ["sg-2", "sg-1"],
                      "VpcId": "vpc-0abc", "Ipv6AllowedForDualStack": False}, id="ipv6-false"),
    ],
)  # fmt: skip
def test_equivalent_aws_spellings_are_in_sync(
    make_spec: MakeSpec, make_observation: MakeObservation, vpc_config: dict[str, Any]
) -> None:
    observed = make_observation(vpc=VpcSettings.from_aws(vpc_config))
    plan = plan_attachment(make_spec(), situation(observed, applied_generation=GENERATION))
    assert plan.outcome == Outcome.IN_SYNC
    assert plan.action is None


def test_ipv6_flag_difference_is_a_real_diff(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    observed = make_observation(vpc=VpcSettings.from_aws(
        {"SubnetIds": ["subnet-a1", "subnet-b2"], "SecurityGroupIds": ["sg-1", "sg-2"], "Ipv6AllowedForDualStack": True}
    ))  # fmt: skip
    plan = plan_attachment(make_spec(), situation(observed))
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(DESIRED, "rev-7")


@pytest.mark.parametrize(
    "observed_vpc",
    [
        pytest.param(VpcSettings.of(["subnet-a1"], ["sg-1", "sg-2"]), id="subnet-missing"),
        pytest.param(VpcSettings.of(["subnet-a1", "subnet-b2", "subnet-c3"], ["sg-1", "sg-2"]), id="extra-subnet"),
        pytest.param(VpcSettings.of(["subnet-a1", "subnet-b2"], ["sg-1"]), id="group-missing"),
    ],
)
def test_any_set_difference_is_a_diff(
    make_spec: MakeSpec, make_observation: MakeObservation, observed_vpc: VpcSettings
) -> None:
    plan = plan_attachment(make_spec(), situation(make_observation(vpc=observed_vpc)))
    assert plan.outcome == Outcome.UPDATE


def test_in_sync_from_a_real_get_function_answer(make_spec: MakeSpec) -> None:
    observed = FunctionObservation.from_aws({
        "FunctionName": "orders",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
        "Role": ROLE,
        "VpcConfig": {"SubnetIds": ["subnet-b2", "subnet-a1"], "SecurityGroupIds": ["sg-2", "sg-1"],
                      "VpcId": "vpc-0abc", "Ipv6AllowedForDualStack": False},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "RevisionId": "rev-7",
    })  # fmt: skip
    plan = plan_attachment(make_spec(), situation(observed, conditions=READY_TRUE))
    assert plan.outcome == Outcome.IN_SYNC
    assert plan.events == ()


def test_event_types_are_warning_for_stalls_and_normal_for_progress(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    stalled_plan = plan_attachment(make_spec(), situation(None))
    updating_plan = plan_attachment(make_spec(), situation(make_observation(vpc=ELSEWHERE)))
    assert [e.type for e in stalled_plan.events] == [EventType.WARNING]
    assert [e.type for e in updating_plan.events] == [EventType.NORMAL]


def test_resync_looks_are_spread_never_sooner_than_asked() -> None:
    # A restart wakes every attachment at once; their resyncs must not stay in lockstep for ever.
    assert delays.resync_delay(600.0, 0.0) == 600.0
    spread = [delays.resync_delay(600.0, j / 10) for j in range(10)]
    assert spread == sorted(set(spread)) and spread[-1] < 600.0 * (1 + delays.RESYNC_JITTER)
