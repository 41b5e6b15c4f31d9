"""aws.enis: one filtered DescribeNetworkInterfaces per VPC, shared, mapped by subnet + exact groups."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from clocks import VirtualClock

from lambda_vpc_operator.aws import clients, errors, metrics
from lambda_vpc_operator.aws import enis as aws_enis
from lambda_vpc_operator.models import enis as models_interfaces
from lambda_vpc_operator.models.failures import FailureKind

REGION = "eu-west-1"
VPC = "vpc-1"


@pytest.fixture
def stub(aws_clients: clients.AwsClients) -> Iterator[Stubber]:
    with Stubber(aws_clients.ec2()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(100.0)


@pytest.fixture
def enis(aws_clients: clients.AwsClients, clock: VirtualClock) -> aws_enis.Interfaces:
    return aws_enis.Interfaces(aws_clients, clock=clock)


def eni(eni_id: str, subnet: str, groups: list[str], status: str = "in-use", **fields: Any) -> dict[str, Any]:
    return {
        "NetworkInterfaceId": eni_id,
        "SubnetId": subnet,
        "VpcId": VPC,
        "AvailabilityZone": "eu-west-1a",
        "Status": status,
        "PrivateIpAddress": "10.0.1.7",
        "Groups": [{"GroupId": g, "GroupName": f"name-{g}"} for g in groups],
        "InterfaceType": "lambda",
        "Description": "AWS Lambda VPC ENI-someone-else-entirely",  # never used to map
        **fields,
    }


def expected(vpc_id: str = VPC) -> dict[str, Any]:
    """Always filtered by interface type and VPC (aws-facts: unfiltered calls have a small bucket)."""
    return {
        "Filters": [
            {"Name": "interface-type", "Values": ["lambda"]},
            {"Name": "vpc-id", "Values": [vpc_id]},
        ],
        "MaxResults": aws_enis.PAGE_SIZE,
    }


async def test_one_filtered_request_reads_the_vpcs_lambda_enis(enis: aws_enis.Interfaces, stub: Stubber) -> None:
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [
        eni("eni-1", "subnet-a", ["sg-1", "sg-2"]),
        {k: v for k, v in eni("eni-2", "subnet-b", ["sg-1"], status="attaching").items() if k != "PrivateIpAddress"},
    ]}, expected())  # fmt: skip
    found = await enis.in_vpc(REGION, VPC)
    assert [(e.interface_id, e.subnet_id, e.status, e.group_ids) for e in found] == [
        ("eni-1", "subnet-a", "in-use", frozenset({"sg-1", "sg-2"})),
        ("eni-2", "subnet-b", "attaching", frozenset({"sg-1"})),
    ]
    assert found[0].availability_zone == "eu-west-1a"
    assert found[0].private_ip_address == "10.0.1.7"
    assert found[1].private_ip_address is None
    assert found[0].vpc_id == VPC and found[0].interface_type == "lambda"


async def test_serving_maps_by_subnet_and_exact_group_set_never_by_description(
    enis: aws_enis.Interfaces, stub: Stubber
) -> None:
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [
        eni("eni-more", "subnet-a", ["sg-1", "sg-2", "sg-3"], Description="AWS Lambda VPC ENI-orders-1"),
        eni("eni-fewer", "subnet-b", ["sg-1"], Description="AWS Lambda VPC ENI-orders-2"),
        eni("eni-ours", "subnet-a", ["sg-2", "sg-1"]),
        eni("eni-elsewhere", "subnet-c", ["sg-1", "sg-2"]),
    ]}, expected())  # fmt: skip
    found = models_interfaces.interfaces_by_subnet(
        await enis.in_vpc(REGION, VPC), ["subnet-a", "subnet-b"], ["sg-1", "sg-2"]
    )
    assert {s: e.interface_id for s, e in found.items()} == {"subnet-a": "eni-ours"}


async def test_answers_are_shared_for_the_ttl(
    enis: aws_enis.Interfaces, stub: Stubber, clock: VirtualClock, calls: metrics.CallCounter
) -> None:
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [eni("eni-1", "subnet-a", ["sg-1"])]},
                      expected())  # fmt: skip
    first = await enis.in_vpc(REGION, VPC)
    clock.now += aws_enis.INTERFACES_TTL
    assert await enis.in_vpc(None, VPC) == first  # None: the default region, the same cache entry
    assert enis.age(REGION, VPC) == aws_enis.INTERFACES_TTL
    assert calls.total("ec2", "DescribeNetworkInterfaces") == 1
    clock.now += 0.1
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": []}, expected())
    assert await enis.in_vpc(REGION, VPC) == ()
    assert calls.total("ec2", "DescribeNetworkInterfaces") == 2


async def test_max_age_asks_for_a_fresher_answer(
    enis: aws_enis.Interfaces, stub: Stubber, clock: VirtualClock
) -> None:
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [
        eni("eni-1", "subnet-a", ["sg-1"], status="attaching")]}, expected())  # fmt: skip
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [
        eni("eni-1", "subnet-a", ["sg-1"], status="in-use")]}, expected())  # fmt: skip
    assert [e.status for e in await enis.in_vpc(REGION, VPC)] == ["attaching"]
    clock.now += 1.0
    assert [e.status for e in await enis.in_vpc(REGION, VPC, max_age=5.0)] == ["attaching"]
    assert [e.status for e in await enis.in_vpc(REGION, VPC, max_age=0.5)] == ["in-use"]


async def test_each_vpc_is_its_own_request(enis: aws_enis.Interfaces, stub: Stubber) -> None:
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": []}, expected("vpc-1"))
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": []}, expected("vpc-2"))
    await enis.in_vpc(REGION, "vpc-1")
    await enis.in_vpc(REGION, "vpc-2")
    assert enis.age(REGION, "vpc-3") is None


async def test_concurrent_askers_share_one_request(
    aws_clients: clients.AwsClients, clock: VirtualClock, calls: metrics.CallCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def slow_pages(client: Any, operation: str, /, **params: Any) -> list[dict[str, Any]]:
        sent.append(params)
        started.set()
        await release.wait()
        return [{"NetworkInterfaces": [eni("eni-1", "subnet-a", ["sg-1"])]}]

    monkeypatch.setattr(aws_enis.calling, "call_pages", slow_pages)
    shared = aws_enis.Interfaces(aws_clients, clock=clock)
    askers = [asyncio.create_task(shared.in_vpc(REGION, VPC)) for _ in range(5)]
    await started.wait()
    askers[0].cancel()  # one caller giving up does not cancel the request of the others
    release.set()
    results = await asyncio.gather(*askers[1:])
    assert len(sent) == 1
    assert {r[0].interface_id for r in results} == {"eni-1"}


async def test_errors_are_translated_and_nothing_is_cached(enis: aws_enis.Interfaces, stub: Stubber) -> None:
    stub.add_client_error("describe_network_interfaces", "UnauthorizedOperation", "not allowed", 403,
                          expected_params=expected())  # fmt: skip
    with pytest.raises(errors.AwsError) as excinfo:
        await enis.in_vpc(REGION, VPC)
    assert excinfo.value.failure.kind == FailureKind.ACCESS_DENIED
    assert enis.age(REGION, VPC) is None
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": []}, expected())
    assert await enis.in_vpc(REGION, VPC) == ()


async def test_pages_are_followed(enis: aws_enis.Interfaces, stub: Stubber, calls: metrics.CallCounter) -> None:
    stub.add_response("describe_network_interfaces", {
        "NetworkInterfaces": [eni("eni-1", "subnet-a", ["sg-1"])], "NextToken": "t"}, expected())  # fmt: skip
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": [eni("eni-2", "subnet-b", ["sg-1"])]},
                      {**expected(), "NextToken": "t"})  # fmt: skip
    assert [e.interface_id for e in await enis.in_vpc(REGION, VPC)] == ["eni-1", "eni-2"]
    assert calls.total("ec2", "DescribeNetworkInterfaces") == 2
