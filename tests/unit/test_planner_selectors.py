"""planner.selectors: what a tag selector stands for, and its errors."""

from __future__ import annotations

from lambda_vpc_operator.models.networks import SecurityGroupFacts, SubnetFacts
from lambda_vpc_operator.models.routes import RouteFacts, RouteTableFacts, VpcRoutes
from lambda_vpc_operator.planner import selectors
from lambda_vpc_operator.planner.plans import Outcome

TAGS = {"tier": "private"}


def subnet(subnet_id: str, zone: str = "a", free: int = 100, vpc: str = "vpc-1") -> SubnetFacts:
    return SubnetFacts(subnet_id, vpc, f"eu-west-1{zone}", free)


def test_all_matching_subnets_sorted() -> None:
    picked = selectors.select_subnets([subnet("subnet-b"), subnet("subnet-a")], TAGS, vpc_id=None, one_per_zone=False)
    assert picked.ids == ("subnet-a", "subnet-b") and picked.problem is None
    assert picked.vpc_ids == {"vpc-1"}


def test_one_per_zone_keeps_the_most_free_addresses() -> None:
    found = [subnet("subnet-a", "a", 10), subnet("subnet-b", "a", 200), subnet("subnet-c", "b", 5),
             subnet("subnet-d", "b", 5)]  # fmt: skip
    picked = selectors.select_subnets(found, TAGS, vpc_id=None, one_per_zone=True)
    assert picked.ids == ("subnet-b", "subnet-c")  # a tie goes to the smallest id: a stable choice


def test_nothing_matched_names_the_selector() -> None:
    picked = selectors.select_subnets([], TAGS, vpc_id="vpc-9", one_per_zone=False)
    assert picked.problem is not None and picked.problem.reason == selectors.SELECTOR_MATCHES_NOTHING
    assert "spec.subnetSelector (tier=private) in vpc-9" in picked.problem.message


def test_too_many_subnets_and_groups() -> None:
    many = [subnet(f"subnet-{i:02d}") for i in range(17)]
    too_broad = selectors.select_subnets(many, TAGS, vpc_id=None, one_per_zone=False).problem
    assert too_broad is not None and too_broad.reason == selectors.SELECTOR_TOO_BROAD
    assert "17 subnets" in too_broad.message
    # One per zone narrows them to one: no longer too broad.
    assert selectors.select_subnets(many, TAGS, vpc_id=None, one_per_zone=True).ids == ("subnet-00",)
    groups = [SecurityGroupFacts(f"sg-{i}", "vpc-1") for i in range(6)]
    problem = selectors.select_groups(groups, TAGS, vpc_id=None).problem
    assert problem is not None and problem.reason == selectors.SELECTOR_TOO_BROAD
    assert problem.field == selectors.GROUP_SELECTOR
    assert selectors.select_groups(groups[:5], TAGS, vpc_id=None).ids == tuple(f"sg-{i}" for i in range(5))


def test_mixed_vpcs() -> None:
    picked = selectors.select_subnets([subnet("subnet-a"), subnet("subnet-b", vpc="vpc-2")], TAGS, vpc_id=None,
                                      one_per_zone=False)  # fmt: skip
    assert picked.problem is not None and picked.problem.reason == "MixedVpcs"
    assert "vpc-1, vpc-2" in picked.problem.message and "spec.subnetSelector.vpcId" in picked.problem.message
    ok = selectors.select_subnets([subnet("subnet-a")], TAGS, vpc_id=None, one_per_zone=False)
    other = selectors.select_groups([SecurityGroupFacts("sg-1", "vpc-2")], TAGS, vpc_id=None)
    both = selectors.both_in_one_vpc(ok, other)
    assert both is not None and both.reason == "MixedVpcs"


def test_internet_access_keeps_nat_routed_subnets_only() -> None:
    nat = RouteTableFacts("rtb-nat", "vpc-1", False, frozenset({"subnet-a"}),
                          (RouteFacts("0.0.0.0/0", "nat-1", True),))  # fmt: skip
    igw = RouteTableFacts("rtb-igw", "vpc-1", True, frozenset(), (RouteFacts("0.0.0.0/0", "igw-1", True),))
    routes = {"vpc-1": VpcRoutes("vpc-1", (nat, igw))}
    found = [subnet("subnet-a"), subnet("subnet-b", "b")]
    assert selectors.select_subnets(found, TAGS, vpc_id=None, one_per_zone=False, routes=routes).ids == ("subnet-a",)
    none = selectors.select_subnets(found[1:], TAGS, vpc_id=None, one_per_zone=False, routes=routes).problem
    assert none is not None and none.reason == selectors.SELECTOR_MATCHES_NOTHING
    assert "requireInternetAccess" in none.message


def test_changes_are_an_event_listing_added_and_removed() -> None:
    assert selectors.changed("subnet", None, ("subnet-a",)) is None  # the first resolution
    assert selectors.changed("subnet", ["subnet-a"], ("subnet-a",)) is None
    event = selectors.changed("subnet", ["subnet-a", "subnet-b"], ("subnet-a", "subnet-c"))
    assert event is not None and event.reason == selectors.SELECTION_CHANGED
    assert "added subnet-c" in event.message and "removed subnet-b" in event.message


def test_unresolved_stalls_or_waits() -> None:
    problem = selectors.select_subnets([], TAGS, vpc_id=None, one_per_zone=False).problem
    plan = selectors.plan_unresolved(problem, None, (), 0)
    assert plan.outcome == Outcome.STALLED and plan.action is None
    assert plan.conditions is not None and {c.reason for c in plan.conditions} == {selectors.SELECTOR_MATCHES_NOTHING}
    assert [e.reason for e in plan.events] == ["Stalled"]
    waiting = selectors.plan_unresolved(None, None, (), 0)
    assert waiting.outcome == Outcome.WAIT and waiting.conditions is None and waiting.requeue_after
