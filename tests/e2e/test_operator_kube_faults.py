"""The operator against a misbehaving Kubernetes API server (issue 10, docs/reliability.md).

Faults are injected into the emulator (`kube_faults`, cleared after each test) for the requests of
one operator of this file's own, started with short watch timeouts on its own namespace, so the
session operator and the other tests never see them. Each test proves that an attachment still
converges after a spec change, with no crash:

- a watch stream that stays open and silent (a zombie) is reopened within --watch-inactivity-timeout,
  so the change is reconciled within that bound (kopf's default, 70 s, would miss the deadline);
- watch streams cut mid-stream are resumed; 410 Expired makes kopf list again;
- 409 Conflict on status patches, 429 with Retry-After and 5xx bursts are retried.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import GROUP, PLURAL, Namespace, Target, VpcView, condition, wait_for, watch_log
from lambda_vpc_sandbox.kube import AuditKey, KubeControl

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]

# This file's operator: a silent stream is given up after INACTIVITY seconds (the emulator sends
# BOOKMARKs every 30 s, so healthy idle streams are reopened too: harmless, and quick to test).
INACTIVITY = 3.0
WATCH_FLAGS = [
    "--watch-inactivity-timeout", f"{INACTIVITY:g}", "--watch-server-timeout", "20",
    "--watch-client-timeout", "25", "--watch-connect-timeout", "5",
]  # fmt: skip
# Time from the spec change to Ready on a healthy watch: an update and a new ENI in the simulator.
CONVERGE = 20.0
OPERATOR_CLIENTS = ["kopf", "lambda-vpc-operator"]  # User-Agent products: kopf's requests, our status writes


@pytest.fixture
def faulty(
    target: Target, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest
) -> Iterator[Namespace]:
    """A namespace watched by an operator of its own, with short watch timeouts."""
    if target.operator_log is None or target.kube_control is None:
        pytest.skip("needs the emulators and an operator started by the tests")
    ns = make_namespace("kubefault")
    log = target.operator_log.with_name(f"operator-{ns.name}.log")
    watch_log(request.node, log)
    operator = target.start_operator([ns.name], log, target.resync_interval, WATCH_FLAGS)
    try:
        yield ns
        target.kube_control.clear_faults()  # before the cleanup, which needs the operator
        ns.release_all(timeout=60)
        assert operator.running, "this file's operator exited during the test"
    finally:
        operator.stop()


def _attach(target: Target, ns: Namespace, name: str) -> str:
    function = target.make_function(name)
    ns.create(name, function, target.network.subnets[:1], [target.network.app_sg])
    ns.wait_ready(name, timeout=CONVERGE)
    return function


def _change_and_converge(target: Target, ns: Namespace, name: str, function: str, timeout: float) -> float:
    """Change the spec; wait until AWS and the status say so (current generation). Returns the seconds."""
    started = time.monotonic()
    wanted = frozenset(target.network.subnets[:2])
    ns.patch_spec(name, subnetIds=sorted(wanted))
    ns.wait_ready(name, timeout=timeout)
    assert VpcView.of(target.configuration(function)).subnet_ids == wanted
    return time.monotonic() - started


def _rule(kind: str, ns: Namespace, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "namespaces": ns.name, "clients": OPERATOR_CLIENTS, **fields}


def _injected(control: KubeControl, kind: str) -> int:
    return sum(control.injected().get(kind, {}).values())


def test_a_silently_stalled_watch_is_noticed_within_the_inactivity_timeout(
    target: Target, faulty: Namespace, kube_faults: KubeControl
) -> None:
    ns = faulty
    function = _attach(target, ns, "zombie")
    # The next watch stream kopf opens (its idle one is reopened within INACTIVITY) is a zombie:
    # open, and silent for ever (no events, no BOOKMARKs, no end at timeoutSeconds).
    kube_faults.inject_faults([_rule("stall", ns, verbs="watch", resources=PLURAL, limit=1)])
    wait_for(lambda: _injected(kube_faults, "stall") == 1, 4 * INACTIVITY + 10, what="kopf's watch stalled")

    # Changed while the only stream is the zombie: seen once kopf gives the silent stream up.
    elapsed = _change_and_converge(target, ns, "zombie", function, timeout=INACTIVITY + CONVERGE)
    assert elapsed < INACTIVITY + CONVERGE


def test_watches_dropped_mid_stream_are_resumed(target: Target, faulty: Namespace, kube_faults: KubeControl) -> None:
    ns = faulty
    kube_faults.inject_faults([_rule("drop", ns, verbs="watch", params={"after": 0.5})], seed=1)
    function = _attach(target, ns, "dropped")
    _change_and_converge(target, ns, "dropped", function, timeout=CONVERGE)
    assert _injected(kube_faults, "drop") >= 2


def test_410_on_watches_makes_kopf_list_again(target: Target, faulty: Namespace, kube_faults: KubeControl) -> None:
    ns = faulty
    function = _attach(target, ns, "expired")
    assert target.kube_audit is not None
    relist = ("kopf", AuditKey("list", GROUP, PLURAL, "", True))
    lists_before = target.kube_audit[relist]
    kube_faults.inject_faults([_rule("expired", ns, verbs="watch", resources=PLURAL, limit=2)])
    wait_for(lambda: _injected(kube_faults, "expired") == 2, 4 * INACTIVITY + 10, what="two 410s sent to kopf")
    _change_and_converge(target, ns, "expired", function, timeout=CONVERGE)
    # kopf answers a 410 as a real client must: a fresh list, then a watch from its resourceVersion.
    assert target.kube_audit[relist] - lists_before >= 2


def test_conflicts_on_status_patches_are_retried(target: Target, faulty: Namespace, kube_faults: KubeControl) -> None:
    ns = faulty
    kube_faults.inject_faults([_rule("conflict", ns, resources=f"{PLURAL}/status", rate=0.5)], seed=2)
    function = _attach(target, ns, "conflicted")
    _change_and_converge(target, ns, "conflicted", function, timeout=CONVERGE)
    assert _injected(kube_faults, "conflict") >= 1
    obj = ns.get("conflicted")
    assert obj is not None and condition(obj, "Ready").get("status") == "True"


def test_throttles_and_server_errors_are_retried(target: Target, faulty: Namespace, kube_faults: KubeControl) -> None:
    ns = faulty
    kube_faults.inject_faults(
        [
            _rule("throttle", ns, rate=0.3, params={"retry_after": 1}),
            _rule("server_error", ns, rate=0.15, params={"status": 503}),
            _rule("server_error", ns, rate=0.1, params={"status": 500}),
            _rule("latency", ns, rate=0.3, params={"seconds": 0.2}),
        ],
        seed=3,
    )
    function = _attach(target, ns, "throttled")
    _change_and_converge(target, ns, "throttled", function, timeout=2 * CONVERGE)
    injected = collections.Counter({kind: _injected(kube_faults, kind) for kind in ("throttle", "server_error")})
    assert injected["throttle"] >= 1 and injected["server_error"] >= 1, injected
