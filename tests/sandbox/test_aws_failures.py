"""Failures that arrive after the call: injected, out of addresses, over the ENI quota
(aws-facts "Errors": they arrive later as LastUpdateStatus=Failed / State=Failed with a code)."""

from __future__ import annotations

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401

REASON_CODES = [
    "SubnetOutOfIPAddresses",
    "EniLimitExceeded",
    "InsufficientRolePermissions",
    "EC2RequestLimitExceeded",
    "InternalError",
]


@pytest.mark.parametrize("reason_code", REASON_CODES, ids=REASON_CODES)
def test_injected_failure_ends_the_next_update_failed(aws: AwsEnv, reason_code: str) -> None:
    aws.control.inject_update_failure("orders-api", reason_code, f"simulated {reason_code}")
    aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.update_delay + 1)
    cfg = aws.configuration("orders-api")
    assert (cfg["LastUpdateStatus"], cfg["LastUpdateStatusReasonCode"]) == ("Failed", reason_code)
    assert cfg["LastUpdateStatusReason"] == f"simulated {reason_code}"


def test_injected_failure_is_used_up_after_count_updates(aws: AwsEnv) -> None:
    aws.control.inject_update_failure("orders-api", "InternalError", "boom", count=1)
    statuses = []
    for words in ("first", "second"):
        aws.lam.update_function_configuration(FunctionName="orders-api", Description=words)
        aws.control.advance(aws.config.update_delay + 1)
        statuses.append(aws.configuration("orders-api")["LastUpdateStatus"])
    assert statuses == ["Failed", "Successful"]


def test_subnet_failure_fails_every_update_into_that_subnet(aws: AwsEnv) -> None:
    aws.control.inject_subnet_failure(
        aws.demo.private_subnet_c_id, "InsufficientRolePermissions", "no ec2 perms"
    )
    for name in ("orders-api", "billing-worker"):
        aws.attach(name, [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.update_delay + 1)
    codes = {aws.configuration(n)["LastUpdateStatusReasonCode"] for n in ("orders-api", "billing-worker")}
    assert codes == {"InsufficientRolePermissions"}


def test_subnet_without_free_addresses_fails_new_enis(aws: AwsEnv) -> None:
    aws.control.set_subnet_free_addresses(aws.demo.private_subnet_c_id, 0)
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    cfg = aws.configuration("orders-api")
    assert (cfg["LastUpdateStatus"], cfg["LastUpdateStatusReasonCode"]) == (
        "Failed",
        "SubnetOutOfIPAddresses",
    )
    assert aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id) == []


def test_subnet_without_free_addresses_still_serves_its_existing_eni(aws: AwsEnv) -> None:
    aws.control.set_subnet_free_addresses(aws.demo.private_subnet_a_id, 0)
    aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.update_delay + 1)
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "Successful"


def test_eni_quota_of_the_vpc_fails_with_eni_limit_exceeded(aws: AwsEnv) -> None:
    aws.control.set_eni_quota(aws.demo.vpc_id, 2)  # inventory-sync already holds two
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    cfg = aws.configuration("orders-api")
    assert (cfg["LastUpdateStatus"], cfg["LastUpdateStatusReasonCode"]) == ("Failed", "EniLimitExceeded")


def test_default_eni_quota_is_500(aws: AwsEnv) -> None:
    assert aws.control.config()["eni_quota_per_vpc"] == 500


def test_failed_creation_leaves_the_function_failed(aws: AwsEnv) -> None:
    aws.control.inject_update_failure("doomed", "InvalidSubnet", "The subnet is gone.")
    aws.create_function("doomed")
    aws.control.advance(aws.config.create_delay + 1)
    cfg = aws.configuration("doomed")
    assert (cfg["State"], cfg["StateReasonCode"]) == ("Failed", "InvalidSubnet")
    assert cfg["StateReason"] == "The subnet is gone."


def test_failed_function_refuses_updates(aws: AwsEnv) -> None:
    aws.control.inject_update_failure("doomed", "InternalError", "no")
    aws.create_function("doomed")
    aws.control.advance(aws.config.create_delay + 1)
    with pytest.raises(aws.lam.exceptions.ResourceConflictException) as excinfo:
        aws.lam.update_function_configuration(FunctionName="doomed", Description="retry")
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)


def test_role_without_eni_permissions_fails_with_insufficient_role_permissions(aws: AwsEnv) -> None:
    """aws-facts "IAM": Lambda creates ENIs with the execution role, which needs ec2:CreateNetworkInterface
    (AWS may also refuse the call at once: the default, see test_aws_permissions; off here)."""
    import json

    aws.control.set_role_checks(at_call=False)

    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = aws.iam.create_role(RoleName="no-vpc-access", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    aws.iam.put_role_policy(RoleName="no-vpc-access", PolicyName="logs", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))
    aws.lam.update_function_configuration(FunctionName="orders-api", Role=role)
    aws.control.advance(aws.config.update_delay + 1)
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    cfg = aws.configuration("orders-api")
    assert (cfg["LastUpdateStatus"], cfg["LastUpdateStatusReasonCode"]) == ("Failed", "InsufficientRolePermissions")
    assert role in cfg["LastUpdateStatusReason"]
    assert aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id) == []


def test_role_with_ec2_wildcard_may_create_enis(aws: AwsEnv) -> None:
    import json

    role = aws.iam.create_role(RoleName="ec2-star", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws.iam.put_role_policy(RoleName="ec2-star", PolicyName="ec2", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:*"], "Resource": "*"}]}))
    aws.lam.update_function_configuration(FunctionName="orders-api", Role=role)
    aws.control.advance(aws.config.update_delay + 1)
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "Successful"


def test_eni_failure_leaves_no_attaching_eni_behind(aws: AwsEnv) -> None:
    aws.control.set_eni_quota(aws.demo.vpc_id, 2)
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    assert aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id) == []
