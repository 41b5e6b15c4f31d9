"""planner.aliases: AliasesCurrent and status.aliases from one reading of a function's aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambda_vpc_operator.models.aliases import AliasFacts, VersionFacts
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, VpcSettings
from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.aliases import AliasReading, due, plan_aliases, versions_to_read
from lambda_vpc_operator.planner.conditions import ConditionSpec, ConditionType, Reason, Status
from lambda_vpc_operator.planner.plans import EventType

SUBNETS = ["subnet-b2", "subnet-a1"]
GROUPS = ["sg-2", "sg-1"]
DESIRED = VpcSettings.of(SUBNETS, GROUPS)
CURRENT = VersionFacts("3", DESIRED, "vpc-0abc")
OLD = VersionFacts("2", VpcSettings.of(["subnet-old"], ["sg-1"]), "vpc-0old")
DENIED = Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "not authorized to perform lambda:ListAliases")
THROTTLED = Failure(FailureKind.THROTTLED, "TooManyRequestsException", "Rate exceeded")

Latest = Callable[..., FunctionObservation]


def previous(status: Status | None) -> list[dict[str, Any]]:
    """A stored condition list, with AliasesCurrent at ``status`` (None: absent)."""
    stored = [{"type": "Ready", "status": "True", "reason": "Attached", "message": "", "observedGeneration": 1,
               "lastTransitionTime": "2026-01-01T00:00:00Z"}]  # fmt: skip
    if status is not None:
        stored.append({"type": "AliasesCurrent", "status": status.value, "reason": "x", "message": "",
                       "observedGeneration": 1, "lastTransitionTime": "2026-01-01T00:00:00Z"})  # fmt: skip
    return stored


def plan(latest: FunctionObservation, reading: AliasReading, before: Status | None = None) -> Any:
    return plan_aliases("orders", DESIRED, latest, reading, previous(before))


def test_no_aliases_no_condition_and_no_rows(make_observation: Latest) -> None:
    result = plan(make_observation(), AliasReading(()), before=Status.TRUE)
    assert (result.condition, result.status_fields, result.events) == (None, {"aliases": None}, ())


def test_an_alias_on_a_version_with_the_specs_config_is_current(make_observation: Latest) -> None:
    result = plan(make_observation(), AliasReading((AliasFacts("live", "3"),), {"3": CURRENT}))
    assert result.condition is not None
    assert (result.condition.status, result.condition.reason) == (Status.TRUE, Reason.ALIASES_MATCH_SPEC)
    assert "live" in result.condition.message
    assert result.status_fields["aliases"] == [
        {"name": "live", "functionVersion": "3", "vpcConfigCurrent": True, "vpcId": "vpc-0abc"}
    ]
    assert result.events == ()  # absent -> True is no news


def test_a_stale_alias_is_false_naming_it_and_the_fix(make_observation: Latest) -> None:
    reading = AliasReading((AliasFacts("canary", "3"), AliasFacts("live", "2")), {"2": OLD, "3": CURRENT})
    result = plan(make_observation(), reading, before=Status.TRUE)
    assert result.condition is not None
    assert (result.condition.status, result.condition.reason) == (Status.FALSE, Reason.STALE_ALIASES)
    message = result.condition.message
    assert "Alias(es) live of orders" in message and "canary" not in message.split(":")[0]
    assert "subnet-old" in message and "vpc-0old" in message
    assert "publish a new version and move the alias" in message
    rows = {r["name"]: r for r in result.status_fields["aliases"]}
    assert rows["live"]["vpcConfigCurrent"] is False and "subnet-old" in rows["live"]["message"]
    assert rows["canary"]["vpcConfigCurrent"] is True and "message" not in rows["canary"]
    assert [(e.type, e.reason) for e in result.events] == [(EventType.WARNING, Reason.STALE_ALIASES)]


def test_the_condition_is_only_about_aliases(make_observation: Latest) -> None:
    """Information, not failure: Ready, Reconciling and Stalled are never part of the verdict."""
    result = plan(make_observation(), AliasReading((AliasFacts("live", "2"),), {"2": OLD}), before=Status.TRUE)
    assert result.condition is not None and result.condition.type == ConditionType.ALIASES_CURRENT
    assert set(result.status_fields) == {"aliases"}


def test_a_weighted_alias_reports_both_versions_with_their_weights(make_observation: Latest) -> None:
    shifting = AliasFacts("live", "3", {"2": 0.1})
    result = plan(make_observation(), AliasReading((shifting,), {"2": OLD, "3": CURRENT}))
    rows = result.status_fields["aliases"]
    assert [(r["functionVersion"], r["weight"], r["vpcConfigCurrent"]) for r in rows] == [
        ("3", 0.9, True),
        ("2", 0.1, False),
    ]
    assert result.condition is not None and result.condition.status == Status.FALSE
    assert "live -> version 2 (10% of its traffic)" in result.condition.message


def test_an_alias_on_latest_follows_the_observation(make_observation: Latest) -> None:
    result = plan(make_observation(vpc_id="vpc-0abc"), AliasReading((AliasFacts("dev", "$LATEST"),)))
    assert result.condition is not None and result.condition.status == Status.TRUE
    assert result.status_fields["aliases"][0]["vpcId"] == "vpc-0abc"
    elsewhere = make_observation(vpc=VpcSettings.of(["subnet-x"], ["sg-1"]))
    stale = plan(elsewhere, AliasReading((AliasFacts("dev", "$LATEST"),)))
    assert stale.condition is not None and stale.condition.status == Status.FALSE


def test_list_aliases_refused_is_unknown_with_the_permission_to_grant(make_observation: Latest) -> None:
    reading = AliasReading(failure=DENIED)
    result = plan(make_observation(), reading, before=Status.TRUE)
    assert result.condition is not None
    assert (result.condition.status, result.condition.reason) == (Status.UNKNOWN, Reason.ALIASES_UNREADABLE)
    assert "lambda:ListAliases" in result.condition.message and "Ready is not affected" in result.condition.message
    assert result.status_fields == {}  # the rows last read stay
    assert [(e.type, e.reason) for e in result.events] == [(EventType.WARNING, Reason.ALIASES_UNREADABLE)]
    assert not reading.transient


def test_a_passing_failure_keeps_the_last_verdict(make_observation: Latest) -> None:
    reading = AliasReading(failure=THROTTLED)
    assert reading.transient
    assert plan(make_observation(), reading, before=Status.FALSE).keep


def test_a_passing_failure_without_a_verdict_is_unknown(make_observation: Latest) -> None:
    result = plan(make_observation(), AliasReading(failure=THROTTLED))
    assert not result.keep
    assert result.condition is not None and result.condition.status == Status.UNKNOWN
    assert "try again" in result.condition.message


def test_an_unreadable_version_is_unknown_naming_its_alias(make_observation: Latest) -> None:
    reading = AliasReading((AliasFacts("live", "4"),), {}, {"4": DENIED})
    result = plan(make_observation(), reading)
    assert result.condition is not None and result.condition.status == Status.UNKNOWN
    assert "live" in result.condition.message and "lambda:GetFunctionConfiguration" in result.condition.message
    assert "vpcConfigCurrent" not in result.status_fields["aliases"][0]


def test_stale_wins_over_unreadable(make_observation: Latest) -> None:
    reading = AliasReading((AliasFacts("live", "2"), AliasFacts("next", "4")), {"2": OLD}, {"4": THROTTLED})
    result = plan(make_observation(), reading)
    assert result.condition is not None and result.condition.status == Status.FALSE
    assert "Not read: next" in result.condition.message
    assert reading.transient


@pytest.mark.parametrize(
    ("before", "after_version", "expected"),
    [
        pytest.param(Status.FALSE, "3", [(EventType.NORMAL, Reason.ALIASES_MATCH_SPEC)], id="false-to-true"),
        pytest.param(Status.FALSE, "2", [], id="still-false"),
        pytest.param(Status.TRUE, "3", [], id="still-true"),
        pytest.param(Status.UNKNOWN, "3", [], id="unknown-to-true"),
        pytest.param(None, "2", [(EventType.WARNING, Reason.STALE_ALIASES)], id="absent-to-false"),
    ],
)
def test_one_event_per_transition(
    make_observation: Latest, before: Status | None, after_version: str, expected: list[tuple[EventType, str]]
) -> None:
    reading = AliasReading((AliasFacts("live", after_version),), {"2": OLD, "3": CURRENT})
    result = plan(make_observation(), reading, before=before)
    assert [(e.type, e.reason) for e in result.events] == expected


def test_versions_to_read_skips_latest_and_reads_each_version_once() -> None:
    found = (AliasFacts("a", "10", {"9": 0.5}), AliasFacts("b", "$LATEST"), AliasFacts("c", "9"), AliasFacts("d", "2"))
    assert versions_to_read(found) == ["2", "9", "10"]


# -- the condition lives apart from the plans -----------------------------------------------------


def test_merge_leaves_aliases_current_alone() -> None:
    stored = previous(Status.FALSE)
    merged = conditions.merge(stored, (conditions.ready(Status.TRUE, Reason.ATTACHED),), generation=2, now="t2")
    assert conditions.find(merged, ConditionType.ALIASES_CURRENT) == stored[1]


def test_put_sets_in_place_and_removes() -> None:
    stored = [*previous(Status.TRUE), {"type": "Foreign", "status": "True"}]
    spec = ConditionSpec(ConditionType.ALIASES_CURRENT, Status.FALSE, Reason.STALE_ALIASES, "m")
    changed = conditions.put(stored, ConditionType.ALIASES_CURRENT, spec, generation=2, now="t2")
    assert [c["type"] for c in changed] == ["Ready", "AliasesCurrent", "Foreign"]
    flipped = changed[1]
    assert (flipped["status"], flipped["lastTransitionTime"], flipped["observedGeneration"]) == ("False", "t2", 2)
    same = conditions.put(stored, ConditionType.ALIASES_CURRENT, ConditionSpec(
        ConditionType.ALIASES_CURRENT, Status.TRUE, Reason.ALIASES_MATCH_SPEC), generation=1, now="t2")  # fmt: skip
    assert same[1]["lastTransitionTime"] == stored[1]["lastTransitionTime"]
    removed = conditions.put(stored, ConditionType.ALIASES_CURRENT, None, generation=2, now="t2")
    assert [c["type"] for c in removed] == ["Ready", "Foreign"]


def test_many_stale_aliases_keep_the_message_short(make_observation: Latest) -> None:
    many = tuple(AliasFacts(f"a{i:02d}", "2") for i in range(12))
    result = plan(make_observation(), AliasReading(many, {"2": OLD}))
    assert result.condition is not None
    assert result.condition.message.count("has subnets") == 5
    assert "and 7 more in status.aliases" in result.condition.message
    assert len(result.status_fields["aliases"]) == 12


@pytest.mark.parametrize(
    ("read_at", "now", "interval", "expected"),
    [
        (None, 5.0, 3600.0, True),  # never read: now
        (100.0, 3699.0, 3600.0, False),  # a steady function's aliases wait for their interval
        (100.0, 3700.0, 3600.0, True),
        (100.0, 100.0, 0.0, True),  # 0: at every resync, as before --alias-interval
    ],
)
def test_aliases_are_due_once_their_interval_passed(
    read_at: float | None, now: float, interval: float, expected: bool
) -> None:
    assert due(read_at, now, interval) is expected
