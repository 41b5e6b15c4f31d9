"""The generated CRD: structural, usable from kubectl, and in agreement with the pydantic models.

The agreement test is the one that matters: the API server validates with the CRD's schema, the
operator with pydantic, and the two must accept and refuse exactly the same specs.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pydantic
import pytest
import yaml

from lambda_vpc_operator.models import attachments, crds

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return crds.attachment_crd()


@pytest.fixture(scope="module")
def version(crd: dict[str, Any]) -> dict[str, Any]:
    (only,) = crd["spec"]["versions"]
    return dict(only)


@pytest.fixture(scope="module")
def schema(version: dict[str, Any]) -> dict[str, Any]:
    return dict(version["schema"]["openAPIV3Schema"])


def nodes(node: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    """Every dict in a JSON document, with its path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from nodes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from nodes(value, f"{path}[{index}]")


def schema_nodes(node: dict[str, Any], path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node (properties and items, recursively), with its path."""
    yield path, node
    for name, prop in node.get("properties", {}).items():
        yield from schema_nodes(prop, f"{path}.{name}")
    if "items" in node:
        yield from schema_nodes(node["items"], f"{path}[]")


# --- structural ---------------------------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["$ref", "$defs", "anyOf", "oneOf", "allOf", "title"])
def test_no_keyword_the_translation_must_remove(schema: dict[str, Any], keyword: str) -> None:
    offenders = [path for path, node in nodes(schema) if keyword in node and not path.endswith(".properties")]
    assert offenders == []


def test_every_schema_node_has_a_type(schema: dict[str, Any]) -> None:
    untyped = [path for path, node in schema_nodes(schema) if "type" not in node]
    assert untyped == []


def test_every_object_with_properties_says_object(schema: dict[str, Any]) -> None:
    wrong = [path for path, node in schema_nodes(schema) if "properties" in node and node["type"] != "object"]
    assert wrong == []


def test_no_null_defaults(schema: dict[str, Any]) -> None:
    assert [path for path, node in schema_nodes(schema) if "default" in node and node["default"] is None] == []


def test_status_has_a_real_schema(schema: dict[str, Any]) -> None:
    status = schema["properties"]["status"]
    assert status["type"] == "object"
    assert "nullable" not in status
    assert {"observedGeneration", "conditions", "vpcId", "state"} <= status["properties"].keys()
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert conditions["items"]["required"] == ["type", "status", "reason", "lastTransitionTime"]


def test_spec_lists_are_sets(schema: dict[str, Any]) -> None:
    spec = schema["properties"]["spec"]["properties"]
    assert spec["subnetIds"]["x-kubernetes-list-type"] == "set"
    assert spec["securityGroupIds"]["x-kubernetes-list-type"] == "set"


def test_spec_is_required(schema: dict[str, Any]) -> None:
    assert schema["required"] == ["spec"]
    # Ids or a selector, exactly one of each pair: CEL rules say so, not "required".
    assert schema["properties"]["spec"]["required"] == ["functionName"]
    rules = {r["rule"] for r in schema["properties"]["spec"]["x-kubernetes-validations"]}
    assert "has(self.subnetIds) != has(self.subnetSelector)" in rules
    assert "has(self.securityGroupIds) != has(self.securityGroupSelector)" in rules


# --- what kubectl sees --------------------------------------------------------------------------


def test_names_and_scope(crd: dict[str, Any]) -> None:
    assert crd["metadata"]["name"] == "lambdavpcattachments.lambdavpc.dev"
    assert crd["spec"]["group"] == "lambdavpc.dev"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"] == {
        "kind": "LambdaVpcAttachment",
        "listKind": "LambdaVpcAttachmentList",
        "plural": "lambdavpcattachments",
        "singular": "lambdavpcattachment",
        "shortNames": ["lva"],
        "categories": ["lambdavpc"],
    }


def test_one_served_storage_version_with_status_subresource(version: dict[str, Any]) -> None:
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_printer_columns(version: dict[str, Any]) -> None:
    columns = [(c["name"], c["type"], c["jsonPath"], c.get("priority", 0)) for c in version["additionalPrinterColumns"]]
    assert columns == [
        ("Function", "string", ".spec.functionName", 0),
        ("VPC", "string", ".status.vpcId", 0),
        ("State", "string", ".status.state", 0),
        ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
        ("Reason", "string", '.status.conditions[?(@.type=="Ready")].reason', 1),
        ("Network", "string", '.status.conditions[?(@.type=="NetworkReady")].status', 1),
        ("Age", "date", ".metadata.creationTimestamp", 0),
    ]


def test_all_crds_ships_the_attachment_and_the_policy(crd: dict[str, Any]) -> None:
    assert crds.all_crds() == {"lambdavpcattachments.yaml": crd, "lambdavpcpolicies.yaml": crds.policy_crd()}


# --- the translation itself ---------------------------------------------------------------------


def test_ref_is_inlined_and_the_property_description_wins() -> None:
    schema = {"$ref": "#/$defs/Thing", "description": "mine"}
    defs = {"Thing": {"title": "Thing", "type": "string", "description": "theirs", "enum": ["a"]}}
    assert crds.structural(schema, defs) == {"type": "string", "description": "mine", "enum": ["a"]}


def test_optional_becomes_nullable_and_null_default_goes() -> None:
    schema = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}], "default": None, "title": "X"}
    assert crds.structural(schema) == {"type": "integer", "minimum": 0, "nullable": True}


def test_a_real_union_cannot_be_structural() -> None:
    with pytest.raises(ValueError, match="union of 2 types"):
        crds.structural({"anyOf": [{"type": "integer"}, {"type": "string"}]})


def test_kubernetes_extensions_are_kept() -> None:
    schema = {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set", "uniqueItems": True}
    assert crds.structural(schema) == {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}


# --- CRD and models agree -----------------------------------------------------------------------


def as_json_schema(node: Any) -> Any:
    """OpenAPI v3 ``nullable: true`` as JSON Schema draft 7 says it: ``type: [T, "null"]``."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out["type"] = [node["type"], "null"]
    return out


def spec_of(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"functionName": "orders", "subnetIds": ["subnet-a1"], "securityGroupIds": ["sg-1"]}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


SUBNETS_16 = [f"subnet-{i:02x}" for i in range(16)]
GROUPS_5 = [f"sg-{i}" for i in range(5)]

SAMPLES = [
    # valid
    pytest.param(spec_of(), True, id="minimal"),
    pytest.param(spec_of(functionName="123456789012:function:orders"), True, id="partial-arn"),
    pytest.param(spec_of(functionName=ARN), True, id="full-arn"),
    pytest.param(spec_of(functionName="arn:aws-cn:lambda:cn-north-1:123456789012:function:orders"), True,
                 id="china-arn"),
    pytest.param(spec_of(functionName="a" * 64), True, id="longest-name"),
    pytest.param(spec_of(subnetIds=SUBNETS_16, securityGroupIds=GROUPS_5), True, id="16-subnets-5-groups"),
    pytest.param({"functionName": "orders", "subnetSelector": {"tags": {"tier": "private"}},
                  "securityGroupSelector": {"vpcId": "vpc-1", "tags": {"app": "*"}}}, True, id="selectors"),
    pytest.param(spec_of(subnetSelector={"tags": {"tier": "private"}}), False, id="ids-and-selector"),
    pytest.param(spec_of(functionName=ARN, region=ARN.split(":")[3]), True, id="arn-and-its-region"),
    pytest.param(spec_of(functionName="orders", region="eu-west-1"), True, id="name-and-region"),
    pytest.param(spec_of(functionName=ARN, region="eu-west-1"), False, id="arn-and-another-region"),
    pytest.param({"functionName": "orders", "subnetSelector": {"tags": {}}, "securityGroupIds": ["sg-1"]}, False,
                 id="selector-without-tags"),
    pytest.param(spec_of(securityGroupIds=["sg-0AbC"]), True, id="group-id-mixed-case"),
    pytest.param(spec_of(region="us-gov-west-1"), True, id="govcloud-region"),
    pytest.param(spec_of(region=None), True, id="null-region"),
    pytest.param(spec_of(deletionPolicy="Retain", driftPolicy="Report", ipv6AllowedForDualStack=True), True,
                 id="every-option"),
    pytest.param(spec_of(deletionPolicy="Detach", driftPolicy="Correct", ipv6AllowedForDualStack=False), True,
                 id="every-default-spelled-out"),
    pytest.param(spec_of(somethingElse="pruned by the API server, ignored by pydantic"), True, id="unknown-field"),
    pytest.param(spec_of(requireInternetAccess=True), True, id="require-internet-access"),
    # invalid
    pytest.param(spec_of(subnetIds=["subnet_a1"]), False, id="subnet-underscore"),
    pytest.param(spec_of(subnetIds=["subnet-A1"]), False, id="subnet-upper-case"),
    pytest.param(spec_of(subnetIds=["subnet-"]), False, id="subnet-empty-suffix"),
    pytest.param(spec_of(subnetIds=["sg-1"]), False, id="group-as-subnet"),
    pytest.param(spec_of(subnetIds=[*SUBNETS_16, "subnet-ff"]), False, id="17-subnets"),
    pytest.param(spec_of(subnetIds=[]), False, id="0-subnets"),
    pytest.param(spec_of(securityGroupIds=[]), False, id="0-groups"),
    pytest.param(spec_of(securityGroupIds=[*GROUPS_5, "sg-5"]), False, id="6-groups"),
    pytest.param(spec_of(securityGroupIds=["sg_1"]), False, id="group-underscore"),
    pytest.param(spec_of(deletionPolicy="Delete"), False, id="unknown-deletion-policy"),
    pytest.param(spec_of(deletionPolicy="detach"), False, id="deletion-policy-lower-case"),
    pytest.param(spec_of(driftPolicy="Ignore"), False, id="unknown-drift-policy"),
    pytest.param(spec_of(functionName=ARN + ":1"), False, id="arn-with-version"),
    pytest.param(spec_of(functionName=ARN + ":$LATEST"), False, id="arn-with-latest"),
    pytest.param(spec_of(functionName="orders:prod"), False, id="name-with-alias"),
    pytest.param(spec_of(functionName="function:orders"), False, id="function-prefix-only"),
    pytest.param(spec_of(functionName="123456789012:orders"), False, id="account-without-function"),
    pytest.param(spec_of(functionName="a" * 65), False, id="name-too-long"),
    pytest.param(spec_of(functionName=""), False, id="empty-name"),
    pytest.param(spec_of(functionName="orders.v2"), False, id="name-with-dot"),
    pytest.param(spec_of(region="US-EAST-1"), False, id="region-upper-case"),
    pytest.param(spec_of(region="useast1"), False, id="region-no-dashes"),
    pytest.param(spec_of(functionName=...), False, id="no-function"),
    pytest.param(spec_of(subnetIds=...), False, id="no-subnets"),
    pytest.param(spec_of(securityGroupIds=...), False, id="no-groups"),
]  # fmt: skip


def pydantic_accepts(spec: dict[str, Any]) -> bool:
    try:
        attachments.AttachmentSpec.model_validate(spec)
    except pydantic.ValidationError:
        return False
    return True


def crd_accepts(schema: dict[str, Any], spec: dict[str, Any]) -> bool:
    from lambda_vpc_sandbox.kube import celrules  # the CEL rules (exactly one of ids and selector)

    validator = jsonschema.Draft7Validator(as_json_schema(schema["properties"]["spec"]))
    rules = celrules.validate({"spec": spec}, None, {"properties": {"spec": schema["properties"]["spec"]}})
    return bool(validator.is_valid(spec)) and not rules


@pytest.mark.parametrize(("spec", "valid"), SAMPLES)
def test_crd_and_model_accept_and_refuse_the_same_specs(
    schema: dict[str, Any], spec: dict[str, Any], valid: bool
) -> None:
    assert (pydantic_accepts(spec), crd_accepts(schema, spec)) == (valid, valid)


def test_the_translated_schema_is_valid_draft7(schema: dict[str, Any]) -> None:
    jsonschema.Draft7Validator.check_schema(as_json_schema(schema))


def test_defaults_in_the_crd_are_the_model_defaults(schema: dict[str, Any]) -> None:
    # Default a minimal spec the way the API server does (nested defaults included) and compare
    # it with what pydantic fills in: both must complete it identically.
    from lambda_vpc_sandbox.kube import schemas

    minimal = {"apiVersion": "lambdavpc.dev/v1alpha1", "kind": "LambdaVpcAttachment",
               "metadata": {"name": "x"}, "spec": spec_of()}  # fmt: skip
    defaulted, errors = schemas.admit(minimal, schema)
    assert errors == []
    model = attachments.AttachmentSpec.model_validate(spec_of())
    assert defaulted["spec"] == model.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert defaulted["spec"]["reactivation"]["policy"] == "Auto"


def test_condition_written_by_merge_fits_the_status_schema(schema: dict[str, Any]) -> None:
    from lambda_vpc_operator.planner import conditions

    merged = conditions.merge(
        [], [conditions.ready(conditions.Status.FALSE, "SubnetOutOfIPAddresses", "m"),
             conditions.stalled("SubnetOutOfIPAddresses", "m")], generation=2, now="2025-01-01T00:00:00Z",
    )  # fmt: skip
    validator = jsonschema.Draft7Validator(as_json_schema(schema["properties"]["status"]))
    assert validator.is_valid({"observedGeneration": 2, "conditions": merged, "vpcId": None})


# --- the committed files ------------------------------------------------------------------------

CRDS_DIR = pathlib.Path(__file__).resolve().parents[2] / "crds"


@pytest.mark.parametrize("file_name", sorted(crds.all_crds()))
def test_committed_crd_is_the_generated_one(file_name: str) -> None:
    # crds/ is what users apply; a model change without `make crds` would ship the old schema.
    committed = list(yaml.safe_load_all((CRDS_DIR / file_name).read_text()))
    assert committed == [crds.all_crds()[file_name]], "crds/ is stale: run `make crds`"
