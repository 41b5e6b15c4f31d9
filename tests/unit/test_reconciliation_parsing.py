"""Reconciler.parse: what an API server without the CRD's CEL rules lets through still stalls, named."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from lambda_vpc_operator.aws import AwsGateway
from lambda_vpc_operator.models.settings import OperatorSettings
from lambda_vpc_operator.reconciliation.reconciler import AttachmentView, InvalidSpec, Reconciler

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"


def _parse(**spec: Any) -> None:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    reconciler = Reconciler(AwsGateway.create("us-east-1", session=session), OperatorSettings())
    reconciler.parse(AttachmentView("ns", "a", 1, spec, {}))


def test_region_contradicting_the_arn() -> None:
    with pytest.raises(InvalidSpec, match=r"^spec.region contradicts the region of the ARN in spec.functionName"):
        _parse(functionName=ARN, region="eu-west-1", subnetIds=["subnet-1"], securityGroupIds=["sg-1"])
    _parse(functionName=ARN, region="us-east-1", subnetIds=["subnet-1"], securityGroupIds=["sg-1"])


def test_ids_and_selector_together() -> None:
    with pytest.raises(InvalidSpec, match=r"^set exactly one of spec.subnetIds and spec.subnetSelector"):
        _parse(functionName="orders", subnetIds=["subnet-1"], subnetSelector={"tags": {"a": "b"}},
               securityGroupIds=["sg-1"])  # fmt: skip
