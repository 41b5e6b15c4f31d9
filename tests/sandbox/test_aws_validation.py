"""VpcConfig checks: what AWS refuses at once (400) and what fails only later (aws-facts "VPC
constraints", "Errors")."""

from __future__ import annotations

import botocore.exceptions
import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401


def _default_group(aws: AwsEnv, vpc_id: str) -> str:
    groups = aws.ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    return str(groups[0]["GroupId"])


def test_subnets_and_groups_of_two_vpcs_are_refused(aws: AwsEnv) -> None:
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.second_sg_id])
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert aws.demo.private_subnet_a_id in message and aws.demo.second_sg_id in message


def test_dedicated_tenancy_vpc_is_refused(aws: AwsEnv) -> None:
    group = _default_group(aws, aws.demo.dedicated_vpc_id)
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.attach("orders-api", [aws.demo.dedicated_subnet_id], [group])
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "dedicated tenancy" in message


@pytest.mark.parametrize("which", ["subnets-only", "groups-only"], ids=["subnets-only", "groups-only"])
def test_one_list_without_the_other_is_refused(aws: AwsEnv, which: str) -> None:
    subnets = [aws.demo.private_subnet_a_id] if which == "subnets-only" else []
    groups = [aws.demo.app_sg_id] if which == "groups-only" else []
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.attach("orders-api", subnets, groups)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_ipv6_needs_dual_stack_subnets(aws: AwsEnv) -> None:
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.attach(
            "orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id], Ipv6AllowedForDualStack=True
        )
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert aws.demo.private_subnet_a_id in message


def test_ipv6_is_accepted_and_echoed_on_a_dual_stack_subnet(aws: AwsEnv) -> None:
    # The demo VPC has an IPv6 /56 and a dual-stack subnet in it (seeding; a VPC takes one such block).
    subnet = aws.demo.dual_stack_subnet_id
    result = aws.attach("orders-api", [subnet], [aws.demo.app_sg_id], Ipv6AllowedForDualStack=True)
    assert result["VpcConfig"]["Ipv6AllowedForDualStack"] is True


def _dual_stack(aws: AwsEnv, name: str) -> None:
    aws.attach(name, [aws.demo.dual_stack_subnet_id], [aws.demo.app_sg_id], Ipv6AllowedForDualStack=True)
    aws.control.advance(aws.config.update_delay + aws.config.eni_create_delay + 1)
    assert aws.configuration(name)["VpcConfig"]["Ipv6AllowedForDualStack"] is True


@pytest.mark.parametrize("sent", [True, None], ids=["flag-true", "flag-omitted"])
def test_detach_with_ipv6_left_true_is_refused(aws: AwsEnv, sent: bool | None) -> None:
    """aws-facts "Refusals": an omitted flag keeps the function's true, and AWS refuses the detach."""
    _dual_stack(aws, "orders-api")
    extra = {} if sent is None else {"Ipv6AllowedForDualStack": sent}
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.attach("orders-api", [], [], **extra)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == "Ipv6AllowedForDualStack cannot be true without subnet or security groups"
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "Successful"


def test_detach_with_ipv6_false_is_accepted(aws: AwsEnv) -> None:
    _dual_stack(aws, "orders-api")
    aws.attach("orders-api", [], [], Ipv6AllowedForDualStack=False)
    aws.control.advance(aws.config.update_delay + 1)
    vpc = aws.configuration("orders-api")["VpcConfig"]
    assert vpc == {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": "", "Ipv6AllowedForDualStack": False}


def test_omitted_ipv6_keeps_the_functions_flag(aws: AwsEnv) -> None:
    _dual_stack(aws, "orders-api")
    result = aws.attach("orders-api", [aws.demo.dual_stack_subnet_id], [aws.demo.db_sg_id])
    assert result["VpcConfig"]["Ipv6AllowedForDualStack"] is True


def test_unset_ipv6_is_echoed_false(aws: AwsEnv) -> None:
    result = aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    assert result["VpcConfig"]["Ipv6AllowedForDualStack"] is False


def test_create_function_checks_vpc_config_too(aws: AwsEnv) -> None:
    vpc_config = {"SubnetIds": [aws.demo.private_subnet_a_id], "SecurityGroupIds": [aws.demo.second_sg_id]}
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.create_function("mixed-up", VpcConfig=vpc_config)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(aws.lam.exceptions.ResourceNotFoundException):
        aws.lam.get_function(FunctionName="mixed-up")


def test_missing_subnet_is_accepted_then_fails_with_invalid_subnet(aws: AwsEnv) -> None:
    accepted = aws.attach("orders-api", ["subnet-0123456789abcdef0"], [aws.demo.app_sg_id])
    assert accepted["LastUpdateStatus"] == "InProgress"
    aws.control.advance(aws.config.update_delay + 1)
    cfg = aws.configuration("orders-api")
    assert cfg["LastUpdateStatus"] == "Failed"
    assert cfg["LastUpdateStatusReasonCode"] == "InvalidSubnet"
    assert "subnet-0123456789abcdef0" in cfg["LastUpdateStatusReason"]
    assert cfg["State"] == "Active"


def test_missing_security_group_fails_later_with_invalid_security_group(aws: AwsEnv) -> None:
    aws.attach("orders-api", [aws.demo.private_subnet_a_id], ["sg-0123456789abcdef0"])
    aws.control.advance(aws.config.update_delay + 1)
    cfg = aws.configuration("orders-api")
    assert (cfg["LastUpdateStatus"], cfg["LastUpdateStatusReasonCode"]) == ("Failed", "InvalidSecurityGroup")
    assert "sg-0123456789abcdef0" in cfg["LastUpdateStatusReason"]


def test_failed_update_keeps_the_previous_vpc_config(aws: AwsEnv) -> None:
    """Lambda guide "function states": a failed update is aborted; the previous config stays."""
    before = aws.configuration("inventory-sync")["VpcConfig"]
    aws.attach("inventory-sync", ["subnet-0123456789abcdef0"], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.update_delay + 1)
    assert aws.configuration("inventory-sync")["VpcConfig"] == before


def test_vpc_id_is_the_real_vpc_of_the_subnets(aws: AwsEnv) -> None:
    result = aws.attach("orders-api", [aws.demo.second_subnet_id], [aws.demo.second_sg_id])
    assert result["VpcConfig"]["VpcId"] == aws.demo.second_vpc_id
    assert aws.configuration("inventory-sync")["VpcConfig"]["VpcId"] == aws.demo.vpc_id


def test_vpc_config_echoes_the_ids_as_given(aws: AwsEnv) -> None:
    subnets = [aws.demo.private_subnet_b_id, aws.demo.private_subnet_a_id]
    groups = [aws.demo.db_sg_id, aws.demo.app_sg_id]
    result = aws.attach("orders-api", subnets, groups)
    assert (result["VpcConfig"]["SubnetIds"], result["VpcConfig"]["SecurityGroupIds"]) == (subnets, groups)


def test_detached_function_reports_an_empty_vpc_id(aws: AwsEnv) -> None:
    aws.attach("inventory-sync", [], [])
    aws.control.advance(aws.config.update_delay + 1)
    vpc = aws.configuration("inventory-sync")["VpcConfig"]
    assert vpc == {"SubnetIds": [], "SecurityGroupIds": [], "VpcId": "", "Ipv6AllowedForDualStack": False}


def test_too_many_security_groups_are_refused(aws: AwsEnv) -> None:
    groups = [f"sg-{i:017x}" for i in range(6)]
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        aws.attach("orders-api", [aws.demo.private_subnet_a_id], groups)
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_create_with_a_missing_subnet_ends_failed_with_invalid_subnet(aws: AwsEnv) -> None:
    vpc_config = {"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": [aws.demo.app_sg_id]}
    created = aws.create_function("lost", VpcConfig=vpc_config)
    assert created["State"] == "Pending"
    aws.control.advance(aws.config.create_delay + 1)
    cfg = aws.configuration("lost")
    assert (cfg["State"], cfg["StateReasonCode"]) == ("Failed", "InvalidSubnet")
    assert "subnet-0123456789abcdef0" in cfg["StateReason"]


def _function_arn(aws: AwsEnv, name: str) -> str:
    return str(aws.lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param({"lambdavpc.dev/owner": "x" * 257}, id="value-over-256"),
        pytest.param({"k" * 129: "v"}, id="key-over-128"),
        pytest.param({"lambdavpc.dev/owner": "a~b"}, id="character-outside-the-pattern"),
    ],
)
def test_tags_aws_refuses_are_refused(aws: AwsEnv, tags: dict[str, str]) -> None:
    # botocore lambda model: TagKey 1..128, TagValue 0..256, both [\p{L}\p{Z}\p{N}_.:/=+\-@]*.
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException):
        aws.lam.tag_resource(Resource=_function_arn(aws, "orders-api"), Tags=tags)


def test_the_longest_owner_tag_is_accepted(aws: AwsEnv) -> None:
    from lambda_vpc_operator.models import owners

    value = owners.Owner("c" * 63, "n" * 63, "x" * 253).tag_value
    arn = _function_arn(aws, "orders-api")
    aws.lam.tag_resource(Resource=arn, Tags={owners.TAG: value})
    assert aws.lam.list_tags(Resource=arn)["Tags"][owners.TAG] == value
