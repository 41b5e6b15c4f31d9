"""readiness, delays and hints: "Ready" as data, the waiting schedule, and what to tell a human."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings
from lambda_vpc_operator.planner import delays, hints, readiness

MakeObservation = Callable[..., FunctionObservation]

DESIRED = VpcSettings.of(["subnet-a1", "subnet-b2"], ["sg-1", "sg-2"])


# --- readiness ----------------------------------------------------------------------------------


def test_config_applied_compares_as_sets(make_observation: MakeObservation) -> None:
    assert readiness.config_applied(DESIRED, make_observation(vpc=VpcSettings.of(["subnet-b2", "subnet-a1"],
                                                                                 ["sg-2", "sg-1"])))  # fmt: skip


def test_config_not_applied_when_different(make_observation: MakeObservation) -> None:
    assert not readiness.config_applied(DESIRED, make_observation(vpc=VpcSettings.of(["subnet-a1"], ["sg-1"])))


@pytest.mark.parametrize(
    ("overrides", "ready"),
    [
        pytest.param({}, True, id="active-successful"),
        pytest.param({"last_update_status": None}, True, id="never-updated"),
        pytest.param({"last_update_status": UpdateStatus.IN_PROGRESS}, False, id="updating"),
        pytest.param({"last_update_status": UpdateStatus.FAILED}, False, id="update-failed"),
        pytest.param({"state": FunctionState.INACTIVE}, False, id="inactive"),
        pytest.param({"state": FunctionState.PENDING}, False, id="pending"),
        pytest.param({"state": None}, False, id="state-unknown"),
        pytest.param({"vpc": VpcSettings()}, False, id="detached"),
    ],
)
def test_lambda_ready(make_observation: MakeObservation, overrides: dict[str, object], ready: bool) -> None:
    assert readiness.lambda_ready(DESIRED, make_observation(**overrides)) is ready


# --- delays -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [(-3, 2.0), (0, 2.0), (1, 3.2), (2, 5.12), (3, 8.192), (4, 13.1072), (5, 20.97152), (6, 30.0), (50, 30.0)],
)
def test_wait_delay_grows_from_two_seconds_to_thirty(attempt: int, delay: float) -> None:
    assert delays.wait_delay(attempt) == pytest.approx(delay)


def test_wait_delay_never_shrinks() -> None:
    schedule = [delays.wait_delay(n) for n in range(20)]
    assert schedule == sorted(schedule)
    assert schedule[0] == delays.FIRST_WAIT
    assert schedule[-1] == delays.MAX_WAIT


# --- hints --------------------------------------------------------------------------------------


def test_hint_names_the_role() -> None:
    text = hints.hint("InsufficientRolePermissions", "arn:aws:iam::123456789012:role/orders-exec")
    assert "arn:aws:iam::123456789012:role/orders-exec" in text
    assert "AWSLambdaVPCAccessExecutionRole" in text


@pytest.mark.parametrize(
    ("code", "field"),
    [
        ("SubnetOutOfIPAddresses", "spec.subnetIds"),
        ("InvalidSubnet", "spec.subnetIds"),
        ("InvalidSecurityGroup", "spec.securityGroupIds"),
        ("DisallowedByVpcEncryptionControl", "spec.subnetIds"),
    ],
)
def test_hint_names_the_field_to_change(code: str, field: str) -> None:
    assert field in hints.hint(code)


@pytest.mark.parametrize("code", [None, "", "SomethingNew"])
def test_unknown_code_has_no_hint(code: str | None) -> None:
    assert hints.hint(code) == ""


def test_transient_reason_codes() -> None:
    assert frozenset({"EC2RequestLimitExceeded", "InternalError"}) == hints.TRANSIENT_REASON_CODES
