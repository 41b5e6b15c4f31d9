"""Object semantics of the Kubernetes API emulator: what a real API server does on each write."""

from __future__ import annotations

import re
from typing import Any

import kubernetes
import pytest

GROUP = "lambdavpc.example.com"
VERSION = "v1alpha1"
PLURAL = "lambdavpcattachments"
BASE = f"/apis/{GROUP}/{VERSION}"
COLLECTION = f"{BASE}/namespaces/default/{PLURAL}"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@pytest.fixture
def custom(kube_with_crd: Any, kube_api: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(kube_api)


def _body(name: str = "", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LambdaVpcAttachment",
        "metadata": {"name": name} if name else {},
        "spec": {"functionName": "fn", **spec},
    }


def _error(exc: pytest.ExceptionInfo[kubernetes.client.ApiException]) -> dict[str, Any]:
    import json

    body: dict[str, Any] = json.loads(exc.value.body)
    return body


# ---- create -------------------------------------------------------------------------------------


def test_create_answers_201_with_server_metadata(kube_with_crd: Any, kube_http: Any) -> None:
    response = kube_http("POST", COLLECTION, _body("first"))
    assert response.status == 201
    meta = response.body["metadata"]
    assert meta["name"] == "first"
    assert meta["namespace"] == "default"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0
    assert response.body["apiVersion"] == f"{GROUP}/{VERSION}"
    assert response.body["kind"] == "LambdaVpcAttachment"


def test_resource_versions_rise_on_every_write(kube_with_crd: Any, kube_http: Any) -> None:
    first = kube_http.create("a")
    second = kube_http.create("b")
    patched = kube_http("PATCH", f"{COLLECTION}/a", {"metadata": {"labels": {"x": "y"}}}, content_type=MERGE)
    versions = [int(o["metadata"]["resourceVersion"]) for o in (first, second, patched.body)]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_create_ignores_client_set_server_metadata(kube_with_crd: Any, kube_http: Any) -> None:
    body = _body("sneaky")
    body["metadata"].update(
        uid="not-a-uid", resourceVersion="999", generation=7, creationTimestamp="2000-01-01T00:00:00Z"
    )
    body["status"] = {"phase": "Forged"}
    created = kube_http("POST", COLLECTION, body).body
    assert created["metadata"]["uid"] != "not-a-uid"
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert "status" not in created  # the status subresource owns it


def test_create_twice_is_409_already_exists(kube_with_crd: Any, kube_http: Any) -> None:
    kube_http.create("dup")
    response = kube_http("POST", COLLECTION, _body("dup"))
    assert response.status == 409
    assert response.body["reason"] == "AlreadyExists"
    assert response.body["message"] == f'{PLURAL}.{GROUP} "dup" already exists'
    assert response.body["details"] == {"name": "dup", "group": GROUP, "kind": PLURAL}


def test_generate_name_gets_a_random_suffix(custom: kubernetes.client.CustomObjectsApi) -> None:
    body = _body()
    body["metadata"] = {"generateName": "gen-"}
    names = {
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)["metadata"]["name"]
        for _ in range(3)
    }
    assert len(names) == 3
    assert all(re.fullmatch(r"gen-[bcdfghjklmnpqrstvwxz2456789]{5}", name) for name in names)


def test_create_without_any_name_is_422(kube_with_crd: Any, kube_http: Any) -> None:
    response = kube_http("POST", COLLECTION, _body())
    assert response.status == 422
    assert "name or generateName is required" in response.body["message"]


def test_namespace_of_the_url_must_match_the_body(kube_with_crd: Any, kube_http: Any) -> None:
    body = _body("elsewhere")
    body["metadata"]["namespace"] = "kube-system"
    response = kube_http("POST", COLLECTION, body)
    assert response.status == 400
    assert response.body["reason"] == "BadRequest"
    assert "does not match the namespace" in response.body["message"]


def test_create_in_a_missing_namespace_is_404(kube_with_crd: Any, kube_http: Any) -> None:
    response = kube_http("POST", f"{BASE}/namespaces/nowhere/{PLURAL}", _body("x"))
    assert response.status == 404
    assert response.body["message"] == 'namespaces "nowhere" not found'


def test_custom_resources_need_a_kind(kube_with_crd: Any, kube_http: Any) -> None:
    response = kube_http("POST", COLLECTION, {"metadata": {"name": "x"}, "spec": {"functionName": "f"}})
    assert response.status == 400


# ---- get and list -------------------------------------------------------------------------------


def test_get_missing_object_is_404_status(kube_with_crd: Any, kube_http: Any) -> None:
    response = kube_http("GET", f"{COLLECTION}/ghost")
    assert response.status == 404
    assert response.body["reason"] == "NotFound"
    assert response.body["message"] == f'{PLURAL}.{GROUP} "ghost" not found'
    assert response.body["details"] == {"name": "ghost", "group": GROUP, "kind": PLURAL}


def test_list_has_kind_api_version_and_resource_version(kube_with_crd: Any, kube_http: Any) -> None:
    created = kube_http.create("one")
    listed = kube_http("GET", COLLECTION).body
    assert listed["kind"] == "LambdaVpcAttachmentList"
    assert listed["apiVersion"] == f"{GROUP}/{VERSION}"
    assert int(listed["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])
    assert [item["metadata"]["name"] for item in listed["items"]] == ["one"]
    everywhere = kube_http("GET", f"{BASE}/{PLURAL}").body  # all namespaces
    assert [item["metadata"]["name"] for item in everywhere["items"]] == ["one"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("tier=web", {"a", "b"}, id="equals"),
        pytest.param("tier==web", {"a", "b"}, id="double-equals"),
        pytest.param("tier!=web", {"c", "d"}, id="not-equals"),
        pytest.param("tier in (db, cache)", {"c"}, id="in"),
        pytest.param("tier notin (web)", {"c", "d"}, id="notin"),
        pytest.param("tier", {"a", "b", "c"}, id="exists"),
        pytest.param("!tier", {"d"}, id="not-exists"),
        pytest.param("tier=web,env=prod", {"a"}, id="and"),
        pytest.param("env in (prod),tier notin (db)", {"a"}, id="set-and"),
    ],
)
def test_label_selectors(kube_with_crd: Any, kube_http: Any, selector: str, expected: set[str]) -> None:
    kube_http.create("a", labels={"tier": "web", "env": "prod"})
    kube_http.create("b", labels={"tier": "web", "env": "dev"})
    kube_http.create("c", labels={"tier": "db"})
    kube_http.create("d", labels={"other": "x"})
    from urllib.parse import quote

    listed = kube_http("GET", f"{COLLECTION}?labelSelector={quote(selector)}")
    assert listed.status == 200
    assert {item["metadata"]["name"] for item in listed.body["items"]} == expected


def test_malformed_label_selector_is_400(kube_with_crd: Any, kube_http: Any) -> None:
    assert kube_http("GET", f"{COLLECTION}?labelSelector=a%20in%20b").status == 400


def test_field_selectors(kube_with_crd: Any, kube_http: Any) -> None:
    kube_http.create("a")
    kube_http.create("b")
    by_name = kube_http("GET", f"{COLLECTION}?fieldSelector=metadata.name%3Da").body["items"]
    assert [item["metadata"]["name"] for item in by_name] == ["a"]
    not_name = kube_http("GET", f"{COLLECTION}?fieldSelector=metadata.name!%3Da").body["items"]
    assert [item["metadata"]["name"] for item in not_name] == ["b"]
    in_ns = kube_http("GET", f"{BASE}/{PLURAL}?fieldSelector=metadata.namespace%3Ddefault").body["items"]
    assert len(in_ns) == 2
    other_ns = kube_http("GET", f"{BASE}/{PLURAL}?fieldSelector=metadata.namespace%3Dkube-system").body
    assert other_ns["items"] == []


def test_list_pages_with_limit_and_continue(kube_with_crd: Any, kube_http: Any) -> None:
    for index in range(5):
        kube_http.create(f"obj-{index}")
    first = kube_http("GET", f"{COLLECTION}?limit=2").body
    assert [i["metadata"]["name"] for i in first["items"]] == ["obj-0", "obj-1"]
    assert first["metadata"]["remainingItemCount"] == 3
    second = kube_http("GET", f"{COLLECTION}?limit=2&continue={first['metadata']['continue']}").body
    assert [i["metadata"]["name"] for i in second["items"]] == ["obj-2", "obj-3"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    third = kube_http("GET", f"{COLLECTION}?limit=2&continue={second['metadata']['continue']}").body
    assert [i["metadata"]["name"] for i in third["items"]] == ["obj-4"]
    assert "continue" not in third["metadata"]
    assert kube_http("GET", f"{COLLECTION}?limit=2&continue=garbage").status == 400


# ---- generation and the status subresource ------------------------------------------------------


def test_generation_rises_only_on_spec_changes(custom: kubernetes.client.CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, _body("gen"))

    def generation_after(patch: dict[str, Any], status: bool = False) -> int:
        fn = custom.patch_namespaced_custom_object_status if status else custom.patch_namespaced_custom_object
        result: dict[str, Any] = fn(GROUP, VERSION, "default", PLURAL, "gen", patch)
        return int(result["metadata"]["generation"])

    assert generation_after({"metadata": {"labels": {"a": "b"}}}) == 1
    assert generation_after({"metadata": {"annotations": {"c": "d"}}}) == 1
    assert generation_after({"status": {"phase": "Ready"}}, status=True) == 1
    assert generation_after({"spec": {"functionName": "other"}}) == 2
    assert generation_after({"spec": {"functionName": "other"}}) == 2  # the same value: no change
    assert generation_after({"spec": {"mode": "attach"}}) == 3


def test_main_resource_writes_keep_the_stored_status(custom: kubernetes.client.CustomObjectsApi) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, _body("st"))
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "st", {"status": {"phase": "Ready"}}
    )
    patched = custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "st",
        {"spec": {"functionName": "x"}, "status": {"phase": "Hacked"}},
    )
    assert patched["status"] == {"phase": "Ready"}
    assert patched["spec"]["functionName"] == "x"

    current = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "st")
    current["status"] = {"phase": "Replaced"}
    current["spec"]["functionName"] = "y"
    replaced = custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "st", current)
    assert replaced["status"] == {"phase": "Ready"}
    assert replaced["spec"]["functionName"] == "y"


def test_status_writes_change_only_the_status(custom: kubernetes.client.CustomObjectsApi) -> None:
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, _body("st"))
    patched = custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "st",
        {
            "status": {"phase": "Ready"},
            "spec": {"functionName": "hacked"},
            "metadata": {"labels": {"a": "b"}},
        },
    )
    assert patched["status"] == {"phase": "Ready"}
    assert patched["spec"] == created["spec"]
    assert "labels" not in patched["metadata"]
    assert patched["metadata"]["generation"] == 1

    patched["status"] = {"phase": "Replaced"}
    patched["spec"]["functionName"] = "hacked-again"
    replaced = custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "st", patched
    )
    assert replaced["status"] == {"phase": "Replaced"}
    assert replaced["spec"] == created["spec"]

    fetched = custom.get_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "st")
    assert fetched["status"] == {"phase": "Replaced"}
    assert fetched["spec"] == created["spec"]


def test_without_status_subresource_status_is_content(
    kube_emulator: Any, kube_crd: dict[str, Any], kube_http: Any
) -> None:
    del kube_crd["spec"]["versions"][0]["subresources"]
    kube_emulator.install_crd(kube_crd)
    body = _body("plain")
    body["status"] = {"phase": "Given"}
    created = kube_http("POST", COLLECTION, body).body
    assert created["status"] == {"phase": "Given"}  # no subresource: the main resource writes status
    patched = kube_http("PATCH", f"{COLLECTION}/plain", {"status": {"phase": "Changed"}}, content_type=MERGE)
    assert patched.body["status"] == {"phase": "Changed"}
    assert patched.body["metadata"]["generation"] == 2  # any non-metadata change counts
    assert kube_http("GET", f"{COLLECTION}/plain/status").status == 404


def test_server_metadata_cannot_be_overwritten(kube_with_crd: Any, kube_http: Any) -> None:
    created = kube_http.create("fixed")
    patch = {"metadata": {"creationTimestamp": "2000-01-01T00:00:00Z", "generation": 42}}
    patched = kube_http("PATCH", f"{COLLECTION}/fixed", patch, content_type=MERGE)
    assert patched.status == 200
    assert patched.body["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert patched.body["metadata"]["generation"] == 1
    assert patched.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]  # no-op
    uid = kube_http("PATCH", f"{COLLECTION}/fixed", {"metadata": {"uid": "other"}}, content_type=MERGE)
    assert uid.status == 409


# ---- updates, patches and conflicts -------------------------------------------------------------


def test_put_replaces_and_checks_the_resource_version(kube_with_crd: Any, kube_http: Any) -> None:
    created = kube_http.create("put")
    body = {**created, "spec": {"functionName": "replaced"}}
    replaced = kube_http("PUT", f"{COLLECTION}/put", body)
    assert replaced.status == 200
    assert replaced.body["spec"] == {"functionName": "replaced"}

    stale = kube_http("PUT", f"{COLLECTION}/put", {**body, "spec": {"functionName": "stale"}})
    assert stale.status == 409
    assert stale.body["reason"] == "Conflict"
    assert stale.body["message"] == (
        f'Operation cannot be fulfilled on {PLURAL}.{GROUP} "put": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )

    unconditional = {**replaced.body, "metadata": {"name": "put"}}
    assert kube_http("PUT", f"{COLLECTION}/put", unconditional).status == 422  # CRs require it
    assert kube_http("PUT", f"{COLLECTION}/absent", {**body, "metadata": {"name": "absent"}}).status == 404
    renamed = {**replaced.body, "metadata": {**replaced.body["metadata"], "name": "other"}}
    assert kube_http("PUT", f"{COLLECTION}/put", renamed).status == 400


def test_merge_patch(kube_with_crd: Any, kube_http: Any) -> None:
    kube_http.create("mp", labels={"keep": "1", "drop": "2"})
    patch = {"metadata": {"labels": {"drop": None, "new": "3"}}, "spec": {"subnetIds": ["subnet-a"]}}
    patched = kube_http("PATCH", f"{COLLECTION}/mp", patch, content_type=MERGE)
    assert patched.status == 200
    assert patched.body["metadata"]["labels"] == {"keep": "1", "new": "3"}
    assert patched.body["spec"] == {"functionName": "fn", "subnetIds": ["subnet-a"]}
    assert kube_http("PATCH", f"{COLLECTION}/ghost", patch, content_type=MERGE).status == 404


def test_merge_patch_with_a_stale_resource_version_is_409(kube_with_crd: Any, kube_http: Any) -> None:
    created = kube_http.create("mp")
    kube_http("PATCH", f"{COLLECTION}/mp", {"metadata": {"labels": {"a": "b"}}}, content_type=MERGE)
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"], "labels": {"a": "c"}}}
    response = kube_http("PATCH", f"{COLLECTION}/mp", stale, content_type=MERGE)
    assert response.status == 409
    assert response.body["reason"] == "Conflict"


def test_json_patch_with_a_passing_test(kube_with_crd: Any, kube_http: Any) -> None:
    created = kube_http.create("jp")
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": created["metadata"]["resourceVersion"]},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/f"]},
        {"op": "add", "path": "/spec/subnetIds", "value": ["subnet-b"]},
        {"op": "add", "path": "/spec/subnetIds/0", "value": "subnet-a"},
        {"op": "replace", "path": "/spec/functionName", "value": "g"},
        {"op": "copy", "from": "/spec/functionName", "path": "/metadata/labels"},
    ]
    ops[-1] = {"op": "add", "path": "/metadata/labels", "value": {"x~/y": "1"}}
    ops.append({"op": "remove", "path": "/metadata/labels/x~0~1y"})
    patched = kube_http("PATCH", f"{COLLECTION}/jp", ops, content_type=JSON_PATCH)
    assert patched.status == 200, patched.body
    assert patched.body["metadata"]["finalizers"] == ["example.com/f"]
    assert patched.body["spec"] == {"functionName": "g", "subnetIds": ["subnet-a", "subnet-b"]}
    assert patched.body["metadata"]["labels"] == {}


def test_json_patch_with_a_failing_test_is_422_as_kopf_expects(kube_with_crd: Any, kube_http: Any) -> None:
    created = kube_http.create("jp")
    kube_http("PATCH", f"{COLLECTION}/jp", {"metadata": {"labels": {"a": "b"}}}, content_type=MERGE)
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": created["metadata"]["resourceVersion"]},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/f"]},
    ]
    response = kube_http("PATCH", f"{COLLECTION}/jp", ops, content_type=JSON_PATCH)
    assert response.status == 422
    assert response.body["reason"] == "Invalid"
    assert response.body["message"] == "the server rejected our request due to an error in our request"
    assert response.body["details"]["causes"] == [
        {
            "reason": "UnexpectedServerResponse",
            "message": "testing value /metadata/resourceVersion failed: test failed",
        }
    ]
    unchanged = kube_http("GET", f"{COLLECTION}/jp").body
    assert "finalizers" not in unchanged["metadata"]


def test_json_patch_on_a_missing_path_is_422(kube_with_crd: Any, kube_http: Any) -> None:
    kube_http.create("jp")
    ops = [{"op": "remove", "path": "/spec/nothing"}]
    assert kube_http("PATCH", f"{COLLECTION}/jp", ops, content_type=JSON_PATCH).status == 422
    assert kube_http("PATCH", f"{COLLECTION}/jp", {"op": "x"}, content_type=JSON_PATCH).status == 400


@pytest.mark.parametrize(
    ("content_type", "needle"),
    [
        pytest.param("application/strategic-merge-patch+json", "accepted media types", id="strategic"),
        pytest.param("text/plain", "accepted media types", id="unknown"),
    ],
)
def test_unsupported_patch_types_are_415(
    kube_with_crd: Any, kube_http: Any, content_type: str, needle: str
) -> None:
    kube_http.create("p")
    response = kube_http("PATCH", f"{COLLECTION}/p", {"spec": {}}, content_type=content_type)
    assert response.status == 415
    assert response.body["reason"] == "UnsupportedMediaType"
    assert needle in response.body["message"]


def test_strategic_merge_patch_works_for_builtins(kube_http: Any) -> None:
    created = kube_http("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "cm"}})
    assert created.status == 201
    patch = {"data": {"k": "v"}}
    patched = kube_http(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm",
        patch,
        content_type="application/strategic-merge-patch+json",
    )
    assert patched.status == 200
    assert patched.body["data"] == {"k": "v"}
    assert "generation" not in patched.body["metadata"]  # built-ins without generation have none


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (sizes here stay below 128: one byte)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + _field(1, _field(1, api_version.encode()) + _field(2, kind.encode())) + _field(2, raw)


def test_protobuf_bodies_of_other_kinds_are_415(kube_http: Any) -> None:
    response = kube_http(
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        raw=_envelope("coordination.k8s.io/v1", "Lease", _field(1, _field(1, b"x"))),
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert response.status == 415
    assert "protobuf" in response.body["message"]


def test_protobuf_secret_bodies_are_decoded(kube_http: Any) -> None:
    labels = _field(11, _field(1, b"owner") + _field(2, b"helm"))
    data = _field(2, _field(1, b"release") + _field(2, b"\x00\x01binary"))
    raw = _field(1, _field(1, b"sh.helm.release.v1.r.v1") + labels) + data + _field(3, b"helm.sh/release.v1")
    response = kube_http(
        "POST",
        "/api/v1/namespaces/default/secrets",
        raw=_envelope("v1", "Secret", raw),
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert response.status == 201, response.body
    assert response.body["metadata"]["labels"] == {"owner": "helm"}
    assert response.body["data"] == {"release": "AAFiaW5hcnk="}
    assert response.body["type"] == "helm.sh/release.v1"


def test_no_op_patch_keeps_the_resource_version(kube_with_crd: Any, kube_http: Any) -> None:
    created = kube_http.create("noop", labels={"a": "b"})
    again = kube_http("PATCH", f"{COLLECTION}/noop", {"metadata": {"labels": {"a": "b"}}}, content_type=MERGE)
    assert again.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    status = kube_http("PATCH", f"{COLLECTION}/noop", {"status": {"x": 1}}, content_type=MERGE)  # ignored
    assert status.body["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


# ---- schema admission ---------------------------------------------------------------------------


def test_schema_violations_are_422_naming_the_fields(kube_with_crd: Any, kube_http: Any) -> None:
    response = kube_http("POST", COLLECTION, _body("bad", subnetIds=["nope"], mode="sideways"))
    assert response.status == 422
    status = response.body
    assert status["reason"] == "Invalid"
    assert status["message"].startswith(f'LambdaVpcAttachment.{GROUP} "bad" is invalid: [')
    assert status["details"]["name"] == "bad"
    assert status["details"]["group"] == GROUP
    assert status["details"]["kind"] == "LambdaVpcAttachment"
    causes = {cause["field"]: cause for cause in status["details"]["causes"]}
    assert causes["spec.mode"]["reason"] == "FieldValueNotSupported"
    assert (
        causes["spec.mode"]["message"]
        == 'Unsupported value: "sideways": supported values: "attach", "detach"'
    )
    assert causes["spec.subnetIds[0]"]["reason"] == "FieldValueInvalid"
    assert "should match '^subnet-[0-9a-z]+$'" in causes["spec.subnetIds[0]"]["message"]
    for field, cause in causes.items():
        assert f"{field}: {cause['message']}" in status["message"]


def test_single_schema_violation_has_no_brackets(kube_with_crd: Any, kube_http: Any) -> None:
    body = _body("bad")
    del body["spec"]["functionName"]
    response = kube_http("POST", COLLECTION, body)
    assert response.status == 422
    assert response.body["message"] == (
        f'LambdaVpcAttachment.{GROUP} "bad" is invalid: spec.functionName: Required value'
    )


def test_schema_is_checked_on_patch_and_status(kube_with_crd: Any, kube_http: Any) -> None:
    kube_http.create("ok")
    bad = kube_http("PATCH", f"{COLLECTION}/ok", {"spec": {"mode": "x"}}, content_type=MERGE)
    assert bad.status == 422
    assert kube_http("GET", f"{COLLECTION}/ok").body["spec"] == {"functionName": "fn"}


def test_unknown_fields_are_pruned_warned_or_refused(kube_with_crd: Any, kube_http: Any) -> None:
    warned = kube_http("POST", COLLECTION, _body("warned", extra=1))
    assert warned.status == 201
    assert "extra" not in warned.body["spec"]
    assert 'unknown field \\"spec.extra\\"' in warned.header("Warning")
    strict = kube_http("POST", f"{COLLECTION}?fieldValidation=Strict", _body("strict", extra=1))
    assert strict.status == 400
    assert 'strict decoding error: unknown field "spec.extra"' in strict.body["message"]


def test_dry_run_does_not_persist(kube_with_crd: Any, kube_http: Any) -> None:
    created = kube_http("POST", f"{COLLECTION}?dryRun=All", _body("dry"))
    assert created.status == 201
    assert kube_http("GET", f"{COLLECTION}/dry").status == 404


# ---- deletion -----------------------------------------------------------------------------------


def test_delete_without_finalizers_removes_at_once(kube_with_crd: Any, kube_http: Any) -> None:
    kube_http.create("gone")
    deleted = kube_http("DELETE", f"{COLLECTION}/gone")
    assert deleted.status == 200
    assert deleted.body["metadata"]["name"] == "gone"
    assert kube_http("GET", f"{COLLECTION}/gone").status == 404
    assert kube_http("DELETE", f"{COLLECTION}/gone").status == 404


def test_delete_with_finalizers_marks_then_removes(kube_with_crd: Any, kube_http: Any) -> None:
    kube_http.create("fin", finalizers=["example.com/f"])
    marked = kube_http("DELETE", f"{COLLECTION}/fin")
    assert marked.status == 200
    meta = marked.body["metadata"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["deletionTimestamp"])
    assert meta["deletionGracePeriodSeconds"] == 0
    assert meta["generation"] == 2  # real servers bump it when marking

    again = kube_http("DELETE", f"{COLLECTION}/fin")
    assert again.status == 200
    assert again.body["metadata"]["resourceVersion"] == meta["resourceVersion"]  # a no-op

    more = kube_http(
        "PATCH",
        f"{COLLECTION}/fin",
        {"metadata": {"finalizers": ["example.com/f", "x/y"]}},
        content_type=MERGE,
    )
    assert more.status == 422  # no new finalizers on an object being deleted

    released = kube_http("PATCH", f"{COLLECTION}/fin", {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert released.status == 200
    assert kube_http("GET", f"{COLLECTION}/fin").status == 404


def test_delete_preconditions(kube_with_crd: Any, kube_http: Any) -> None:
    created = kube_http.create("pre")
    wrong = {"preconditions": {"uid": "00000000-0000-4000-8000-000000000000"}}
    assert kube_http("DELETE", f"{COLLECTION}/pre", wrong).status == 409
    right = {"preconditions": {"uid": created["metadata"]["uid"]}}
    assert kube_http("DELETE", f"{COLLECTION}/pre", right).status == 200


def test_delete_collection(kube_with_crd: Any, kube_http: Any) -> None:
    kube_http.create("a", labels={"x": "1"})
    kube_http.create("b", labels={"x": "2"})
    assert kube_http("DELETE", f"{COLLECTION}?labelSelector=x%3D1").status == 200
    assert [i["metadata"]["name"] for i in kube_http("GET", COLLECTION).body["items"]] == ["b"]


# ---- namespaces and other built-ins -------------------------------------------------------------


def test_namespace_lifecycle(kube_with_crd: Any, kube_http: Any) -> None:
    ns = kube_http(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}}
    )
    assert ns.status == 201
    assert ns.body["status"] == {"phase": "Active"}
    kube_http("POST", f"{BASE}/namespaces/t/{PLURAL}", _body("plain"))
    held = _body("held")
    held["metadata"]["finalizers"] = ["example.com/f"]
    kube_http("POST", f"{BASE}/namespaces/t/{PLURAL}", held)

    terminating = kube_http("DELETE", "/api/v1/namespaces/t")
    assert terminating.status == 200
    assert terminating.body["status"] == {"phase": "Terminating"}
    assert kube_http("GET", f"{BASE}/namespaces/t/{PLURAL}/plain").status == 404
    assert kube_http("GET", f"{BASE}/namespaces/t/{PLURAL}/held").body["metadata"]["deletionTimestamp"]
    refused = kube_http("POST", f"{BASE}/namespaces/t/{PLURAL}", _body("late"))
    assert refused.status == 403
    assert "because it is being terminated" in refused.body["message"]

    kube_http(
        "PATCH", f"{BASE}/namespaces/t/{PLURAL}/held", {"metadata": {"finalizers": []}}, content_type=MERGE
    )
    assert kube_http("GET", "/api/v1/namespaces/t").status == 404


def test_system_namespaces_cannot_be_deleted(kube_http: Any) -> None:
    response = kube_http("DELETE", "/api/v1/namespaces/default")
    assert response.status == 403
    assert response.body["message"] == 'namespaces "default" is forbidden: this namespace may not be deleted'


def test_invalid_namespace_name_is_422(kube_http: Any) -> None:
    response = kube_http("POST", "/api/v1/namespaces", {"metadata": {"name": "Not_Valid"}})
    assert response.status == 422
    assert response.body["message"].startswith(
        'Namespace "Not_Valid" is invalid: metadata.name: Invalid value'
    )


def test_events_with_generate_name(kube_api: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(kube_api)
    body = {
        "metadata": {"generateName": "kopf-event-", "namespace": "default"},
        "involvedObject": {"kind": "LambdaVpcAttachment", "name": "x", "namespace": "default"},
        "reason": "Testing",
        "message": "hello",
        "type": "Normal",
    }
    created = core.create_namespaced_event("default", body)
    assert created.metadata.name.startswith("kopf-event-")
    listed = core.list_namespaced_event("default", field_selector="involvedObject.name=x")
    assert [event.message for event in listed.items] == ["hello"]


def test_simple_builtins_round_trip(kube_api: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(kube_api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    core.create_namespaced_secret("default", {"metadata": {"name": "s"}, "stringData": {"a": "1"}})
    core.create_namespaced_service_account("default", {"metadata": {"name": "sa"}})
    leases = kubernetes.client.CoordinationV1Api(kube_api)
    leases.create_namespaced_lease("default", {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}})
    assert core.read_namespaced_config_map("cm", "default").data == {"a": "1"}
    assert core.read_namespaced_service_account("sa", "default").metadata.name == "sa"
    assert leases.read_namespaced_lease("l", "default").spec.holder_identity == "me"
    patched = core.patch_namespaced_config_map("cm", "default", {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}


# ---- audit --------------------------------------------------------------------------------------


def test_audit_counts_rbac_verbs(kube_with_crd: Any, kube_http: Any) -> None:
    from lambda_vpc_sandbox.kube import AuditKey

    kube_with_crd.emulator.audit.clear()
    kube_http.create("audited")
    kube_http("GET", f"{COLLECTION}/audited")
    kube_http("GET", COLLECTION)
    kube_http("GET", f"{BASE}/{PLURAL}?watch=true&timeoutSeconds=0")
    kube_http("PATCH", f"{COLLECTION}/audited/status", {"status": {"a": 1}}, content_type=MERGE)
    kube_http("DELETE", f"{COLLECTION}/audited")
    kube_http("GET", "/api/v1/namespaces")
    audit = kube_with_crd.emulator.audit
    assert audit == {
        AuditKey("create", GROUP, PLURAL, "", True): 1,
        AuditKey("get", GROUP, PLURAL, "", True): 1,
        AuditKey("list", GROUP, PLURAL, "", True): 1,
        AuditKey("watch", GROUP, PLURAL, "", False): 1,
        AuditKey("patch", GROUP, PLURAL, "status", True): 1,
        AuditKey("delete", GROUP, PLURAL, "", True): 1,
        AuditKey("list", "", "namespaces", "", False): 1,
    }


def test_strategic_merge_patch_directives(kube_http: Any) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    containers = [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}, {"name": "c", "image": "c:1"}]
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "finalizers": ["x/one", "x/two"]},
        "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"spec": {"containers": containers}},
        },
    }
    assert kube_http("POST", path, body).status == 201
    change = {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["x/one"], "finalizers": ["x/three"]},
        "spec": {
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
                    "containers": [{"name": "b", "$patch": "delete"}, {"name": "c", "image": "c:2"}],
                }
            },
        },
    }
    patched = kube_http("PATCH", f"{path}/d", change, content_type="application/strategic-merge-patch+json")
    assert patched.status == 200, patched.body
    assert patched.body["metadata"]["finalizers"] == ["x/two", "x/three"]
    assert patched.body["spec"]["strategy"] == {"type": "Recreate"}
    assert patched.body["spec"]["template"]["spec"] == {
        "containers": [{"name": "c", "image": "c:2"}, {"name": "a", "image": "a:1"}]
    }
