"""The aws package against moto in-process: real botocore requests and responses, no network.

Stubbed tests check each request exactly; these check that the same code works end to end
against an implementation of the APIs (moto's known gaps are listed in aws-facts).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from lambda_vpc_operator.aws import AwsGateway, metrics
from lambda_vpc_operator.models.functions import FunctionRef, VpcSettings

REGION = "eu-west-1"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    # moto intercepts AWS' own endpoints only: an endpoint from the environment would leave the process.
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_LAMBDA",
        "AWS_ENDPOINT_URL_EC2",
        "AWS_ENDPOINT_URL_IAM",
    ):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():  # resets moto's process-global backends on entry
        yield boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


@pytest.fixture
def gateway(session: boto3.Session) -> Iterator[AwsGateway]:
    metrics.calls.reset()
    yield AwsGateway.create(REGION, session=session)
    metrics.calls.reset()


@pytest.fixture
def network(session: boto3.Session) -> tuple[str, str, str]:
    ec2 = session.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16", InstanceTenancy="dedicated")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group_id = ec2.create_security_group(GroupName="g", Description="d", VpcId=vpc_id)["GroupId"]
    return vpc_id, subnet_id, group_id


@pytest.fixture
def function_name(session: boto3.Session) -> str:
    role = session.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    session.client("lambda").create_function(
        FunctionName="payments",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return "payments"


async def test_describe_finds_what_exists_and_omits_the_rest(
    gateway: AwsGateway, network: tuple[str, str, str]
) -> None:
    vpc_id, subnet_id, group_id = network
    facts = await gateway.networks.describe(
        REGION, [subnet_id, "subnet-0000000000"], [group_id, "sg-00000000"]
    )
    assert set(facts.subnets) == {subnet_id}
    assert set(facts.security_groups) == {group_id}
    assert facts.vpcs[vpc_id].tenancy == "dedicated"


async def test_update_vpc_round_trips(
    gateway: AwsGateway, network: tuple[str, str, str], function_name: str
) -> None:
    _, subnet_id, group_id = network
    ref = FunctionRef.parse(function_name, default_region=REGION)
    updated = await gateway.functions.update_vpc(ref, VpcSettings.of([subnet_id], [group_id]))
    observed = await gateway.observer.observe(ref)
    assert observed is not None
    assert updated.vpc == observed.vpc == VpcSettings.of([subnet_id], [group_id])


async def test_a_missing_function_is_observed_as_none(gateway: AwsGateway) -> None:
    assert await gateway.observer.observe(FunctionRef("nobody", REGION)) is None
    assert metrics.calls.snapshot() == {("lambda", "GetFunction", "NotFound"): 1}
