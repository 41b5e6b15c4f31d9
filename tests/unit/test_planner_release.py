"""plan_release: what deleting an attachment does to its function, branch by branch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambda_vpc_operator.models.attachments import DeletionPolicy
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import (
    DETACHED,
    FunctionObservation,
    FunctionState,
    UpdateStatus,
    VpcSettings,
)
from lambda_vpc_operator.planner import delays
from lambda_vpc_operator.planner.planning import Release, plan_release
from lambda_vpc_operator.planner.plans import Outcome, Plan, UpdateVpcConfig

MakeObservation = Callable[..., FunctionObservation]

FUNCTION = "orders"


def release(observed: FunctionObservation | None, **kwargs: Any) -> Release:
    values: dict[str, Any] = {"policy": DeletionPolicy.DETACH, "observed": observed, "owned": True}
    values.update(kwargs)
    return Release(**values)


def conds(plan: Plan) -> list[tuple[str, str, str]]:
    assert plan.conditions is not None
    return [(c.type.value, c.status.value, str(c.reason)) for c in plan.conditions]


def events(plan: Plan) -> list[tuple[str, str]]:
    return [(e.type.value, e.reason) for e in plan.events]


def waiting(reason: str) -> list[tuple[str, str, str]]:
    return [("Ready", "False", reason), ("Reconciling", "True", reason)]


# --- the function stays as it is ----------------------------------------------------------------


def test_retain_leaves_an_attached_function_alone(make_observation: MakeObservation) -> None:
    plan = plan_release(FUNCTION, release(make_observation(), policy=DeletionPolicy.RETAIN))
    assert plan.outcome == Outcome.RELEASED
    assert plan.action is None
    assert plan.conditions is None
    assert events(plan) == [("Normal", "Retained")]
    assert plan.events[0].message == "Left Lambda function orders as it is (deletionPolicy Retain)"


@pytest.mark.parametrize("policy", list(DeletionPolicy), ids=str)
def test_conflict_loser_never_detaches(make_observation: MakeObservation, policy: DeletionPolicy) -> None:
    plan = plan_release(FUNCTION, release(make_observation(), policy=policy, owned=False))
    assert plan.outcome == Outcome.RELEASED
    assert plan.action is None
    assert events(plan) == [("Normal", "Retained")]
    assert "never owned the function" in plan.events[0].message


def test_not_owned_wins_over_a_read_failure() -> None:
    failure = Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "denied")
    plan = plan_release(FUNCTION, release(None, owned=False, read_failure=failure))
    assert plan.outcome == Outcome.RELEASED


# --- reading the function failed ----------------------------------------------------------------


def test_read_not_found_releases_silently() -> None:
    failure = Failure(FailureKind.NOT_FOUND, "ResourceNotFoundException", "gone")
    plan = plan_release(FUNCTION, release(None, read_failure=failure))
    assert plan == Plan(outcome=Outcome.RELEASED, conditions=None)


@pytest.mark.parametrize(
    ("failure", "attempt", "reason", "requeue_after"),
    [
        pytest.param(Failure(FailureKind.THROTTLED, "TooManyRequestsException", "slow", 9.0), 0, "Throttled", 9.0,
                     id="throttled"),
        pytest.param(Failure(FailureKind.SERVICE_ERROR, "ServiceException", "boom"), 2, "AwsUnavailable", 5.12,
                     id="service-error"),
        pytest.param(Failure(FailureKind.CONFLICT, "ResourceConflictException", "busy"), 0, "UpdateInProgress", 2.0,
                     id="conflict"),
    ],
)  # fmt: skip
def test_transient_read_failure_keeps_the_finalizer(
    failure: Failure, attempt: int, reason: str, requeue_after: float
) -> None:
    plan = plan_release(FUNCTION, release(None, read_failure=failure, attempt=attempt))
    assert plan.outcome == Outcome.WAIT
    assert conds(plan) == waiting(reason)
    assert plan.action is None
    assert plan.requeue_after == pytest.approx(requeue_after)


def test_permanent_read_failure_stalls() -> None:
    failure = Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "denied")
    plan = plan_release(FUNCTION, release(None, read_failure=failure))
    assert plan.outcome == Outcome.STALLED
    assert conds(plan) == [("Ready", "False", "AccessDenied"), ("Stalled", "True", "AccessDenied")]
    assert plan.action is None


# --- the function is gone -----------------------------------------------------------------------


@pytest.mark.parametrize("detach_sent", [False, True])
def test_gone_function_is_released(detach_sent: bool) -> None:
    plan = plan_release(FUNCTION, release(None, detach_sent=detach_sent))
    assert plan == Plan(outcome=Outcome.RELEASED, conditions=None)


# --- our detach was refused ---------------------------------------------------------------------


def test_detach_refused_because_the_function_is_gone_releases(make_observation: MakeObservation) -> None:
    failure = Failure(FailureKind.NOT_FOUND, "ResourceNotFoundException", "deleted meanwhile")
    plan = plan_release(FUNCTION, release(make_observation(), action_failure=failure, detach_sent=True))
    assert plan == Plan(outcome=Outcome.RELEASED, conditions=None)


@pytest.mark.parametrize(
    ("failure", "reason", "requeue_after"),
    [
        pytest.param(Failure(FailureKind.CONFLICT, "ResourceConflictException", "in progress"), "UpdateInProgress",
                     3.2, id="conflict"),
        pytest.param(Failure(FailureKind.STALE_REVISION, "PreconditionFailedException", "stale"), "Updating", 0.5,
                     id="stale-revision"),
        pytest.param(Failure(FailureKind.THROTTLED, "TooManyRequestsException", "slow"), "Throttled", 5.0,
                     id="throttled"),
    ],
)  # fmt: skip
def test_transient_detach_failure_waits(
    make_observation: MakeObservation, failure: Failure, reason: str, requeue_after: float
) -> None:
    plan = plan_release(FUNCTION, release(make_observation(), action_failure=failure, attempt=1))
    assert plan.outcome == Outcome.WAIT
    assert conds(plan) == waiting(reason)
    assert plan.action is None
    assert plan.requeue_after == pytest.approx(requeue_after)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        pytest.param(Failure(FailureKind.INVALID_PARAMETER, "InvalidParameterValueException", "no"),
                     "InvalidConfiguration", id="invalid-parameter"),
        pytest.param(Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "denied"), "AccessDenied",
                     id="access-denied"),
    ],
)  # fmt: skip
def test_permanent_detach_failure_stalls(make_observation: MakeObservation, failure: Failure, reason: str) -> None:
    plan = plan_release(FUNCTION, release(make_observation(), action_failure=failure))
    assert plan.outcome == Outcome.STALLED
    assert conds(plan) == [("Ready", "False", reason), ("Stalled", "True", reason)]
    assert plan.action is None


# --- busy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"state": FunctionState.PENDING}, id="pending"),
        pytest.param({"last_update_status": UpdateStatus.IN_PROGRESS}, id="update-in-progress"),
    ],
)
@pytest.mark.parametrize(("attempt", "requeue_after"), [(0, 2.0), (3, 8.192), (9, 30.0)])
def test_busy_function_is_waited_for_before_detaching(
    make_observation: MakeObservation, overrides: dict[str, Any], attempt: int, requeue_after: float
) -> None:
    plan = plan_release(FUNCTION, release(make_observation(**overrides), attempt=attempt))
    assert plan.outcome == Outcome.WAIT
    assert conds(plan) == waiting("Detaching")
    assert plan.action is None
    assert plan.requeue_after == pytest.approx(requeue_after)


def test_busy_detached_function_is_still_waited_for(make_observation: MakeObservation) -> None:
    observed = make_observation(vpc=DETACHED, last_update_status=UpdateStatus.IN_PROGRESS)
    plan = plan_release(FUNCTION, release(observed, detach_sent=True))
    assert plan.outcome == Outcome.WAIT


# --- detaching ----------------------------------------------------------------------------------


def test_attached_function_is_detached_with_its_revision(make_observation: MakeObservation) -> None:
    plan = plan_release(FUNCTION, release(make_observation(revision_id="rev-21")))
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(DETACHED, "rev-21")
    assert plan.action.vpc.to_aws() == {"SubnetIds": [], "SecurityGroupIds": [], "Ipv6AllowedForDualStack": False}
    assert conds(plan) == waiting("Detaching")
    assert plan.requeue_after == delays.FIRST_WAIT
    assert plan.events == ()


@pytest.mark.parametrize(
    "vpc",
    [
        pytest.param(VpcSettings.of([], ["sg-1"]), id="groups-only"),
        pytest.param(VpcSettings.of(["subnet-a1"], []), id="subnets-only"),
    ],
)
def test_half_attached_function_is_detached(make_observation: MakeObservation, vpc: VpcSettings) -> None:
    plan = plan_release(FUNCTION, release(make_observation(vpc=vpc)))
    assert plan.action == UpdateVpcConfig(DETACHED, "rev-7")


def test_failed_function_is_still_detached(make_observation: MakeObservation) -> None:
    observed = make_observation(state=FunctionState.FAILED, state_reason_code="EniLimitExceeded")
    plan = plan_release(FUNCTION, release(observed))
    assert plan.action == UpdateVpcConfig(DETACHED, "rev-7")


# --- detached -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detach_sent", "expected"),
    [pytest.param(True, [("Normal", "Detached")], id="we-detached"), pytest.param(False, [], id="already-detached")],
)
def test_detached_function_is_released(
    make_observation: MakeObservation, detach_sent: bool, expected: list[tuple[str, str]]
) -> None:
    plan = plan_release(FUNCTION, release(make_observation(vpc=DETACHED, vpc_id=None), detach_sent=detach_sent))
    assert plan.outcome == Outcome.RELEASED
    assert plan.conditions is None
    assert plan.action is None
    assert events(plan) == expected


@pytest.mark.parametrize(
    "vpc_config",
    [
        pytest.param(None, id="absent"),
        pytest.param({}, id="empty"),
        pytest.param({"SubnetIds": [], "SecurityGroupIds": []}, id="empty-lists"),
        pytest.param({"SubnetIds": [], "SecurityGroupIds": [], "VpcId": ""}, id="empty-vpc-id"),
        pytest.param({"SubnetIds": [], "SecurityGroupIds": [], "VpcId": "", "Ipv6AllowedForDualStack": None},
                     id="ipv6-null"),
        pytest.param({"SubnetIds": [], "SecurityGroupIds": [], "Ipv6AllowedForDualStack": True},
                     id="ipv6-true-ignored-when-detached"),
    ],
)  # fmt: skip
def test_every_detached_spelling_needs_no_detach(
    make_observation: MakeObservation, vpc_config: dict[str, Any] | None
) -> None:
    plan = plan_release(FUNCTION, release(make_observation(vpc=VpcSettings.from_aws(vpc_config))))
    assert plan.outcome == Outcome.RELEASED
    assert plan.action is None


def test_failed_detach_is_sent_again(make_observation: MakeObservation) -> None:
    observed = make_observation(
        vpc=DETACHED,
        last_update_status=UpdateStatus.FAILED,
        last_update_status_reason="Lambda was throttled by EC2",
        last_update_status_reason_code="EC2RequestLimitExceeded",
        revision_id="rev-30",
    )
    plan = plan_release(FUNCTION, release(observed, detach_sent=True, attempt=1))
    assert plan.outcome == Outcome.WAIT
    assert plan.action == UpdateVpcConfig(DETACHED, "rev-30")
    assert conds(plan) == waiting("AwsUnavailable")
    assert plan.conditions is not None
    assert "EC2RequestLimitExceeded: Lambda was throttled by EC2" in plan.conditions[0].message
    assert plan.requeue_after == pytest.approx(3.2)
    assert plan.events == ()


def test_earlier_update_failure_of_a_detached_function_is_not_ours(make_observation: MakeObservation) -> None:
    observed = make_observation(vpc=DETACHED, last_update_status=UpdateStatus.FAILED)
    plan = plan_release(FUNCTION, release(observed, detach_sent=False))
    assert plan == Plan(outcome=Outcome.RELEASED, conditions=None)


# --- deletionPolicy Restore ---------------------------------------------------------------------

BEFORE = VpcSettings.of(["subnet-old"], ["sg-old"])


def test_restore_puts_back_what_an_adopted_function_had(make_observation: MakeObservation) -> None:
    observed = make_observation()
    plan = plan_release(FUNCTION, release(observed, policy=DeletionPolicy.RESTORE, restore=BEFORE))
    assert plan.outcome == Outcome.UPDATE
    assert plan.action == UpdateVpcConfig(BEFORE, observed.revision_id)
    assert conds(plan) == waiting("Detaching") and "subnet-old" in plan.conditions[0].message  # type: ignore[index]


def test_restore_is_done_when_aws_holds_the_old_configuration(make_observation: MakeObservation) -> None:
    observed = make_observation(vpc=BEFORE)
    plan = plan_release(FUNCTION, release(observed, policy=DeletionPolicy.RESTORE, restore=BEFORE, detach_sent=True))
    assert plan.outcome == Outcome.RELEASED and events(plan) == [("Normal", "Restored")]


def test_restore_without_a_record_detaches(make_observation: MakeObservation) -> None:
    observed = make_observation()
    plan = plan_release(FUNCTION, release(observed, policy=DeletionPolicy.RESTORE, restore=None))
    assert plan.action == UpdateVpcConfig(DETACHED, observed.revision_id)


def test_detach_ignores_a_recorded_previous_configuration(make_observation: MakeObservation) -> None:
    observed = make_observation()
    plan = plan_release(FUNCTION, release(observed, policy=DeletionPolicy.DETACH, restore=BEFORE))
    assert plan.action == UpdateVpcConfig(DETACHED, observed.revision_id)


def test_restored_vpc_reads_status_ownership() -> None:
    from lambda_vpc_operator.planner.planning import restored_vpc

    assert restored_vpc(None) is None
    previous = {"subnetIds": ["subnet-old"], "securityGroupIds": ["sg-old"], "ipv6AllowedForDualStack": False}
    assert restored_vpc(previous) == BEFORE
