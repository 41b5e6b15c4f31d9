"""Deleting an attachment: Detach takes the function out of the VPC first, Retain leaves it as is."""

from __future__ import annotations

from typing import Any

import pytest

from harness import Namespace, Target, wait_for

pytestmark = pytest.mark.e2e


def test_delete_detaches_before_the_object_goes(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("detach")
    ns.create("detach", function, net.subnets[:2], [net.app_sg])
    ns.wait_ready("detach")
    if target.sim is not None:
        target.sim.set_delays(update=2.0)  # a detach that takes a while, so the order is visible

    ns.delete("detach")
    # Sample both sides until the object is gone: while AWS still holds (or is removing) the VPC
    # config, the object must still exist.
    samples: list[tuple[bool, Any]] = []

    def gone() -> bool:
        obj = ns.get("detach")
        config = target.configuration(function)
        settled_detached = (
            not (config.get("VpcConfig") or {}).get("SubnetIds") and config.get("LastUpdateStatus") != "InProgress"
        )
        samples.append((obj is not None, settled_detached))
        return obj is None

    try:
        wait_for(gone, target.timeout(30), 0.1, what="the attachment to be deleted",
                 describe=lambda: ns.describe("detach"))  # fmt: skip
    finally:
        if target.sim is not None:
            target.sim.set_delays(update=0.5)

    config = target.configuration(function)
    vpc = config.get("VpcConfig") or {}
    assert vpc.get("SubnetIds", []) == [] and vpc.get("SecurityGroupIds", []) == [], vpc
    assert vpc.get("VpcId", "") == "", vpc
    assert config["LastUpdateStatus"] == "Successful"
    # The object outlived the detach in progress and went only once AWS had finished it.
    assert samples[-1] == (False, True), samples
    assert (True, False) in samples, f"never saw the object waiting for the detach: {samples}"
    ns.wait_event("detach", "Detached")


def test_delete_with_retain_leaves_the_function_attached(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("retain")
    ns.create("retain", function, net.subnets[:2], [net.app_sg], deletionPolicy="Retain")
    ns.wait_ready("retain")
    before = target.configuration(function)
    if target.sim is not None:
        target.reset_calls()

    ns.delete("retain")
    ns.wait_gone("retain")

    after = target.configuration(function)
    assert after["VpcConfig"] == before["VpcConfig"]
    assert after["RevisionId"] == before["RevisionId"]
    ns.wait_event("retain", "Retained")
    if target.sim is not None:
        assert target.updates() == 0, target.calls()


@pytest.mark.simulator
def test_delete_of_a_dual_stack_attachment_detaches(target: Target, ns: Namespace) -> None:
    """The detach sends Ipv6AllowedForDualStack false: AWS refuses it while the flag stays true
    (aws-facts "Refusals", cloudformation-coverage-roadmap #2061), which kept the finalizer forever."""
    from lambda_vpc_sandbox.aws.seeding import DEMO_IDS

    function = target.make_function("dualdetach")
    ns.create("dual", function, [DEMO_IDS["demo-dualstack-a"]], [target.network.app_sg], ipv6AllowedForDualStack=True)
    ns.wait_ready("dual")
    assert target.configuration(function)["VpcConfig"]["Ipv6AllowedForDualStack"] is True

    ns.delete("dual")
    ns.wait_gone("dual")

    config = target.configuration(function)
    assert target.vpc(function).detached, config.get("VpcConfig")
    assert config["VpcConfig"]["Ipv6AllowedForDualStack"] is False
    assert config["LastUpdateStatus"] == "Successful"
    ns.wait_event("dual", "Detached")
