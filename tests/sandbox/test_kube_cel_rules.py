"""CEL validation rules (x-kubernetes-validations) in the Kubernetes API emulator, with our real CRD.

The operator's CRD makes functionName and region immutable with transition rules; a real API
server refuses such an update with 422, and so must the emulator, over HTTP, for every client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest

from lambda_vpc_operator.models import attachments, crds
from lambda_vpc_sandbox.kube import EmulatorThread
from lambda_vpc_sandbox.kube.celrules import validate

MERGE = "application/merge-patch+json"


@pytest.fixture
def custom(kube_emulator: EmulatorThread, kube_api: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    kube_emulator.install_crd(crds.attachment_crd())
    return kubernetes.client.CustomObjectsApi(kube_api)


def _create(custom: Any, name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": f"{attachments.GROUP}/{attachments.VERSION}",
        "kind": attachments.KIND,
        "metadata": {"name": name},
        "spec": {"functionName": "orders", "subnetIds": ["subnet-0a"], "securityGroupIds": ["sg-0a"], **spec},
    }
    created: dict[str, Any] = custom.create_namespaced_custom_object(
        attachments.GROUP, attachments.VERSION, "default", attachments.PLURAL, body
    )
    return created


def _patch(custom: Any, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    patched: dict[str, Any] = custom.patch_namespaced_custom_object(
        attachments.GROUP, attachments.VERSION, "default", attachments.PLURAL, name, {"spec": spec}
    )
    return patched


def _refusal(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(kubernetes.client.ApiException) as exc:
        call()
    assert exc.value.status == 422
    body: dict[str, Any] = json.loads(exc.value.body)
    return body


def test_function_name_cannot_change(custom: Any) -> None:
    _create(custom, "a")

    body = _refusal(lambda: _patch(custom, "a", {"functionName": "payments"}))

    cause = body["details"]["causes"][0]
    assert cause["field"] == "spec.functionName" and cause["reason"] == "FieldValueInvalid"
    assert cause["message"] == 'Invalid value: "string": ' + attachments.IMMUTABLE_FUNCTION_RULE["message"]
    assert "functionName is immutable" in body["message"]


def test_other_fields_still_change(custom: Any) -> None:
    _create(custom, "a", region="eu-west-1")

    patched = _patch(custom, "a", {"subnetIds": ["subnet-0b"], "functionName": "orders", "region": "eu-west-1"})

    assert patched["spec"]["subnetIds"] == ["subnet-0b"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param({"region": "eu-west-1"}, {"region": "us-east-1"}, id="changed"),
        pytest.param({"region": "eu-west-1"}, {"region": None}, id="removed"),
        pytest.param({}, {"region": "eu-west-1"}, id="added"),
    ],
)
def test_region_is_immutable_once_set(custom: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    _create(custom, "a", **before)

    body = _refusal(lambda: _patch(custom, "a", after))

    assert body["details"]["causes"][0]["field"] == "spec"
    assert "region is immutable" in body["details"]["causes"][0]["message"]


def test_a_create_evaluates_no_transition_rule(custom: Any) -> None:
    assert _create(custom, "a", region="eu-west-1")["spec"]["region"] == "eu-west-1"


def test_status_writes_are_not_refused_by_spec_rules(custom: Any) -> None:
    _create(custom, "a")
    status = custom.patch_namespaced_custom_object_status(
        attachments.GROUP, attachments.VERSION, "default", attachments.PLURAL, "a", {"status": {"state": "Active"}}
    )
    assert status["status"]["state"] == "Active"


# -- the evaluator alone ------------------------------------------------------------------------


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= 0"}]},
                "items": {
                    "type": "array",
                    "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('x')"}]},
                },
            },
        }
    },
}


def test_rules_without_old_self_run_on_create_and_name_the_path() -> None:
    errors = validate({"spec": {"replicas": -1, "items": ["xa", "b"]}}, None, SCHEMA)
    assert [(e.path, e.message) for e in errors] == [
        ("spec.replicas", 'Invalid value: "number": failed rule: self >= 0'),
        ("spec.items[1]", "Invalid value: \"string\": failed rule: self.startsWith('x')"),
    ]


def test_valid_objects_pass() -> None:
    assert validate({"spec": {"replicas": 2, "items": ["xa"]}}, {"spec": {"replicas": 1}}, SCHEMA) == []
