"""status_patch and observed_fields: the smallest status write, and none when nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambda_vpc_operator.models.functions import DETACHED, FunctionObservation, FunctionState, UpdateStatus
from lambda_vpc_operator.planner.status_patches import OBSERVED_FIELDS, observed_fields, status_patch

MakeObservation = Callable[..., FunctionObservation]


# --- observed_fields ----------------------------------------------------------------------------


def test_gone_function_clears_every_observed_field() -> None:
    assert observed_fields(None) == dict.fromkeys(OBSERVED_FIELDS)
    assert len(OBSERVED_FIELDS) == 10


def test_observed_fields_are_status_values(make_observation: MakeObservation) -> None:
    observed = make_observation(
        state=FunctionState.PENDING,
        state_reason="The function is being created.",
        state_reason_code="Creating",
        last_update_status=UpdateStatus.IN_PROGRESS,
        last_update_status_reason_code=None,
    )
    assert observed_fields(observed) == {
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
        "vpcId": "vpc-0abc",
        "subnetIds": ["subnet-a1", "subnet-b2"],
        "securityGroupIds": ["sg-1", "sg-2"],
        "ipv6AllowedForDualStack": False,
        "state": "Pending",
        "stateReason": "The function is being created.",
        "stateReasonCode": "Creating",
        "lastUpdateStatus": "InProgress",
        "lastUpdateStatusReasonCode": None,
    }


def test_observed_fields_are_plain_strings(make_observation: MakeObservation) -> None:
    fields = observed_fields(make_observation())
    assert type(fields["state"]) is str
    assert type(fields["lastUpdateStatus"]) is str


def test_detached_function_has_no_network_fields(make_observation: MakeObservation) -> None:
    fields = observed_fields(make_observation(vpc=DETACHED, vpc_id=None, state=None, last_update_status=None))
    assert {key: fields[key] for key in ("vpcId", "subnetIds", "securityGroupIds", "ipv6AllowedForDualStack",
                                         "state", "lastUpdateStatus")} == dict.fromkeys(
        ("vpcId", "subnetIds", "securityGroupIds", "ipv6AllowedForDualStack", "state", "lastUpdateStatus")
    )  # fmt: skip


def test_observed_fields_keys_are_the_owned_fields(make_observation: MakeObservation) -> None:
    assert tuple(observed_fields(make_observation())) == OBSERVED_FIELDS


# --- status_patch -------------------------------------------------------------------------------


def test_nothing_changed_means_an_empty_patch(make_observation: MakeObservation) -> None:
    wanted = observed_fields(make_observation())
    current = {**wanted, "observedGeneration": 3}
    assert status_patch(current, wanted) == {}


def test_only_changed_keys_are_patched() -> None:
    current = {"state": "Pending", "vpcId": "vpc-1", "subnetIds": ["subnet-a1"]}
    wanted = {"state": "Active", "vpcId": "vpc-1", "subnetIds": ["subnet-a1", "subnet-b2"]}
    assert status_patch(current, wanted) == {"state": "Active", "subnetIds": ["subnet-a1", "subnet-b2"]}


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param({"vpcId": "vpc-1"}, {"vpcId": None}, id="existing-key-deleted"),
        pytest.param({}, {}, id="absent-key-untouched"),
        pytest.param({"vpcId": None}, {}, id="null-key-untouched"),
    ],
)
def test_none_deletes_only_existing_keys(current: dict[str, Any], expected: dict[str, Any]) -> None:
    assert status_patch(current, {"vpcId": None}) == expected


def test_keys_not_wanted_are_left_alone() -> None:
    current = {"state": "Active", "lastSyncTime": "2025-01-01T00:00:00Z", "somebodyElse": {"x": 1}}
    assert status_patch(current, {"state": "Active"}) == {}


@pytest.mark.parametrize(
    ("before", "after"),
    [pytest.param(True, False, id="true-to-false"), pytest.param(None, False, id="null-to-false")],
)
def test_false_is_a_value_not_a_deletion(before: bool | None, after: bool) -> None:
    patch = status_patch({"ipv6AllowedForDualStack": before}, {"ipv6AllowedForDualStack": after})
    assert patch == {"ipv6AllowedForDualStack": False}


def test_applying_the_patch_reaches_a_fixed_point(make_observation: MakeObservation) -> None:
    current: dict[str, Any] = {"state": "Pending", "vpcId": "vpc-old", "stateReasonCode": "Creating"}
    wanted = observed_fields(make_observation())
    patch = status_patch(current, wanted)
    merged = {k: v for k, v in {**current, **patch}.items() if v is not None}  # JSON merge patch semantics
    assert status_patch(merged, wanted) == {}
    assert merged["state"] == "Active"
    assert "stateReasonCode" not in merged
