"""The generated LambdaVpcPolicy CRD: cluster-scoped, structural, and in agreement with the model."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pydantic
import pytest

from lambda_vpc_operator.models import crds, policies


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return crds.policy_crd()


@pytest.fixture(scope="module")
def spec_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return dict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])


def test_names_and_scope(crd: dict[str, Any]) -> None:
    assert crd["metadata"]["name"] == "lambdavpcpolicies.lambdavpc.dev"
    assert crd["spec"]["scope"] == "Cluster"
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == ("LambdaVpcPolicy", "lambdavpcpolicies", ["lvp"])
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert "subresources" not in version  # a policy has no status


def test_match_labels_is_a_map_the_api_server_keeps(spec_schema: dict[str, Any]) -> None:
    # Without additionalProperties, structural pruning would drop every label of the selector.
    labels = spec_schema["properties"]["namespaceSelector"]["properties"]["matchLabels"]
    assert labels["type"] == "object" and labels["additionalProperties"] == {"type": "string"}


def test_lists_are_sets_of_at_least_one(spec_schema: dict[str, Any]) -> None:
    for field in ("functions", "vpcIds", "subnetIds", "securityGroupIds"):
        node = spec_schema["properties"][field]
        assert node["x-kubernetes-list-type"] == "set" and node["minItems"] == 1, field


def as_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out["type"] = [node["type"], "null"]
    return out


SELECTOR = {"matchLabels": {"team": "a"}}

SAMPLES = [
    pytest.param({"namespaceSelector": {}}, True, id="minimal-selects-all"),
    pytest.param({"namespaceSelector": SELECTOR, "functions": ["team-a-*", "arn:aws:lambda:*:*:function:x-?"],
                  "vpcIds": ["vpc-0abc"], "subnetIds": ["subnet-0a"], "securityGroupIds": ["sg-0A"]}, True,
                 id="everything"),
    pytest.param({"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}},
                 True, id="expression"),
    pytest.param({"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]}}, True,
                 id="exists-without-values"),
    pytest.param({"namespaceSelector": SELECTOR, "functions": ["team-[ab]-*"]}, True, id="character-class"),
    pytest.param({}, False, id="no-selector"),
    pytest.param({"namespaceSelector": {"matchLabels": {"team": 1}}}, False, id="label-value-not-a-string"),
    pytest.param({"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Gt"}]}}, False,
                 id="unknown-operator"),
    pytest.param({"namespaceSelector": {"matchExpressions": [{"operator": "Exists"}]}}, False, id="no-key"),
    pytest.param({"namespaceSelector": SELECTOR, "functions": []}, False, id="empty-functions"),
    pytest.param({"namespaceSelector": SELECTOR, "vpcIds": []}, False, id="empty-vpcs"),
    pytest.param({"namespaceSelector": SELECTOR, "vpcIds": ["subnet-1"]}, False, id="subnet-as-vpc"),
    pytest.param({"namespaceSelector": SELECTOR, "subnetIds": ["vpc-1"]}, False, id="vpc-as-subnet"),
    pytest.param({"namespaceSelector": SELECTOR, "securityGroupIds": ["sg_1"]}, False, id="bad-group"),
    pytest.param({"namespaceSelector": SELECTOR, "functions": ["team a"]}, False, id="space-in-pattern"),
]  # fmt: skip


def pydantic_accepts(spec: dict[str, Any]) -> bool:
    try:
        policies.PolicySpec.model_validate(spec)
    except pydantic.ValidationError:
        return False
    return True


@pytest.mark.parametrize(("spec", "valid"), SAMPLES)
def test_crd_and_model_accept_and_refuse_the_same_specs(
    spec_schema: dict[str, Any], spec: dict[str, Any], valid: bool
) -> None:
    crd_accepts = jsonschema.Draft7Validator(as_json_schema(spec_schema)).is_valid(spec)
    assert (pydantic_accepts(spec), crd_accepts) == (valid, valid)


def test_the_schema_is_valid_draft7(crd: dict[str, Any]) -> None:
    (version,) = crd["spec"]["versions"]
    jsonschema.Draft7Validator.check_schema(as_json_schema(version["schema"]["openAPIV3Schema"]))
