"""planner.errors: what a look that raised reports, the redaction of secrets, and forced releases."""

from __future__ import annotations

import pytest

from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner import errors as planning
from lambda_vpc_operator.planner.conditions import ConditionType, Reason, Status
from lambda_vpc_operator.planner.plans import EventType

BOOM = planning.ErrorSummary("KeyError", "'Configuration'")


def stored(*specs: conditions.ConditionSpec) -> list[dict[str, object]]:
    return conditions.merge((), specs, generation=1, now="2026-01-01T00:00:00Z")


def by_type(plan: planning.ErrorPlan) -> dict[ConditionType, conditions.ConditionSpec]:
    return {c.type: c for c in plan.conditions}


@pytest.mark.parametrize(
    ("secret", "kept"),
    [
        ("key AKIAIOSFODNN7EXAMPLE refused", "key [REDACTED] refused"),
        ("ASIAY34FZKBOKMUTVV7A expired", "[REDACTED] expired"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCY done", "aws_secret_access_key=[REDACTED] done"),
        ('{"SessionToken": "abc123"}', '{"SessionToken": "[REDACTED]"}'),
        ("password: hunter2", "password: [REDACTED]"),
        ("Authorization: AWS4-HMAC-SHA256 Credential=AKIA/..., Signature=ab12", "Authorization: [REDACTED]"),
        ("token " + "A" * 60, "token [REDACTED]"),
    ],
)
def test_redact_strips_what_looks_like_credentials(secret: str, kept: str) -> None:
    assert planning.redact(secret) == kept


def test_redact_leaves_ordinary_messages_alone() -> None:
    text = "GetFunction answered without the fields its API promises (KeyError: 'Configuration') subnet-0abc123"
    assert planning.redact(text) == text


def test_summary_names_the_class_and_redacts_the_message() -> None:
    summary = planning.ErrorSummary.of(RuntimeError("bad key AKIAIOSFODNN7EXAMPLE"))
    assert summary.text == "RuntimeError: bad key [REDACTED]"
    assert len(planning.ErrorSummary("E", "x" * 5000).text) <= planning.MAX_MESSAGE + 3


@pytest.mark.parametrize(("failures", "delay"), [(1, 2.0), (2, 4.0), (3, 8.0), (9, 300.0), (50, 300.0)])
def test_backoff_doubles_from_2s_to_5min(failures: int, delay: float) -> None:
    assert planning.error_delay(failures) == delay


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.75, 0.999])
def test_jitter_moves_the_delay_a_little_and_never_past_the_ceiling(jitter: float) -> None:
    assert 1.6 <= planning.error_delay(1, jitter) <= 2.4
    assert planning.error_delay(30, jitter) <= planning.MAX_DELAY


def test_first_failure_is_reconciling_reconcile_error_with_an_event() -> None:
    start = stored(
        conditions.ready(Status.UNKNOWN, Reason.PROGRESSING), conditions.reconciling(Reason.PROGRESSING)
    )
    plan = planning.plan_error(BOOM, 1, start)
    found = by_type(plan)
    assert found[ConditionType.RECONCILING].reason == Reason.RECONCILE_ERROR
    assert "KeyError: 'Configuration'" in found[ConditionType.RECONCILING].message
    assert found[ConditionType.READY].status == Status.FALSE
    assert ConditionType.STALLED not in found and not plan.stalled
    assert [(e.type, e.reason) for e in plan.events] == [(EventType.WARNING, Reason.RECONCILE_ERROR)]
    assert plan.delay == 2.0


def test_the_same_error_again_posts_no_event_a_new_one_does() -> None:
    assert planning.plan_error(BOOM, 2, (), last_error=BOOM.text).events == ()
    other = planning.ErrorSummary("TypeError", "nope")
    assert len(planning.plan_error(other, 3, (), last_error=BOOM.text).events) == 1


def test_stalled_after_the_configured_number_of_failures_and_still_retried() -> None:
    assert not planning.plan_error(BOOM, 9, ()).stalled
    plan = planning.plan_error(BOOM, 10, ())
    found = by_type(plan)
    assert plan.stalled and found[ConditionType.STALLED].reason == Reason.RECONCILE_ERROR
    assert ConditionType.RECONCILING not in found
    assert found[ConditionType.READY].status == Status.FALSE
    assert plan.delay == planning.MAX_DELAY
    assert planning.plan_error(BOOM, 3, (), stall_after=3).stalled


def test_a_ready_attachment_stays_ready_through_a_failed_look() -> None:
    ready = stored(
        conditions.ready(Status.TRUE, Reason.ATTACHED, "in sync"),
        conditions.network_ready(Status.TRUE, Reason.NETWORK_INTERFACES_READY, "ok"),
    )
    found = by_type(planning.plan_error(BOOM, 1, ready))
    assert found[ConditionType.READY] == conditions.ready(Status.TRUE, Reason.ATTACHED, "in sync")
    assert found[ConditionType.NETWORK_READY].status == Status.TRUE
    assert found[ConditionType.RECONCILING].reason == Reason.RECONCILE_ERROR
    # ... until it stalls: then kstatus must see Failed, not Current.
    assert by_type(planning.plan_error(BOOM, 10, ready))[ConditionType.READY].status == Status.FALSE


@pytest.mark.parametrize(("value", "forced"), [("true", True), ("yes", True), ("", False), ("false", False)])
def test_force_release_annotation(value: str, forced: bool) -> None:
    assert planning.force_requested({planning.FORCE_RELEASE_ANNOTATION: value}) is forced
    assert not planning.force_requested({})


def test_force_release_event_says_what_stays_on_aws_and_why_it_was_stuck() -> None:
    status = {
        "ownership": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "ownerTag": "c/ns/a"},
        "subnetIds": ["subnet-1"],
        "securityGroupIds": ["sg-1"],
        "conditions": stored(conditions.stalled(Reason.ACCESS_DENIED, "AccessDeniedException: no")),
    }
    event = planning.force_release_event("f", status)
    assert event.type == EventType.WARNING and event.reason == Reason.FORCE_RELEASED
    for part in ("function:f", "subnet-1", "sg-1", "lambdavpc.dev/owner=c/ns/a", "AccessDeniedException: no"):
        assert part in event.message


def test_reported_names_only_the_failure_conditions() -> None:
    failed = stored(
        conditions.ready(Status.TRUE, Reason.ATTACHED),
        conditions.reconciling(Reason.RECONCILE_ERROR, "x"),
    )
    assert [c["type"] for c in failed if planning.reported(c)] == ["Reconciling"]
    assert not planning.reported(stored(conditions.reconciling(Reason.UPDATING))[0])
