"""Two small faults for the reliability tests: an answer without what the API promises, a slow invoke."""

from __future__ import annotations

import concurrent.futures
import time

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture  # noqa: F401


def test_garble_answers_a_200_without_configuration(aws: AwsEnv) -> None:
    aws.control.garble("lambda:GetFunction")
    try:
        answer = aws.lam.get_function(FunctionName="orders-api")
        assert "Configuration" not in answer and answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        # Only the garbled operation: the others answer as usual.
        assert aws.lam.get_function_configuration(FunctionName="orders-api")["FunctionName"] == "orders-api"
    finally:
        aws.control.ungarble()
    assert aws.lam.get_function(FunctionName="orders-api")["Configuration"]["FunctionName"] == "orders-api"


def test_a_slow_invoke_holds_its_caller_only(aws: AwsEnv) -> None:
    aws.control.set_invoke_delay("orders-api", 1.0)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            slow = pool.submit(aws.lam.invoke, FunctionName="orders-api", Payload=b"{}")
            # Served meanwhile: the delay is slept outside the simulator's lock.
            aws.lam.get_function(FunctionName="orders-api")
            assert time.monotonic() - started < 1.0
            assert slow.result(timeout=10)["StatusCode"] == 200
            assert time.monotonic() - started >= 1.0
    finally:
        aws.control.set_invoke_delay("orders-api", None)
