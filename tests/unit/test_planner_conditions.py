"""conditions.merge and friends: the metav1.Condition list as kstatus, kubectl wait and Flux read it."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.conditions import ConditionSpec, ConditionType, Reason, Status

BEFORE = "2025-01-01T00:00:00Z"
NOW = "2025-01-02T12:00:00Z"


def existing(type_: str, status: str, reason: str = "Old", generation: int = 1) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": "before",
        "observedGeneration": generation,
        "lastTransitionTime": BEFORE,
    }


def by_type(result: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in result}


# --- constructors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(conditions.ready(Status.TRUE, Reason.ATTACHED, "m"),
                     ConditionSpec(ConditionType.READY, Status.TRUE, "Attached", "m"), id="ready"),
        pytest.param(conditions.reconciling(Reason.UPDATING, "m"),
                     ConditionSpec(ConditionType.RECONCILING, Status.TRUE, "Updating", "m"), id="reconciling"),
        pytest.param(conditions.stalled("SubnetOutOfIPAddresses", "m"),
                     ConditionSpec(ConditionType.STALLED, Status.TRUE, "SubnetOutOfIPAddresses", "m"), id="stalled"),
    ],
)  # fmt: skip
def test_constructors_build_the_condition(spec: ConditionSpec, expected: ConditionSpec) -> None:
    assert spec == expected


# --- merge --------------------------------------------------------------------------------------


def test_new_condition_gets_now_and_every_field() -> None:
    result = conditions.merge([], [conditions.ready(Status.TRUE, Reason.ATTACHED, "all good")], generation=4, now=NOW)
    assert result == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Attached",
            "message": "all good",
            "observedGeneration": 4,
            "lastTransitionTime": NOW,
        }
    ]


def test_values_are_plain_strings() -> None:
    (result,) = conditions.merge([], [conditions.ready(Status.FALSE, Reason.INACTIVE)], generation=1, now=NOW)
    assert type(result["type"]) is str
    assert type(result["status"]) is str
    assert type(result["reason"]) is str


def test_same_status_keeps_last_transition_time_even_when_reason_and_message_change() -> None:
    current = [existing("Ready", "False", reason="Updating")]
    wanted = [conditions.ready(Status.FALSE, Reason.FUNCTION_PENDING, "Pending now")]
    (ready,) = conditions.merge(current, wanted, generation=2, now=NOW)
    assert ready["lastTransitionTime"] == BEFORE
    assert ready["reason"] == "FunctionPending"
    assert ready["message"] == "Pending now"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("False", Status.TRUE, id="false-to-true"),
        pytest.param("True", Status.FALSE, id="true-to-false"),
        pytest.param("Unknown", Status.FALSE, id="unknown-to-false"),
        pytest.param("False", Status.UNKNOWN, id="false-to-unknown"),
    ],
)
def test_status_flip_moves_last_transition_time(before: str, after: Status) -> None:
    current = [existing("Ready", before)]
    (ready,) = conditions.merge(current, [conditions.ready(after, Reason.ATTACHED)], generation=2, now=NOW)
    assert ready["lastTransitionTime"] == NOW
    assert ready["status"] == after.value


@pytest.mark.parametrize("dropped", ["Reconciling", "Stalled"])
def test_unwanted_abnormal_true_conditions_are_removed(dropped: str) -> None:
    current = [existing("Ready", "False"), existing(dropped, "True")]
    result = conditions.merge(current, [conditions.ready(Status.TRUE, Reason.ATTACHED)], generation=2, now=NOW)
    assert [c["type"] for c in result] == ["Ready"]


def test_foreign_conditions_are_kept_unchanged() -> None:
    foreign = existing("HealthCheckPassed", "True", reason="Probe", generation=1)
    current = [existing("Ready", "False"), foreign, existing("Stalled", "True")]
    result = conditions.merge(current, [conditions.ready(Status.TRUE, Reason.ATTACHED)], generation=9, now=NOW)
    assert by_type(result)["HealthCheckPassed"] == foreign
    assert [c["type"] for c in result] == ["Ready", "HealthCheckPassed"]


def test_foreign_conditions_are_copied_not_shared() -> None:
    foreign = existing("HealthCheckPassed", "True")
    result = conditions.merge([foreign], [], generation=1, now=NOW)
    result[0]["status"] = "False"
    assert foreign["status"] == "True"


def test_observed_generation_is_set_on_every_condition_of_ours() -> None:
    current = [existing("Ready", "False", generation=2), existing("Reconciling", "True", generation=2)]
    wanted = [conditions.ready(Status.FALSE, Reason.UPDATING), conditions.reconciling(Reason.UPDATING)]
    result = conditions.merge(current, wanted, generation=3, now=NOW)
    assert [c["observedGeneration"] for c in result] == [3, 3]
    assert [c["lastTransitionTime"] for c in result] == [BEFORE, BEFORE]  # same status: times kept


def test_merge_is_idempotent() -> None:
    wanted = [conditions.ready(Status.FALSE, Reason.UPDATING, "m"), conditions.reconciling(Reason.UPDATING, "m")]
    first = conditions.merge([], wanted, generation=5, now=BEFORE)
    second = conditions.merge(first, wanted, generation=5, now=NOW)
    assert second == first


def test_merge_keeps_the_wanted_order() -> None:
    current = [existing("Stalled", "True"), existing("Ready", "False")]
    wanted = [conditions.ready(Status.FALSE, Reason.CONFLICT), conditions.stalled(Reason.CONFLICT)]
    result = conditions.merge(current, wanted, generation=1, now=NOW)
    assert [c["type"] for c in result] == ["Ready", "Stalled"]


# --- find / is_true -----------------------------------------------------------------------------


def test_find_returns_the_condition_of_that_type() -> None:
    current = [existing("Ready", "True"), existing("Stalled", "True", reason="Conflict")]
    found = conditions.find(current, ConditionType.STALLED)
    assert found is not None
    assert found["reason"] == "Conflict"


def test_find_returns_none_when_absent() -> None:
    assert conditions.find([existing("Ready", "True")], ConditionType.RECONCILING) is None


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param([existing("Ready", "True")], True, id="true"),
        pytest.param([existing("Ready", "False")], False, id="false"),
        pytest.param([existing("Ready", "Unknown")], False, id="unknown"),
        pytest.param([], False, id="absent"),
    ],
)
def test_is_true(current: list[dict[str, Any]], expected: bool) -> None:
    assert conditions.is_true(current, ConditionType.READY) is expected
