"""Server-side apply against the emulator: the real kubectl (``--server-side``) and raw HTTP as Flux sends it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from tests.sandbox.conftest import KUBE_BASE, KUBE_PLURAL, KubeHttp

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
APPLY = "application/apply-patch+yaml"
COLLECTION = f"{KUBE_BASE}/namespaces/default/{KUBE_PLURAL}"

ATTACHMENT: dict[str, Any] = {
    "apiVersion": "lambdavpc.example.com/v1alpha1",
    "kind": "LambdaVpcAttachment",
    "metadata": {"name": "orders", "namespace": "default"},
    "spec": {"functionName": "orders-api", "subnetIds": ["subnet-a"]},
}


@pytest.fixture
def kube_crd(kube_crd: dict[str, Any]) -> dict[str, Any]:
    """The tests' CRD with a set list and a map list, as our real CRDs have."""
    version = kube_crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    schema["spec"]["properties"]["subnetIds"]["x-kubernetes-list-type"] = "set"
    schema["status"] = {
        "type": "object",
        "properties": {
            "phase": {"type": "string"},
            "conditions": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "properties": {"type": {"type": "string"}, "status": {"type": "string"}},
                },
            },
        },
    }
    return kube_crd


def _apply(http: KubeHttp, body: dict[str, Any], manager: str | None, *, force: bool = False, sub: str = "") -> Any:
    query = [f"fieldManager={manager}"] if manager else []
    if force:
        query.append("force=true")
    path = f"{COLLECTION}/{body['metadata']['name']}{'/' + sub if sub else ''}?{'&'.join(query)}"
    return http("PATCH", path, raw=yaml.safe_dump(body).encode(), content_type=APPLY)


def _spec(**spec: Any) -> dict[str, Any]:
    return {**ATTACHMENT, "spec": spec}


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


# ---- kubectl ------------------------------------------------------------------------------------


def test_kubectl_server_side_apply_conflict_and_force(kube_with_crd: Any, kube_kubectl: Kubectl) -> None:
    manifest = yaml.safe_dump(ATTACHMENT)
    created = kube_kubectl("apply", "--server-side", "-f", "-", input=manifest)
    assert "lambdavpcattachment.lambdavpc.example.com/orders serverside-applied" in created.stdout
    obj = json.loads(kube_kubectl("get", "lva", "orders", "-o", "json", "--show-managed-fields").stdout)
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl"
    assert entry["operation"] == "Apply"
    assert entry["apiVersion"] == "lambdavpc.example.com/v1alpha1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {"f:spec": {"f:functionName": {}, "f:subnetIds": {'v:"subnet-a"': {}}}}

    changed = yaml.safe_dump(_spec(functionName="orders-v2", subnetIds=["subnet-a"]))
    refused = kube_kubectl("apply", "--server-side", "--field-manager=flux", "-f", "-", input=changed, check=False)
    assert refused.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.functionName' in refused.stderr

    forced = kube_kubectl(
        "apply", "--server-side", "--field-manager=flux", "--force-conflicts", "-f", "-", input=changed
    )
    assert "serverside-applied" in forced.stdout
    obj = json.loads(kube_kubectl("get", "lva", "orders", "-o", "json", "--show-managed-fields").stdout)
    assert obj["spec"]["functionName"] == "orders-v2"
    managers = _managers(obj)
    # The field moved to flux; both still own the subnet they applied with the same value.
    assert managers["flux", "Apply"]["f:spec"] == {"f:functionName": {}, "f:subnetIds": {'v:"subnet-a"': {}}}
    assert managers["kubectl", "Apply"]["f:spec"] == {"f:subnetIds": {'v:"subnet-a"': {}}}


def test_kubectl_conflict_names_an_update_manager(kube_with_crd: Any, kube_kubectl: Kubectl) -> None:
    kube_kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(ATTACHMENT))
    kube_kubectl("patch", "lva", "orders", "--type=merge", "-p", '{"spec":{"mode":"attach"}}')
    again = yaml.safe_dump(_spec(functionName="orders-api", subnetIds=["subnet-a"], mode="detach"))
    refused = kube_kubectl("apply", "--server-side", "-f", "-", input=again, check=False)
    assert refused.returncode != 0
    assert (
        'conflict with "kubectl-patch" using lambdavpc.example.com/v1alpha1 at ' in refused.stderr
        and refused.stderr.split("\n")[0].endswith(": .spec.mode")
    ), refused.stderr


def test_client_side_apply_then_server_side_apply_conflicts(kube_with_crd: Any, kube_kubectl: Kubectl) -> None:
    """A field set by client-side apply (an Update manager) is not taken silently by an apply."""
    kube_kubectl("apply", "-f", "-", input=yaml.safe_dump(ATTACHMENT))
    changed = yaml.safe_dump(_spec(functionName="orders-v2", subnetIds=["subnet-a"]))
    refused = kube_kubectl("apply", "--server-side", "--field-manager=flux", "-f", "-", input=changed, check=False)
    assert 'conflict with "kubectl-client-side-apply" using lambdavpc.example.com/v1alpha1' in refused.stderr


# ---- raw HTTP -----------------------------------------------------------------------------------


def test_apply_needs_a_field_manager(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    response = _apply(kube_http, ATTACHMENT, None)
    assert response.status == 422
    assert response.body["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )


def test_apply_creates_then_updates(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    created = _apply(kube_http, ATTACHMENT, "flux")
    assert created.status == 201, created.body
    assert created.body["metadata"]["generation"] == 1
    same = _apply(kube_http, ATTACHMENT, "flux")
    assert same.status == 200
    assert same.body["metadata"]["resourceVersion"] == created.body["metadata"]["resourceVersion"]  # no-op
    changed = _apply(kube_http, _spec(functionName="orders-v2", subnetIds=["subnet-a"]), "flux")
    assert changed.body["spec"]["functionName"] == "orders-v2"
    assert changed.body["metadata"]["generation"] == 2


def test_conflict_is_409_with_causes(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    _apply(kube_http, ATTACHMENT, "flux")
    response = _apply(kube_http, _spec(functionName="other", subnetIds=["subnet-b"]), "argocd")
    assert response.status == 409
    assert response.body["reason"] == "Conflict"
    assert response.body["message"] == 'Apply failed with 1 conflict: conflict with "flux": .spec.functionName'
    assert response.body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "flux"', "field": ".spec.functionName"}
    ]
    # Nothing changed: a refused apply is not partly applied.
    assert kube_http("GET", f"{COLLECTION}/orders").body["spec"]["subnetIds"] == ["subnet-a"]


def test_conflicts_with_several_managers_are_all_listed(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    _apply(kube_http, _spec(functionName="a"), "flux")
    patched = kube_http(
        "PATCH",
        f"{COLLECTION}/orders?fieldManager=kopf",
        {"spec": {"mode": "attach"}},
        content_type="application/merge-patch+json",
    )
    assert patched.status == 200
    response = _apply(kube_http, _spec(functionName="b", mode="detach"), "argocd")
    assert response.status == 409
    message = response.body["message"]
    assert message.startswith('Apply failed with 2 conflicts: conflicts with "flux":\n- .spec.functionName\n')
    assert 'conflicts with "kopf" using lambdavpc.example.com/v1alpha1 at ' in message
    assert message.endswith(":\n- .spec.mode")


def test_set_lists_merge_and_a_dropped_item_goes_unless_shared(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    _apply(kube_http, _spec(functionName="fn", mode="attach", subnetIds=["subnet-a", "subnet-c"]), "flux")
    merged = _apply(kube_http, {**_spec(subnetIds=["subnet-b", "subnet-c"])}, "team")
    assert merged.status == 200, merged.body
    assert merged.body["spec"]["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    # flux stops applying subnet-a (nobody else owns it: it goes) and subnet-c (team still owns it).
    dropped = _apply(kube_http, _spec(functionName="fn", mode="attach", subnetIds=[]), "flux")
    assert dropped.body["spec"]["subnetIds"] == ["subnet-b", "subnet-c"]
    # A field flux no longer applies goes too.
    gone = _apply(kube_http, _spec(functionName="fn"), "flux")
    assert gone.body["spec"] == {"functionName": "fn", "subnetIds": ["subnet-b", "subnet-c"]}
    assert _managers(gone.body)["team", "Apply"] == {
        "f:spec": {"f:subnetIds": {'v:"subnet-b"': {}, 'v:"subnet-c"': {}}}
    }


def test_map_lists_merge_by_key_through_the_status_subresource(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    kube_http.create("orders")
    status = {**ATTACHMENT, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    first = _apply(kube_http, status, "kopf", sub="status")
    assert first.status == 200, first.body
    other = {**ATTACHMENT, "status": {"conditions": [{"type": "Drifted", "status": "False"}]}}
    second = _apply(kube_http, other, "auditor", sub="status")
    assert second.body["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "Drifted", "status": "False"},
    ]
    entries = {e["manager"]: e for e in second.body["metadata"]["managedFields"]}
    assert entries["kopf"]["subresource"] == "status"
    assert entries["kopf"]["fieldsV1"] == {
        "f:status": {"f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:status": {}, "f:type": {}}}}
    }
    changed = {**ATTACHMENT, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    refused = _apply(kube_http, changed, "auditor", sub="status")
    assert refused.status == 409
    assert refused.body["message"] == (
        'Apply failed with 1 conflict: conflict with "kopf" with subresource "status": '
        '.status.conditions[type="Ready"].status'
    )


def test_main_resource_apply_does_not_touch_status(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    kube_http.create("orders")
    kube_http(
        "PATCH",
        f"{COLLECTION}/orders/status",
        {"status": {"phase": "Ready"}},
        content_type="application/merge-patch+json",
    )
    applied = _apply(kube_http, {**ATTACHMENT, "status": {"phase": "Failed"}}, "flux", force=True)
    assert applied.status == 200, applied.body
    assert applied.body["status"] == {"phase": "Ready"}
    assert "f:status" not in _managers(applied.body)["flux", "Apply"]


def test_updates_record_update_entries(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    created = kube_http("POST", f"{COLLECTION}?fieldManager=creator", ATTACHMENT, headers={"User-Agent": "kopf/1.0"})
    assert created.status == 201
    assert _managers(created.body)["creator", "Update"] == {
        "f:spec": {".": {}, "f:functionName": {}, "f:subnetIds": {".": {}, 'v:"subnet-a"': {}}}
    }
    labelled = kube_http(
        "PATCH",
        f"{COLLECTION}/orders",
        {"metadata": {"labels": {"team": "a"}}},
        content_type="application/merge-patch+json",
        headers={"User-Agent": "kopf/1.0"},
    )
    # Without ?fieldManager the manager is the User-Agent's product, as on real servers.
    assert _managers(labelled.body)["kopf", "Update"] == {"f:metadata": {"f:labels": {".": {}, "f:team": {}}}}


def test_force_is_only_for_apply(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    kube_http.create("orders")
    response = kube_http(
        "PATCH",
        f"{COLLECTION}/orders?force=true",
        {"spec": {"mode": "attach"}},
        content_type="application/merge-patch+json",
    )
    assert response.status == 422
    assert "force: Forbidden: may not be specified for non-apply patch" in response.body["message"]


def test_kubectl_migrates_client_side_apply_to_server_side(kube_with_crd: Any, kube_kubectl: Kubectl) -> None:
    """kubectl rewrites managedFields after its first server-side apply (csaupgrade), as Flux does."""
    kube_kubectl("apply", "-f", "-", input=yaml.safe_dump(ATTACHMENT))
    kube_kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(ATTACHMENT))
    obj = json.loads(kube_kubectl("get", "lva", "orders", "-o", "json", "--show-managed-fields").stdout)
    # kubectl-client-side-apply handed its fields over; kubectl-last-applied owns the annotation.
    assert {e["manager"] for e in obj["metadata"]["managedFields"]} == {"kubectl", "kubectl-last-applied"}
    changed = yaml.safe_dump(_spec(functionName="orders-v2", subnetIds=["subnet-a"]))
    assert "serverside-applied" in kube_kubectl("apply", "--server-side", "-f", "-", input=changed).stdout


def test_a_write_may_reset_managed_fields(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    _apply(kube_http, ATTACHMENT, "flux")
    reset = kube_http(
        "PATCH",
        f"{COLLECTION}/orders",
        {"metadata": {"managedFields": [{}]}},
        content_type="application/merge-patch+json",
    )
    assert reset.status == 200
    assert "managedFields" not in reset.body["metadata"]
    # Nobody owns the function any more: another manager changes it without a conflict.
    assert _apply(kube_http, _spec(functionName="other"), "argocd").status == 200


def _deployment(containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "operator", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }


def test_built_in_map_lists_merge_by_key(kube_http: KubeHttp) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments/operator"

    def apply(body: dict[str, Any], manager: str) -> Any:
        return kube_http(
            "PATCH", f"{path}?fieldManager={manager}", raw=yaml.safe_dump(body).encode(), content_type=APPLY
        )

    assert apply(_deployment([{"name": "app", "image": "app:1"}]), "flux").status == 201
    added = apply(_deployment([{"name": "proxy", "image": "proxy:1"}]), "mesh")
    assert [c["name"] for c in added.body["spec"]["template"]["spec"]["containers"]] == ["app", "proxy"]
    refused = apply(_deployment([{"name": "app", "image": "app:2"}]), "kubectl")
    assert refused.status == 409
    assert refused.body["message"] == (
        'Apply failed with 1 conflict: conflict with "flux": .spec.template.spec.containers[name="app"].image'
    )


def test_flux_style_dry_run_then_forced_apply(kube_with_crd: Any, kube_http: KubeHttp) -> None:
    """kustomize-controller applies with dryRun=All to diff, then with force=true to correct drift."""
    _apply(kube_http, ATTACHMENT, "kustomize-controller")
    kube_http(
        "PATCH",
        f"{COLLECTION}/orders?fieldManager=kubectl-edit",
        {"spec": {"functionName": "edited"}},
        content_type="application/merge-patch+json",
    )
    path = f"{COLLECTION}/orders?fieldManager=kustomize-controller&force=true"
    body = yaml.safe_dump(ATTACHMENT).encode()
    dry = kube_http("PATCH", path + "&dryRun=All", raw=body, content_type=APPLY)
    assert dry.status == 200 and dry.body["spec"]["functionName"] == "orders-api"
    assert kube_http("GET", f"{COLLECTION}/orders").body["spec"]["functionName"] == "edited"  # nothing stored
    corrected = kube_http("PATCH", path, raw=body, content_type=APPLY)
    assert corrected.body["spec"]["functionName"] == "orders-api"
    assert ("kubectl-edit", "Update") not in _managers(corrected.body)  # it owned nothing else
