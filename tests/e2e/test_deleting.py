"""Deleting an attachment: Detach takes the function out of the VPC first, Retain leaves it as is."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from harness import FINALIZER, OWNER_TAG, Namespace, Target, condition, unique_name, wait_for
from lambda_vpc_sandbox.aws import SimulatorControl

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


# -- deleting while Lambda is busy ---------------------------------------------------------------
# Issue 12 part 3: AWS refuses every update while LastUpdateStatus is InProgress or State is Pending
# (aws-facts "Errors": ResourceConflictException), so a deletion then must wait, not hammer Lambda
# with refused detaches, and detach once the function is free again.

# Simulated seconds an ENI held back by a test stays ``attaching``: far longer than any test.
HELD = 10_000.0


def _fresh_group(target: Target) -> str:
    """A security group of this test only: its combination is new, so Lambda must build its ENI."""
    name = unique_name("e2e-busydel", 60)
    created = target.ec2.create_security_group(GroupName=name, Description="e2e", VpcId=target.network.vpc_id)
    return str(created["GroupId"])


def _operator_writes(sim: SimulatorControl, function: str) -> list[dict[str, Any]]:
    """The operator's Lambda writes to ``function`` (the journal), in order, with their answers."""
    return [e for e in sim.journal(writes_only=True) if e.get("operator") and e.get("function") == function]


def _next_seq(sim: SimulatorControl) -> int:
    """The journal's sequence number of the next request (a test reads only what follows)."""
    writes = sim.journal(writes_only=True)
    recent = sim.journal(since=int(writes[-1]["seq"]) if writes else 0)  # short: since the last write
    return int(recent[-1]["seq"]) + 1 if recent else 0


def _updates(writes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in writes if e["operation"] == "lambda:UpdateFunctionConfiguration"]


def _assert_waits_quietly(target: Target, ns: Namespace, sim: SimulatorControl, name: str, function: str,
                          sent: int) -> None:  # fmt: skip
    """While the function stays busy: the finalizer holds, status says why, and the operator keeps
    reading (several looks) without sending one more update or raising."""
    # (The deletion moved metadata.generation; a release reports conditions, not observedGeneration.)
    obj = ns.wait(name, lambda o: condition(o, "Reconciling").get("reason") == "Detaching", "Reconciling Detaching")
    assert "Waiting for Lambda to finish updating" in condition(obj, "Reconciling")["message"], ns.describe(name)
    since = _next_seq(sim)

    # Two more release looks at the busy function (each reads it with a GetFunction). Their waits go on
    # growing from the looks' own (2 s growing to 30 s: planner.delays), so allow two of 30 s.
    def reads() -> list[float]:
        return [e["at"] for e in sim.journal(since) if e.get("operator") and e.get("function") == function
                and e["operation"] == "lambda:GetFunction"]  # fmt: skip

    wait_for(lambda: len(reads()) >= 2, target.timeout(75), 0.2, what="2 more release looks", describe=reads)
    obj = ns.get(name)
    assert obj is not None and FINALIZER in obj["metadata"]["finalizers"], ns.describe(name)
    assert obj["metadata"].get("deletionTimestamp"), obj["metadata"]
    writes = _operator_writes(sim, function)
    assert len(_updates(writes)) == sent, writes  # no detach sent (and refused with 409) while busy
    assert all(e["status"] < 400 for e in writes), writes
    reasons = ns.event_reasons(name)
    assert "ReconcileError" not in reasons and "Detached" not in reasons, ns.describe(name)


def _assert_detached_and_gone(target: Target, ns: Namespace, sim: SimulatorControl, name: str, function: str,
                              sent: int) -> None:  # fmt: skip
    # The next look at the function (the waits grow to 30 s) sends the detach; then the release ends.
    ns.wait_gone(name, timeout=60)
    config = target.configuration(function)
    assert target.vpc(function).detached, config.get("VpcConfig")
    assert config["LastUpdateStatus"] == "Successful" and config["State"] == "Active", config
    assert OWNER_TAG not in target.lambda_.list_tags(Resource=target.function_arn(function))["Tags"]
    writes = _operator_writes(sim, function)
    updates = _updates(writes)
    # Exactly one detach, sent after the function was free, with an empty VpcConfig (never a partial one).
    assert len(updates) == sent + 1, writes
    assert updates[-1]["status"] == 200, updates[-1]
    assert updates[-1]["body"]["VpcConfig"]["SubnetIds"] == [], updates[-1]
    assert updates[-1]["body"]["VpcConfig"]["SecurityGroupIds"] == [], updates[-1]
    assert all(e["status"] < 400 for e in writes), writes  # not one ResourceConflictException
    ns.wait_event(name, "Detached")
    events = ns.events(name)
    assert not [e for e in events if e.type != "Normal"], events  # no ReconcileError, no kopf error
    assert "ReconcileError" not in ns.event_reasons(name)


@pytest.mark.simulator
def test_delete_while_the_attach_is_in_progress_waits_then_detaches(
    target: Target, ns: Namespace, sim: SimulatorControl
) -> None:
    subnets, group = target.network.subnets[:2], _fresh_group(target)
    for subnet in subnets:
        sim.set_combination_delay(subnet, [group], HELD)  # the attach stays InProgress until the clock moves
    function = target.make_function("delinprogress")
    ns.create("busy", function, subnets, [group])

    # The operator sent the attach and Lambda is applying it (building the new ENI).
    def in_progress() -> bool:
        config = target.configuration(function)
        return config.get("LastUpdateStatus") == "InProgress" and bool(target.vpc(function).subnet_ids)

    wait_for(in_progress, target.timeout(30), 0.1, what="the attach InProgress", describe=lambda: ns.describe("busy"))
    assert len(_updates(_operator_writes(sim, function))) == 1

    ns.delete("busy")
    _assert_waits_quietly(target, ns, sim, "busy", function, sent=1)
    assert target.configuration(function)["LastUpdateStatus"] == "InProgress"

    sim.advance(HELD)  # Lambda finishes the ENI and the attach: the function is free again
    _assert_detached_and_gone(target, ns, sim, "busy", function, sent=1)


@pytest.mark.simulator
def test_delete_while_the_function_is_pending_waits_then_detaches(
    target: Target, ns: Namespace, sim: SimulatorControl
) -> None:
    """State Pending (Restoring: an idle function invoked again while Lambda rebuilds its ENI; aws-facts
    "Inactive functions"): updates are refused as while InProgress."""
    subnets, group = target.network.subnets[:2], _fresh_group(target)
    function = target.make_function("delpending")
    ns.create("pending", function, subnets, [group], reactivation={"policy": "Disabled"})
    ns.wait_ready("pending")
    target.wait_owner_tag(function, target.owner_tag(ns, "pending"))
    sent = len(_updates(_operator_writes(sim, function)))

    # Idle: Lambda reclaims the ENI. Invoked: Pending until Lambda has rebuilt it (held by the test).
    for subnet in subnets:
        sim.set_combination_delay(subnet, [group], HELD)
    sim.make_idle(function)
    with contextlib.suppress(target.lambda_.exceptions.ResourceNotReadyException):
        target.lambda_.invoke(FunctionName=function, Payload=b"{}")
    assert target.configuration(function)["State"] == "Pending"

    ns.delete("pending")
    _assert_waits_quietly(target, ns, sim, "pending", function, sent=sent)
    config = target.configuration(function)
    assert (config["State"], config.get("StateReasonCode")) == ("Pending", "Restoring"), config

    sim.advance(HELD)  # the ENI is back: Active again, free for the detach
    _assert_detached_and_gone(target, ns, sim, "pending", function, sent=sent)


@pytest.mark.simulator
def test_a_deletion_that_cannot_finish_is_released_after_its_deletion_timeout(
    target: Target, ns: Namespace, sim: SimulatorControl
) -> None:
    """A deletion never blocks forever (issue 12 part 3): still waiting for Lambda spec.deletionTimeout
    after the deletion, it is released with a Warning saying why and what was left on AWS."""
    subnets, group = target.network.subnets[:2], _fresh_group(target)
    for subnet in subnets:
        sim.set_combination_delay(subnet, [group], HELD)  # the attach stays InProgress: no detach possible
    function = target.make_function("deltimeout")
    ns.create("stuck", function, subnets, [group], deletionTimeout="4s")
    wait_for(lambda: target.configuration(function).get("LastUpdateStatus") == "InProgress", target.timeout(30),
             0.1, what="the attach InProgress", describe=lambda: ns.describe("stuck"))  # fmt: skip

    ns.delete("stuck")
    ns.wait_gone("stuck", timeout=60)
    warning = ns.wait_event("stuck", "DeletionTimedOut")
    assert warning.type == "Warning", warning
    assert "spec.deletionTimeout (4s)" in warning.message and "Waiting for Lambda to finish updating" in warning.message
    assert function in warning.message and "left on AWS as it was" in warning.message, warning.message
    # Nothing was half done: the attach (ours, in flight) goes on; no detach was sent.
    assert len(_updates(_operator_writes(sim, function))) == 1
    assert target.vpc(function).subnet_ids == set(subnets)
    sim.advance(HELD)
