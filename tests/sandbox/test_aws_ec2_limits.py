"""EC2's request buckets and DescribeNetworkInterfaces paging (aws-facts "EC2 request buckets and
paging"): RequestLimitExceeded beyond a bucket, MaxResults 5..1000 and NextToken."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401
from lambda_vpc_sandbox.aws.seeding import client

LAMBDA_ENIS = [{"Name": "interface-type", "Values": ["lambda"]}]


@pytest.fixture(name="ec2")
def ec2_fixture(aws: AwsEnv) -> Any:
    """An EC2 client that never retries, to see each RequestLimitExceeded."""
    return client("ec2", aws.endpoint_url, retries={"mode": "standard", "total_max_attempts": 1})


def _until_throttled(call: Any, limit: int) -> int:
    """Calls served before the first RequestLimitExceeded (at most ``limit``)."""
    for served in range(limit):
        try:
            call()
        except botocore.exceptions.ClientError as error:
            assert (error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]) == (
                "RequestLimitExceeded",
                503,
            )
            return served
    return limit


def test_defaults_are_aws_values(aws: AwsEnv) -> None:
    cfg = aws.control.config()
    assert (cfg["ec2_non_mutating_burst"], cfg["ec2_non_mutating_per_s"]) == (100.0, 20.0)
    assert (cfg["ec2_unfiltered_burst"], cfg["ec2_unfiltered_per_s"]) == (50.0, 10.0)


# A refill slow enough that a busy machine's request rate cannot keep a bucket from emptying: the
# served counts then measure the bursts (the default refills are checked by test_defaults_are_aws_values).
SLOW_REFILL = {"ec2_non_mutating_per_s": 0.01, "ec2_unfiltered_per_s": 0.01}


def test_unfiltered_describe_network_interfaces_has_the_small_bucket(aws: AwsEnv, ec2: Any) -> None:
    aws.control.set_rate_limits(True, **SLOW_REFILL)
    served = _until_throttled(lambda: ec2.describe_network_interfaces(), 120)
    # 50 saved up (the refill adds less than one in the time taken).
    assert 50 <= served <= 51
    assert aws.control.throttled()["ec2:DescribeNetworkInterfaces"] == 1
    # The filtered request spends from another bucket, still full.
    assert _until_throttled(lambda: ec2.describe_network_interfaces(Filters=LAMBDA_ENIS), 60) == 60


def test_filtered_describes_have_the_large_bucket(aws: AwsEnv, ec2: Any) -> None:
    aws.control.set_rate_limits(True, **SLOW_REFILL)
    served = _until_throttled(
        lambda: ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [aws.demo.vpc_id]}]), 220
    )
    assert 100 <= served <= 101
    assert _until_throttled(lambda: ec2.describe_subnets(SubnetIds=[aws.demo.private_subnet_a_id]), 60) == 60


def test_paged_request_is_not_unfiltered(aws: AwsEnv, ec2: Any) -> None:
    aws.control.set_rate_limits(True)
    assert _until_throttled(lambda: ec2.describe_network_interfaces(MaxResults=1000), 80) == 80


def test_buckets_are_off_with_the_rate_limits(aws: AwsEnv, ec2: Any) -> None:
    aws.control.set_rate_limits(False)
    assert _until_throttled(lambda: ec2.describe_network_interfaces(), 120) == 120


def _create_enis(aws: AwsEnv, n: int) -> set[str]:
    return {
        aws.ec2.create_network_interface(SubnetId=aws.demo.private_subnet_c_id, Description=f"bench {i}")[
            "NetworkInterface"
        ]["NetworkInterfaceId"]
        for i in range(n)
    }


def test_describe_network_interfaces_pages(aws: AwsEnv, ec2: Any) -> None:
    created = _create_enis(aws, 12)
    subnet = [{"Name": "subnet-id", "Values": [aws.demo.private_subnet_c_id]}]
    first = ec2.describe_network_interfaces(Filters=subnet, MaxResults=5)
    assert len(first["NetworkInterfaces"]) == 5 and first["NextToken"]
    seen = [i["NetworkInterfaceId"] for i in first["NetworkInterfaces"]]
    token = first["NextToken"]
    while token:
        page = ec2.describe_network_interfaces(Filters=subnet, MaxResults=5, NextToken=token)
        seen += [i["NetworkInterfaceId"] for i in page["NetworkInterfaces"]]
        token = page.get("NextToken")
    assert len(seen) == len(set(seen)) == 12 and set(seen) == created
    paginated = ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=subnet, PaginationConfig={"PageSize": 5}
    )
    assert sum(len(p["NetworkInterfaces"]) for p in paginated) == 12


def test_without_max_results_everything_comes_at_once(aws: AwsEnv, ec2: Any) -> None:
    _create_enis(aws, 7)
    answer = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [aws.demo.private_subnet_c_id]}])
    assert len(answer["NetworkInterfaces"]) == 7 and "NextToken" not in answer


@pytest.mark.parametrize("max_results", [4, 1001])
def test_max_results_outside_5_to_1000_is_refused(aws: AwsEnv, ec2: Any, max_results: int) -> None:
    raw = client("ec2", aws.endpoint_url, parameter_validation=False, retries={"total_max_attempts": 1})
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        raw.describe_network_interfaces(MaxResults=max_results)
    assert error_of(excinfo)[:2] == ("InvalidParameterValue", 400)


def test_max_results_with_ids_is_refused(aws: AwsEnv, ec2: Any) -> None:
    eni = next(iter(_create_enis(aws, 1)))
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.describe_network_interfaces(NetworkInterfaceIds=[eni], MaxResults=5)
    assert error_of(excinfo)[:2] == ("InvalidParameterCombination", 400)


def test_a_token_not_ours_is_refused(aws: AwsEnv, ec2: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        ec2.describe_network_interfaces(MaxResults=5, NextToken="not-a-token")
    assert error_of(excinfo)[:2] == ("InvalidParameterValue", 400)
