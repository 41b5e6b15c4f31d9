"""The guardrails' AWS reads: SimulatePrincipalPolicy per role (cached), route tables per VPC, the account."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from clocks import VirtualClock

from lambda_vpc_operator.aws import clients, errors, identities, metrics, roles, routes
from lambda_vpc_operator.models.permissions import ENI_ACTIONS, EvalDecision

ROLE = "arn:aws:iam::123456789012:role/orders-exec"
REGION = "eu-west-1"


@pytest.fixture(autouse=True)
def calls() -> Iterator[metrics.CallCounter]:
    metrics.calls.reset()
    yield metrics.calls
    metrics.calls.reset()


@pytest.fixture(scope="module")
def session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


@pytest.fixture
def aws_clients(session: boto3.Session) -> clients.AwsClients:
    return clients.AwsClients(REGION, session=session)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def results(**decisions: str) -> list[dict[str, Any]]:
    return [{"EvalActionName": a, "EvalDecision": d, "EvalResourceName": "*"} for a, d in decisions.items()]


def simulate_params(actions: tuple[str, ...] = ENI_ACTIONS, **extra: Any) -> dict[str, Any]:
    return {"PolicySourceArn": ROLE, "ActionNames": sorted(actions), **extra}


# --- roles --------------------------------------------------------------------------------------


@pytest.fixture
def iam(aws_clients: clients.AwsClients) -> Iterator[Stubber]:
    with Stubber(aws_clients.iam()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


async def test_every_page_is_read(aws_clients: clients.AwsClients, iam: Stubber, clock: VirtualClock) -> None:
    iam.add_response("simulate_principal_policy", {
        "EvaluationResults": results(**{"ec2:CreateNetworkInterface": "allowed"}), "IsTruncated": True, "Marker": "1",
    }, simulate_params())  # fmt: skip
    iam.add_response("simulate_principal_policy", {
        "EvaluationResults": results(**{"ec2:DeleteNetworkInterface": "explicitDeny",
                                        "ec2:DescribeNetworkInterfaces": "implicitDeny"}),
        "IsTruncated": False,
    }, simulate_params(Marker="1"))  # fmt: skip
    answer = await roles.Roles(aws_clients, clock=clock).permissions(ROLE)
    assert answer.checked
    assert answer.missing() == {
        "ec2:DescribeNetworkInterfaces": EvalDecision.IMPLICIT_DENY,
        "ec2:DeleteNetworkInterface": EvalDecision.EXPLICIT_DENY,
    }


async def test_one_request_per_role_while_cached(
    aws_clients: clients.AwsClients, iam: Stubber, clock: VirtualClock, calls: metrics.CallCounter
) -> None:
    allowed = {"EvaluationResults": results(**dict.fromkeys(ENI_ACTIONS, "allowed")), "IsTruncated": False}
    iam.add_response("simulate_principal_policy", allowed, simulate_params())
    iam.add_response("simulate_principal_policy", allowed, simulate_params())
    checker = roles.Roles(aws_clients, clock=clock)
    # Thousands of attachments share a role: concurrent questions share one request.
    answers = await asyncio.gather(*(checker.permissions(ROLE) for _ in range(20)))
    assert all(a.missing() == {} for a in answers)
    clock.now += roles.ALLOWED_TTL - 1
    await checker.permissions(ROLE)
    assert calls.total("iam", "SimulatePrincipalPolicy") == 1
    clock.now += 2
    await checker.permissions(ROLE)
    assert calls.total("iam", "SimulatePrincipalPolicy") == 2


async def test_a_role_missing_permissions_is_asked_again_sooner(
    aws_clients: clients.AwsClients, iam: Stubber, clock: VirtualClock, calls: metrics.CallCounter
) -> None:
    denied = {"EvaluationResults": results(**dict.fromkeys(ENI_ACTIONS, "implicitDeny")), "IsTruncated": False}
    iam.add_response("simulate_principal_policy", denied, simulate_params())
    iam.add_response("simulate_principal_policy", denied, simulate_params())
    checker = roles.Roles(aws_clients, clock=clock)
    await checker.permissions(ROLE)
    clock.now += roles.DENIED_TTL + 1
    await checker.permissions(ROLE)
    assert calls.total("iam", "SimulatePrincipalPolicy") == 2


async def test_access_denied_means_not_checked(
    aws_clients: clients.AwsClients, iam: Stubber, clock: VirtualClock
) -> None:
    iam.add_client_error("simulate_principal_policy", "AccessDenied", "not authorized", 403)
    answer = await roles.Roles(aws_clients, clock=clock).permissions(ROLE)
    assert not answer.checked and "AccessDenied" in answer.error


async def test_a_role_that_does_not_exist_misses_everything(
    aws_clients: clients.AwsClients, iam: Stubber, clock: VirtualClock
) -> None:
    iam.add_client_error("simulate_principal_policy", "NoSuchEntity", "cannot be found", 404)
    answer = await roles.Roles(aws_clients, clock=clock).permissions(ROLE)
    assert answer.checked and set(answer.missing()) == set(ENI_ACTIONS) and "does not exist" in answer.error


async def test_iam_failing_means_unknown_and_is_asked_again_soon(
    aws_clients: clients.AwsClients, iam: Stubber, clock: VirtualClock, calls: metrics.CallCounter
) -> None:
    """IAM down, or an endpoint without IAM (plain moto's HTML 500): the check is unknown, not a failure."""
    iam.add_client_error("simulate_principal_policy", "InternalFailure", "down", 500)
    iam.add_client_error("simulate_principal_policy", "InternalFailure", "down", 500)
    checker = roles.Roles(aws_clients, clock=clock)
    answer = await checker.permissions(ROLE)
    assert not answer.checked and "InternalFailure" in answer.error
    await checker.permissions(ROLE)
    assert calls.total("iam", "SimulatePrincipalPolicy") == 1
    clock.now += roles.DENIED_TTL + 1
    await checker.permissions(ROLE)
    assert calls.total("iam", "SimulatePrincipalPolicy") == 2


async def test_transient_errors_are_raised(aws_clients: clients.AwsClients, iam: Stubber, clock: VirtualClock) -> None:
    iam.add_client_error("simulate_principal_policy", "Throttling", "slow down", 400)
    with pytest.raises(errors.Throttled):
        await roles.Roles(aws_clients, clock=clock).permissions(ROLE)


# --- route tables -------------------------------------------------------------------------------


@pytest.fixture
def ec2(aws_clients: clients.AwsClients) -> Iterator[Stubber]:
    with Stubber(aws_clients.ec2(REGION)) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


TABLES = {
    "RouteTables": [
        {
            "RouteTableId": "rtb-main",
            "VpcId": "vpc-1",
            "Associations": [{"Main": True, "RouteTableId": "rtb-main"}],
            "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}],
        },
        {
            "RouteTableId": "rtb-private",
            "VpcId": "vpc-1",
            "Associations": [{"Main": False, "SubnetId": "subnet-a"}, {"Main": False, "SubnetId": "subnet-b"}],
            "Routes": [
                {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"},
                {"DestinationPrefixListId": "pl-1", "GatewayId": "vpce-1", "State": "active"},
                {"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-1", "State": "blackhole"},
            ],
        },
    ]
}


async def test_route_tables_of_a_vpc(aws_clients: clients.AwsClients, ec2: Stubber, clock: VirtualClock) -> None:
    ec2.add_response("describe_route_tables", TABLES, {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}]})
    found = await routes.RouteTables(aws_clients, clock=clock).of_vpcs(REGION, ["vpc-1"])
    vpc = found["vpc-1"]
    assert [t.route_table_id for t in vpc.tables] == ["rtb-main", "rtb-private"]
    private_a = vpc.table_of("subnet-a")
    assert private_a is not None and private_a.internet_route is not None
    assert private_a.internet_route.describe() == "NAT gateway nat-1"
    main = vpc.table_of("subnet-c")
    assert main is not None and main.main and main.internet_route is None
    private = vpc.table_of("subnet-b")
    assert private is not None
    assert {(r.destination, r.target, r.active) for r in private.routes} == {
        ("0.0.0.0/0", "nat-1", True), ("pl-1", "vpce-1", True), ("::/0", "eigw-1", False),
    }  # fmt: skip


async def test_route_tables_are_cached_per_vpc(
    aws_clients: clients.AwsClients, ec2: Stubber, clock: VirtualClock, calls: metrics.CallCounter
) -> None:
    ec2.add_response("describe_route_tables", TABLES, {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}]})
    ec2.add_response("describe_route_tables", {"RouteTables": []},
                     {"Filters": [{"Name": "vpc-id", "Values": ["vpc-2"]}]})  # fmt: skip
    ec2.add_response("describe_route_tables", TABLES, {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}]})
    tables = routes.RouteTables(aws_clients, clock=clock)
    await tables.of_vpcs(REGION, ["vpc-1"])
    both = await tables.of_vpcs(REGION, ["vpc-1", "vpc-2"])  # only vpc-2 is asked for
    assert both["vpc-2"].tables == ()
    await tables.of_vpcs(REGION, ["vpc-1"], refresh=True)  # a new generation asks again
    assert calls.total("ec2", "DescribeRouteTables") == 3


# --- the account --------------------------------------------------------------------------------


async def test_account_is_asked_once(aws_clients: clients.AwsClients, clock: VirtualClock) -> None:
    with Stubber(aws_clients.sts()) as sts:
        sts.add_response("get_caller_identity", {"Account": "123456789012"}, {})
        identity = identities.Identity(aws_clients, clock=clock)
        assert identity.known is None
        assert await identity.account_id() == "123456789012"
        assert await identity.account_id() == "123456789012"
        assert identity.known == "123456789012"
        sts.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("arn", "partition"),
    [
        pytest.param("arn:aws-cn:sts::123456789012:assumed-role/operator/pod", "aws-cn", id="aws-cn"),
        pytest.param("arn:aws-us-gov:iam::123456789012:user/operator", "aws-us-gov", id="aws-us-gov"),
        pytest.param("arn:aws:sts::123456789012:assumed-role/operator/pod", "aws", id="aws"),
    ],
)
async def test_partition_comes_from_the_callers_arn(
    aws_clients: clients.AwsClients, clock: VirtualClock, arn: str, partition: str
) -> None:
    with Stubber(aws_clients.sts()) as sts:
        sts.add_response("get_caller_identity", {"Account": "123456789012", "UserId": "AIDAEXAMPLE", "Arn": arn}, {})
        identity = identities.Identity(aws_clients, clock=clock)
        assert identity.partition is None
        await identity.account_id()
        assert identity.partition == partition


async def test_account_failure_is_retried_later(aws_clients: clients.AwsClients, clock: VirtualClock) -> None:
    with Stubber(aws_clients.sts()) as sts:
        sts.add_client_error("get_caller_identity", "ServiceUnavailable", "down", 503)
        sts.add_response("get_caller_identity", {"Account": "123456789012"}, {})
        identity = identities.Identity(aws_clients, clock=clock)
        assert await identity.account_id() is None
        assert await identity.account_id() is None  # not asked again at once
        clock.now += identities.RETRY_AFTER
        assert await identity.account_id() == "123456789012"
        sts.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("route", "target"),
    [
        pytest.param({"TransitGatewayId": "tgw-1"}, "tgw-1", id="transit-gateway"),
        pytest.param({"GatewayId": "vpce-1"}, "vpce-1", id="gwlb-endpoint"),
        pytest.param({"InstanceId": "i-1", "InstanceOwnerId": "123456789012", "NetworkInterfaceId": "eni-1"}, "i-1",
                     id="nat-instance"),
        pytest.param({"NetworkInterfaceId": "eni-1"}, "eni-1", id="appliance-interface"),
        pytest.param({"CoreNetworkArn": "arn:aws:networkmanager::123456789012:core-network/core-network-1"},
                     "arn:aws:networkmanager::123456789012:core-network/core-network-1", id="cloud-wan"),
    ],
)  # fmt: skip
async def test_every_default_route_target_is_read(
    aws_clients: clients.AwsClients, ec2: Stubber, clock: VirtualClock, route: dict[str, str], target: str
) -> None:
    """botocore ec2 model, Route: the target is in one of several members; a NAT instance's route has two."""
    default = {"DestinationCidrBlock": "0.0.0.0/0", "State": "active", **route}
    answer = {"RouteTables": [{"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Associations": [{"Main": True}],
                               "Routes": [default]}]}  # fmt: skip
    ec2.add_response("describe_route_tables", answer, {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}]})
    found = await routes.RouteTables(aws_clients, clock=clock).of_vpcs(REGION, ["vpc-1"])
    table = found["vpc-1"].table_of("subnet-a")
    assert table is not None and table.internet_route is not None and table.internet_route.target == target
