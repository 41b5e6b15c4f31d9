"""Several replicas: kopf peering, with the peering object the operator creates itself.

kopf has no leader election; replicas with peering on pause all but the highest priority. With
``--peering --priority random`` (what the chart's Deployment passes when replicas > 1) each
replica creates the KopfPeering object if it is missing, and exactly one of them acts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes
import pytest

from harness import Namespace, Target, install_peering_crds, wait_for, watch_log

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]

def test_two_replicas_one_actor(
    target: Target, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest
) -> None:
    if target.operator is None:
        pytest.skip("the operator runs elsewhere")
    install_peering_crds(target.api)
    ns = make_namespace("peer")
    assert target.operator_log is not None
    logs = [target.operator_log.with_name(f"operator-{ns.name}-{i}.log") for i in (1, 2)]
    for log in logs:
        watch_log(request.node, log)
    args = ["--peering", "--priority", "random", "--peering-lifetime", "20"]
    replicas = [target.start_operator([ns.name], log, 2.0, args) for log in logs]
    try:
        peering = wait_for(
            lambda: _peering(target, ns.name), 20, 0.2, what="the KopfPeering object created by the operator"
        )
        assert peering["kind"] == "KopfPeering"
        # Each replica announces the lifetime it was given: a standby takes over at most 20 s after
        # the active one is killed (kopf's default would be 60 s).
        records = wait_for(lambda: _records(target, ns.name, 2), 20, 0.2, what="both replicas' peering records")
        assert sorted(r["lifetime"] for r in records) == [20, 20], records
        target.reset_calls()
        net = target.network
        function = target.make_function("peered")
        target.reset_calls()
        ns.create("fn", function, net.subnets[:2], [net.app_sg])
        ns.wait_ready("fn", timeout=40)
        assert all(r.running for r in replicas)
        # One replica acted: one write, not two racing ones.
        assert target.updates() == 1, target.calls()
        ns.release_all()
    finally:
        for replica in replicas:
            replica.stop()


def _records(target: Target, namespace: str, n: int) -> list[dict[str, Any]] | None:
    """The peers' records (kopf keeps them in the peering object's status, one key per peer)."""
    status = (_peering(target, namespace) or {}).get("status") or {}
    records = [r for r in status.values() if isinstance(r, dict)]
    return records if len(records) >= n else None


def _peering(target: Target, namespace: str) -> dict[str, Any] | None:
    try:
        obj: dict[str, Any] = target.custom.get_namespaced_custom_object(
            "kopf.dev", "v1", namespace, "kopfpeerings", "lambda-vpc-operator"
        )
        return obj
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
