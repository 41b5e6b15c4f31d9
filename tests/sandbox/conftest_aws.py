"""Shared fixtures of the AWS simulator tests (``tests/sandbox/test_aws_*.py``).

One simulator serves the whole session (starting one is cheap, but moto's backends are
process-global anyway); every test gets it reset to new and seeded with the demo account.

The delays are longer than ``SimConfig``'s defaults on purpose: the tests move the simulated clock
with ``advance`` rather than wait, and long delays make "not yet" assertions immune to the real
time a slow machine spends between two calls. Rate limits are off, except in the tests of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from lambda_vpc_sandbox.aws import (
    AwsSimulator,
    DemoAccount,
    SimConfig,
    SimulatorControl,
    seed_demo_account,
)
from lambda_vpc_sandbox.aws.seeding import client

T = TypeVar("T")

TEST_CONFIG = SimConfig(
    create_delay=5.0,
    update_delay=10.0,
    eni_create_delay=60.0,
    eni_delete_delay=300.0,
    rate_limits_enabled=False,
)


@dataclass
class AwsEnv:
    """The simulator, reset and seeded, with boto3 clients (Lambda without retries)."""

    simulator: AwsSimulator
    control: SimulatorControl
    demo: DemoAccount
    lam: Any
    ec2: Any
    iam: Any
    sts: Any
    config: SimConfig

    @property
    def endpoint_url(self) -> str:
        return self.simulator.endpoint_url

    def configuration(self, name: str) -> dict[str, Any]:
        return dict(self.lam.get_function(FunctionName=name)["Configuration"])

    def attach(self, name: str, subnet_ids: list[str], group_ids: list[str], **extra: Any) -> dict[str, Any]:
        vpc_config = {"SubnetIds": subnet_ids, "SecurityGroupIds": group_ids, **extra}
        return dict(self.lam.update_function_configuration(FunctionName=name, VpcConfig=vpc_config))

    def lambda_enis(self, **filters: str) -> list[dict[str, Any]]:
        """DescribeNetworkInterfaces filtered like the operator does (aws-facts: always filter)."""
        spec = [{"Name": "interface-type", "Values": ["lambda"]}]
        spec += [{"Name": key.replace("_", "-"), "Values": [value]} for key, value in filters.items()]
        return list(self.ec2.describe_network_interfaces(Filters=spec)["NetworkInterfaces"])

    def create_function(self, name: str, **extra: Any) -> dict[str, Any]:
        from lambda_vpc_sandbox.aws.seeding import handler_zip

        return dict(
            self.lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Handler="lambda_function.handler",
                Code={"ZipFile": handler_zip()},
                **{"Role": self.demo.role_arn, **extra},
            )
        )


def wait_for(probe: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy (real time, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"Nothing after {timeout} s.")
        time.sleep(interval)


@dataclass
class _Clients:
    lam: Any
    ec2: Any
    iam: Any
    sts: Any


@pytest.fixture(scope="session", name="aws_simulator")
def aws_simulator_fixture() -> Iterator[AwsSimulator]:
    # moto's EC2 backend loads ~1300 default AMIs on every reset; the simulator needs none.
    saved = os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    try:
        with AwsSimulator(config=TEST_CONFIG.copy()) as simulator:
            yield simulator
    finally:
        if saved is None:
            os.environ.pop("MOTO_EC2_LOAD_DEFAULT_AMIS", None)
        else:
            os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = saved


@pytest.fixture(scope="session", name="aws_clients")
def aws_clients_fixture(aws_simulator: AwsSimulator) -> _Clients:
    url = aws_simulator.endpoint_url
    return _Clients(
        lam=client("lambda", url, retries={"mode": "standard", "total_max_attempts": 1}),
        ec2=client("ec2", url),
        iam=client("iam", url),
        sts=client("sts", url),
    )


@pytest.fixture(name="aws")
def aws_fixture(aws_simulator: AwsSimulator, aws_clients: _Clients) -> AwsEnv:
    control = aws_simulator.control
    control.reset()
    demo = seed_demo_account(aws_simulator.endpoint_url)
    control.reset_calls()
    return AwsEnv(
        simulator=aws_simulator,
        control=control,
        demo=demo,
        lam=aws_clients.lam,
        ec2=aws_clients.ec2,
        iam=aws_clients.iam,
        sts=aws_clients.sts,
        config=TEST_CONFIG,
    )


def error_of(excinfo: pytest.ExceptionInfo[Any]) -> tuple[str, int, str]:
    """(Code, HTTP status, message) of a botocore ClientError."""
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"].get("Message", ""),
    )
