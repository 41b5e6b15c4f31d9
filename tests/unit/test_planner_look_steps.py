"""The planner's decisions around a look's write: the plan after an update, and the reactivation's share."""

from __future__ import annotations

from collections.abc import Callable

from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings
from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.conditions import Reason, Status
from lambda_vpc_operator.planner.planning import (
    Situation,
    plan_after_update,
    plan_attachment,
    revivable,
    with_reactivation,
)
from lambda_vpc_operator.planner.plans import Event, EventType, Outcome, Plan
from lambda_vpc_operator.planner.reactivation import ReactivationPlan

MakeSpec = Callable[..., AttachmentSpec]
MakeObservation = Callable[..., FunctionObservation]
ELSEWHERE = VpcSettings.of(["subnet-z9"], ["sg-9"])


def test_the_plan_after_an_update_reports_in_progress_without_a_second_updating_event(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    spec = make_spec()
    before = Situation(generation=1, observed=make_observation(vpc=ELSEWHERE))
    first = plan_attachment(spec, before)
    assert first.action is not None and Reason.UPDATING in [e.reason for e in first.events]
    answered = make_observation(last_update_status=UpdateStatus.IN_PROGRESS)
    after = plan_after_update(spec, Situation(generation=1, observed=answered, update_sent=True))
    assert after.outcome == Outcome.WAIT and after.action is None
    assert Reason.UPDATING not in [e.reason for e in after.events]


def test_an_update_is_never_sent_twice_in_one_look(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    # The write's answer still shows another configuration (an answer from before a concurrent change):
    # the next look decides, after its delay.
    situation = Situation(generation=1, observed=make_observation(vpc=ELSEWHERE), update_sent=True)
    assert plan_attachment(make_spec(), situation).action is not None
    plan = plan_after_update(make_spec(), situation)
    assert plan.action is None and plan.events == ()


def test_a_refused_update_reports_the_refusal_without_an_updating_event(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    refused = Failure(FailureKind.STALE_REVISION, "PreconditionFailedException", "revision changed")
    situation = Situation(generation=1, observed=make_observation(vpc=ELSEWHERE), action_failure=refused)
    plan = plan_after_update(make_spec(), situation)
    assert plan.action is None and plan.outcome == Outcome.WAIT
    assert Reason.UPDATING not in [e.reason for e in plan.events]


def test_only_a_function_in_place_or_rebuilt_by_us_is_revivable(make_observation: MakeObservation) -> None:
    in_sync, waiting = Plan(Outcome.IN_SYNC, ()), Plan(Outcome.WAIT, ())
    pending = make_observation(state=FunctionState.PENDING)
    assert revivable(in_sync, make_observation(), {})
    assert revivable(Plan(Outcome.IDLE, ()), make_observation(state=FunctionState.INACTIVE), {})
    assert not revivable(waiting, pending, {})  # someone else's change is settling
    assert revivable(waiting, pending, {"reactivation": {"startedTime": "2026-01-01T00:00:00Z"}})
    assert not revivable(Plan(Outcome.UPDATE, ()), make_observation(), {})


def test_a_reactivation_speaking_for_ready_replaces_the_plans_conditions_but_not_network_ready() -> None:
    network = conditions.network_ready(Status.TRUE, Reason.ATTACHED, "ENIs in use")
    plan = Plan(
        Outcome.IDLE,
        (conditions.ready(Status.TRUE, Reason.INACTIVE, "idle"), network),
        events=(Event(EventType.NORMAL, "Seen", "x"),),
        requeue_after=60.0,
    )
    reactivating = conditions.ready(Status.FALSE, Reason.REACTIVATING, "invoked to rebuild the ENIs")
    revival = ReactivationPlan(
        status={"startedTime": "t"},
        conditions=(reactivating,),
        events=(Event(EventType.NORMAL, "Reactivating", "invoked"),),
        requeue_after=5.0,
    )
    current = [{"type": "Ready", "status": "True", "reason": "Inactive", "message": "idle"}]
    merged = with_reactivation(plan, revival, current)
    assert merged.conditions == (reactivating, network)
    assert merged.requeue_after == 5.0
    # Its Events, then the transitions of what is reported (Ready True -> False flips nothing to post).
    assert [e.reason for e in merged.events] == ["Reactivating"]


def test_a_reactivation_without_conditions_adds_its_events_and_keeps_the_plan() -> None:
    plan = Plan(Outcome.IN_SYNC, (conditions.ready(Status.TRUE, Reason.ATTACHED, "ok"),), requeue_after=None)
    kept_warm = ReactivationPlan(
        status={}, events=(Event(EventType.NORMAL, "KeptWarm", "invoked"),), requeue_after=900.0
    )
    merged = with_reactivation(plan, kept_warm, [])
    assert merged.conditions == plan.conditions and merged.requeue_after == 900.0
    assert [e.reason for e in merged.events] == ["KeptWarm"]
    assert with_reactivation(Plan(Outcome.IN_SYNC, (), requeue_after=3.0), kept_warm, []).requeue_after == 3.0
