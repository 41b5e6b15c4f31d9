"""The Argo CD health check (deploy/argocd-health.lua), run in Lua 5.1 as Argo CD runs it.

Argo CD evaluates `resource.customizations.health.<group>_<Kind>` with gopher-lua (Lua 5.1): the
global ``obj`` is the resource, the script returns ``{status=..., message=...}``. lupa's Lua 5.1
runtime does the same here, against hand-written statuses (no status, no conditions, ...) and
against statuses built by the planner's own condition builders, so the check and the operator
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.functions import FunctionObservation
from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.planning import Situation, plan_attachment, plan_start
from shipping import ROOT

lupa = pytest.importorskip("lupa.lua51", reason="lupa (dev dependency) runs the Lua health check")

LUA = ROOT / "deploy" / "argocd-health.lua"
ARGOCD_CM = ROOT / "examples" / "argocd" / "argocd-cm.yaml"
KEY = "resource.customizations.health.lambdavpc.dev_LambdaVpcAttachment"
GENERATION = 3
NOW = "2026-11-25T10:00:00Z"


def health(obj: Mapping[str, Any]) -> tuple[str, str]:
    """Run the health check on ``obj`` in a fresh Lua 5.1 runtime; (status, message)."""
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals()["obj"] = runtime.table_from(dict(obj), recursive=True)
    source = LUA.read_text()
    result = runtime.execute(source)
    return str(result["status"]), str(result["message"] or "")


def attachment(status: Mapping[str, Any] | None, generation: int = GENERATION) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "lambdavpc.dev/v1alpha1",
        "kind": "LambdaVpcAttachment",
        "metadata": {"name": "orders-api", "namespace": "default", "generation": generation},
        "spec": {"functionName": "orders-api"},
    }
    if status is not None:
        obj["status"] = dict(status)
    return obj


def cond(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason or type_, "message": message,
            "observedGeneration": GENERATION, "lastTransitionTime": NOW}  # fmt: skip


def test_argocd_cm_embeds_the_lua_file_unchanged() -> None:
    cm = yaml.safe_load(ARGOCD_CM.read_text())
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "argocd-cm"
    assert cm["data"][KEY] == LUA.read_text()


def test_runs_in_lua_5_1_like_argo_cd() -> None:
    runtime = lupa.LuaRuntime()
    assert runtime.eval("_VERSION") == "Lua 5.1"


@pytest.mark.parametrize(
    ("status", "expected", "in_message"),
    [
        pytest.param(None, "Progressing", "Waiting for the operator", id="no-status-yet"),
        pytest.param({}, "Progressing", "generation 3", id="empty-status"),
        pytest.param({"observedGeneration": GENERATION}, "Progressing", "Waiting for the Ready condition",
                     id="no-conditions"),
        pytest.param({"observedGeneration": GENERATION, "conditions": []}, "Progressing", "Ready",
                     id="empty-conditions"),
        pytest.param({"observedGeneration": GENERATION, "conditions": [cond("Ready", "True", "Attached", "in VPC")]},
                     "Healthy", "Attached: in VPC", id="ready"),
        pytest.param({"observedGeneration": GENERATION - 1,
                      "conditions": [cond("Ready", "True", "Attached")]},
                     "Progressing", "generation 3", id="ready-but-for-an-older-generation"),
        pytest.param({"conditions": [cond("Ready", "True", "Attached")]}, "Progressing", "generation 3",
                     id="ready-without-observed-generation"),
        pytest.param({"observedGeneration": GENERATION,
                      "conditions": [cond("Ready", "False", "InvalidSubnet"),
                                     cond("Stalled", "True", "InvalidSubnet", "spec.subnetIds: subnet-x is gone")]},
                     "Degraded", "InvalidSubnet: spec.subnetIds: subnet-x is gone", id="stalled"),
        pytest.param({"observedGeneration": GENERATION,
                      "conditions": [cond("Ready", "Unknown", "Updating"),
                                     cond("Reconciling", "True", "WaitingForEni", "building ENIs")]},
                     "Progressing", "WaitingForEni: building ENIs", id="reconciling"),
        pytest.param({"observedGeneration": GENERATION, "conditions": [cond("Ready", "False", "Idle")]},
                     "Progressing", "Idle", id="ready-false-is-not-degraded"),
        pytest.param({"observedGeneration": GENERATION,
                      "conditions": [cond("Stalled", "False", "Resolved"), cond("Ready", "True", "Attached")]},
                     "Healthy", "Attached", id="stalled-false-is-ignored"),
    ],
)  # fmt: skip
def test_health_of_sample_statuses(status: dict[str, Any] | None, expected: str, in_message: str) -> None:
    got, message = health(attachment(status))
    assert got == expected
    assert in_message in message


def test_no_generation_at_all_is_progressing() -> None:
    obj = attachment({"observedGeneration": 1, "conditions": [cond("Ready", "True")]})
    del obj["metadata"]["generation"]
    assert health(obj)[0] == "Progressing"


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        pytest.param(plan_start(GENERATION), "Progressing", id="start-of-a-generation"),
        pytest.param([conditions.ready(conditions.Status.TRUE, "Attached")], "Healthy", id="attached"),
        # AliasesCurrent=False is information (planner.aliases): an attached function stays Healthy.
        pytest.param([conditions.ready(conditions.Status.TRUE, "Attached"),
                      conditions.ConditionSpec(conditions.ConditionType.ALIASES_CURRENT, conditions.Status.FALSE,
                                               "StaleAliases")], "Healthy", id="attached-with-stale-aliases"),
        pytest.param([conditions.ready(conditions.Status.FALSE, "InvalidSubnet"), conditions.stalled("InvalidSubnet")],
                     "Degraded", id="stalled"),
    ],
)  # fmt: skip
def test_health_of_the_planners_conditions(wanted: Any, expected: str) -> None:
    """Statuses as the reconciler writes them: conditions.merge of the planner's condition specs."""
    merged = conditions.merge([], wanted, generation=GENERATION, now=NOW)
    assert health(attachment({"observedGeneration": GENERATION, "conditions": merged}))[0] == expected


def _function(**lifecycle: Any) -> FunctionObservation:
    return FunctionObservation.from_aws({
        "FunctionName": "orders-api", "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders-api",
        "VpcConfig": {"SubnetIds": ["subnet-a1"], "SecurityGroupIds": ["sg-1"], "VpcId": "vpc-1"},
        "State": "Active", "LastUpdateStatus": "Successful", "RevisionId": "rev-1", **lifecycle,
    })  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "lifecycle", "expected"),
    [
        # Idle as the user chose (reactivation Disabled): attached as asked.
        pytest.param("Disabled", {"State": "Inactive", "StateReasonCode": "Idle"}, "Healthy", id="idle-disabled"),
        # Idle, waiting for the lambdavpc.dev/reactivate annotation: a human must act.
        pytest.param("Manual", {"State": "Inactive", "StateReasonCode": "Idle"}, "Degraded", id="idle-manual"),
        pytest.param("Auto", {"State": "Deactivated"}, "Degraded", id="deactivated"),
        pytest.param("Auto", {"State": "ActiveNonInvocable"}, "Degraded", id="active-non-invocable"),
        # Someone else's failed code deploy: our configuration is in place.
        pytest.param("Auto", {"LastUpdateStatus": "Failed", "LastUpdateStatusReasonCode": "InvalidZipFileException"},
                     "Healthy", id="foreign-failed-update"),
    ],
)  # fmt: skip
def test_health_of_lifecycle_verdicts(policy: str, lifecycle: dict[str, Any], expected: str) -> None:
    """The lifecycle cases kstatus must see settled (tests/unit/test_planner_kstatus.py) agree in Argo CD."""
    spec = AttachmentSpec.model_validate({"functionName": "orders-api", "subnetIds": ["subnet-a1"],
                                          "securityGroupIds": ["sg-1"],
                                          "reactivation": {"policy": policy}})  # fmt: skip
    plan = plan_attachment(spec, Situation(generation=GENERATION, observed=_function(**lifecycle)))
    assert plan.conditions is not None
    merged = conditions.merge([], plan.conditions, generation=GENERATION, now=NOW)
    assert health(attachment({"observedGeneration": GENERATION, "conditions": merged}))[0] == expected
