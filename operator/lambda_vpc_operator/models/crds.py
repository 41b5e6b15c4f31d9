"""Generate the CustomResourceDefinitions from the pydantic models.

The models are the source of truth; crds/*.yaml are this module's output (``make crds``) and a test
fails when the committed files differ from it. pydantic's JSON Schema is close to, but not, a
Kubernetes structural schema: references must be inlined, ``Optional`` becomes ``nullable``, titles
go, and a few keywords are Kubernetes extensions. ``structural`` does exactly that translation.
"""

from __future__ import annotations

from typing import Any

from lambda_vpc_operator.models import attachments, policies

# Keywords a structural schema may carry; everything else pydantic emits (title, ...) is dropped.
_KEPT = {
    "type", "description", "default", "enum", "pattern", "format",
    "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minProperties", "maxProperties", "nullable",
}  # fmt: skip


def structural(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Translate one pydantic JSON Schema node into a Kubernetes structural schema node."""
    defs = defs if defs is not None else schema.get("$defs", {})
    node = dict(schema)
    if "$ref" in node:
        target = defs[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**target, **node}  # the property's own description/default win over the definition's
    if "anyOf" in node:
        variants = [v for v in node.pop("anyOf") if v.get("type") != "null"]
        if len(variants) != 1:
            raise ValueError(f"cannot express a union of {len(variants)} types structurally: {schema}")
        node = {**structural(variants[0], defs), **node, "nullable": True}
    out: dict[str, Any] = {key: value for key, value in node.items() if key in _KEPT or key.startswith("x-kubernetes-")}
    if out.get("default", ...) is None:
        del out["default"]  # a null default is what absence already means
    if "properties" in node:
        out["type"] = "object"
        out["properties"] = {name: structural(prop, defs) for name, prop in node["properties"].items()}
        if node.get("required"):
            out["required"] = list(node["required"])
    if "items" in node:
        out["items"] = structural(node["items"], defs)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(node["additionalProperties"], defs)  # a map (dict[str, T])
    return out


def _printer_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Function", "type": "string", "jsonPath": ".spec.functionName"},
        {"name": "VPC", "type": "string", "jsonPath": ".status.vpcId"},
        {"name": "State", "type": "string", "jsonPath": ".status.state"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {
            "name": "Reason",
            "type": "string",
            "priority": 1,
            "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
        },
        {
            "name": "Network",
            "type": "string",
            "priority": 1,
            "jsonPath": '.status.conditions[?(@.type=="NetworkReady")].status',
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def attachment_crd() -> dict[str, Any]:
    """The LambdaVpcAttachment CRD, ready to be dumped as YAML."""
    model_schema = attachments.LambdaVpcAttachment.model_json_schema(by_alias=True, mode="serialization")
    defs = model_schema.get("$defs", {})
    spec = structural(model_schema["properties"]["spec"], defs)
    status = structural(attachments.AttachmentStatus.model_json_schema(by_alias=True, mode="serialization"))
    status.pop("nullable", None)
    schema = {
        "type": "object",
        "description": "Attaches one AWS Lambda function to subnets and security groups of one VPC.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{attachments.PLURAL}.{attachments.GROUP}"},
        "spec": {
            "group": attachments.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": attachments.KIND,
                "listKind": f"{attachments.KIND}List",
                "plural": attachments.PLURAL,
                "singular": attachments.SINGULAR,
                "shortNames": list(attachments.SHORT_NAMES),
                "categories": ["lambdavpc"],
            },
            "versions": [
                {
                    "name": attachments.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": _printer_columns(),
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def policy_crd() -> dict[str, Any]:
    """The LambdaVpcPolicy CRD (cluster-scoped, spec only), ready to be dumped as YAML."""
    model_schema = policies.LambdaVpcPolicy.model_json_schema(by_alias=True, mode="serialization")
    spec = structural(model_schema["properties"]["spec"], model_schema.get("$defs", {}))
    schema = {
        "type": "object",
        "description": "Which namespaces may attach which Lambda functions to which VPCs, subnets and security groups.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
        },
    }
    columns = [
        {"name": "Functions", "type": "string", "jsonPath": ".spec.functions"},
        {"name": "VPCs", "type": "string", "jsonPath": ".spec.vpcIds"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{policies.PLURAL}.{policies.GROUP}"},
        "spec": {
            "group": policies.GROUP,
            "scope": "Cluster",
            "names": {
                "kind": policies.KIND,
                "listKind": f"{policies.KIND}List",
                "plural": policies.PLURAL,
                "singular": policies.SINGULAR,
                "shortNames": list(policies.SHORT_NAMES),
                "categories": ["lambdavpc"],
            },
            "versions": [
                {
                    "name": policies.VERSION,
                    "served": True,
                    "storage": True,
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def all_crds() -> dict[str, dict[str, Any]]:
    """Every CRD we ship, by the file name it has in crds/."""
    return {"lambdavpcattachments.yaml": attachment_crd(), "lambdavpcpolicies.yaml": policy_crd()}
