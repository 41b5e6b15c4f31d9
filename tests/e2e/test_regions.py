"""Regions: a full ARN fixes the region; spec.region for a name; a contradiction is refused.

A function in another region than the operator's --region (``Target.second_region``: on the simulator a
region it creates a network in; on a real target LVO_E2E_SECOND_REGION and its network, else skipped)
is read, changed, observed and released there, with a namesake in the operator's region left alone.
"""

from __future__ import annotations

import json

import kubernetes
import pytest

from harness import GROUP, OWNER_TAG, PLURAL, VERSION, Namespace, Target, condition, wait_for

pytestmark = pytest.mark.e2e


def test_the_arn_fixes_the_region(target: Target, ns: Namespace) -> None:
    function = target.make_function("arnregion")
    ns.create("by-arn", target.function_arn(function), target.network.subnets[:2], [target.network.app_sg])
    obj = ns.wait_ready("by-arn")
    assert obj["status"]["functionArn"] == target.function_arn(function)
    # spec.region may repeat the ARN's region.
    ns.create("by-name", target.make_function("nameregion"), target.network.subnets[:2], [target.network.app_sg],
              region=target.region)  # fmt: skip
    ns.wait_ready("by-name")


def test_a_region_contradicting_the_arn_is_refused_at_admission(target: Target, ns: Namespace) -> None:
    other = "eu-west-1" if target.region != "eu-west-1" else "us-east-1"
    body = ns.body("contradiction", target.function_arn("orders-api"), target.network.subnets[:1],
                   [target.network.app_sg], region=other)  # fmt: skip
    with pytest.raises(kubernetes.client.ApiException) as caught:
        target.custom.create_namespaced_custom_object(GROUP, VERSION, ns.name, PLURAL, body)
    assert caught.value.status == 422
    assert "spec.region contradicts the region of the ARN" in json.loads(caught.value.body)["message"]


# -- a function in another region than the operator's --region -------------------------------------

RECONCILE = "lambdavpc.dev/reconcile-requested-at"


def _operator_lambda_regions(target: Target, since: int, functions: set[str]) -> dict[str, set[str]]:
    """The regions of the operator's Lambda requests naming each of ``functions`` (the simulator's journal)."""
    assert target.sim is not None
    found: dict[str, set[str]] = {name: set() for name in functions}
    for entry in target.sim.journal(since=since):
        if entry.get("operator") and entry["operation"].startswith("lambda:") and entry.get("function") in found:
            found[entry["function"]].add(entry.get("region", ""))
    return found


def _operator_ec2_regions(target: Target, since: int, operation: str) -> set[str]:
    assert target.sim is not None
    return {e.get("region", "") for e in target.sim.journal(since=since)
            if e.get("operator") and e["operation"] == operation}  # fmt: skip


def _journal_start(target: Target) -> int:
    if target.sim is None:
        return 0
    entries = target.sim.journal()
    return int(entries[-1]["seq"]) + 1 if entries else 0


def test_a_function_in_another_region_by_arn_and_by_name_with_region(target: Target, ns: Namespace) -> None:
    far = target.second_region()
    net = far.network
    start = _journal_start(target)
    # Namesakes in the operator's own region, detached: a request sent there by mistake would find (and
    # change) them instead of failing (the simulator refuses a full ARN of another region, as AWS does).
    by_arn = target.make_function("far-arn", region=far.name)
    by_name = target.make_function("far-name", region=far.name)
    for name in (by_arn, by_name):
        target.make_function(name=name)
    arn = target.function_arn(by_arn, far.name)

    ns.create("by-arn", arn, net.subnets[:2], [net.app_sg])
    ns.create("by-name", by_name, net.subnets[:2], [net.app_sg], region=far.name)
    for attachment, function in (("by-arn", by_arn), ("by-name", by_name)):
        obj = ns.wait_ready(attachment)
        assert obj["status"]["functionArn"] == target.function_arn(function, far.name)
        assert obj["status"]["vpcId"] == net.vpc_id
        # Ready waited for the function's ENIs, read in that region too.
        assert condition(obj, "NetworkReady")["status"] == "True", condition(obj, "NetworkReady")
        view = target.vpc(function, far.name)
        assert (view.subnet_ids, view.security_group_ids, view.vpc_id) == (
            frozenset(net.subnets[:2]), frozenset([net.app_sg]), net.vpc_id,
        )  # fmt: skip
        target.wait_owner_tag(function, target.owner_tag(ns, attachment), region=far.name)
        assert target.vpc(function).detached, f"the namesake of {function} in {target.region} was changed"

    if target.sim is not None:
        # Every Lambda request of the operator about them went to their region; the preflight and the ENI
        # reads went there too.
        regions = _operator_lambda_regions(target, start, {by_arn, by_name})
        assert regions == {by_arn: {far.name}, by_name: {far.name}}, regions
        for operation in ("ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs",
                          "ec2:DescribeNetworkInterfaces"):  # fmt: skip
            assert far.name in _operator_ec2_regions(target, start, operation), operation

        # A reconcile request drops the cached facts of the function's region (the ARN's, not --region's).
        poked = _journal_start(target)
        poke = {"metadata": {"annotations": {RECONCILE: "2026-12-04T12:00:00Z"}}}
        target.custom.patch_namespaced_custom_object(GROUP, VERSION, ns.name, PLURAL, "by-arn", poke)
        ns.wait("by-arn", lambda o: o["status"].get("lastHandledReconcileAt") == "2026-12-04T12:00:00Z",
                "the reconcile request handled")  # fmt: skip
        assert far.name in _operator_ec2_regions(target, poked, "ec2:DescribeSubnets")

    # Deleting them detaches them there (deletionPolicy Detach, the default), and removes the owner tags.
    released = _journal_start(target)
    for attachment in ("by-arn", "by-name"):
        ns.delete(attachment)
    for attachment, function in (("by-arn", by_arn), ("by-name", by_name)):
        ns.wait_gone(attachment, timeout=60)
        wait_for(lambda f=function: target.vpc(f, far.name).detached, target.timeout(30), 0.2,  # type: ignore[misc]
                 what=f"{function} detached in {far.name}",
                 describe=lambda f=function: target.vpc(f, far.name).raw)  # type: ignore[misc]  # fmt: skip
        tags = far.lambda_.list_tags(Resource=target.function_arn(function, far.name))["Tags"]
        assert OWNER_TAG not in tags, tags
        assert target.vpc(function).detached
    if target.sim is not None:
        regions = _operator_lambda_regions(target, released, {by_arn, by_name})
        assert regions == {by_arn: {far.name}, by_name: {far.name}}, regions
        writes = [e for e in target.sim.journal(since=released, writes_only=True)
                  if e.get("operator") and e["operation"] == "lambda:UpdateFunctionConfiguration"]  # fmt: skip
        assert {(e["function"], e["region"]) for e in writes} == {(by_arn, far.name), (by_name, far.name)}, writes


@pytest.mark.simulator
def test_selectors_resolve_in_the_function_region(target: Target, ns: Namespace) -> None:
    far = target.second_region()
    net = far.network
    start = _journal_start(target)
    function = target.make_function("far-select", region=far.name)
    # The tag is on the second region's subnets and app group only (harness.create_network).
    tags = {"lvo-e2e-region": far.name}
    body = ns.body("selected", target.function_arn(function, far.name), [], [])
    del body["spec"]["subnetIds"], body["spec"]["securityGroupIds"]
    body["spec"].update(subnetSelector={"vpcId": net.vpc_id, "tags": tags}, securityGroupSelector={"tags": tags})
    target.custom.create_namespaced_custom_object(GROUP, VERSION, ns.name, PLURAL, body)
    obj = ns.wait_ready("selected")
    assert sorted(obj["status"]["resolvedSubnetIds"]) == sorted(net.subnets)
    assert obj["status"]["resolvedSecurityGroupIds"] == [net.app_sg]
    assert target.vpc(function, far.name).subnet_ids == frozenset(net.subnets)
    assert far.name in _operator_ec2_regions(target, start, "ec2:DescribeSubnets")
