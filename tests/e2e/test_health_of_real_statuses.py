"""The Argo CD health check (deploy/argocd-health.lua) over statuses the operator really wrote.

tests/chart/test_argocd_health.py runs the Lua over hand-written and planner-built statuses; here
it judges what the operator put in the cluster: one attachment waiting for its ENIs
(Progressing), one Stalled (Degraded), one Ready (Healthy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import Namespace, Target, unique_name
from lambda_vpc_sandbox.aws import SimulatorControl

pytestmark = pytest.mark.e2e

lupa = pytest.importorskip("lupa.lua51", reason="lupa (dev dependency) runs the Lua health check")

LUA = Path(__file__).resolve().parents[2] / "deploy" / "argocd-health.lua"
# Simulated seconds the test holds an ENI back: far longer than the test.
HELD = 10_000.0


def health(obj: dict[str, Any] | None) -> str:
    """Argo CD's verdict (gopher-lua is Lua 5.1, as lupa's runtime here)."""
    assert obj is not None
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals()["obj"] = runtime.table_from(obj, recursive=True)
    return str(runtime.execute(LUA.read_text())["status"])


@pytest.mark.simulator
def test_argocd_health_of_what_the_operator_wrote(target: Target, ns: Namespace, sim: SimulatorControl) -> None:
    net = target.network
    group = str(target.ec2.create_security_group(
        GroupName=unique_name("e2e-sg", 60), Description="lambda-vpc-operator e2e", VpcId=net.vpc_id
    )["GroupId"])  # fmt: skip
    slow = net.subnets[0]
    sim.set_combination_delay(slow, [group], HELD)
    try:
        ns.create("waiting", target.make_function("argo-wait"), [slow], [group])
        waiting = ns.wait_condition("waiting", "Reconciling", "True", "WaitingForNetworkInterfaces")
        assert health(waiting) == "Progressing"

        ns.create("broken", target.make_function("argo-bad"), ["subnet-0doesnotexist"], [net.app_sg])
        assert health(ns.wait_stalled("broken", "SubnetNotFound")) == "Degraded"

        ns.create("fine", target.make_function("argo-ok"), net.subnets[:2], [net.app_sg])
        assert health(ns.wait_ready("fine")) == "Healthy"
    finally:
        # Let Lambda finish the held ENI, so that the attachment can be released afterwards.
        sim.set_combination_delay(slow, [group], None)
        sim.advance(HELD)
    assert health(ns.wait_ready("waiting", timeout=40)) == "Healthy"
