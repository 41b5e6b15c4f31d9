"""validate_network: every preflight error and warning, and silence when the network is fine."""

from __future__ import annotations

import dataclasses

import pytest

from lambda_vpc_operator.models.functions import DETACHED, VpcSettings
from lambda_vpc_operator.models.networks import NetworkFacts, SecurityGroupFacts, SubnetFacts, Tenancy, VpcFacts
from lambda_vpc_operator.planner.validation import LOW_FREE_ADDRESSES, Problem, Severity, errors_of, validate_network

DESIRED = VpcSettings.of(["subnet-a1", "subnet-b2"], ["sg-1"])


def subnet(subnet_id: str, *, vpc: str = "vpc-1", zone: str = "us-east-1a", free: int = 250,
           ipv6: tuple[str, ...] = ("2600:1f18::/64",)) -> SubnetFacts:  # fmt: skip
    return SubnetFacts(subnet_id, vpc, zone, free, ipv4_cidr="10.0.0.0/24", ipv6_cidrs=ipv6)


def facts(*subnets: SubnetFacts, groups: dict[str, str] | None = None,
          vpcs: dict[str, Tenancy] | None = None) -> NetworkFacts:  # fmt: skip
    subnets = subnets or (subnet("subnet-a1", zone="us-east-1a"), subnet("subnet-b2", zone="us-east-1b"))
    groups = groups if groups is not None else {"sg-1": "vpc-1"}
    vpcs = vpcs if vpcs is not None else {"vpc-1": Tenancy.DEFAULT}
    return NetworkFacts(
        subnets={s.subnet_id: s for s in subnets},
        security_groups={g: SecurityGroupFacts(g, vpc) for g, vpc in groups.items()},
        vpcs={v: VpcFacts(v, tenancy) for v, tenancy in vpcs.items()},
    )


def reasons(problems: list[Problem]) -> list[tuple[str, str, str]]:
    return [(p.severity.value, str(p.reason), p.field) for p in problems]


# --- all is well --------------------------------------------------------------------------------


def test_good_network_has_no_problems() -> None:
    assert validate_network(DESIRED, facts()) == []


def test_good_dual_stack_network_has_no_problems() -> None:
    desired = dataclasses.replace(DESIRED, ipv6_allowed_for_dual_stack=True)
    assert validate_network(desired, facts()) == []


def test_detached_needs_no_network_at_all() -> None:
    assert validate_network(DETACHED, NetworkFacts()) == []


# --- errors -------------------------------------------------------------------------------------


def test_missing_subnets_are_listed() -> None:
    desired = VpcSettings.of(["subnet-c3", "subnet-a1", "subnet-0f", "subnet-b2"], ["sg-1"])
    problems = validate_network(desired, facts())
    assert reasons(problems) == [("Error", "SubnetNotFound", "spec.subnetIds")]
    assert problems[0].message.startswith("spec.subnetIds: subnet(s) subnet-0f, subnet-c3 do not exist")


def test_missing_security_groups_are_listed() -> None:
    desired = VpcSettings.of(["subnet-a1", "subnet-b2"], ["sg-1", "sg-3", "sg-2"])
    problems = validate_network(desired, facts())
    assert reasons(problems) == [("Error", "SecurityGroupNotFound", "spec.securityGroupIds")]
    assert problems[0].message.startswith("spec.securityGroupIds: security group(s) sg-2, sg-3 do not exist")


def test_mixed_vpcs_list_the_ids_of_each_vpc() -> None:
    desired = VpcSettings.of(["subnet-a1", "subnet-b2", "subnet-c3"], ["sg-1", "sg-2"])
    network = facts(
        subnet("subnet-a1", zone="a"), subnet("subnet-b2", zone="b"), subnet("subnet-c3", vpc="vpc-2", zone="a"),
        groups={"sg-1": "vpc-1", "sg-2": "vpc-2"},
        vpcs={"vpc-1": Tenancy.DEFAULT, "vpc-2": Tenancy.DEFAULT},
    )  # fmt: skip
    problems = validate_network(desired, network)
    assert reasons(problems) == [("Error", "MixedVpcs", "spec.subnetIds")]
    assert "found vpc-1: sg-1, subnet-a1, subnet-b2; vpc-2: sg-2, subnet-c3;" in problems[0].message


def test_security_group_of_another_vpc_is_mixed() -> None:
    problems = validate_network(DESIRED, facts(groups={"sg-1": "vpc-9"}))
    assert reasons(problems) == [("Error", "MixedVpcs", "spec.subnetIds")]
    assert "vpc-1: subnet-a1, subnet-b2; vpc-9: sg-1" in problems[0].message


def test_dedicated_tenancy_is_refused() -> None:
    problems = validate_network(DESIRED, facts(vpcs={"vpc-1": Tenancy.DEDICATED}))
    assert reasons(problems) == [("Error", "DedicatedTenancy", "spec.subnetIds")]
    assert "VPC vpc-1 has dedicated instance tenancy" in problems[0].message


@pytest.mark.parametrize("tenancy", [Tenancy.DEFAULT, Tenancy.HOST], ids=str)
def test_other_tenancies_are_fine(tenancy: Tenancy) -> None:
    assert validate_network(DESIRED, facts(vpcs={"vpc-1": tenancy})) == []


def test_unknown_vpc_is_not_judged() -> None:
    assert validate_network(DESIRED, facts(vpcs={})) == []


def test_ipv6_needs_every_subnet_dual_stack() -> None:
    desired = VpcSettings.of(["subnet-a1", "subnet-b2", "subnet-c3"], ["sg-1"], ipv6_allowed_for_dual_stack=True)
    network = facts(
        subnet("subnet-a1", zone="a"), subnet("subnet-b2", zone="b", ipv6=()), subnet("subnet-c3", zone="c", ipv6=()),
    )  # fmt: skip
    problems = validate_network(desired, network)
    assert reasons(problems) == [("Error", "NotDualStack", "spec.ipv6AllowedForDualStack")]
    assert "but subnet-b2, subnet-c3 are not" in problems[0].message


def test_ipv6_only_subnet_is_not_dual_stack() -> None:
    desired = VpcSettings.of(["subnet-a1"], ["sg-1"], ipv6_allowed_for_dual_stack=True)
    ipv6_only = SubnetFacts("subnet-a1", "vpc-1", "a", 250, ipv4_cidr=None, ipv6_cidrs=("2600:1f18::/64",))
    ipv4 = subnet("subnet-b2", zone="b")
    problems = validate_network(desired, facts(ipv6_only, ipv4))
    assert ("Error", "NotDualStack", "spec.ipv6AllowedForDualStack") in reasons(problems)


def test_single_stack_subnets_are_fine_without_ipv6() -> None:
    network = facts(subnet("subnet-a1", zone="a", ipv6=()), subnet("subnet-b2", zone="b", ipv6=()))
    assert validate_network(DESIRED, network) == []


# --- warnings -----------------------------------------------------------------------------------


def test_single_availability_zone_is_a_warning() -> None:
    network = facts(subnet("subnet-a1", zone="us-east-1a"), subnet("subnet-b2", zone="us-east-1a"))
    problems = validate_network(DESIRED, network)
    assert reasons(problems) == [("Warning", "SingleAvailabilityZone", "spec.subnetIds")]
    assert "every subnet is in us-east-1a" in problems[0].message


@pytest.mark.parametrize(
    ("free", "warned"),
    [
        pytest.param(0, True, id="none"),
        pytest.param(LOW_FREE_ADDRESSES - 1, True, id="just-below"),
        pytest.param(LOW_FREE_ADDRESSES, False, id="at-threshold"),
        pytest.param(4000, False, id="plenty"),
    ],
)
def test_low_free_addresses_is_a_warning(free: int, warned: bool) -> None:
    network = facts(subnet("subnet-a1", zone="a", free=free), subnet("subnet-b2", zone="b"))
    problems = validate_network(DESIRED, network)
    expected = [("Warning", "LowFreeAddresses", "spec.subnetIds")] if warned else []
    assert reasons(problems) == expected
    if warned:
        assert "subnet subnet-a1 has fewer than 16 free IPv4 addresses" in problems[0].message


def test_the_warning_does_not_move_with_the_count() -> None:
    # It is repeated in NetworkReady's message: a moving count would rewrite status at every resync.
    networks = [facts(subnet("subnet-a1", zone="a", free=n), subnet("subnet-b2", zone="b")) for n in (0, 3, 15)]
    messages = {validate_network(DESIRED, network)[0].message for network in networks}
    assert len(messages) == 1


def test_every_low_subnet_gets_its_own_warning() -> None:
    network = facts(subnet("subnet-a1", zone="a", free=3), subnet("subnet-b2", zone="b", free=5))
    problems = validate_network(DESIRED, network)
    assert [p.message.split(" has fewer")[0] for p in problems] == [
        "spec.subnetIds: subnet subnet-a1",
        "spec.subnetIds: subnet subnet-b2",
    ]


# --- ordering and filtering ---------------------------------------------------------------------


def test_errors_come_before_warnings() -> None:
    network = facts(subnet("subnet-a1", zone="a", free=1), groups={})  # subnet-b2 and sg-1 missing
    problems = validate_network(DESIRED, network)
    assert reasons(problems) == [
        ("Error", "SubnetNotFound", "spec.subnetIds"),
        ("Error", "SecurityGroupNotFound", "spec.securityGroupIds"),
        ("Warning", "SingleAvailabilityZone", "spec.subnetIds"),
        ("Warning", "LowFreeAddresses", "spec.subnetIds"),
    ]


def test_errors_of_keeps_only_errors() -> None:
    problems = [
        Problem(Severity.WARNING, "LowFreeAddresses", "spec.subnetIds", "w"),
        Problem(Severity.ERROR, "SubnetNotFound", "spec.subnetIds", "e"),
    ]
    assert errors_of(problems) == [problems[1]]
