"""Issue 11: steady observation costs a ListFunctions sweep per resync, not a GetFunction per attachment.

An operator of its own (namespace ``e2o-*``, outside the session operator's glob) with the default
``--lifecycle-interval`` (1 h): at rest its looks are served from the observer's snapshot
(aws.observer), and a change behind its back is seen by the sweep (a new RevisionId) and read with
one GetFunction. GetFunction's share is set small (``--get-function-rate 1``) so that listing is the
cheaper way whatever the session has left in the simulated account (planner.sweeps.choose_way).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import pytest

from harness import Namespace, Target, wait_for, watch_log
from lambda_vpc_sandbox.aws.control import SimulatorControl
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]

ATTACHMENTS = 4
RESYNC = 2.0
SWEEPS = 3
LIFECYCLE_RESYNC = 1.0
LIFECYCLE = 5.0  # several steady looks from the snapshot between two reads of State


def _own_operator(
    target: Target, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest,
    resync: float, lifecycle: float,
) -> Iterator[tuple[Namespace, OperatorProcess]]:  # fmt: skip
    if target.operator is None or target.sim is None:
        pytest.skip("needs the simulator's counts and an operator of our own")
    ns = make_namespace("e2o")
    assert target.operator_log is not None
    log = target.operator_log.with_name(f"operator-{ns.name}.log")
    watch_log(request.node, log)
    args = ["--lifecycle-interval", f"{lifecycle:g}", "--alias-interval", "3600", "--get-function-rate", "1"]
    operator = target.start_operator([ns.name], log, resync, args)
    try:
        yield ns, operator
        ns.release_all()
    finally:
        operator.stop()


@pytest.fixture
def own_operator(
    target: Target, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest
) -> Iterator[tuple[Namespace, OperatorProcess]]:
    yield from _own_operator(target, make_namespace, request, RESYNC, 3600)


@pytest.fixture
def short_lifecycle(
    target: Target, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest
) -> Iterator[tuple[Namespace, OperatorProcess]]:
    yield from _own_operator(target, make_namespace, request, LIFECYCLE_RESYNC, LIFECYCLE)


def own_owner_tag(target: Target, ns: Namespace, name: str) -> str:
    """The owner tag our own operator writes: its cluster name digests the namespace it watches."""
    return f"{target.derived_cluster_name([ns.name])}/{ns.name}/{name}"


def account_functions(target: Target) -> int:
    pages = target.lambda_.get_paginator("list_functions").paginate()
    return sum(len(page["Functions"]) for page in pages)


def test_steady_observation_costs_a_sweep_per_resync(
    target: Target, own_operator: tuple[Namespace, OperatorProcess]
) -> None:
    ns, operator = own_operator
    net = target.network
    names = [f"quiet-{i}" for i in range(ATTACHMENTS)]
    functions = target.make_functions("observer", ATTACHMENTS)
    for name, function in zip(names, functions, strict=True):
        ns.create(name, function, net.subnets[:2], [net.app_sg])
    for name, function in zip(names, functions, strict=True):
        ns.wait_ready(name)
        # The owner tag comes after Ready (docs/design.md "Ownership off the critical path"), and the
        # observer reads a function it tagged once more: both belong to convergence, not to rest.
        target.wait_owner_tag(function, own_owner_tag(target, ns, name))
    pages = math.ceil(account_functions(target) / 50)

    # At rest: two whole sweeps after the last tag, so every look has made its read after our tag.
    target.reset_calls()
    wait_for(lambda: target.calls()["lambda:ListFunctions"] >= 2 * pages or None, target.timeout(6 * RESYNC + 20),
             0.1, what="two sweeps after the owner tags", describe=target.calls)  # fmt: skip
    target.reset_calls()
    started = time.monotonic()
    wait_for(
        lambda: target.calls()["lambda:ListFunctions"] >= SWEEPS * pages or None,
        target.timeout(SWEEPS * RESYNC * 3 + 10), 0.1,
        what=f"{SWEEPS} sweeps of {pages} ListFunctions pages", describe=target.calls,
    )  # fmt: skip
    calls, elapsed = target.calls(), time.monotonic() - started
    print(f"at rest, {elapsed:.1f} s, {pages} pages a sweep: {dict(calls)}")
    assert calls["lambda:GetFunction"] == 0, calls  # no per-attachment read at rest
    assert calls["lambda:ListAliases"] == 0, calls  # read after Ready, again an --alias-interval later
    assert calls["lambda:UpdateFunctionConfiguration"] == 0, calls
    # The attachments share one VPC: its ENIs are read once per resync, not once per look.
    assert calls["ec2:DescribeNetworkInterfaces"] <= elapsed / RESYNC + 2, (elapsed, calls)
    # About one sweep (ceil(functions / 50) pages) per resync interval, the last one perhaps under way.
    assert calls["lambda:ListFunctions"] <= (elapsed / RESYNC + 2) * pages, (elapsed, calls)
    assert operator.running

    # A change behind the operator's back: the next sweep sees a new RevisionId, one GetFunction reads it.
    target.reset_calls()
    target.set_vpc_out_of_band(functions[0], [net.subnets[2]], [net.db_sg])
    ns.wait_event(names[0], "DriftCorrected", timeout=5 * RESYNC + 10)
    ns.wait_ready(names[0], timeout=30)
    target.wait_active(functions[0])
    vpc = target.vpc(functions[0])
    assert (vpc.subnet_ids, vpc.security_group_ids) == (set(net.subnets[:2]), {net.app_sg})
    calls = target.calls()
    print(f"drift corrected: {dict(calls)}")
    assert calls["lambda:UpdateFunctionConfiguration"] == 1, calls
    # Only the drifted function was read (the detection, then the polls of its own update): never the others.
    assert 1 <= calls["lambda:GetFunction"] <= 12, calls


def test_a_state_change_without_a_new_revision_is_read_each_lifecycle_interval(
    target: Target, short_lifecycle: tuple[Namespace, OperatorProcess], sim: SimulatorControl
) -> None:
    ns, _ = short_lifecycle
    net = target.network
    function = target.make_function("observer-idle")
    ns.create("fn", function, net.subnets[:2], [net.app_sg], reactivation={"policy": "Disabled"})
    ns.wait_ready("fn")
    # The owner tag comes after Ready and its write makes the observer read the function once more.
    target.wait_owner_tag(function, own_owner_tag(target, ns, "fn"))
    pages = math.ceil(account_functions(target) / 50)
    target.reset_calls()
    wait_for(lambda: target.calls()["lambda:ListFunctions"] >= 2 * pages or None,
             target.timeout(20 * LIFECYCLE_RESYNC + 10), 0.1, what="two sweeps after the owner tag",
             describe=target.calls)  # fmt: skip
    target.reset_calls()
    started = time.monotonic()
    # Idle (aws-facts "Observer": Inactive keeps the RevisionId, and ListFunctions has no State).
    sim.make_idle(function)
    ns.wait_condition("fn", "Ready", "True", "Inactive", timeout=LIFECYCLE + 10 * LIFECYCLE_RESYNC + 10)
    elapsed, calls = time.monotonic() - started, target.calls()
    print(f"Inactive seen after {elapsed:.1f} s: {dict(calls)}")
    # Steady looks every second were served from the snapshot; State was read once its interval ran out.
    assert calls["lambda:GetFunction"] <= 2 + elapsed / LIFECYCLE, (elapsed, calls)
    assert calls["lambda:ListFunctions"] >= 1, calls
