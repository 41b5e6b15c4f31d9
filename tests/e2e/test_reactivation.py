"""Idle (Inactive) functions are invoked back to Active, or reported, as spec.reactivation says.

The simulator makes a function Inactive on request (aws-facts: after 14 idle days, State Inactive,
StateReasonCode Idle, ENIs reclaimed); an invoke then fails with ResourceNotReadyException and the
function rebuilds its ENIs (Pending) before it is Active again. Each test runs its own operator
with a short reactivation window, so that retries happen in seconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest

from harness import Namespace, Target, condition, wait_for, watch_log
from lambda_vpc_sandbox.aws.control import SimulatorControl
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]

RESYNC = 1.0  # Inactive is noticed at the next look: one resync interval
WINDOW = 3.0  # --reactivation-window: seconds before a second invoke
MARKER = '{"lambdavpc.dev/reactivation": true}'
ANNOTATION = "lambdavpc.dev/reactivate"


@pytest.fixture
def own(target: Target, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest) -> Iterator[Any]:
    """A namespace outside the session operator's glob, with an operator of its own."""
    if target.operator is None or target.sim is None:
        pytest.skip("needs the simulator and an operator started by the tests")
    ns = make_namespace("rx")
    assert target.operator_log is not None
    log = target.operator_log.with_name(f"operator-{ns.name}.log")
    watch_log(request.node, log)
    args = ["--reactivation-window", str(WINDOW)]

    class Own:
        namespace = ns
        operator: OperatorProcess = target.start_operator([ns.name], log, RESYNC, args)

        def restart(self) -> None:
            self.operator.stop()
            self.operator = target.start_operator([ns.name], log, RESYNC, args)

    own = Own()
    try:
        yield own
        ns.release_all()
    finally:
        own.operator.stop()


def invocations(sim: SimulatorControl, function: str) -> list[dict[str, Any]]:
    return [i for i in sim.invocations() if i["function"] == function]


def reactivation(obj: dict[str, Any] | None) -> dict[str, Any]:
    return dict(((obj or {}).get("status") or {}).get("reactivation") or {})


def attach(target: Target, ns: Namespace, hint: str, **spec: Any) -> str:
    net = target.network
    function = target.make_function(hint)
    ns.create("fn", function, net.subnets[:2], [net.app_sg], **spec)
    ns.wait_ready("fn")
    return function


def test_auto_reactivates_an_idle_function_with_one_invoke(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns = own.namespace
    function = attach(target, ns, "react-auto")

    sim.make_idle(function)

    ns.wait_event("fn", "ReactivationStarted", timeout=10)
    obj = ns.wait(
        "fn", lambda o: reactivation(o).get("lastResult") == "Reactivated", "lastResult Reactivated", timeout=30
    )
    record = reactivation(obj)
    assert record["attempts"] == 1
    assert record["lastDurationSeconds"] >= 0 and record["lastSuccessTime"]
    assert condition(obj, "Ready")["status"] == "True"
    # Events are posted after the status write (and kopf posts them from a queue): wait, do not race.
    ns.wait_event("fn", "Reactivated", timeout=10)
    assert {"ReactivationStarted", "Reactivated"} <= set(ns.event_reasons("fn"))
    calls = invocations(sim, function)
    assert [(c["invocation_type"], c["payload"], c["result"]) for c in calls] == [
        ("RequestResponse", MARKER, "ResourceNotReadyException")
    ]
    assert target.configuration(function)["State"] == "Active"


def test_an_idle_function_of_another_region_is_invoked_there(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns, far = own.namespace, target.second_region()
    function = target.make_function("react-far", region=far.name)
    target.make_function(name=function)  # a namesake in the operator's region: never to be invoked
    ns.create("fn", target.function_arn(function, far.name), far.network.subnets[:2], [far.network.app_sg])
    ns.wait_ready("fn")

    sim.make_idle(function, region=far.name)
    ns.wait("fn", lambda o: reactivation(o).get("lastResult") == "Reactivated", "lastResult Reactivated", timeout=30)
    calls = invocations(sim, function)
    assert [(c["region"], c["payload"], c["result"]) for c in calls] == [
        (far.name, MARKER, "ResourceNotReadyException")
    ], calls
    assert target.configuration(function, far.name)["State"] == "Active"


def test_manual_waits_for_the_annotation(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns = own.namespace
    function = attach(target, ns, "react-manual", reactivation={"policy": "Manual"})

    sim.make_idle(function)
    # Waiting for a human is settled (kstatus Failed), and names the annotation to set.
    obj = ns.wait_stalled("fn", "Inactive", timeout=10)
    assert f"annotate the attachment {ANNOTATION}=<new value>" in condition(obj, "Stalled")["message"]
    assert condition(obj, "Ready")["status"] == "False"
    target.wait_reads(3, timeout=15)
    assert invocations(sim, function) == []

    target.custom.patch_namespaced_custom_object(
        "lambdavpc.dev", "v1alpha1", ns.name, "lambdavpcattachments", "fn",
        {"metadata": {"annotations": {ANNOTATION: "1"}}},
    )  # fmt: skip
    obj = ns.wait("fn", lambda o: reactivation(o).get("lastResult") == "Reactivated", "Reactivated", timeout=30)
    assert reactivation(obj)["handledRequest"] == "1"
    assert len(invocations(sim, function)) == 1
    obj = ns.wait_ready("fn", timeout=15)
    assert condition(obj, "Stalled") == {}


def test_disabled_reports_and_never_invokes(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns = own.namespace
    function = attach(target, ns, "react-off", reactivation={"policy": "Disabled"})

    sim.make_idle(function)
    # Idle as the user chose: Ready (kstatus Current) with the reason Inactive; NetworkReady says why not.
    obj = ns.wait_condition("fn", "Ready", "True", "Inactive", timeout=10)
    assert "next invoke will fail" in condition(obj, "Ready")["message"]
    assert (condition(obj, "NetworkReady")["status"], condition(obj, "NetworkReady")["reason"]) == ("False", "Inactive")
    assert condition(obj, "Stalled") == {} and condition(obj, "Reconciling") == {}
    target.custom.patch_namespaced_custom_object(
        "lambdavpc.dev", "v1alpha1", ns.name, "lambdavpcattachments", "fn",
        {"metadata": {"annotations": {ANNOTATION: "please"}}},
    )  # fmt: skip
    target.wait_reads(3, timeout=15)
    assert invocations(sim, function) == []
    assert target.configuration(function)["State"] == "Inactive"


def test_an_active_function_is_never_invoked(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns = own.namespace
    function = attach(target, ns, "react-active")
    target.wait_reads(4, timeout=15)
    assert invocations(sim, function) == []


def test_keep_warm_invokes_an_active_function_on_schedule(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns = own.namespace
    function = attach(target, ns, "react-warm", reactivation={"keepWarmInterval": "3s"})

    wait_for(lambda: len(invocations(sim, function)) >= 2, 20, 0.2, what="two keep-warm invokes")
    calls = invocations(sim, function)
    assert all(c["result"] in ("Success", 200, "200") or c["status"] == 200 for c in calls), calls
    # 3 s apart (real time drives keep-warm); the simulator records simulated seconds, equal here.
    assert calls[1]["at"] - calls[0]["at"] >= 2.5
    assert ns.event_reasons("fn")["KeptWarm"] >= 2
    assert reactivation(ns.get("fn")).get("lastResult") == "KeptWarm"


def test_rebuild_failures_are_retried_then_stalled(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns = own.namespace
    function = attach(target, ns, "react-fail", reactivation={"maxAttempts": 2})

    sim.fail_next_rebuild(function, "SubnetOutOfIPAddresses", "no free addresses in subnet")
    sim.make_idle(function)
    # The first attempt fails back to Inactive; arm the second failure before the window ends.
    wait_for(
        lambda: reactivation(ns.get("fn")).get("attempts") == 1
        and target.configuration(function)["State"] == "Inactive"
        and invocations(sim, function),
        10, 0.05, what="first attempt failed",
    )  # fmt: skip
    sim.fail_next_rebuild(function, "SubnetOutOfIPAddresses", "no free addresses in subnet")

    obj = ns.wait_stalled("fn", "ReactivationFailed", timeout=40)
    assert "after 2 invoke(s)" in condition(obj, "Stalled")["message"]
    assert reactivation(obj)["lastResult"] == "Failed"
    assert len(invocations(sim, function)) == 2
    assert ns.event_reasons("fn")["ReactivationFailed"] == 1
    target.wait_reads(3, timeout=15)
    assert len(invocations(sim, function)) == 2  # given up: no more invokes


def test_restart_during_a_reactivation_does_not_invoke_again(
    target: Target, own: Any, sim: SimulatorControl
) -> None:
    ns = own.namespace
    function = attach(target, ns, "react-restart")
    sim.set_delays(eni_create=10_000)  # the rebuild takes "forever" in simulated time

    sim.make_idle(function)
    wait_for(lambda: invocations(sim, function), 10, 0.05, what="the reactivation invoke")
    ns.wait(
        "fn", lambda o: reactivation(o).get("lastResult") == "Started", "the attempt recorded", timeout=10
    )
    own.restart()
    target.wait_reads(3, timeout=20)  # the new operator has looked several times
    assert len(invocations(sim, function)) == 1

    sim.advance(10_000)  # the rebuild completes
    ns.wait("fn", lambda o: reactivation(o).get("lastResult") == "Reactivated", "Reactivated", timeout=30)
    assert len(invocations(sim, function)) == 1


def idle_and_reactivated(target: Target, ns: Namespace, sim: SimulatorControl, function: str) -> dict[str, Any]:
    """Make the function idle and wait for the operator to bring it back; the new record."""
    before = reactivation(ns.get("fn")).get("lastAttemptTime")
    count = len(invocations(sim, function))
    sim.make_idle(function)
    wait_for(lambda: len(invocations(sim, function)) > count, 10, 0.05, what="the reactivation invoke")

    def done(o: dict[str, Any]) -> bool:
        record = reactivation(o)
        return record.get("lastResult") == "Reactivated" and record.get("lastAttemptTime") != before

    obj = ns.wait("fn", done, "Reactivated again", timeout=30)
    return reactivation(obj)


def test_each_idle_period_starts_from_attempt_one(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns = own.namespace
    function = attach(target, ns, "react-twice")

    assert idle_and_reactivated(target, ns, sim, function)["attempts"] == 1
    ns.wait_ready("fn", timeout=15)
    # The second idle period: attempt 1 again, so its first window is the base one, not doubled.
    assert idle_and_reactivated(target, ns, sim, function)["attempts"] == 1
    assert len(invocations(sim, function)) == 2


def test_a_new_idle_period_after_a_failed_one_invokes_again(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns = own.namespace
    function = attach(target, ns, "react-again", reactivation={"maxAttempts": 1})

    sim.fail_next_rebuild(function, "SubnetOutOfIPAddresses", "no free addresses in subnet")
    sim.make_idle(function)
    obj = ns.wait_stalled("fn", "ReactivationFailed", timeout=30)
    assert reactivation(obj)["lastResult"] == "Failed"
    assert len(invocations(sim, function)) == 1

    # It recovers (a user's invoke starts a rebuild that succeeds): the failed episode is over.
    with contextlib.suppress(botocore.exceptions.ClientError):
        target.lambda_.invoke(FunctionName=function, Payload=b"{}")
    obj = ns.wait("fn", lambda o: reactivation(o).get("lastResult") == "Recovered", "Recovered", timeout=30)
    ns.wait_event("fn", "Reactivated", timeout=10)  # posted after the status write: wait, do not race
    obj = ns.wait_ready("fn", timeout=15)
    assert condition(obj, "Stalled") == {}

    # Idle again later: a new invoke at once, attempt 1 (not Stalled without one).
    record = idle_and_reactivated(target, ns, sim, function)
    assert record["attempts"] == 1
    ours = [i for i in invocations(sim, function) if i["payload"] == MARKER]
    assert len(ours) == 2
