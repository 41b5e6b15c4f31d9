"""The simulated clock: real time plus an offset; every deadline is evaluated lazily against it."""

from __future__ import annotations

import time

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, wait_for  # noqa: F401
from lambda_vpc_sandbox.aws import SimulatorControlError


def test_advance_moves_simulated_time_forward(aws: AwsEnv) -> None:
    before = aws.control.now()
    after = aws.control.advance(3600)
    assert after - before == pytest.approx(3600, abs=2.0)
    assert aws.control.now() - time.time() == pytest.approx(after - time.time(), abs=2.0)


def test_advance_refuses_to_go_back(aws: AwsEnv) -> None:
    with pytest.raises(SimulatorControlError) as excinfo:
        aws.control.advance(-1)
    assert excinfo.value.status == 400


def test_simulated_time_is_real_time_after_a_reset(aws: AwsEnv) -> None:
    aws.control.advance(86400)
    aws.control.reset()
    assert aws.control.now() == pytest.approx(time.time(), abs=2.0)


def test_delays_also_pass_in_real_time(aws: AwsEnv) -> None:
    """Nothing needs advance: a deadline passed in real time is applied on the next request."""
    aws.control.set_delays(update=0.2)
    aws.lam.update_function_configuration(FunctionName="orders-api", Description="real time")
    status = wait_for(
        lambda: aws.configuration("orders-api")["LastUpdateStatus"] == "Successful",
        timeout=5.0,
        interval=0.05,
    )
    assert status
