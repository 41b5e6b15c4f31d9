"""Attaching a function and changing the attachment: what AWS ends up with and what status says."""

from __future__ import annotations

import datetime
from typing import Any

import kubernetes
import pytest

from harness import FINALIZER, GROUP, PLURAL, VERSION, Namespace, Target, condition
from lambda_vpc_operator.models import crds
from lambda_vpc_sandbox.aws import SimulatorControl

pytestmark = pytest.mark.e2e

# Every field the status schema declares; anything else would be noise such as kopf's handler results.
STATUS_FIELDS = set(
    crds.attachment_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
)
HANDLER_IDS = {"schedule_looks", "release_attachment", "wake_on_spec_change", "function_claims"}


def test_create_attaches_and_reports_ready(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("create")
    subnets, groups = [net.subnets[1], net.subnets[0]], [net.app_sg]
    ns.create("orders", function, subnets, groups)

    obj = ns.wait_ready("orders", timeout=30)

    generation = obj["metadata"]["generation"]
    status = obj["status"]
    ready = condition(obj, "Ready")
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("True", "Attached", generation)
    assert status["observedGeneration"] == generation
    assert condition(obj, "Reconciling") == {} and condition(obj, "Stalled") == {}
    # AWS holds exactly the spec (as sets), in the subnets' real VPC.
    vpc = target.vpc(function)
    assert (vpc.subnet_ids, vpc.security_group_ids, vpc.vpc_id) == (set(subnets), set(groups), net.vpc_id)
    # Status mirrors what AWS reports.
    assert status["functionArn"] == target.function_arn(function)
    assert status["vpcId"] == net.vpc_id
    assert status["subnetIds"] == sorted(subnets)
    assert status["securityGroupIds"] == sorted(groups)
    assert (status["state"], status["lastUpdateStatus"]) == ("Active", "Successful")
    assert status["appliedGeneration"] == generation
    synced = datetime.datetime.strptime(status["lastSyncTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - synced) < datetime.timedelta(minutes=30)
    # Our persistence only: our finalizer, no kopf.zalando.org keys, no handler results in status.
    meta = obj["metadata"]
    assert FINALIZER in meta["finalizers"]
    assert not [k for k in [*meta.get("finalizers", []), *(meta.get("annotations") or {})] if "kopf.zalando.org" in k]
    assert set(status) <= STATUS_FIELDS, set(status) - STATUS_FIELDS
    assert not set(status) & HANDLER_IDS and not [k for k in status if "kopf" in k], status
    # Events: what was done, and that it worked.
    ns.wait_event("orders", "Updated")
    assert {"Updating", "Updated"} <= set(ns.event_reasons("orders"))
    # The real kubectl agrees that it is Ready.
    done = target.kubectl("wait", "--for=condition=Ready", "lva/orders", "-n", ns.name, "--timeout=30s")
    assert done.returncode == 0, done.stderr
    assert "condition met" in done.stdout


def _watch_until_ready(target: Target, ns: Namespace, name: str, resource_version: str, generation: int) -> list[Any]:
    """Every version of the object from ``resource_version`` on, until Ready=True for ``generation``."""
    seen: list[dict[str, Any]] = []
    watch = kubernetes.watch.Watch()
    stream = watch.stream(
        target.custom.list_namespaced_custom_object, GROUP, VERSION, ns.name, PLURAL,
        field_selector=f"metadata.name={name}", resource_version=resource_version,
        timeout_seconds=int(target.timeout(30)),
    )  # fmt: skip
    try:
        for event in stream:
            obj = event["object"]
            seen.append(obj)
            ready = condition(obj, "Ready")
            if ready.get("status") == "True" and ready.get("observedGeneration") == generation:
                break
    finally:
        watch.stop()
    return seen


def test_spec_change_is_announced_before_anything_else(target: Target, ns: Namespace) -> None:
    """kstatus: the first status write of a generation says InProgress; a stale Ready=True never shows."""
    net = target.network
    function = target.make_function("kstatus")
    ns.create("kstatus", function, net.subnets[:2], [net.app_sg])
    ns.wait_ready("kstatus")

    patched = ns.patch_spec("kstatus", subnetIds=[net.subnets[0], net.subnets[2]])
    generation = patched["metadata"]["generation"]
    versions = _watch_until_ready(target, ns, "kstatus", patched["metadata"]["resourceVersion"], generation)

    def row(obj: dict[str, Any]) -> tuple[Any, ...]:
        status = obj.get("status") or {}
        ready, reconciling = condition(obj, "Ready"), condition(obj, "Reconciling")
        return (status.get("observedGeneration"), ready.get("status"), ready.get("observedGeneration"),
                reconciling.get("status"))  # fmt: skip

    rows = [row(obj) for obj in versions]
    assert rows and rows[-1][1:3] == ("True", generation), f"never Ready for generation {generation}: {rows}"
    announced = [i for i, r in enumerate(rows) if r[0] == generation]
    first = rows[announced[0]]
    assert first[1] in ("Unknown", "False") and first[2] == generation and first[3] == "True", rows
    # Until then, the old generation is still what status talks about (kstatus: InProgress).
    assert all(r[0] != generation for r in rows[: announced[0]]), rows
    # Ready=True comes last, and only once Reconciling is gone.
    assert all(r[1] != "True" for r in rows[announced[0] : -1]), rows
    assert rows[-1][3] is None, rows


def test_changing_subnets_updates_aws_once(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("subnets")
    ns.create("subnets", function, net.subnets[:2], [net.app_sg])
    ns.wait_ready("subnets")
    if target.sim is not None:
        target.reset_calls()

    patched = ns.patch_spec("subnets", subnetIds=[net.subnets[0], net.subnets[2]])
    obj = ns.wait_ready("subnets")

    assert obj["metadata"]["generation"] == patched["metadata"]["generation"] == 2
    vpc = target.vpc(function)
    assert (vpc.subnet_ids, vpc.security_group_ids) == ({net.subnets[0], net.subnets[2]}, {net.app_sg})
    assert obj["status"]["subnetIds"] == sorted([net.subnets[0], net.subnets[2]])
    assert obj["status"]["appliedGeneration"] == 2
    if target.sim is not None:
        assert target.updates() == 1, target.calls()


def test_update_waits_while_another_is_in_progress(target: Target, ns: Namespace, sim: SimulatorControl) -> None:
    """A function busy with someone else's update: wait for it (no 409 loop), then apply the spec once."""
    net = target.network
    function = target.make_function("busy")
    target.reset_calls()
    sim.set_delays(update=4.0)
    target.lambda_.update_function_configuration(FunctionName=function, Description="deploy in progress")
    sim.set_delays(update=0.5)  # the update above keeps its 4 s; ours will be quick
    assert target.configuration(function)["LastUpdateStatus"] == "InProgress"

    ns.create("busy", function, net.subnets[:2], [net.app_sg])
    waiting = ns.wait_condition("busy", "Reconciling", "True", "UpdateInProgress", timeout=10)
    assert condition(waiting, "Ready")["status"] in ("False", "Unknown")
    assert target.updates() == 0, "wrote to a function that was busy"
    obj = ns.wait_ready("busy", timeout=30)

    vpc = target.vpc(function)
    assert (vpc.subnet_ids, vpc.security_group_ids) == (set(net.subnets[:2]), {net.app_sg})
    assert obj["status"]["appliedGeneration"] == 1
    # One write once the function was free: no ResourceConflictException loop, and polling backed off.
    assert target.updates() == 1, target.calls()
    assert target.reads() <= 8, target.calls()
    assert not target.throttled(), target.throttled()
