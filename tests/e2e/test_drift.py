"""Someone changes the function's VpcConfig behind the operator's back."""

from __future__ import annotations

import pytest

from harness import Namespace, Target, condition

pytestmark = pytest.mark.e2e


def test_drift_is_corrected(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("drift-fix")
    ns.create("drift", function, net.subnets[:2], [net.app_sg])
    ready = ns.wait_ready("drift")
    if target.sim is not None:
        target.reset_calls()

    target.set_vpc_out_of_band(function, [net.subnets[2]], [net.db_sg])

    ns.wait_event("drift", "DriftCorrected", timeout=5 * target.resync_interval + 10)
    obj = ns.wait_ready("drift", timeout=30)
    target.wait_active(function)
    vpc = target.vpc(function)
    assert (vpc.subnet_ids, vpc.security_group_ids, vpc.vpc_id) == (set(net.subnets[:2]), {net.app_sg}, net.vpc_id)
    assert {"DriftDetected", "DriftCorrected"} <= set(ns.event_reasons("drift"))
    # Drift is not a spec change: same generation, and the correction was one write.
    assert obj["metadata"]["generation"] == ready["metadata"]["generation"] == 1
    if target.sim is not None:
        assert target.updates() == 1, target.calls()


def test_drift_is_reported_and_left_alone(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("drift-report")
    ns.create("drift", function, net.subnets[:2], [net.app_sg], driftPolicy="Report")
    ns.wait_ready("drift")

    target.set_vpc_out_of_band(function, [net.subnets[2]], [net.db_sg])
    foreign = target.wait_active(function)

    obj = ns.wait_stalled("drift", "DriftDetected", timeout=5 * target.resync_interval + 10)
    ready = condition(obj, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "DriftDetected")
    assert "driftPolicy" in condition(obj, "Stalled")["message"]
    # Several resyncs later: still reported once, and AWS keeps the foreign configuration.
    if target.sim is not None:
        target.reset_calls()
    target.wait_reads(3, timeout=5 * target.resync_interval + 10)
    if target.sim is not None:
        assert target.updates() == 0, target.calls()
    vpc = target.vpc(function)
    assert (vpc.subnet_ids, vpc.security_group_ids) == ({net.subnets[2]}, {net.db_sg})
    assert target.configuration(function)["RevisionId"] == foreign["RevisionId"]
    assert ns.event_reasons("drift")["DriftDetected"] == 1, ns.events("drift")
    assert condition(ns.get("drift"), "Stalled")["reason"] == "DriftDetected"
