"""planner.reactivation: when to invoke an Inactive function, and when to keep one warm."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState
from lambda_vpc_operator.models.reactivations import InvocationType, ReactivationSpec, duration_seconds
from lambda_vpc_operator.planner import reactivation
from lambda_vpc_operator.planner.conditions import ConditionType, Reason, Status

NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.UTC)
FUNCTION = "orders"
WINDOW = reactivation.ATTEMPT_WINDOW

Observe = Callable[..., FunctionObservation]


def ago(seconds: float) -> str:
    return reactivation.format_time(NOW - datetime.timedelta(seconds=seconds))


def spec(**fields: Any) -> ReactivationSpec:
    return ReactivationSpec.model_validate(fields)


def plan(
    observed: FunctionObservation, record: dict[str, Any] | None = None, **kwargs: Any
) -> reactivation.ReactivationPlan:
    options: dict[str, Any] = {"function": FUNCTION, "now": NOW}
    options.update(kwargs)
    reactivation_spec = options.pop("spec", spec())
    return reactivation.plan_reactivation(reactivation_spec, observed, record or {}, **options)


def inactive(make_observation: Observe) -> FunctionObservation:
    return make_observation(state=FunctionState.INACTIVE, state_reason_code="Idle", state_reason="idle for 14 days")


def condition(result: reactivation.ReactivationPlan, type_: ConditionType) -> tuple[Status, str] | None:
    for cond in result.conditions or ():
        if cond.type == type_:
            return cond.status, cond.reason
    return None


def test_auto_invokes_an_inactive_function_and_records_the_attempt_first(make_observation: Observe) -> None:
    result = plan(inactive(make_observation))
    assert result.invoke == reactivation.Invoke(
        b'{"lambdavpc.dev/reactivation": true}', InvocationType.REQUEST_RESPONSE, reactivation.Result.STARTED
    )
    assert result.status["attempts"] == 1
    assert result.status["startedTime"] == result.status["lastAttemptTime"] == reactivation.format_time(NOW)
    assert condition(result, ConditionType.RECONCILING) == (Status.TRUE, Reason.REACTIVATING)
    assert [e.reason for e in result.events] == ["ReactivationStarted"]


@pytest.mark.parametrize("policy", ["Disabled", "Manual"], ids=["disabled", "manual-without-request"])
def test_no_invoke_without_auto_or_a_request(make_observation: Observe, policy: str) -> None:
    result = plan(inactive(make_observation), spec=spec(policy=policy))
    assert result.invoke is None
    assert result.conditions is None  # the main plan's Inactive verdict for the policy stands
    assert result.events == ()


def test_disabled_ignores_a_request(make_observation: Observe) -> None:
    result = plan(inactive(make_observation), spec=spec(policy="Disabled"), request="1700000000")
    assert result.invoke is None and result.events == ()


def test_manual_request_invokes_once_and_is_remembered(make_observation: Observe) -> None:
    first = plan(inactive(make_observation), spec=spec(policy="Manual"), request="1700000000")
    assert first.invoke is not None
    assert first.status["handledRequest"] == "1700000000"
    again = plan(inactive(make_observation), first.status, spec=spec(policy="Manual"), request="1700000000")
    assert again.invoke is None  # same value: already handled, and within the attempt window


def test_a_second_invoke_waits_for_the_attempt_window(make_observation: Observe) -> None:
    record = {"attempts": 1, "startedTime": ago(30), "lastAttemptTime": ago(30)}
    result = plan(inactive(make_observation), record)
    assert result.invoke is None
    assert condition(result, ConditionType.RECONCILING) == (Status.TRUE, Reason.REACTIVATING)
    assert result.requeue_after == reactivation.POLL


def test_after_the_window_the_next_attempt_is_made(make_observation: Observe) -> None:
    record = {"attempts": 1, "startedTime": ago(WINDOW + 1), "lastAttemptTime": ago(WINDOW + 1)}
    result = plan(inactive(make_observation), record)
    assert result.invoke is not None
    assert result.status["attempts"] == 2
    assert result.status["startedTime"] == ago(WINDOW + 1)  # the series keeps its start


def test_windows_double_per_attempt() -> None:
    assert [reactivation.attempt_window(n, 10.0) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]


def test_gives_up_after_max_attempts_with_aws_reason(make_observation: Observe) -> None:
    waited = 4 * WINDOW + 1
    record = {"attempts": 3, "startedTime": ago(10 * WINDOW), "lastAttemptTime": ago(waited)}
    result = plan(inactive(make_observation), record)
    assert result.invoke is None
    assert condition(result, ConditionType.STALLED) == (Status.TRUE, Reason.REACTIVATION_FAILED)
    assert "idle for 14 days" in result.events[0].message
    assert [e.reason for e in result.events] == ["ReactivationFailed"]
    assert result.status["lastResult"] == reactivation.Result.FAILED
    # Next look: still Stalled, no new Event, no invoke.
    later = plan(inactive(make_observation), result.status)
    assert later.invoke is None and later.events == ()
    assert condition(later, ConditionType.STALLED) == (Status.TRUE, Reason.REACTIVATION_FAILED)


def test_a_new_request_after_giving_up_starts_a_fresh_series(make_observation: Observe) -> None:
    record = {"attempts": 3, "lastResult": "Failed", "lastAttemptTime": ago(9999), "handledRequest": "a"}
    result = plan(inactive(make_observation), record, request="b")
    assert result.invoke is not None
    assert result.status["attempts"] == 1


def test_active_after_giving_up_ends_the_episode_and_the_next_idle_period_invokes_again(
    make_observation: Observe,
) -> None:
    failed = {"attempts": 3, "lastResult": "Failed", "lastAttemptTime": ago(3600), "startedTime": None}
    # Someone invoked it (or Lambda recovered by itself): Active again, without our invoke.
    recovered = plan(make_observation(), failed)
    assert recovered.invoke is None
    assert recovered.status["lastResult"] == reactivation.Result.RECOVERED
    assert [e.reason for e in recovered.events] == ["Reactivated"]
    assert recovered.conditions is None  # the main plan's Ready=True stands
    # Idle again later: a fresh series, attempt 1, not Stalled without an invoke.
    again = plan(inactive(make_observation), recovered.status)
    assert again.invoke is not None
    assert again.status["attempts"] == 1
    assert condition(again, ConditionType.STALLED) is None
    assert condition(again, ConditionType.RECONCILING) == (Status.TRUE, Reason.REACTIVATING)


def test_still_inactive_after_giving_up_stays_stalled(make_observation: Observe) -> None:
    failed = {"attempts": 3, "lastResult": "Failed", "lastAttemptTime": ago(3600), "startedTime": None}
    result = plan(inactive(make_observation), failed)
    assert result.invoke is None
    assert condition(result, ConditionType.STALLED) == (Status.TRUE, Reason.REACTIVATION_FAILED)


@pytest.mark.parametrize("last_attempts", [1, 2, 3])
def test_each_idle_period_counts_attempts_from_one(make_observation: Observe, last_attempts: int) -> None:
    # The last period succeeded after ``last_attempts`` invokes (3 = maxAttempts, the default).
    record = {"attempts": last_attempts, "startedTime": None, "lastResult": "Reactivated",
              "lastAttemptTime": ago(86400), "lastSuccessTime": ago(86000)}  # fmt: skip
    first = plan(inactive(make_observation), record)
    assert first.invoke is not None
    assert first.status["attempts"] == 1
    # The first window is the base window, not doubled by the last period's attempts ...
    waiting = plan(inactive(make_observation), first.status, now=NOW + datetime.timedelta(seconds=WINDOW - 1))
    assert waiting.invoke is None
    second = plan(inactive(make_observation), first.status, now=NOW + datetime.timedelta(seconds=WINDOW + 1))
    assert second.invoke is not None
    # ... and maxAttempts is counted within this period: no giving up after a single invoke.
    assert second.status["attempts"] == 2
    assert condition(second, ConditionType.STALLED) is None


def test_pending_during_a_reactivation_is_watched(make_observation: Observe) -> None:
    record = {"attempts": 1, "startedTime": ago(10), "lastAttemptTime": ago(10)}
    result = plan(make_observation(state=FunctionState.PENDING, state_reason_code="Restoring"), record)
    assert result.invoke is None
    assert condition(result, ConditionType.READY) == (Status.FALSE, Reason.REACTIVATING)
    assert result.requeue_after == reactivation.POLL


def test_active_again_completes_the_reactivation(make_observation: Observe) -> None:
    record = {"attempts": 2, "startedTime": ago(95), "lastAttemptTime": ago(20)}
    result = plan(make_observation(), record)
    assert result.invoke is None
    assert result.status["startedTime"] is None
    assert result.status["lastResult"] == reactivation.Result.REACTIVATED
    assert result.status["lastDurationSeconds"] == 95.0
    assert result.status["lastSuccessTime"] == reactivation.format_time(NOW)
    assert [e.reason for e in result.events] == ["Reactivated"]


def test_an_active_function_is_never_invoked_on_request(make_observation: Observe) -> None:
    result = plan(make_observation(), request="now")
    assert result.invoke is None
    assert result.status["handledRequest"] == "now"
    assert result.status["lastResult"] == reactivation.Result.NOT_INACTIVE


def test_an_active_function_without_keep_warm_is_left_alone(make_observation: Observe) -> None:
    result = plan(make_observation(), {"lastInvokeTime": ago(10**7)}, last_sync_time=ago(10**7))
    assert result.invoke is None and result.requeue_after is None


def test_keep_warm_invokes_when_the_interval_has_passed(make_observation: Observe) -> None:
    result = plan(make_observation(), {"lastInvokeTime": ago(7 * 86400 + 1)}, spec=spec(keepWarmInterval="7d"))
    assert result.invoke is not None and result.invoke.purpose == reactivation.Result.KEPT_WARM
    assert result.status["lastInvokeTime"] == reactivation.format_time(NOW)
    assert result.requeue_after == 7 * 86400


def test_keep_warm_counts_from_convergence_when_never_invoked(make_observation: Observe) -> None:
    result = plan(make_observation(), {}, spec=spec(keepWarmInterval="1h"), last_sync_time=ago(600))
    assert result.invoke is None
    assert result.requeue_after == 3000


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("30m", 1800), ("12h", 43200), ("7d", 604800)], ids=["s", "m", "h", "d"]
)
def test_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("bad", ["0d", "7", "7w", "-1h", ""], ids=["zero", "no-unit", "weeks", "negative", "empty"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        duration_seconds(bad)


def test_payload_must_be_json() -> None:
    with pytest.raises(ValueError):
        spec(payload="{not json")
