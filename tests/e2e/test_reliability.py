"""Never stuck silently: a look that raises, a deletion a human releases, a slow invoke.

- A look that raises (here: GetFunction answers a 200 without Configuration, which the operator
  cannot parse) is ReconcileError in status, with one Warning Event, and recovers by itself.
- A deletion whose detach AWS refuses says why in status; the ``lambdavpc.dev/force-release``
  annotation lets the finalizer go, with an Event naming what stays on AWS.
- A reactivation invoke in RequestResponse mode holds its thread while the function runs: many of
  them at once must not delay another attachment's convergence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from harness import Namespace, Target, condition, wait_for, watch_log
from lambda_vpc_sandbox.aws.control import SimulatorControl

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]

FORCE = "lambdavpc.dev/force-release"


@pytest.fixture
def garbled(sim: SimulatorControl) -> Iterator[SimulatorControl]:
    try:
        yield sim
    finally:
        sim.ungarble()


def failures_in_a_row(obj: dict[str, object]) -> int:
    message = str(condition(obj, "Reconciling").get("message", ""))
    marker = "failed "
    if condition(obj, "Reconciling").get("reason") != "ReconcileError" or marker not in message:
        return 0
    return int(message.rsplit(marker, 1)[1].split(" ", 1)[0])


def test_an_exception_in_a_look_is_reported_and_recovers(
    target: Target, ns: Namespace, garbled: SimulatorControl
) -> None:
    net = target.network
    function = target.make_function("garbled")
    target.reset_calls()
    garbled.garble("lambda:GetFunction")
    ns.create("garbled", function, net.subnets[:2], [net.app_sg])

    # Several looks fail in a row (2 s, 4 s, ...): the status says why, the Event is posted once.
    obj = ns.wait("garbled", lambda o: failures_in_a_row(o) >= 2, "ReconcileError twice in a row", timeout=30)
    reconciling = condition(obj, "Reconciling")
    assert "UnexpectedAnswer" in reconciling["message"], reconciling
    assert "GetFunction" in reconciling["message"], reconciling
    assert (condition(obj, "Ready")["status"], condition(obj, "Ready")["reason"]) == ("False", "ReconcileError")
    event = ns.wait_event("garbled", "ReconcileError")
    assert event.type == "Warning" and "UnexpectedAnswer" in event.message
    assert ns.event_reasons("garbled")["ReconcileError"] == 1, ns.describe("garbled")
    assert target.updates() == 0  # nothing was written to AWS blind

    garbled.ungarble()
    obj = ns.wait_ready("garbled", timeout=30)
    assert condition(obj, "Reconciling") == {}
    assert target.vpc(function).subnet_ids == set(net.subnets[:2])


def test_force_release_lets_a_stuck_deletion_go(target: Target, ns: Namespace, sim: SimulatorControl) -> None:
    net = target.network
    function = target.make_function("forced")
    ns.create("forced", function, net.subnets[:2], [net.app_sg])
    obj = ns.wait_ready("forced")
    arn = obj["status"]["functionArn"]
    # The operator's credentials lose the right to detach (revoked, or a policy change).
    sim.deny("lambda:UpdateFunctionConfiguration")
    try:
        ns.delete("forced")
        stuck = ns.wait(
            "forced",
            lambda o: condition(o, "Stalled").get("reason") == "AccessDenied",
            "the stuck release saying why (Stalled AccessDenied)",
        )
        assert "lambda:UpdateFunctionConfiguration" in condition(stuck, "Stalled")["message"] or (
            "AccessDenied" in condition(stuck, "Stalled")["message"]
        )
        assert stuck["metadata"].get("finalizers"), stuck["metadata"]

        target.custom.patch_namespaced_custom_object(
            "lambdavpc.dev", "v1alpha1", ns.name, "lambdavpcattachments", "forced",
            {"metadata": {"annotations": {FORCE: "true"}}},
        )  # fmt: skip
        ns.wait_gone("forced", timeout=20)
    finally:
        sim.allow("lambda:UpdateFunctionConfiguration")
    # The function is left as it was, and the Event says so.
    assert target.vpc(function).subnet_ids == set(net.subnets[:2])
    event = ns.wait_event("forced", "ForceReleased")
    assert event.type == "Warning"
    assert arn in event.message and net.subnets[0] in event.message and "AccessDenied" in event.message


SLOW_INVOKE = 20.0  # seconds each invoke of an idle function takes
# More slow invokes than the loop's default executor has threads (models.settings.IO_THREADS):
# sharing those threads, they would hold every GetFunction and status write of the operator.
IDLE_FUNCTIONS = 34


@pytest.fixture
def reactivating(
    target: Target, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest
) -> Iterator[Namespace]:
    """A namespace with an operator of its own (a short resync notices idleness at once)."""
    if target.operator is None or target.sim is None:
        pytest.skip("needs the simulator and an operator started by the tests")
    ns = make_namespace("slowinv")
    assert target.operator_log is not None
    log = target.operator_log.with_name(f"operator-{ns.name}.log")
    watch_log(request.node, log)
    operator = target.start_operator([ns.name], log, 1.0, ["--reactivation-window", "120"])
    try:
        yield ns
        ns.release_all(timeout=120)
    finally:
        operator.stop()


def test_slow_reactivation_invokes_do_not_delay_other_attachments(
    target: Target, reactivating: Namespace, sim: SimulatorControl
) -> None:
    ns, net = reactivating, target.network
    idle = target.make_functions("slowinv", IDLE_FUNCTIONS)
    for i, function in enumerate(idle):
        ns.create(f"idle-{i:02d}", function, net.subnets[:2], [net.app_sg])

    def all_ready() -> bool:
        ready = sum(condition(o, "Ready").get("status") == "True" for o in ns.list())
        assert ready == IDLE_FUNCTIONS, f"{ready}/{IDLE_FUNCTIONS} Ready"
        return True

    wait_for(all_ready, target.timeout(90), 0.5, what="the idle functions attached")
    fresh = target.make_function("fastlane")  # made now: its creation is no part of the measure
    for function in idle:
        sim.set_invoke_delay(function, SLOW_INVOKE)
    try:
        for function in idle:
            sim.make_idle(function)

        # The idle functions' reactivation invokes are now hanging in the simulator (each attempt is
        # on record before its invoke). Not all of them: sharing the looks' threads, the first invokes
        # would hold the very threads the others' status writes need.
        def invoking() -> bool:
            n = sum(bool((o.get("status") or {}).get("reactivation", {}).get("startedTime")) for o in ns.list())
            assert n >= IDLE_FUNCTIONS // 2, f"{n}/{IDLE_FUNCTIONS} reactivating"
            return True

        wait_for(invoking, target.timeout(SLOW_INVOKE / 2), 0.2, what="the idle functions being invoked")
        started = time.monotonic()
        ns.create("fresh", fresh, net.subnets[:2], [net.app_sg])
        ns.wait_ready("fresh", timeout=SLOW_INVOKE / 2)
        assert time.monotonic() - started < SLOW_INVOKE / 2
        # ... while every idle function's invoke was still held (the simulator records it when answered).
        answered = [i for i in sim.invocations() if i["function"] in idle]
        assert answered == [], f"{len(answered)} invokes already answered: the test proved nothing"
    finally:
        for function in idle:
            sim.set_invoke_delay(function, None)
