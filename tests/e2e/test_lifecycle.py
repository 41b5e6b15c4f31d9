"""Lifecycle cases an attachment must settle on: someone else's failed update, the AWS-side states
Lambda will not run a function in, and a settled attachment at rest while its subnets' free-address
counts move (subnets shared with pods).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import Namespace, Target, condition, wait_for, watch_log
from lambda_vpc_sandbox.aws.control import SimulatorControl
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]

RESYNC = 1.0


def attach(target: Target, ns: Namespace, hint: str, **spec: Any) -> str:
    net = target.network
    function = target.make_function(hint)
    ns.create("fn", function, net.subnets[:2], [net.app_sg], **spec)
    ns.wait_ready("fn")
    return function


def test_a_foreign_failed_update_is_noted_not_stalled_nor_masked(
    target: Target, ns: Namespace, sim: SimulatorControl
) -> None:
    function = attach(target, ns, "foreign")
    target.reset_calls()

    # A CI pipeline deploys new code, and that update fails (aws-facts "Errors": asynchronously,
    # LastUpdateStatus Failed with a reason code; Lambda keeps the previous code and configuration).
    sim.inject_update_failure(function, "InvalidZipFileException", "Could not unzip uploaded file.")
    target.lambda_.update_function_code(FunctionName=function, ZipFile=target.zip_file)
    wait_for(lambda: target.configuration(function)["LastUpdateStatus"] == "Failed", 10, 0.1,
             what="the foreign update failed")  # fmt: skip

    obj = ns.wait(
        "fn",
        lambda o: "not sent by this operator" in condition(o, "Ready").get("message", ""),
        "Ready naming the foreign failure",
        timeout=20,
    )
    assert obj["status"]["lastUpdateStatus"] == "Failed"
    assert obj["status"]["lastUpdateStatusReasonCode"] == "InvalidZipFileException"
    target.wait_reads(3, timeout=20)  # several resyncs: the retry-at-resync path must not fire either
    obj = ns.get("fn")
    ready = condition(obj, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Attached")
    assert "InvalidZipFileException: Could not unzip uploaded file" in ready["message"]
    assert condition(obj, "Stalled") == {}
    assert target.updates() == 0  # our VpcConfig is in place: never re-sent to mask their failure
    assert "Stalled" not in ns.event_reasons("fn")


@pytest.mark.parametrize(("state", "reason"), [("Deactivated", "FunctionDeactivated"),
                                               ("ActiveNonInvocable", "FunctionNotInvocable")])  # fmt: skip
def test_states_lambda_will_not_run_stall_with_the_fix(
    target: Target, ns: Namespace, sim: SimulatorControl, state: str, reason: str
) -> None:
    function = attach(target, ns, "noinvoke")
    target.reset_calls()

    sim.set_state(function, state, "InvalidConfiguration", "The function's capacity provider was deleted.")

    obj = ns.wait_stalled("fn", reason, timeout=20)  # kstatus Failed, not InProgress for ever
    message = condition(obj, "Stalled")["message"]
    assert f"is {state} (The function's capacity provider was deleted)" in message
    assert "fix the cause AWS names" in message
    assert condition(obj, "Reconciling") == {}
    assert obj["status"]["state"] == state
    assert target.updates() == 0
    ns.wait_event("fn", "Stalled", timeout=10)  # posted after the status write: wait, do not race
    assert ns.event_reasons("fn")["Stalled"] == 1


@pytest.fixture
def own(target: Target, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest) -> Iterator[Any]:
    """A namespace outside the session operator's glob, with an operator of its own (restartable)."""
    if target.operator is None or target.sim is None or target.kube_audit is None:
        pytest.skip("needs the emulators and an operator started by the tests")
    ns = make_namespace("rest")
    assert target.operator_log is not None
    log = target.operator_log.with_name(f"operator-{ns.name}.log")
    watch_log(request.node, log)

    class Own:
        namespace = ns
        operator: OperatorProcess = target.start_operator([ns.name], log, RESYNC)

        def restart(self, resync: float = RESYNC) -> None:
            self.operator.stop()
            self.operator = target.start_operator([ns.name], log, resync)

    own = Own()
    try:
        yield own
        ns.release_all()
    finally:
        own.operator.stop()


def test_no_status_write_at_rest_while_free_address_counts_move(
    target: Target, own: Any, sim: SimulatorControl
) -> None:
    ns = own.namespace
    attach(target, ns, "rest")
    # Let the attachment settle (networkReadyTime and the rest written once).
    ns.wait("fn", lambda o: condition(o, "NetworkReady").get("status") == "True", "NetworkReady", timeout=20)
    target.wait_reads(2, timeout=20)
    before = ns.get("fn")
    assert before is not None
    writes = target.status_writes()
    target.reset_calls()
    sim.set_free_address_jitter(40)  # pods (VPC CNI) take and give back addresses all the time
    try:
        # Subnet facts are cached for minutes (aws.networks); a restart reads them again at once,
        # like the cache's expiry would: each restart and the resyncs after it must write nothing.
        for _ in range(3):
            own.restart()
            target.wait_reads(3, timeout=30)
        assert target.calls()["ec2:DescribeSubnets"] >= 3  # the moving counts were read
    finally:
        sim.set_free_address_jitter(0)
    after = ns.get("fn")
    assert after is not None
    assert target.status_writes() == writes
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    rows = after["status"]["networkInterfaces"]
    assert rows and all("freeIpAddresses" not in row for row in rows)


def test_our_failed_update_is_still_ours_after_a_restart(target: Target, own: Any, sim: SimulatorControl) -> None:
    ns = own.namespace
    own.restart(resync=120)  # no resync (which retries at its pace) during the test
    net = target.network
    function = target.make_function("ours")
    sim.inject_update_failure(function, "SubnetOutOfIPAddresses", "No free IP addresses in the subnet.")
    ns.create("fn", function, net.subnets[:2], [net.app_sg])
    obj = ns.wait_stalled("fn", "SubnetOutOfIPAddresses", timeout=20)
    assert obj["status"]["sentGeneration"] == 1  # status remembers that the update was ours
    assert target.configuration(function).get("VpcConfig", {}).get("SubnetIds") in (None, [])  # rolled back

    target.reset_calls()
    own.restart(resync=120)
    target.wait_reads(1, timeout=20)  # the new operator's first look
    obj = ns.get("fn")
    # Memory is gone, status is not: still our failure, not a spec change to write again at once.
    assert condition(obj, "Stalled")["reason"] == "SubnetOutOfIPAddresses"
    assert target.updates() == 0
