"""planner.cleanup: the owner tag to remove and the bounded wait for the ENIs after a detach."""

from __future__ import annotations

import datetime

from lambda_vpc_operator.models.enis import EniFacts
from lambda_vpc_operator.models.functions import VpcSettings
from lambda_vpc_operator.planner import cleanup, conditions
from lambda_vpc_operator.planner.conditions import Status
from lambda_vpc_operator.planner.plans import EventType, Outcome, Plan

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
FORMER = VpcSettings.of(["subnet-a", "subnet-b"], ["sg-1"])


def eni(eni_id: str, subnet: str, groups: frozenset[str] = frozenset({"sg-1"})) -> EniFacts:
    return EniFacts(eni_id, subnet, "vpc-1", "us-east-1a", "in-use", None, groups)


def situation(enis: list[EniFacts] | None, seconds: float = 0.0, shared: frozenset[cleanup.Combo] = frozenset()
              ) -> cleanup.Cleanup:  # fmt: skip
    return cleanup.Cleanup(FORMER, enis, shared, T0, T0 + datetime.timedelta(seconds=seconds), 1800.0)


def test_owner_tag_only_while_it_holds_our_value() -> None:
    assert cleanup.owner_tag_is_ours({"lambdavpc.dev/owner": "c/ns/a"}, "c/ns/a")
    assert not cleanup.owner_tag_is_ours({"lambdavpc.dev/owner": "c/ns/b"}, "c/ns/a")
    assert not cleanup.owner_tag_is_ours(None, "c/ns/a")  # tags unknown (no lambda:ListTags): leave them


def test_waits_for_the_enis_that_serve_only_this_function() -> None:
    enis = [eni("eni-1", "subnet-a"), eni("eni-2", "subnet-b"), eni("eni-3", "subnet-a", frozenset({"sg-1", "sg-2"})),
            eni("eni-4", "subnet-c")]  # fmt: skip
    plan = cleanup.plan_cleanup("fn", situation(enis, 60), "t")
    assert plan.outcome == Outcome.WAIT and plan.requeue_after == cleanup.CLEANUP_POLL
    rows = plan.status_fields["networkCleanup"]["remainingNetworkInterfaces"]
    assert [r["networkInterfaceId"] for r in rows] == ["eni-1", "eni-2"]  # exact group set, former subnets only
    shared = cleanup.combos_of([VpcSettings.of(["subnet-b"], ["sg-1"])])
    plan = cleanup.plan_cleanup("fn", situation(enis, 60, shared), "t")
    assert [r["networkInterfaceId"] for r in plan.status_fields["networkCleanup"]["remainingNetworkInterfaces"]] == [
        "eni-1"]  # fmt: skip


def test_released_when_gone_or_after_the_timeout() -> None:
    done = cleanup.plan_cleanup("fn", situation([], 30), "t")
    assert done.outcome == Outcome.RELEASED and [e.reason for e in done.events] == [cleanup.NETWORK_CLEANED_UP]
    late = cleanup.plan_cleanup("fn", situation([eni("eni-1", "subnet-a")], 1800), "t")
    assert late.outcome == Outcome.RELEASED and [e.reason for e in late.events] == [cleanup.NETWORK_CLEANUP_TIMED_OUT]
    assert "eni-1" in late.events[0].message
    # Unreadable ENIs: wait (never released as "cleaned up"), still bounded by the timeout.
    assert cleanup.plan_cleanup("fn", situation(None, 10), "t").outcome == Outcome.WAIT
    assert cleanup.plan_cleanup("fn", situation(None, 1800), "t").outcome == Outcome.RELEASED


def test_a_deletion_gives_up_only_once_its_timeout_has_passed() -> None:
    waiting = Plan(
        outcome=Outcome.WAIT,
        conditions=(conditions.ready(Status.FALSE, "Detaching", "Waiting for Lambda to finish updating orders"),),
    )
    deleted = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert cleanup.give_up("orders", waiting, None, deleted, 60.0) is None  # not deleted: nothing to bound
    assert cleanup.give_up("orders", waiting, deleted, deleted + datetime.timedelta(seconds=59), 60.0) is None
    released = cleanup.give_up("orders", waiting, deleted, deleted + datetime.timedelta(seconds=60), 60.0)
    assert released is not None and released.outcome == Outcome.RELEASED and released.action is None
    (event,) = released.events
    assert (event.type, event.reason) == (EventType.WARNING, cleanup.DELETION_TIMED_OUT)
    assert "spec.deletionTimeout (60s)" in event.message and "Waiting for Lambda to finish updating" in event.message
    assert "orders was left on AWS as it was" in event.message
