"""An operator restart with everything in sync costs no AWS write and no status write; a graceful stop
while AWS fails is clean."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness import Namespace, Target, wait_for, watch_log
from lambda_vpc_sandbox.aws.control import SimulatorControl
from lambda_vpc_sandbox.kube.control import KubeControl
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]

ATTACHMENTS = 3
RESYNC = 1.0  # this test's own operator re-reads quickly, so several resyncs pass in seconds
RESYNC_ROUNDS = 3


@pytest.fixture
def own_operator(
    target: Target, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest
) -> Iterator[tuple[Namespace, OperatorProcess]]:
    """A namespace outside the session operator's glob, served by an operator of its own."""
    if target.operator is None:
        pytest.skip("the operator runs elsewhere (LVO_E2E_OPERATOR=external): it cannot be restarted here")
    ns = make_namespace("e2x")
    log = target.operator_log.with_name(f"operator-{ns.name}.log") if target.operator_log else None
    assert log is not None
    watch_log(request.node, log)
    operator = target.start_operator([ns.name], log, RESYNC)
    try:
        yield ns, operator
        ns.release_all()  # while its operator still runs
    finally:
        operator.stop()


def test_restart_in_sync_writes_nothing(target: Target, own_operator: tuple[Namespace, OperatorProcess]) -> None:
    ns, operator = own_operator
    net = target.network
    names = [f"steady-{i}" for i in range(ATTACHMENTS)]
    for name, function in zip(names, target.make_functions("restart", ATTACHMENTS), strict=True):
        ns.create(name, function, net.subnets[:2], [net.app_sg])
    for name in names:
        ns.wait_ready(name)
    # Counted once the first operator has stopped: what it posts after Ready (an Event whose write is
    # still queued, the owner tag's status) belongs to the first run, not to the restart.
    operator.stop()
    versions = {name: ns.get(name)["metadata"]["resourceVersion"] for name in names}  # type: ignore[index]
    events = {name: len(ns.events(name)) for name in names}
    target.reset_calls()
    operator.start()
    # The first look after the start, then RESYNC_ROUNDS resyncs of every attachment.
    target.wait_reads(ATTACHMENTS * (1 + RESYNC_ROUNDS), timeout=30)

    assert operator.running
    assert target.updates() == 0, target.calls()
    assert {name: ns.get(name)["metadata"]["resourceVersion"] for name in names} == versions  # type: ignore[index]
    assert {name: len(ns.events(name)) for name in names} == events


def test_graceful_stop_while_a_shared_read_fails_exits_cleanly(
    target: Target, own_operator: tuple[Namespace, OperatorProcess], sim: SimulatorControl
) -> None:
    """SIGINT (kopf's graceful stop) while GetFunctions are in flight and fail: kopf re-raises the
    exception of any task left in the loop, so a failed shared read made the operator exit 1 with a
    traceback (found by the chaos run). It exits 0, and a restart carries on."""
    ns, operator = own_operator
    net = target.network
    for i, function in enumerate(target.make_functions("stopping", 2)):
        ns.create(f"stopping-{i}", function, net.subnets[:2], [net.app_sg])
        ns.wait_ready(f"stopping-{i}")
    assert operator.log_path is not None
    offset = operator.log_path.stat().st_size
    sim.inject_faults([
        {"operations": "lambda:GetFunction", "kind": "latency", "params": {"seconds": 3.0}},
        {"operations": "lambda:GetFunction", "kind": "server_error"},
    ])  # fmt: skip
    wait_for(lambda: sum(sim.injected().get("latency", {}).values()) >= 1, 10, 0.1, what="a GetFunction in flight")

    code = operator.stop()
    tail = operator.log_path.read_bytes()[offset:].decode("utf-8", "replace")
    assert code == 0, tail
    assert "Traceback" not in tail, tail
    sim.clear_faults()
    operator.start()
    ns.wait_ready("stopping-0")


def test_start_while_the_api_server_sheds_load(
    target: Target, make_namespace: Callable[[str], Namespace], kube_faults: KubeControl,
    request: pytest.FixtureRequest,
) -> None:
    """The operator reads namespace kube-system once at startup (its cluster name): a 503 there
    stopped it with advice about permissions (found by the chaos run). It retries, then starts."""
    if target.operator_log is None:
        pytest.skip("the operator runs elsewhere")
    ns = make_namespace("e2x")
    kube_faults.inject_faults([{
        "kind": "server_error", "verbs": "get", "resources": "namespaces", "clients": "lambda-vpc-operator",
        "limit": 3, "params": {"status": 503},
    }])  # fmt: skip
    log = target.operator_log.with_name(f"operator-{ns.name}.log")
    watch_log(request.node, log)
    operator = target.start_operator([ns.name], log, RESYNC)
    try:
        net = target.network
        ns.create("shed", target.make_function("shed"), net.subnets[:1], [net.app_sg])
        ns.wait_ready("shed")
        assert sum(kube_faults.injected().get("server_error", {}).values()) == 3
        assert operator.running
        ns.release_all()
    finally:
        operator.stop()
