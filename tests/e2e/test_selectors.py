"""Subnets and security groups selected by EC2 tags: resolution, re-resolution at resync, errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import kubernetes
import pytest

from harness import API_VERSION, GROUP, PLURAL, VERSION, Namespace, Target, condition, unique_name
from lambda_vpc_operator.models import policies

pytestmark = pytest.mark.e2e


def _tag(target: Target, ids: list[str], key: str, value: str = "yes") -> None:
    target.ec2.create_tags(Resources=ids, Tags=[{"Key": key, "Value": value}])


def _untag(target: Target, ids: list[str], key: str) -> None:
    target.ec2.delete_tags(Resources=ids, Tags=[{"Key": key}])


def _key() -> str:
    """A tag key of this test only: selectors of other tests never see its resources."""
    return f"e2e-select-{uuid.uuid4().hex[:8]}"


def _create(ns: Namespace, name: str, function: str, **spec: Any) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "LambdaVpcAttachment",
            "metadata": {"name": name, "namespace": ns.name}, "spec": {"functionName": function, **spec}}  # fmt: skip
    ns.target.custom.create_namespaced_custom_object(GROUP, VERSION, ns.name, PLURAL, body)


def test_selected_by_tag_then_reresolved_when_tags_change(target: Target, ns: Namespace) -> None:
    net, key = target.network, _key()
    first, second, third = net.subnets[0], net.subnets[1], net.subnets[2]
    _tag(target, [first, second], key, "private")
    _tag(target, [net.app_sg], key)
    function = target.make_function("select")
    _create(ns, "orders", function, subnetSelector={"vpcId": net.vpc_id, "tags": {key: "private"}},
            securityGroupSelector={"tags": {key: "*"}})  # fmt: skip

    obj = ns.wait_ready("orders", timeout=30)
    assert obj["status"]["resolvedSubnetIds"] == sorted([first, second])
    assert obj["status"]["resolvedSecurityGroupIds"] == [net.app_sg]
    vpc = target.vpc(function)
    assert (vpc.subnet_ids, vpc.security_group_ids) == ({first, second}, {net.app_sg})

    # Someone tags a third subnet and untags the second: the next resync moves the function.
    _tag(target, [third], key, "private")
    _untag(target, [second], key)
    ns.wait(
        "orders", lambda o: (o.get("status") or {}).get("resolvedSubnetIds") == sorted([first, third]),
        "resolvedSubnetIds re-resolved", timeout=30,
    )  # fmt: skip
    event = ns.wait_event("orders", "SelectionChanged")
    assert f"added {third}" in event.message and f"removed {second}" in event.message
    ns.wait(
        "orders", lambda o: condition(o, "Ready").get("status") == "True" and target.vpc(function).subnet_ids
        == {first, third}, "the function in the new subnets", timeout=30,
    )  # fmt: skip
    # A change of the matching set is a change to make, not drift.
    assert "DriftDetected" not in ns.event_reasons("orders")


@pytest.mark.simulator
def test_one_per_availability_zone_keeps_the_roomiest_subnet(target: Target, ns: Namespace) -> None:
    net, key = target.network, _key()
    zone = target.ec2.describe_subnets(SubnetIds=[net.subnets[0]])["Subnets"][0]["AvailabilityZone"]
    small = target.ec2.create_subnet(VpcId=net.vpc_id, CidrBlock="10.0.210.0/28", AvailabilityZone=zone)
    small_id = small["Subnet"]["SubnetId"]
    _tag(target, [small_id, net.subnets[0], net.subnets[1]], key)
    function = target.make_function("perzone")
    _create(ns, "perzone", function, subnetSelector={"tags": {key: "*"}, "onePerAvailabilityZone": True},
            securityGroupIds=[net.app_sg])  # fmt: skip

    obj = ns.wait_ready("perzone", timeout=30)
    # The /28 shares its zone with a /24: the /24 has more free addresses.
    assert obj["status"]["resolvedSubnetIds"] == sorted([net.subnets[0], net.subnets[1]])
    assert target.vpc(function).subnet_ids == {net.subnets[0], net.subnets[1]}


@pytest.mark.simulator
def test_require_internet_access_selects_only_nat_routed_subnets(target: Target, ns: Namespace) -> None:
    net, key = target.network, _key()
    # The demo's third private subnet uses the main route table: no route to a NAT gateway.
    _tag(target, list(net.subnets[:3]), key)
    function = target.make_function("natsel")
    _create(ns, "natsel", function, subnetSelector={"tags": {key: "*"}}, securityGroupIds=[net.app_sg],
            requireInternetAccess=True)  # fmt: skip

    obj = ns.wait_ready("natsel", timeout=30)
    assert obj["status"]["resolvedSubnetIds"] == sorted(net.subnets[:2])


@pytest.mark.simulator
def test_selector_errors_stall_without_writing(target: Target, ns: Namespace) -> None:
    net, key = target.network, _key()
    function = target.make_function("selerr")
    _create(ns, "nothing", function, subnetSelector={"tags": {key: "absent"}}, securityGroupIds=[net.app_sg])
    obj = ns.wait_stalled("nothing", "SelectorMatchesNothing")
    assert "spec.subnetSelector" in condition(obj, "Stalled")["message"]

    groups = [
        target.ec2.create_security_group(GroupName=f"{key}-{i}", Description="e2e", VpcId=net.vpc_id)["GroupId"]
        for i in range(6)
    ]
    _tag(target, groups, key)
    ns.patch_spec("nothing", subnetSelector=None, subnetIds=[net.subnets[0]], securityGroupIds=None,
                  securityGroupSelector={"tags": {key: "*"}})  # fmt: skip
    obj = ns.wait_stalled("nothing", "SelectorTooBroad")
    assert "spec.securityGroupSelector" in condition(obj, "Stalled")["message"]

    _tag(target, [net.subnets[0], net.other_vpc_subnet], key, "mixed")
    ns.patch_spec("nothing", subnetIds=None, subnetSelector={"tags": {key: "mixed"}}, securityGroupSelector=None,
                  securityGroupIds=[net.app_sg])  # fmt: skip
    obj = ns.wait_stalled("nothing", "MixedVpcs")
    assert "spec.subnetSelector.vpcId" in condition(obj, "Stalled")["message"]
    # Nothing was ever written to the function.
    assert target.vpc(function).detached
    assert "Updating" not in ns.event_reasons("nothing")


def test_ids_and_selector_together_are_refused(target: Target, ns: Namespace) -> None:
    body = ns.body("both", "orders-api", target.network.subnets[:1], [target.network.app_sg],
                   subnetSelector={"tags": {"tier": "private"}})  # fmt: skip
    with pytest.raises(kubernetes.client.ApiException) as caught:
        target.custom.create_namespaced_custom_object(GROUP, VERSION, ns.name, PLURAL, body)
    assert caught.value.status == 422
    assert "exactly one of spec.subnetIds and spec.subnetSelector" in json.loads(caught.value.body)["message"]


@pytest.mark.simulator
def test_the_policy_judges_the_resolved_ids(target: Target, ns: Namespace) -> None:
    net, key = target.network, _key()
    label = "e2e.lambdavpc.dev/tenant"
    target.core.patch_namespace(ns.name, {"metadata": {"labels": {label: ns.name}}})
    policy = unique_name("e2e-selpolicy", 60)
    spec = {"namespaceSelector": {"matchLabels": {label: ns.name}}, "subnetIds": list(net.subnets[:2])}
    body = {"apiVersion": API_VERSION, "kind": policies.KIND, "metadata": {"name": policy}, "spec": spec}
    target.custom.create_cluster_custom_object(GROUP, VERSION, policies.PLURAL, body)
    try:
        _tag(target, [net.subnets[0], net.subnets[2]], key)
        function = target.make_function("selpolicy")
        _create(ns, "judged", function, subnetSelector={"tags": {key: "*"}}, securityGroupIds=[net.app_sg])
        obj = ns.wait_stalled("judged", "PolicyDenied")
        assert net.subnets[2] in condition(obj, "Stalled")["message"]
        assert target.vpc(function).detached
        # Retag: the next resync resolves to allowed subnets only, and the function attaches.
        _untag(target, [net.subnets[2]], key)
        _tag(target, [net.subnets[1]], key)
        obj = ns.wait_ready("judged", timeout=30)
        assert obj["status"]["resolvedSubnetIds"] == sorted(net.subnets[:2])
    finally:
        target.custom.delete_cluster_custom_object(GROUP, VERSION, policies.PLURAL, policy)


@pytest.mark.simulator
def test_a_selector_ec2_refuses_to_resolve_stalls_naming_it(target: Target, ns: Namespace) -> None:
    assert target.sim is not None
    function = target.make_function("selrefused")
    target.sim.deny("ec2:DescribeSecurityGroups")
    try:
        _create(ns, "refused", function, subnetIds=[target.network.subnets[0]],
                securityGroupSelector={"tags": {_key(): "*"}})  # fmt: skip
        obj = ns.wait_stalled("refused", "AccessDenied")
        message = condition(obj, "Stalled")["message"]
        assert "Could not resolve spec.securityGroupSelector" in message and "docs/iam-policy.json" in message
        assert target.vpc(function).detached
    finally:
        target.sim.allow("ec2:DescribeSecurityGroups")
