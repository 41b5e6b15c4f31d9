"""Fault injection (docs/testing.md "Fault injection"; aws-facts "Fault kinds on the wire"): each
kind as botocore surfaces it (clients without retries, to see the raw fault), rates, seeds, and
latency that never holds the simulator's lock."""

from __future__ import annotations

import threading
import time
from typing import Any

import botocore.exceptions
import botocore.parsers
import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of, wait_for  # noqa: F401
from lambda_vpc_sandbox.aws import SimulatorControlError
from lambda_vpc_sandbox.aws.seeding import client

NO_RETRIES = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@pytest.fixture(name="raw")
def raw_fixture(aws: AwsEnv) -> dict[str, Any]:
    """Clients that never retry (the session's EC2 and IAM clients do)."""
    return {name: client(name, aws.endpoint_url, **NO_RETRIES) for name in ("lambda", "ec2", "iam")}


def _get(aws: AwsEnv) -> Any:
    return aws.lam.get_function(FunctionName="orders-api")


def test_lambda_throttle_has_retry_after(aws: AwsEnv) -> None:
    aws.control.inject_faults([{"operations": "lambda:GetFunction", "kind": "throttle", "params": {"retry_after": 3}}])
    with pytest.raises(aws.lam.exceptions.TooManyRequestsException) as excinfo:
        _get(aws)
    response = excinfo.value.response
    assert error_of(excinfo)[:2] == ("TooManyRequestsException", 429)
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "3"
    assert (response["retryAfterSeconds"], response["Reason"]) == ("3", "CallerRateLimitExceeded")


def test_lambda_throttle_without_retry_after(aws: AwsEnv) -> None:
    aws.control.inject_faults(
        [
            {
                "operations": "lambda:*",
                "kind": "throttle",
                "params": {"retry_after": None, "reason": "ReservedFunctionInvocationRateLimitExceeded"},
            }
        ]
    )
    with pytest.raises(aws.lam.exceptions.TooManyRequestsException) as excinfo:
        aws.lam.list_functions()
    response = excinfo.value.response
    assert "retry-after" not in response["ResponseMetadata"]["HTTPHeaders"]
    assert "retryAfterSeconds" not in response
    assert response["Reason"] == "ReservedFunctionInvocationRateLimitExceeded"


def test_ec2_throttle_is_request_limit_exceeded_503(aws: AwsEnv, raw: dict[str, Any]) -> None:
    aws.control.inject_faults([{"operations": "ec2:DescribeSubnets", "kind": "throttle"}])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        raw["ec2"].describe_subnets(SubnetIds=[aws.demo.private_subnet_a_id])
    assert error_of(excinfo)[:2] == ("RequestLimitExceeded", 503)
    raw["ec2"].describe_vpcs()  # only the operations the glob names


def test_iam_throttle_is_throttling_400(aws: AwsEnv, raw: dict[str, Any]) -> None:
    aws.control.inject_faults([{"operations": "iam:*", "kind": "throttle"}])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        raw["iam"].get_role(RoleName=aws.demo.role_arn.rsplit("/", 1)[-1])
    assert error_of(excinfo)[:2] == ("Throttling", 400)


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_in_each_service_format(aws: AwsEnv, raw: dict[str, Any], status: int) -> None:
    aws.control.inject_faults([{"operations": "*", "kind": "server_error", "params": {"status": status}}])
    with pytest.raises(aws.lam.exceptions.ServiceException) as lam_error:
        _get(aws)
    with pytest.raises(botocore.exceptions.ClientError) as ec2_error:
        raw["ec2"].describe_vpcs()
    with pytest.raises(botocore.exceptions.ClientError) as iam_error:
        raw["iam"].list_roles()
    assert error_of(lam_error)[:2] == ("ServiceException", status)
    assert error_of(ec2_error)[:2] == ("InternalError", status)
    assert error_of(iam_error)[:2] == ("ServiceFailure", status)


def test_html_page_from_a_proxy(aws: AwsEnv) -> None:
    aws.control.inject_faults([{"operations": "lambda:GetFunction", "kind": "html", "params": {"status": 504}}])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        _get(aws)
    # botocore cannot parse HTML: the code is the status, the message its phrase.
    assert error_of(excinfo) == ("504", 504, "Gateway Timeout")
    assert excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "text/html"


def test_html_page_in_a_query_protocol(aws: AwsEnv, raw: dict[str, Any]) -> None:
    aws.control.inject_faults([{"operations": "ec2:*", "kind": "html"}])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        raw["ec2"].describe_vpcs()
    assert error_of(excinfo) == ("502", 502, "Bad Gateway")


def test_truncated_json_loses_the_members(aws: AwsEnv) -> None:
    aws.control.inject_faults([{"operations": "lambda:GetFunction", "kind": "truncated"}])
    answer = _get(aws)
    # botocore reads a JSON body it cannot parse as {"message": body}: a 200 without Configuration.
    assert "Configuration" not in answer
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_truncated_xml_is_a_parse_error(aws: AwsEnv, raw: dict[str, Any]) -> None:
    aws.control.inject_faults([{"operations": "ec2:DescribeSubnets", "kind": "truncated", "params": {"keep": 0.3}}])
    with pytest.raises(botocore.parsers.ResponseParserError):
        raw["ec2"].describe_subnets()


def test_connection_reset_before_the_request(aws: AwsEnv) -> None:
    aws.control.inject_faults([{"operations": "lambda:UpdateFunctionConfiguration", "kind": "reset"}])
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        aws.lam.update_function_configuration(FunctionName="orders-api", Description="lost")
    aws.control.clear_faults()
    assert aws.configuration("orders-api").get("Description") != "lost"  # never served


def test_connection_reset_after_the_write(aws: AwsEnv) -> None:
    aws.control.inject_faults(
        [{"operations": "lambda:UpdateFunctionConfiguration", "kind": "reset", "params": {"after": True}}]
    )
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        aws.lam.update_function_configuration(FunctionName="orders-api", Description="done")
    aws.control.clear_faults()
    configuration = aws.configuration("orders-api")
    assert (configuration["Description"], configuration["LastUpdateStatus"]) == ("done", "InProgress")


def test_conflict_storm_on_writes(aws: AwsEnv) -> None:
    writes = ["lambda:UpdateFunctionConfiguration", "lambda:TagResource"]
    aws.control.inject_faults([{"operations": writes, "kind": "conflict"}])
    arn = aws.configuration("orders-api")["FunctionArn"]
    with pytest.raises(aws.lam.exceptions.ResourceConflictException) as excinfo:
        aws.lam.tag_resource(Resource=arn, Tags={"team": "a"})
    assert error_of(excinfo) == ("ResourceConflictException", 409, f"An update is in progress for resource: {arn}")
    with pytest.raises(aws.lam.exceptions.ResourceConflictException) as excinfo:
        aws.lam.update_function_configuration(FunctionName="orders-api", Description="x")
    assert error_of(excinfo)[2].endswith(":function:orders-api")
    assert aws.lam.get_function(FunctionName="orders-api")  # reads are not conflicts
    assert aws.control.injected() == {"conflict": dict.fromkeys(writes, 1)}


def test_iam_api_not_implemented(aws: AwsEnv, raw: dict[str, Any]) -> None:
    simulate = {"PolicySourceArn": aws.demo.role_arn, "ActionNames": ["ec2:CreateNetworkInterface"]}
    aws.control.inject_faults([{"operations": "iam:SimulatePrincipalPolicy", "kind": "not_implemented"}])
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        raw["iam"].simulate_principal_policy(**simulate)
    assert error_of(excinfo)[:2] == ("InvalidAction", 400)
    aws.control.inject_faults(
        [{"operations": "iam:SimulatePrincipalPolicy", "kind": "not_implemented", "params": {"style": "moto"}}]
    )
    with pytest.raises(botocore.parsers.ResponseParserError, match="invalid XML"):
        raw["iam"].simulate_principal_policy(**simulate)  # plain moto's HTML 500


def test_stale_reads_lag_behind_a_write(aws: AwsEnv) -> None:
    aws.control.inject_faults([{"operations": "lambda:GetFunction", "kind": "stale", "params": {"seconds": 30}}])
    before = aws.configuration("orders-api")
    aws.control.advance(60)  # the answer before the write has been seen long enough
    aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    lagging = aws.configuration("orders-api")
    assert lagging["RevisionId"] == before["RevisionId"]
    assert not lagging.get("VpcConfig", {}).get("SubnetIds")
    aws.control.advance(31)
    fresh = aws.configuration("orders-api")
    assert fresh["VpcConfig"]["SubnetIds"] == [aws.demo.private_subnet_a_id]
    assert aws.control.injected()["stale"]["lambda:GetFunction"] >= 1


def test_stale_network_interfaces(aws: AwsEnv) -> None:
    aws.control.inject_faults(
        [{"operations": "ec2:DescribeNetworkInterfaces", "kind": "stale", "params": {"seconds": 20}}]
    )
    subnet = aws.demo.private_subnet_c_id
    assert aws.lambda_enis(subnet_id=subnet) == []
    aws.control.advance(30)
    aws.attach("orders-api", [subnet], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert aws.lambda_enis(subnet_id=subnet) == []  # a write ago
    aws.control.advance(21)
    assert len(aws.lambda_enis(subnet_id=subnet)) == 1


def test_stale_at_a_rate_mixes_fresh_and_old_answers(aws: AwsEnv) -> None:
    aws.control.inject_faults(
        [{"operations": "lambda:GetFunction", "kind": "stale", "rate": 0.5, "params": {"seconds": 30}}], seed=1
    )
    before = aws.configuration("orders-api")["RevisionId"]
    aws.control.advance(60)
    aws.lam.update_function_configuration(FunctionName="orders-api", Description="new")
    seen = {aws.configuration("orders-api")["RevisionId"] for _ in range(20)}
    assert before in seen and len(seen) == 2  # lagging replicas and up-to-date ones


def _outcomes(aws: AwsEnv, n: int) -> list[bool]:
    failed = []
    for _ in range(n):
        try:
            aws.lam.list_functions()
            failed.append(False)
        except aws.lam.exceptions.ServiceException:
            failed.append(True)
    return failed


def test_rate_is_roughly_honoured(aws: AwsEnv) -> None:
    aws.control.inject_faults([{"operations": "lambda:ListFunctions", "kind": "server_error", "rate": 0.3}], seed=7)
    failed = sum(_outcomes(aws, 200))
    assert 30 <= failed <= 90  # 60 expected; the bounds are over 4 standard deviations wide
    assert aws.control.injected() == {"server_error": {"lambda:ListFunctions": failed}}


def test_a_seed_replays_the_same_faults(aws: AwsEnv) -> None:
    rule = [{"operations": "lambda:ListFunctions", "kind": "server_error", "rate": 0.5}]
    aws.control.inject_faults(rule, seed=42)
    first = _outcomes(aws, 40)
    aws.control.inject_faults(rule, seed=42)
    assert _outcomes(aws, 40) == first
    aws.control.inject_faults(rule, seed=43)
    assert _outcomes(aws, 40) != first


def test_latency_does_not_hold_the_lock(aws: AwsEnv) -> None:
    latency = 3.0
    aws.control.inject_faults(
        [{"operations": "lambda:ListFunctions", "kind": "latency", "params": {"seconds": latency}}]
    )
    slow_done: list[float] = []
    started = time.monotonic()

    def slow_call() -> None:
        aws.lam.list_functions()
        slow_done.append(time.monotonic() - started)

    slow = threading.Thread(target=slow_call)
    slow.start()
    wait_for(lambda: aws.control.injected().get("latency"))  # the slow request is being delayed
    client("lambda", aws.endpoint_url, **NO_RETRIES).get_function(FunctionName="orders-api")
    finished_first = not slow_done
    fast = time.monotonic() - started
    slow.join(timeout=20)
    assert finished_first and fast < latency
    assert slow_done and slow_done[0] >= latency


def test_bad_rules_are_refused(aws: AwsEnv) -> None:
    for rule in (
        {"operations": "*", "kind": "meteor"},
        {"operations": "*", "kind": "throttle", "rate": 2},
        {"operations": "*", "kind": "latency", "params": {"secs": 1}},
    ):
        with pytest.raises(SimulatorControlError) as excinfo:
            aws.control.inject_faults([rule])
        assert excinfo.value.status == 400


def test_clear_faults_and_reset(aws: AwsEnv) -> None:
    filled = aws.control.inject_faults([{"operations": "lambda:*", "kind": "throttle", "rate": 1}])
    assert filled[0]["params"] == {"retry_after": 1, "reason": "CallerRateLimitExceeded"}
    aws.control.clear_faults()
    _get(aws)
    assert aws.control.injected() == {}
