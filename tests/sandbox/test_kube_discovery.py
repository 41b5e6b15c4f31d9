"""Discovery, built-in resources and CRD registration of the Kubernetes API emulator, over real HTTP."""

from __future__ import annotations

from typing import Any

import kubernetes
import pytest

GROUP = "lambdavpc.example.com"
BASE = f"/apis/{GROUP}/v1alpha1"


def _entries(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in document["resources"]}


def test_version_and_api_roots(kube_http: Any) -> None:
    version = kube_http("GET", "/version")
    assert version.status == 200
    assert (version.body["major"], version.body["minor"]) == ("1", "32")

    api = kube_http("GET", "/api")
    assert api.body["kind"] == "APIVersions"
    assert api.body["versions"] == ["v1"]

    apis = kube_http("GET", "/apis")
    assert apis.body["kind"] == "APIGroupList"
    groups = {group["name"]: group for group in apis.body["groups"]}
    assert {"apiextensions.k8s.io", "coordination.k8s.io", "events.k8s.io"} <= set(groups)
    assert groups["apiextensions.k8s.io"]["preferredVersion"] == {
        "groupVersion": "apiextensions.k8s.io/v1",
        "version": "v1",
    }


def test_core_resources_are_discoverable(kube_http: Any) -> None:
    document = kube_http("GET", "/api/v1").body
    assert document["kind"] == "APIResourceList"
    assert document["groupVersion"] == "v1"
    entries = _entries(document)
    assert {"namespaces", "events", "configmaps", "secrets", "serviceaccounts"} <= set(entries)

    namespaces = entries["namespaces"]
    assert namespaces["namespaced"] is False
    assert namespaces["kind"] == "Namespace"
    assert namespaces["singularName"] == "namespace"
    assert namespaces["shortNames"] == ["ns"]
    assert {"get", "list", "watch", "create", "patch", "update", "delete"} <= set(namespaces["verbs"])
    assert entries["events"]["namespaced"] is True

    # A status subresource entry never repeats the short names (kubectl would resolve `ns` to it).
    status = entries["namespaces/status"]
    assert "shortNames" not in status
    assert sorted(status["verbs"]) == ["get", "patch", "update"]


def test_builtin_groups_are_discoverable(kube_http: Any) -> None:
    crds = _entries(kube_http("GET", "/apis/apiextensions.k8s.io/v1").body)
    assert crds["customresourcedefinitions"]["namespaced"] is False
    assert crds["customresourcedefinitions"]["shortNames"] == ["crd", "crds"]
    leases = _entries(kube_http("GET", "/apis/coordination.k8s.io/v1").body)
    assert leases["leases"]["namespaced"] is True
    events = _entries(kube_http("GET", "/apis/events.k8s.io/v1").body)
    assert events["events"]["kind"] == "Event"
    group = kube_http("GET", "/apis/coordination.k8s.io").body
    assert group["kind"] == "APIGroup"
    assert group["versions"] == [{"groupVersion": "coordination.k8s.io/v1", "version": "v1"}]


def test_namespaces_are_listable_from_the_start(kube_api: kubernetes.client.ApiClient) -> None:
    namespaces = kubernetes.client.CoreV1Api(kube_api).list_namespace()
    names = {ns.metadata.name for ns in namespaces.items}
    assert {"default", "kube-system"} <= names
    assert namespaces.metadata.resource_version


def test_crds_are_listable_from_the_start(kube_http: Any) -> None:
    listed = kube_http("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    assert listed.status == 200
    assert listed.body["kind"] == "CustomResourceDefinitionList"
    assert listed.body["items"] == []


def test_crd_registers_its_resource_with_all_names(kube_http: Any, kube_crd: dict[str, Any]) -> None:
    created = kube_http("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kube_crd)
    assert created.status == 201

    conditions = {c["type"]: c for c in created.body["status"]["conditions"]}
    assert conditions["Established"]["status"] == "True"
    assert conditions["NamesAccepted"]["status"] == "True"
    assert created.body["status"]["acceptedNames"]["listKind"] == "LambdaVpcAttachmentList"

    groups = {group["name"] for group in kube_http("GET", "/apis").body["groups"]}
    assert GROUP in groups
    assert kube_http("GET", f"/apis/{GROUP}").body["preferredVersion"]["version"] == "v1alpha1"

    entries = _entries(kube_http("GET", BASE).body)
    main = entries["lambdavpcattachments"]
    assert main == {
        "name": "lambdavpcattachments",
        "singularName": "lambdavpcattachment",
        "namespaced": True,
        "kind": "LambdaVpcAttachment",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["lva"],
        "categories": ["lambdavpc"],
    }
    status = entries["lambdavpcattachments/status"]
    assert "shortNames" not in status
    assert "categories" not in status
    assert status["verbs"] == ["get", "patch", "update"]
    assert status["kind"] == "LambdaVpcAttachment"


def test_deleting_a_crd_unregisters_it_and_drops_its_objects(
    kube_with_crd: Any, kube_http: Any, kube_crd: dict[str, Any]
) -> None:
    kube_http.create("doomed")
    assert kube_http("GET", f"{BASE}/namespaces/default/lambdavpcattachments/doomed").status == 200

    deleted = kube_http(
        "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/lambdavpcattachments." + GROUP
    )
    assert deleted.status == 200
    assert kube_http("GET", BASE).status == 404
    assert GROUP not in {group["name"] for group in kube_http("GET", "/apis").body["groups"]}
    assert kube_http("GET", f"{BASE}/namespaces/default/lambdavpcattachments/doomed").status == 404

    # Re-installing starts empty.
    kube_with_crd.install_crd(kube_crd)
    assert kube_http("GET", f"{BASE}/namespaces/default/lambdavpcattachments").body["items"] == []


def test_install_crd_python_method_is_idempotent(kube_emulator: Any, kube_crd: dict[str, Any]) -> None:
    first = kube_emulator.install_crd(kube_crd)
    again = kube_emulator.install_crd(kube_crd)
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]  # no-op
    kube_crd["spec"]["names"]["shortNames"] = ["lva", "lvas"]
    changed = kube_emulator.install_crd(kube_crd)
    assert changed["metadata"]["generation"] == 2


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/nope", id="unknown-path"),
        pytest.param("/apis/unknown.example.com/v1", id="unknown-group-version"),
        pytest.param("/apis/unknown.example.com", id="unknown-group"),
        pytest.param("/apis/unknown.example.com/v1/things", id="unknown-resource"),
        pytest.param("/api/v1/namespaces/default/namespaces", id="cluster-scoped-in-namespace"),
        pytest.param("/api/v1/configmaps/x", id="namespaced-object-without-namespace"),
        pytest.param("/api/v1/namespaces/default/configmaps/x/scale", id="unknown-subresource"),
        pytest.param("/openapi/v2", id="openapi-v2"),
    ],
)
def test_unknown_paths_are_404_status(kube_http: Any, path: str) -> None:
    response = kube_http("GET", path)
    assert response.status == 404
    assert response.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }


def test_wrong_method_is_405_status(kube_http: Any) -> None:
    response = kube_http("POST", "/api/v1/configmaps", {"metadata": {"name": "x"}})
    assert response.status == 405
    assert response.body["reason"] == "MethodNotAllowed"


def test_openapi_v3_declares_field_validation_for_every_kind(kube_with_crd: Any, kube_http: Any) -> None:
    root = kube_http("GET", "/openapi/v3").body
    assert {"api/v1", f"apis/{GROUP}/v1alpha1", "apis/apiextensions.k8s.io/v1"} <= set(root["paths"])
    url = root["paths"][f"apis/{GROUP}/v1alpha1"]["serverRelativeURL"]
    assert url.startswith(f"/openapi/v3/apis/{GROUP}/v1alpha1?hash=")
    document = kube_http("GET", url).body
    patch = document["paths"][f"{BASE}/namespaces/{{namespace}}/lambdavpcattachments/{{name}}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": GROUP,
        "version": "v1alpha1",
        "kind": "LambdaVpcAttachment",
    }
    assert "fieldValidation" in {param["name"] for param in patch["parameters"]}
