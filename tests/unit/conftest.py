"""Factories for the planner and model tests: one realistic attachment and one realistic function.

Every factory builds the common case ("orders", attached to two subnets and two security groups,
Active, last update Successful) and takes keyword overrides, so a test names only what it is about.
They are fixtures returning callables (not importable helpers) so that no test imports conftest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from lambda_vpc_operator.aws import clients as aws_client_factory
from lambda_vpc_operator.aws import metrics as aws_metrics
from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings

FUNCTION = "orders"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
ROLE = "arn:aws:iam::123456789012:role/orders-exec"
# Deliberately unsorted: the planner must compare as sets and send sorted lists.
SUBNETS = ["subnet-b2", "subnet-a1"]
GROUPS = ["sg-2", "sg-1"]
VPC_ID = "vpc-0abc"
REVISION = "rev-7"


@pytest.fixture
def make_spec() -> Callable[..., AttachmentSpec]:
    """An AttachmentSpec; overrides use the wire (camelCase) names, as a manifest would."""

    def make(**overrides: Any) -> AttachmentSpec:
        body: dict[str, Any] = {
            "functionName": FUNCTION,
            "subnetIds": list(SUBNETS),
            "securityGroupIds": list(GROUPS),
        }
        body.update(overrides)
        return AttachmentSpec.model_validate(body)

    return make


@pytest.fixture
def make_observation() -> Callable[..., FunctionObservation]:
    """A FunctionObservation of "orders" holding exactly the default spec's configuration."""

    def make(**overrides: Any) -> FunctionObservation:
        values: dict[str, Any] = {
            "name": FUNCTION,
            "arn": FUNCTION_ARN,
            "vpc": VpcSettings.of(SUBNETS, GROUPS),
            "vpc_id": VPC_ID,
            "state": FunctionState.ACTIVE,
            "state_reason": None,
            "state_reason_code": None,
            "last_update_status": UpdateStatus.SUCCESSFUL,
            "last_update_status_reason": None,
            "last_update_status_reason_code": None,
            "revision_id": REVISION,
            "role": ROLE,
        }
        values.update(overrides)
        return FunctionObservation(**values)

    return make


# -- the aws layer's tests: one session per module, real clients, stubbed answers ----------------

AWS_REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def calls() -> Iterator[aws_metrics.CallCounter]:
    """The process-wide AWS call counter, empty for every test."""
    aws_metrics.calls.reset()
    yield aws_metrics.calls
    aws_metrics.calls.reset()


@pytest.fixture(scope="module")
def session() -> boto3.Session:
    """One session for the module: it caches the service models between tests."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


@pytest.fixture
def aws_clients(session: boto3.Session) -> aws_client_factory.AwsClients:
    return aws_client_factory.AwsClients(AWS_REGION, session=session)
