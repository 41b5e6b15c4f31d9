"""Regions in the simulator: each region its own functions, a full ARN of another region refused (as AWS
does, aws-facts "Regions"), and the journal naming the region each request went to."""

from __future__ import annotations

import botocore.exceptions
import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture  # noqa: F401
from lambda_vpc_sandbox.aws.seeding import client, handler_zip

OTHER = "eu-west-1"


def test_an_arn_of_another_region_is_not_reachable_even_with_a_namesake_here(aws: AwsEnv) -> None:
    # "orders-api" exists in us-east-1 (the demo account); its namesake in OTHER is another function.
    other = client("lambda", aws.endpoint_url, OTHER, retries={"mode": "standard", "total_max_attempts": 1})
    created = other.create_function(
        FunctionName="orders-api", Runtime="python3.12", Handler="lambda_function.handler",
        Code={"ZipFile": handler_zip()}, Role=aws.demo.role_arn,
    )  # fmt: skip
    arn = created["FunctionArn"]
    assert f":lambda:{OTHER}:" in arn
    start = aws.control.journal()[-1]["seq"] + 1
    for call in (
        lambda: aws.lam.get_function(FunctionName=arn),
        lambda: aws.lam.update_function_configuration(FunctionName=arn, VpcConfig={"SubnetIds": []}),
        lambda: aws.lam.list_tags(Resource=arn),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            call()
        error = caught.value.response["Error"]
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert error["Code"] == "ResourceNotFoundException"
        assert error["Message"] == f"Functions from '{OTHER}' are not reachable in this region ('us-east-1')"
    # In its own region the ARN names it, and the us-east-1 namesake was never touched.
    assert other.get_function(FunctionName=arn)["Configuration"]["FunctionArn"] == arn
    assert aws.lam.get_function(FunctionName="orders-api")["Configuration"]["FunctionArn"] != arn
    # The journal says where each request went.
    entries = [e for e in aws.control.journal(since=start) if e["operation"].startswith("lambda:")]
    assert {e["region"] for e in entries if e["operation"] == "lambda:UpdateFunctionConfiguration"} == {"us-east-1"}
    assert {e["region"] for e in entries[-2:]} == {OTHER, "us-east-1"}
