"""Lambda request budgets (aws-facts "Rate limits"): 15/s shared, GetFunction 100/s, 429 beyond."""

from __future__ import annotations

import time

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401


def _burst(call: object, n: int) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = []
    for _ in range(n):
        try:
            call()  # type: ignore[operator]
            outcomes.append(None)
        except Exception as error:
            outcomes.append(error)
    return outcomes


def test_defaults_are_15_and_100_per_second(aws: AwsEnv) -> None:
    cfg = aws.control.set_rate_limits(True)
    assert (cfg["control_per_s"], cfg["get_function_per_s"]) == (15.0, 100.0)


def test_control_plane_over_budget_is_429_too_many_requests(aws: AwsEnv) -> None:
    aws.control.set_rate_limits(True)
    errors = [
        e for e in _burst(lambda: aws.lam.get_function_configuration(FunctionName="orders-api"), 30) if e
    ]
    assert errors
    response = errors[0].response  # type: ignore[attr-defined]
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "TooManyRequestsException",
        429,
    )
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    assert response["retryAfterSeconds"] == "1"
    assert response["Reason"] == "CallerRateLimitExceeded"


def test_control_plane_budget_is_shared_by_every_operation(aws: AwsEnv) -> None:
    aws.control.set_rate_limits(True, control_per_s=2)
    aws.lam.list_functions()
    aws.lam.get_function_configuration(FunctionName="orders-api")
    with pytest.raises(aws.lam.exceptions.TooManyRequestsException) as excinfo:
        aws.lam.list_tags(Resource=aws.configuration("orders-api")["FunctionArn"])
    assert error_of(excinfo)[:2] == ("TooManyRequestsException", 429)


def test_get_function_has_its_own_bucket(aws: AwsEnv) -> None:
    aws.control.set_rate_limits(True, control_per_s=1)
    aws.lam.list_functions()
    with pytest.raises(aws.lam.exceptions.TooManyRequestsException):
        aws.lam.list_functions()
    assert all(e is None for e in _burst(lambda: aws.lam.get_function(FunctionName="orders-api"), 20))


def test_get_function_over_its_budget_is_429(aws: AwsEnv) -> None:
    aws.control.set_rate_limits(True, get_function_per_s=3)
    outcomes = _burst(lambda: aws.lam.get_function(FunctionName="orders-api"), 10)
    assert any(e is not None for e in outcomes)


def test_invoke_is_not_charged(aws: AwsEnv) -> None:
    aws.control.set_rate_limits(True, control_per_s=1)
    assert all(e is None for e in _burst(lambda: aws.lam.invoke(FunctionName="orders-api"), 10))


def test_budget_refills_in_real_time(aws: AwsEnv) -> None:
    aws.control.set_rate_limits(True, control_per_s=5)
    while not any(_burst(lambda: aws.lam.list_functions(), 1)):
        pass
    time.sleep(0.3)  # 5/s: one token back after 0.2 s of real time (the simulated clock is not used)
    aws.lam.list_functions()


def test_simulated_time_does_not_refill_the_budget(aws: AwsEnv) -> None:
    aws.control.set_rate_limits(True, control_per_s=1)
    aws.lam.list_functions()
    aws.control.advance(3600)
    with pytest.raises(aws.lam.exceptions.TooManyRequestsException):
        aws.lam.list_functions()


def test_throttled_calls_are_counted_apart(aws: AwsEnv) -> None:
    aws.control.set_rate_limits(True, control_per_s=1)
    _burst(lambda: aws.lam.list_functions(), 3)
    assert aws.control.calls().get("lambda:ListFunctions") == 1
    assert aws.control.throttled() == {"lambda:ListFunctions": 2}


def test_rate_limits_can_be_switched_off(aws: AwsEnv) -> None:
    aws.control.set_rate_limits(True, control_per_s=1)
    aws.control.set_rate_limits(False)
    assert all(e is None for e in _burst(lambda: aws.lam.list_functions(), 5))
