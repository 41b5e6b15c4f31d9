"""Call counts per operation: Lambda from method and route, EC2/IAM/STS from the Action."""

from __future__ import annotations

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture  # noqa: F401


def test_lambda_calls_are_counted_by_operation(aws: AwsEnv) -> None:
    aws.lam.get_function(FunctionName="orders-api")
    aws.lam.get_function(FunctionName="orders-api")
    aws.lam.get_function_configuration(FunctionName="orders-api")
    aws.lam.update_function_configuration(FunctionName="orders-api", Description="x")
    aws.lam.list_functions()
    assert aws.control.calls() == {
        "lambda:GetFunction": 2,
        "lambda:GetFunctionConfiguration": 1,
        "lambda:UpdateFunctionConfiguration": 1,
        "lambda:ListFunctions": 1,
    }


def test_failed_calls_are_counted_too(aws: AwsEnv) -> None:
    with pytest.raises(aws.lam.exceptions.ResourceNotFoundException):
        aws.lam.get_function(FunctionName="nobody")
    assert aws.control.calls() == {"lambda:GetFunction": 1}


def test_query_protocol_calls_are_counted_by_action(aws: AwsEnv) -> None:
    aws.ec2.describe_subnets(SubnetIds=[aws.demo.private_subnet_a_id])
    aws.ec2.describe_subnets(SubnetIds=[aws.demo.private_subnet_b_id])
    aws.iam.get_role(RoleName="lambda-vpc-demo-exec")
    aws.sts.get_caller_identity()
    assert aws.control.calls() == {"ec2:DescribeSubnets": 2, "iam:GetRole": 1, "sts:GetCallerIdentity": 1}


def test_reset_calls_starts_from_zero(aws: AwsEnv) -> None:
    aws.lam.list_functions()
    aws.control.reset_calls()
    assert aws.control.calls() == {}
