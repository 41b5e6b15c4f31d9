"""aws.selections against moto in-process: tag filters, the "*" wildcard, the shared cache."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from lambda_vpc_operator.aws import AwsGateway, metrics, selections

REGION = "eu-west-1"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


@pytest.fixture
def gateway(session: boto3.Session) -> Iterator[AwsGateway]:
    metrics.calls.reset()
    yield AwsGateway.create(REGION, session=session)
    metrics.calls.reset()


def test_filters() -> None:
    assert selections.tag_filters({"tier": "private", "a": "*", "b": "*"}, "vpc-1") == [
        {"Name": "vpc-id", "Values": ["vpc-1"]},
        {"Name": "tag:tier", "Values": ["private"]},
        {"Name": "tag-key", "Values": ["a"]},
    ]
    item = {"Tags": [{"Key": "a", "Value": "x"}, {"Key": "tier", "Value": "private"}]}
    assert selections.has_tags(item, {"tier": "private", "a": "*"})
    assert not selections.has_tags(item, {"tier": "private", "b": "*"})


async def test_subnets_and_groups_by_tag(session: boto3.Session, gateway: AwsGateway) -> None:
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    wanted = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="g", Description="d", VpcId=vpc)["GroupId"]
    tags = [{"Key": "tier", "Value": "private"}, {"Key": "team", "Value": "x"}]
    ec2.create_tags(Resources=[wanted, group], Tags=tags)
    ec2.create_tags(Resources=[other], Tags=[{"Key": "tier", "Value": "public"}])

    found = await gateway.selections.subnets(REGION, vpc, {"tier": "private", "team": "*"})
    assert [s.subnet_id for s in found] == [wanted]
    groups = await gateway.selections.groups(REGION, None, {"team": "*"})
    assert [g.group_id for g in groups] == [group]
    # Shared: asking again within the TTL costs nothing; the preflight finds the facts cached.
    before = metrics.calls.total()
    await gateway.selections.subnets(REGION, vpc, {"tier": "private", "team": "*"})
    facts = await gateway.networks.describe(REGION, [wanted], [group])
    assert set(facts.subnets) == {wanted} and set(facts.security_groups) == {group}
    assert metrics.calls.total("ec2", "DescribeSubnets") == 1
    assert metrics.calls.total() - before == 1  # only the VPC, never read before
