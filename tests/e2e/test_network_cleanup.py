"""The end of a deletion: the owner tag removed, and waitForNetworkCleanup waiting for the ENIs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from harness import Namespace, Target, wait_for

pytestmark = pytest.mark.e2e

OWNER_TAG = "lambdavpc.dev/owner"


def _fresh_group(target: Target) -> str:
    """A security group of this test only: its (subnet, group set) ENIs serve no other function."""
    name = f"e2e-cleanup-{uuid.uuid4().hex[:8]}"
    return str(target.ec2.create_security_group(GroupName=name, Description="e2e", VpcId=target.network.vpc_id)[
        "GroupId"])  # fmt: skip


def _enis(target: Target, group: str) -> list[dict[str, Any]]:
    found = target.ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [group]}])
    return list(found["NetworkInterfaces"])


def _tags(target: Target, function: str) -> dict[str, str]:
    return dict(target.lambda_.list_tags(Resource=target.function_arn(function))["Tags"])


@pytest.mark.simulator
def test_wait_for_network_cleanup_holds_the_finalizer_until_the_enis_are_gone(
    target: Target, ns: Namespace
) -> None:
    assert target.sim is not None
    group = _fresh_group(target)
    function = target.make_function("cleanup")
    ns.create("cleanup", function, target.network.subnets[:1], [group], waitForNetworkCleanup=True)
    ns.wait_ready("cleanup")
    target.wait_owner_tag(function, target.owner_tag(ns, "cleanup"))
    assert _enis(target, group)
    target.sim.set_delays(eni_delete=4.0)
    try:
        ns.delete("cleanup")
        obj = ns.wait(
            "cleanup", lambda o: bool(((o.get("status") or {}).get("networkCleanup") or {}).get(
                "remainingNetworkInterfaces")), "the remaining ENIs in status",
        )  # fmt: skip
        rows = obj["status"]["networkCleanup"]["remainingNetworkInterfaces"]
        assert [r["networkInterfaceId"] for r in rows] == [e["NetworkInterfaceId"] for e in _enis(target, group)]
        ns.wait_gone("cleanup", timeout=30)
    finally:
        target.sim.set_delays(eni_delete=2.0)
    # Released only once Lambda had deleted them: the group can be deleted now.
    assert _enis(target, group) == []
    assert not (target.vpc(function).subnet_ids)
    assert OWNER_TAG not in _tags(target, function)
    reasons = ns.event_reasons("cleanup")
    assert reasons["Detached"] == 1 and reasons["NetworkCleanedUp"] == 1


@pytest.mark.simulator
def test_wait_for_network_cleanup_is_bounded_by_the_deletion_timeout(target: Target, ns: Namespace) -> None:
    assert target.sim is not None
    group = _fresh_group(target)
    function = target.make_function("cleanupslow")
    ns.create("slow", function, target.network.subnets[:1], [group], waitForNetworkCleanup=True,
              deletionTimeout="3s")  # fmt: skip
    ns.wait_ready("slow")
    target.sim.set_delays(eni_delete=600.0)  # AWS takes up to 20 minutes
    try:
        ns.delete("slow")
        ns.wait_gone("slow", timeout=30)
        event = ns.wait_event("slow", "NetworkCleanupTimedOut")
        assert [e["NetworkInterfaceId"] for e in _enis(target, group)] != []
        assert all(e["NetworkInterfaceId"] in event.message for e in _enis(target, group))
    finally:
        target.sim.set_delays(eni_delete=2.0)


@pytest.mark.simulator
def test_cleanup_does_not_wait_for_enis_other_functions_use(target: Target, ns: Namespace) -> None:
    group = _fresh_group(target)
    mine, theirs = target.make_function("cleanupmine"), target.make_function("cleanuptheirs")
    ns.create("mine", mine, target.network.subnets[:1], [group], waitForNetworkCleanup=True, deletionTimeout="10m")
    ns.wait_ready("mine")
    target.set_vpc_out_of_band(theirs, target.network.subnets[:1], [group])
    target.wait_active(theirs)

    ns.delete("mine")
    ns.wait_gone("mine", timeout=30)
    # The shared ENI stays (the other function uses it) and was not waited for.
    assert _enis(target, group)
    ns.wait_event("mine", "NetworkCleanedUp", timeout=10)  # Events are posted from a queue: wait, do not race


def test_retain_removes_only_our_owner_tag(target: Target, ns: Namespace) -> None:
    net = target.network
    first, second = target.make_function("untag"), target.make_function("untagkept")
    ns.create("retain", first, net.subnets[:2], [net.app_sg], deletionPolicy="Retain")
    ns.create("retagged", second, net.subnets[:2], [net.app_sg], deletionPolicy="Retain")
    ns.wait_ready("retain")
    ns.wait_ready("retagged")
    target.wait_owner_tag(second, target.owner_tag(ns, "retagged"))
    # Someone re-tagged the second function: its tag is no longer ours to remove.
    target.lambda_.tag_resource(Resource=target.function_arn(second), Tags={OWNER_TAG: "someone/else/entirely"})

    ns.delete("retain")
    ns.delete("retagged")
    ns.wait_gone("retain")
    ns.wait_gone("retagged")
    assert OWNER_TAG not in _tags(target, first)
    assert _tags(target, second)[OWNER_TAG] == "someone/else/entirely"
    # Retain leaves the configuration untouched.
    assert target.vpc(first).subnet_ids == set(net.subnets[:2])


def test_function_already_deleted_releases_at_once(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("gone")
    ns.create("gone", function, net.subnets[:2], [net.app_sg], waitForNetworkCleanup=True)
    ns.wait_ready("gone")
    target.lambda_.delete_function(FunctionName=function)
    target.functions.remove(function)

    ns.delete("gone")
    ns.wait_gone("gone", timeout=15)
    wait_for(lambda: ns.get("gone") is None, 1.0, 0.1, what="still gone")
