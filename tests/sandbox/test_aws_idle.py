"""Inactive functions and reactivation, and Invoke (aws-facts "Inactive functions and reactivation")."""

from __future__ import annotations

import json

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401

FOURTEEN_DAYS = 14 * 24 * 3600


def test_make_idle_makes_the_function_inactive(aws: AwsEnv) -> None:
    aws.control.make_idle("inventory-sync")
    cfg = aws.configuration("inventory-sync")
    assert (cfg["State"], cfg["StateReasonCode"]) == ("Inactive", "Idle")


def test_idle_function_loses_its_unused_enis(aws: AwsEnv) -> None:
    aws.control.make_idle("inventory-sync")
    assert aws.lambda_enis() == []


def test_idle_function_keeps_enis_an_active_function_uses(aws: AwsEnv) -> None:
    aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.update_delay + 1)
    aws.control.make_idle("inventory-sync")
    assert [e["SubnetId"] for e in aws.lambda_enis()] == [aws.demo.private_subnet_a_id]


def test_fourteen_days_without_invoke_make_a_vpc_function_inactive(aws: AwsEnv) -> None:
    aws.control.advance(FOURTEEN_DAYS + 60)
    assert aws.configuration("inventory-sync")["State"] == "Inactive"
    assert aws.configuration("orders-api")["State"] == "Active"  # no VPC resources to reclaim
    assert aws.lambda_enis() == []


def test_an_invoke_restarts_the_idle_period(aws: AwsEnv) -> None:
    aws.control.advance(FOURTEEN_DAYS - 3600)
    aws.lam.invoke(FunctionName="inventory-sync")
    aws.control.advance(FOURTEEN_DAYS - 3600)
    assert aws.configuration("inventory-sync")["State"] == "Active"


def test_invoke_of_an_inactive_function_is_502_resource_not_ready(aws: AwsEnv) -> None:
    aws.control.make_idle("inventory-sync")
    with pytest.raises(aws.lam.exceptions.ResourceNotReadyException) as excinfo:
        aws.lam.invoke(FunctionName="inventory-sync")
    assert error_of(excinfo)[:2] == ("ResourceNotReadyException", 502)


def test_invoke_of_an_inactive_function_starts_its_restore(aws: AwsEnv) -> None:
    aws.control.make_idle("inventory-sync")
    with pytest.raises(aws.lam.exceptions.ResourceNotReadyException):
        aws.lam.invoke(FunctionName="inventory-sync")
    cfg = aws.configuration("inventory-sync")
    assert (cfg["State"], cfg["StateReasonCode"]) == ("Pending", "Restoring")
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert aws.configuration("inventory-sync")["State"] == "Active"
    assert len(aws.lambda_enis()) == 2


def test_invoke_while_restoring_is_502_again(aws: AwsEnv) -> None:
    """aws-facts: botocore retries the 502 twice by itself, so a restore answers 502 throughout."""
    aws.control.make_idle("inventory-sync")
    for _ in range(2):
        with pytest.raises(aws.lam.exceptions.ResourceNotReadyException):
            aws.lam.invoke(FunctionName="inventory-sync")
    assert aws.configuration("inventory-sync")["State"] == "Pending"


def test_failed_rebuild_returns_the_function_to_inactive(aws: AwsEnv) -> None:
    aws.control.make_idle("inventory-sync")
    aws.control.fail_next_rebuild("inventory-sync", "SubnetOutOfIPAddresses", "no addresses left")
    with pytest.raises(aws.lam.exceptions.ResourceNotReadyException):
        aws.lam.invoke(FunctionName="inventory-sync")
    aws.control.advance(aws.config.eni_create_delay + 1)
    cfg = aws.configuration("inventory-sync")
    assert (cfg["State"], cfg["StateReasonCode"]) == ("Inactive", "SubnetOutOfIPAddresses")


def test_update_of_an_inactive_function_makes_it_active(aws: AwsEnv) -> None:
    aws.control.make_idle("inventory-sync")
    aws.lam.update_function_configuration(FunctionName="inventory-sync", Description="wake up")
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert aws.configuration("inventory-sync")["State"] == "Active"
    assert len(aws.lambda_enis()) == 2


@pytest.mark.parametrize(
    ("invocation_type", "status"),
    [("RequestResponse", 200), ("Event", 202), ("DryRun", 204)],
    ids=["request-response", "event", "dry-run"],
)
def test_invoke_of_an_active_function_answers_by_type(aws: AwsEnv, invocation_type: str, status: int) -> None:
    result = aws.lam.invoke(FunctionName="orders-api", InvocationType=invocation_type, Payload=b'{"n": 1}')
    assert result["StatusCode"] == status


def test_invoke_answers_a_small_json_body(aws: AwsEnv) -> None:
    payload = json.loads(aws.lam.invoke(FunctionName="orders-api")["Payload"].read())
    assert payload["statusCode"] == 200


def test_dry_run_does_not_reactivate(aws: AwsEnv) -> None:
    aws.control.make_idle("inventory-sync")
    aws.lam.invoke(FunctionName="inventory-sync", InvocationType="DryRun")
    assert aws.configuration("inventory-sync")["State"] == "Inactive"


def test_invoke_of_a_missing_function_is_404(aws: AwsEnv) -> None:
    with pytest.raises(aws.lam.exceptions.ResourceNotFoundException) as excinfo:
        aws.lam.invoke(FunctionName="nobody")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_every_invoke_is_recorded(aws: AwsEnv) -> None:
    aws.control.make_idle("inventory-sync")
    aws.lam.invoke(FunctionName="orders-api", InvocationType="Event", Payload=b'{"order": 7}')
    with pytest.raises(aws.lam.exceptions.ResourceNotReadyException):
        aws.lam.invoke(FunctionName="inventory-sync")
    with pytest.raises(aws.lam.exceptions.ResourceNotFoundException):
        aws.lam.invoke(FunctionName="nobody")
    now = aws.control.now()
    records = aws.control.invocations()
    assert [(r["function"], r["invocation_type"], r["status"], r["result"]) for r in records] == [
        ("orders-api", "Event", 202, "Success"),
        ("inventory-sync", "RequestResponse", 502, "ResourceNotReadyException"),
        ("nobody", "RequestResponse", 404, "ResourceNotFoundException"),
    ]
    assert records[0]["payload"] == '{"order": 7}'
    assert all(abs(r["at"] - now) < 5 for r in records)


@pytest.mark.parametrize("state", ["Deactivated", "ActiveNonInvocable"])
def test_set_state_puts_a_function_in_states_the_simulator_never_reaches(aws: AwsEnv, state: str) -> None:
    aws.control.set_state("inventory-sync", state, "InvalidConfiguration", "Its capacity provider was deleted.")
    cfg = aws.configuration("inventory-sync")
    assert (cfg["State"], cfg["StateReasonCode"], cfg["StateReason"]) == (
        state, "InvalidConfiguration", "Its capacity provider was deleted.")  # fmt: skip
    aws.control.set_state("inventory-sync", "Active")
    assert aws.configuration("inventory-sync")["State"] == "Active"
