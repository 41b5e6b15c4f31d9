"""A minimal OpenAPI v3 so that ``kubectl apply -f`` works with its default validation.

kubectl 1.32 validates with ``--validate=strict`` by default: it asks ``/openapi/v3`` whether the
PATCH operation of the object's group/version/kind has a ``fieldValidation`` query parameter. If it
has, kubectl sends ``?fieldValidation=Strict`` and lets the server validate (we do: pruned unknown
fields of custom resources are a 400, schema errors a 422). If ``/openapi/v3`` is missing, kubectl
falls back to ``/openapi/v2`` and, when that is missing too, refuses to apply at all ("failed to
download openapi"). So we serve per group/version documents holding exactly that: one PATCH
operation per resource with its GVK extension and the parameter, plus the CRD schemas (for
``kubectl explain``). ``/openapi/v2`` stays 404: nothing we need uses it once v3 answers.

Purely computational: documents are built from the registry on request.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lambda_vpc_sandbox.kube import discovery, resources


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _group_versions(registry: resources.Registry) -> list[tuple[str, str]]:
    found = [("", version) for version in registry.versions("")]
    for group in registry.groups():
        found.extend((group, version) for version in registry.versions(group))
    return found


def _gvk(resource: resources.Resource) -> dict[str, str]:
    return {"group": resource.group, "version": resource.version, "kind": resource.kind}


def _schema_name(resource: resources.Resource) -> str:
    reversed_group = ".".join(reversed(resource.group.split("."))) if resource.group else "io.k8s.api.core"
    return f"{reversed_group}.{resource.version}.{resource.kind}"


def group_version_document(registry: resources.Registry, group: str, version: str) -> dict[str, Any] | None:
    """``/openapi/v3/apis/{group}/{version}``; ``None`` if not served."""
    served = registry.in_version(group, version)
    if not served:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for resource in served:
        prefix = f"/{_gv_path(group, version)}"
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        paths[f"{prefix}{scope}/{resource.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{resource.kind}",
                "x-kubernetes-group-version-kind": _gvk(resource),
                "x-kubernetes-action": "patch",
                "parameters": [
                    {
                        "name": "fieldValidation",
                        "in": "query",
                        "schema": {"type": "string", "uniqueItems": True},
                    },
                    {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                ],
                "responses": {"200": {"description": "OK"}},
            },
        }
        schema: dict[str, Any] = dict(resource.schema) if resource.schema is not None else {"type": "object"}
        schema["x-kubernetes-group-version-kind"] = [_gvk(resource)]
        schemas[_schema_name(resource)] = schema
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": discovery.SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def root_document(registry: resources.Registry) -> dict[str, Any]:
    """``/openapi/v3``: where each group/version document is, with a content hash for caching."""
    paths: dict[str, Any] = {}
    for group, version in _group_versions(registry):
        document = group_version_document(registry, group, version)
        digest = hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest().upper()
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def document(registry: resources.Registry, path: str) -> dict[str, Any] | None:
    """Any ``/openapi/v3...`` path; ``None`` for what is not served (404)."""
    parts = path.strip("/").split("/")[2:]  # after "openapi/v3"
    if not parts:
        return root_document(registry)
    if len(parts) == 2 and parts[0] == "api":
        return group_version_document(registry, "", parts[1])
    if len(parts) == 3 and parts[0] == "apis":
        return group_version_document(registry, parts[1], parts[2])
    return None
