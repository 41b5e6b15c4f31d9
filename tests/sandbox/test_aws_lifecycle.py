"""Function lifecycle: State, LastUpdateStatus, RevisionId and the conflicts they cause
(aws-facts "Lambda function configuration", "Errors")."""

from __future__ import annotations

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401

LIFECYCLE = ("State", "StateReasonCode", "LastUpdateStatus")


def _lifecycle(cfg: dict[str, object]) -> tuple[object, ...]:
    return tuple(cfg.get(key) for key in LIFECYCLE)


def test_create_without_vpc_is_pending_until_create_delay(aws: AwsEnv) -> None:
    created = aws.create_function("fresh")
    assert _lifecycle(created) == ("Pending", "Creating", "InProgress")
    aws.control.advance(aws.config.create_delay - 2)
    assert aws.configuration("fresh")["State"] == "Pending"
    aws.control.advance(3)
    assert _lifecycle(aws.configuration("fresh")) == ("Active", None, "Successful")


def test_create_with_vpc_is_pending_until_its_enis_exist(aws: AwsEnv) -> None:
    vpc_config = {"SubnetIds": [aws.demo.private_subnet_c_id], "SecurityGroupIds": [aws.demo.db_sg_id]}
    aws.create_function("fresh-vpc", VpcConfig=vpc_config)
    aws.control.advance(aws.config.create_delay + 1)
    assert aws.configuration("fresh-vpc")["State"] == "Pending"
    aws.control.advance(aws.config.eni_create_delay)
    assert aws.configuration("fresh-vpc")["State"] == "Active"


def test_invoke_during_creation_conflicts(aws: AwsEnv) -> None:
    aws.create_function("fresh")
    with pytest.raises(aws.lam.exceptions.ResourceConflictException) as excinfo:
        aws.lam.invoke(FunctionName="fresh")
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)


def test_update_goes_in_progress_while_state_stays_active(aws: AwsEnv) -> None:
    result = aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    assert _lifecycle(result) == ("Active", None, "InProgress")
    assert _lifecycle(aws.configuration("orders-api")) == ("Active", None, "InProgress")


def test_update_while_in_progress_conflicts(aws: AwsEnv) -> None:
    aws.lam.update_function_configuration(FunctionName="orders-api", Description="first")
    with pytest.raises(aws.lam.exceptions.ResourceConflictException) as excinfo:
        aws.lam.update_function_configuration(FunctionName="orders-api", Description="second")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ResourceConflictException", 409)
    assert (
        message
        == "An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:orders-api"
    )


def test_update_while_pending_creation_conflicts(aws: AwsEnv) -> None:
    aws.create_function("fresh")
    with pytest.raises(aws.lam.exceptions.ResourceConflictException) as excinfo:
        aws.lam.update_function_configuration(FunctionName="fresh", Description="too early")
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)


def test_tag_resource_while_in_progress_conflicts(aws: AwsEnv) -> None:
    arn = aws.lam.update_function_configuration(FunctionName="orders-api", Description="x")["FunctionArn"]
    with pytest.raises(aws.lam.exceptions.ResourceConflictException) as excinfo:
        aws.lam.tag_resource(Resource=arn, Tags={"team": "orders"})
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)


def test_update_code_while_in_progress_conflicts(aws: AwsEnv) -> None:
    from lambda_vpc_sandbox.aws.seeding import handler_zip

    aws.lam.update_function_configuration(FunctionName="orders-api", Description="x")
    with pytest.raises(aws.lam.exceptions.ResourceConflictException):
        aws.lam.update_function_code(FunctionName="orders-api", ZipFile=handler_zip())


def test_non_vpc_change_is_in_progress_for_update_delay(aws: AwsEnv) -> None:
    aws.lam.update_function_configuration(FunctionName="orders-api", Description="new words")
    aws.control.advance(aws.config.update_delay - 2)
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "InProgress"
    aws.control.advance(3)
    cfg = aws.configuration("orders-api")
    assert (cfg["LastUpdateStatus"], cfg["Description"]) == ("Successful", "new words")


def test_stale_revision_id_is_refused_with_412(aws: AwsEnv) -> None:
    stale = aws.configuration("orders-api")["RevisionId"]
    aws.lam.update_function_configuration(FunctionName="orders-api", Description="moves the revision")
    aws.control.advance(aws.config.update_delay + 1)
    with pytest.raises(aws.lam.exceptions.PreconditionFailedException) as excinfo:
        aws.lam.update_function_configuration(FunctionName="orders-api", Description="late", RevisionId=stale)
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)


def test_current_revision_id_is_accepted(aws: AwsEnv) -> None:
    current = aws.configuration("orders-api")["RevisionId"]
    result = aws.lam.update_function_configuration(
        FunctionName="orders-api", Description="ok", RevisionId=current
    )
    assert result["LastUpdateStatus"] == "InProgress"


def test_every_accepted_change_gets_a_new_revision_id(aws: AwsEnv) -> None:
    seen = {aws.configuration("orders-api")["RevisionId"]}
    for words in ("one", "two", "three"):
        seen.add(
            aws.lam.update_function_configuration(FunctionName="orders-api", Description=words)["RevisionId"]
        )
        aws.control.advance(aws.config.update_delay + 1)
    assert len(seen) == 4


def test_detach_is_in_progress_then_successful(aws: AwsEnv) -> None:
    result = aws.attach("inventory-sync", [], [])
    assert result["LastUpdateStatus"] == "InProgress"
    aws.control.advance(aws.config.update_delay + 1)
    cfg = aws.configuration("inventory-sync")
    assert (cfg["LastUpdateStatus"], cfg["VpcConfig"]["VpcId"]) == ("Successful", "")


def test_get_function_configuration_carries_the_lifecycle(aws: AwsEnv) -> None:
    aws.lam.update_function_configuration(FunctionName="orders-api", Description="x")
    cfg = aws.lam.get_function_configuration(FunctionName="orders-api")
    assert _lifecycle(cfg) == ("Active", None, "InProgress")
    assert cfg["RevisionId"]


def test_function_arn_works_as_function_name(aws: AwsEnv) -> None:
    arn = aws.configuration("orders-api")["FunctionArn"]
    assert aws.lam.get_function(FunctionName=arn)["Configuration"]["FunctionName"] == "orders-api"


def test_unknown_function_is_404(aws: AwsEnv) -> None:
    with pytest.raises(aws.lam.exceptions.ResourceNotFoundException) as excinfo:
        aws.lam.update_function_configuration(FunctionName="nobody", Description="x")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)


def test_deleted_function_is_gone(aws: AwsEnv) -> None:
    aws.lam.delete_function(FunctionName="orders-api")
    with pytest.raises(aws.lam.exceptions.ResourceNotFoundException):
        aws.lam.get_function(FunctionName="orders-api")
