"""Networks.describe: filtered Describe* calls only, mapped to models.networks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from clocks import VirtualClock

from lambda_vpc_operator.aws import budgets, clients, errors, metrics, networks
from lambda_vpc_operator.models.networks import Tenancy

REGION = "eu-west-1"


@pytest.fixture
def stub(aws_clients: clients.AwsClients) -> Iterator[Stubber]:
    with Stubber(aws_clients.ec2()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def ec2_networks(aws_clients: clients.AwsClients) -> networks.Networks:
    return networks.Networks(aws_clients)


def subnet(subnet_id: str, vpc_id: str = "vpc-1", **fields: Any) -> dict[str, Any]:
    return {
        "SubnetId": subnet_id,
        "VpcId": vpc_id,
        "AvailabilityZone": "eu-west-1a",
        "AvailableIpAddressCount": 250,
        "CidrBlock": "10.0.1.0/24",
        **fields,
    }


def group(group_id: str, vpc_id: str = "vpc-1") -> dict[str, Any]:
    return {"GroupId": group_id, "VpcId": vpc_id, "GroupName": f"name-of-{group_id}"}


def vpc(vpc_id: str, tenancy: str = "default") -> dict[str, Any]:
    return {"VpcId": vpc_id, "InstanceTenancy": tenancy}


def by_filter(name: str, *values: str) -> dict[str, Any]:
    return {"Filters": [{"Name": name, "Values": list(values)}]}


async def test_describe_filters_instead_of_naming_ids(ec2_networks: networks.Networks, stub: Stubber) -> None:
    # Stubber compares the whole request: SubnetIds / GroupIds / VpcIds would fail it.
    stub.add_response(
        "describe_subnets", {"Subnets": [subnet("subnet-a")]}, by_filter("subnet-id", "subnet-a", "subnet-b")
    )
    stub.add_response("describe_security_groups", {"SecurityGroups": [group("sg-1")]}, by_filter("group-id", "sg-1"))
    stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-1")]}, by_filter("vpc-id", "vpc-1"))
    await ec2_networks.describe(REGION, ["subnet-b", "subnet-a"], ["sg-1"])


async def test_unknown_ids_are_absent(ec2_networks: networks.Networks, stub: Stubber) -> None:
    stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-a")]})
    stub.add_response("describe_security_groups", {"SecurityGroups": []})
    stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-1")]})
    facts = await ec2_networks.describe(REGION, ["subnet-a", "subnet-gone"], ["sg-gone"])
    assert set(facts.subnets) == {"subnet-a"}
    assert facts.security_groups == {}


async def test_subnet_facts_are_mapped(ec2_networks: networks.Networks, stub: Stubber) -> None:
    ipv6 = [
        {"Ipv6CidrBlock": "2001:db8::/64", "Ipv6CidrBlockState": {"State": "associated"}},
        {"Ipv6CidrBlock": "2001:db8:1::/64", "Ipv6CidrBlockState": {"State": "disassociated"}},
    ]
    answer = subnet("subnet-a", AvailableIpAddressCount=3, Ipv6CidrBlockAssociationSet=ipv6)
    stub.add_response("describe_subnets", {"Subnets": [answer]})
    stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-1")]})
    facts = await ec2_networks.describe(REGION, ["subnet-a"], [])
    [subnet_facts] = facts.subnets.values()
    assert subnet_facts.available_ip_addresses == 3
    assert subnet_facts.availability_zone == "eu-west-1a"
    assert subnet_facts.ipv4_cidr == "10.0.1.0/24"
    assert subnet_facts.ipv6_cidrs == ("2001:db8::/64",)
    assert subnet_facts.dual_stack


@pytest.mark.parametrize(
    ("fields", "dual_stack"),
    [
        pytest.param({}, False, id="ipv4-only"),
        pytest.param(
            {
                "Ipv6CidrBlockAssociationSet": [
                    {"Ipv6CidrBlock": "2001:db8::/64", "Ipv6CidrBlockState": {"State": "associated"}}
                ]
            },
            True,
            id="dual-stack",
        ),
        pytest.param(
            {
                "CidrBlock": "",
                "Ipv6Native": True,
                "Ipv6CidrBlockAssociationSet": [
                    {"Ipv6CidrBlock": "2001:db8::/64", "Ipv6CidrBlockState": {"State": "associated"}}
                ],
            },
            False,
            id="ipv6-only",
        ),
    ],
)
async def test_dual_stack_needs_both_families(
    ec2_networks: networks.Networks, stub: Stubber, fields: dict[str, Any], dual_stack: bool
) -> None:
    stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-a", **fields)]})
    stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-1")]})
    facts = await ec2_networks.describe(REGION, ["subnet-a"], [])
    assert facts.subnets["subnet-a"].dual_stack is dual_stack


@pytest.mark.parametrize("tenancy", [pytest.param(t, id=t.value) for t in Tenancy])
async def test_vpc_tenancy_is_mapped(ec2_networks: networks.Networks, stub: Stubber, tenancy: Tenancy) -> None:
    stub.add_response("describe_security_groups", {"SecurityGroups": [group("sg-1", "vpc-9")]})
    stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-9", tenancy.value)]})
    facts = await ec2_networks.describe(REGION, [], ["sg-1"])
    assert facts.vpcs["vpc-9"].tenancy == tenancy


async def test_vpcs_of_subnets_and_groups_are_read_together(ec2_networks: networks.Networks, stub: Stubber) -> None:
    stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-a", "vpc-1")]})
    stub.add_response("describe_security_groups", {"SecurityGroups": [group("sg-1", "vpc-2")]})
    stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-1"), vpc("vpc-2")]}, by_filter("vpc-id", "vpc-1", "vpc-2"))
    facts = await ec2_networks.describe(REGION, ["subnet-a"], ["sg-1"])
    assert set(facts.vpcs) == {"vpc-1", "vpc-2"}
    assert facts.security_groups["sg-1"].group_name == "name-of-sg-1"


async def test_nothing_named_sends_nothing(ec2_networks: networks.Networks, stub: Stubber) -> None:
    # An empty filter must never become an unfiltered Describe*: the Stubber fails any request.
    facts = await ec2_networks.describe(REGION, [], [])
    assert (facts.subnets, facts.security_groups, facts.vpcs) == ({}, {}, {})


async def test_pages_are_followed_and_counted(
    ec2_networks: networks.Networks, stub: Stubber, calls: metrics.CallCounter
) -> None:
    filters = by_filter("subnet-id", "subnet-a", "subnet-b")
    stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-a")], "NextToken": "t1"}, filters)
    stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-b")]}, {**filters, "NextToken": "t1"})
    stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-1")]})
    facts = await ec2_networks.describe(REGION, ["subnet-a", "subnet-b"], [])
    assert set(facts.subnets) == {"subnet-a", "subnet-b"}
    assert calls.snapshot() == {
        ("ec2", "DescribeSubnets", metrics.SUCCESS): 2,
        ("ec2", "DescribeVpcs", metrics.SUCCESS): 1,
    }


async def test_ec2_throttle_is_translated(ec2_networks: networks.Networks, stub: Stubber) -> None:
    stub.add_client_error("describe_subnets", "RequestLimitExceeded", "Request limit exceeded.", 503)
    with pytest.raises(errors.Throttled):
        await ec2_networks.describe(REGION, ["subnet-a"], [])


def _stub_one_round(stub: Stubber, subnets: list[dict[str, Any]]) -> None:
    stub.add_response("describe_subnets", {"Subnets": subnets}, by_filter("subnet-id", "subnet-a", "subnet-x"))
    stub.add_response("describe_security_groups", {"SecurityGroups": [group("sg-1")]}, by_filter("group-id", "sg-1"))
    stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-1")]}, by_filter("vpc-id", "vpc-1"))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def cached_networks(aws_clients: clients.AwsClients, clock: VirtualClock) -> networks.Networks:
    return networks.Networks(aws_clients, ttl=60.0, clock=clock)


async def test_facts_are_served_from_the_cache_within_the_ttl(
    cached_networks: networks.Networks, stub: Stubber, clock: VirtualClock
) -> None:
    _stub_one_round(stub, [subnet("subnet-a")])
    first = await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"])
    clock.now += 59
    second = await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"])  # no stubbed answer left
    assert second == first
    assert "subnet-x" not in second.subnets  # the missing subnet is remembered as missing


async def test_facts_are_read_again_after_the_ttl(
    cached_networks: networks.Networks, stub: Stubber, clock: VirtualClock
) -> None:
    _stub_one_round(stub, [subnet("subnet-a")])
    _stub_one_round(stub, [subnet("subnet-a"), subnet("subnet-x")])
    await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"])
    clock.now += 61
    again = await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"])
    assert set(again.subnets) == {"subnet-a", "subnet-x"}


async def test_refresh_reads_facts_older_than_the_refresh_window(
    cached_networks: networks.Networks, stub: Stubber, clock: VirtualClock
) -> None:
    _stub_one_round(stub, [subnet("subnet-a")])
    _stub_one_round(stub, [subnet("subnet-a"), subnet("subnet-x")])
    await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"])
    clock.now += networks.REFRESH_WINDOW + 1
    fresh = await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"], refresh=True)
    assert "subnet-x" in fresh.subnets


async def test_each_round_of_describes_is_counted_with_why_the_cache_would_not_do(
    cached_networks: networks.Networks, stub: Stubber, clock: VirtualClock
) -> None:
    metrics.network_describes.reset()
    for _ in range(3):
        _stub_one_round(stub, [subnet("subnet-a")])
    await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"])  # new
    clock.now += networks.REFRESH_WINDOW - 1
    await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"], refresh=True)  # cached: none
    clock.now += 2
    await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"], refresh=True)  # refresh
    clock.now += 61
    await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"])  # expired
    stub.assert_no_pending_responses()
    assert metrics.network_describes.snapshot() == {"new": 1, "refresh": 1, "expired": 1}


async def test_looks_that_joined_a_slow_refresh_take_its_answer_however_long_it_took(
    aws_clients: clients.AwsClients, clock: VirtualClock
) -> None:
    """A refresh (a new generation) that waits longer than the refresh window for the describe in flight
    (EC2's budget or every worker thread busy) still takes its answer: one round for all, not one each."""
    release = asyncio.Event()
    rounds: list[str] = []

    class Slow(networks.Networks):
        async def _describe(self, region: Any, key: str, subnet_ids: Any, group_ids: Any, since: Any, **_: Any) -> Any:
            rounds.append(",".join(subnet_ids))
            await release.wait()
            self._subnets.store(key, subnet_ids, {}, 300.0)  # the subnets read first ...
            self._groups.store(key, group_ids, {}, 300.0)
            clock.now += 3 * networks.REFRESH_WINDOW  # ... then the rest of the round took long
            return None

    reader = Slow(aws_clients, clock=clock)
    looks = [asyncio.ensure_future(reader.describe(REGION, ["subnet-a"], ["sg-1"], refresh=True)) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*looks)
    assert rounds == ["subnet-a"]


async def test_refresh_shares_a_read_made_moments_ago(
    cached_networks: networks.Networks, stub: Stubber, clock: VirtualClock
) -> None:
    # A hundred attachments applied together: one read serves them all.
    _stub_one_round(stub, [subnet("subnet-a")])
    first = await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"], refresh=True)
    clock.now += networks.REFRESH_WINDOW - 1
    again = await cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"], refresh=True)
    assert again == first


async def test_a_slow_describe_does_not_hold_the_region_for_ever(aws_clients: clients.AwsClients) -> None:
    """One describe in flight makes the others wait for its answer, not for ever (networks.LOCK_WAIT)."""
    release = asyncio.Event()
    answered: list[str] = []

    class SlowFirst(networks.Networks):
        async def _describe(
            self, region: Any, key: str, subnet_ids: Any, group_ids: Any, refresh: bool, **_: Any
        ) -> Any:
            if not answered and not release.is_set():
                answered.append("slow")
                await release.wait()
            answered.append(",".join(subnet_ids))
            return None

    reader = SlowFirst(aws_clients, lock_wait=0.05)
    metrics.network_describes.reset()
    slow = asyncio.ensure_future(reader.describe("eu-west-1", ["subnet-1"], ["sg-1"]))
    await asyncio.sleep(0)
    await asyncio.wait_for(reader.describe("eu-west-1", ["subnet-1"], ["sg-1"]), 2.0)
    assert answered == ["slow", "subnet-1"]
    assert metrics.network_describes.snapshot() == {"gave-up-waiting": 1}
    release.set()
    await slow


async def test_looks_at_other_ids_never_wait_for_a_describe_in_flight(aws_clients: clients.AwsClients) -> None:
    """Three subnet sets among 5,000 new attachments: a look waited for the describe of another set,
    found its own ids still unread, joined the next, and sent its own after three (844 rounds where one
    per set per refresh window would do). Now looks wait only for a describe of their own ids."""
    release = asyncio.Event()
    asked: list[str] = []

    class HeldFirst(networks.Networks):
        async def _describe(self, region: Any, key: str, subnet_ids: Any, group_ids: Any, since: Any, **_: Any) -> Any:
            asked.append(",".join(subnet_ids))
            if len(asked) == 1:
                await release.wait()
            self._subnets.store(key, subnet_ids, {}, 300.0)
            self._groups.store(key, group_ids, {}, 300.0)
            return None

    reader = HeldFirst(aws_clients)
    held = asyncio.ensure_future(reader.describe(REGION, ["subnet-a"], ["sg-1"], refresh=True))
    await asyncio.sleep(0)
    same = [asyncio.ensure_future(reader.describe(REGION, ["subnet-a"], ["sg-1"], refresh=True)) for _ in range(20)]
    await asyncio.wait_for(reader.describe(REGION, ["subnet-b"], ["sg-1"], refresh=True), 1.0)  # not held
    assert asked == ["subnet-a", "subnet-b"]
    release.set()
    await asyncio.gather(held, *same)
    assert asked == ["subnet-a", "subnet-b"]  # the twenty took the held describe's answer


async def test_looks_waiting_for_a_describe_all_take_its_answer_without_asking_ec2(
    cached_networks: networks.Networks, stub: Stubber
) -> None:
    """Five hundred new attachments at once: one describe (one round of calls, all the stubber has);
    the others wait for it together and read its answer from the cache (networks.LOCK_WAIT)."""
    _stub_one_round(stub, [subnet("subnet-a")])
    answers = await asyncio.gather(*(
        cached_networks.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"], refresh=True) for _ in range(500)
    ))  # fmt: skip
    stub.assert_no_pending_responses()
    assert all(answer == answers[0] for answer in answers)
    assert set(answers[0].subnets) == {"subnet-a"}


async def test_a_failed_describe_fails_its_waiters_too_without_their_own_calls(
    cached_networks: networks.Networks, stub: Stubber
) -> None:
    # One throttle is every waiter's: none of them sends a describe of its own into the same bucket.
    stub.add_client_error("describe_subnets", "RequestLimitExceeded", "Request limit exceeded.", 503)
    outcomes = await asyncio.gather(
        *(cached_networks.describe(REGION, ["subnet-a"], ["sg-1"]) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(outcome, errors.Throttled) for outcome in outcomes)
    stub.assert_no_pending_responses()


async def test_each_describe_takes_an_ec2_token_and_a_throttle_pauses_every_ec2_reader(
    aws_clients: clients.AwsClients, stub: Stubber
) -> None:
    # aws-facts "EC2 request buckets and paging": RequestLimitExceeded, and no Retry-After to honour.
    known = networks.Networks(aws_clients)
    bucket = known.budgets.ec2(REGION)
    stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-a")]}, by_filter("subnet-id", "subnet-a"))
    stub.add_client_error("describe_vpcs", "RequestLimitExceeded", "Request limit exceeded.", 503,
                          expected_params=by_filter("vpc-id", "vpc-1"))  # fmt: skip
    with pytest.raises(errors.Throttled):
        await known.describe(REGION, ["subnet-a"], [])
    assert bucket.paused_for > 0  # the whole EC2 budget of the region waits, not just this caller
    assert not bucket.try_acquire()


@pytest.mark.parametrize("pages", [1, 2])
async def test_each_page_takes_a_token_and_the_last_one_none_more(
    aws_clients: clients.AwsClients, stub: Stubber, pages: int
) -> None:
    # An EC2 budget of three tokens (burst: 5 s worth at 0.6/s): a page is a request, an absent
    # NextToken means no further request, so no token is taken for one.
    known = networks.Networks(aws_clients, budgets=budgets.RequestBudgets(ec2_rate=0.6))
    bucket = known.budgets.ec2(REGION)
    first: dict[str, Any] = {"Subnets": [subnet("subnet-a")]}
    if pages == 2:
        first["NextToken"] = "page-2"
        stub.add_response("describe_subnets", first, by_filter("subnet-id", "subnet-a", "subnet-b"))
        stub.add_response("describe_subnets", {"Subnets": [subnet("subnet-b")]},
                          {**by_filter("subnet-id", "subnet-a", "subnet-b"), "NextToken": "page-2"})  # fmt: skip
    else:
        stub.add_response("describe_subnets", first, by_filter("subnet-id", "subnet-a", "subnet-b"))
    stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-1")]}, by_filter("vpc-id", "vpc-1"))
    facts = await known.describe(REGION, ["subnet-a", "subnet-b"], [])
    assert set(facts.subnets) == ({"subnet-a", "subnet-b"} if pages == 2 else {"subnet-a"})
    assert bucket.burst == pytest.approx(3)
    # The pages and one DescribeVpcs: the budget is spent exactly when three requests were sent.
    assert bucket.try_acquire() is (pages == 1)


async def test_a_cached_answer_never_waits_for_the_describe_in_flight(
    aws_clients: clients.AwsClients, stub: Stubber
) -> None:
    """Under load a describe in flight is slow: looks the cache can answer do not queue behind it (the
    5,000-attachment benchmark: waiting looks timed out and sent thousands of describes of their own)."""
    known = networks.Networks(aws_clients)
    _stub_one_round(stub, [subnet("subnet-a")])
    first = await known.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"])
    release = asyncio.Event()

    async def hung() -> Any:
        await release.wait()

    # A describe of other ids is in flight, and stays so.
    in_flight = asyncio.ensure_future(known._flights.run(REGION, hung, name="other ids"))
    await asyncio.sleep(0)
    try:
        again = await asyncio.wait_for(known.describe(REGION, ["subnet-a", "subnet-x"], ["sg-1"]), 0.5)
    finally:
        release.set()
        await in_flight
    assert again == first  # and no request: the Stubber has no answer left to give
