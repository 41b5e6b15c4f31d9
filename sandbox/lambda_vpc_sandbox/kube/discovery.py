"""Discovery documents: what kubectl, kopf and the `kubernetes` client ask before anything else.

kubectl resolves short names (``lva``, ``ns``) from the APIResourceLists; kopf scans them to find
its resources and waits silently for ones it cannot find. Subresource entries (``x/status``) carry
no short names and only get/patch/update verbs, as on real servers: copied short names make kubectl
resolve ``ns`` to ``namespaces/status``. Only the legacy (unaggregated) discovery is served: its
``application/json`` content type makes kubectl 1.32 fall back from aggregated discovery.

Purely computational: documents are built from the registry on every request (it is small).
"""

from __future__ import annotations

from typing import Any

from lambda_vpc_sandbox.kube import resources

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def version() -> dict[str, Any]:
    return dict(SERVER_VERSION)


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(registry: resources.Registry, group: str) -> dict[str, Any]:
    versions = registry.versions(group)
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(registry: resources.Registry) -> dict[str, Any]:
    """``/apis``: every named group with its versions, preferred first."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(registry, group) for group in registry.groups()],
    }


def api_group(registry: resources.Registry, group: str) -> dict[str, Any] | None:
    """``/apis/{group}``; ``None`` if the group is not served."""
    if group not in registry.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(registry, group)}


def _entries(resource: resources.Resource) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    entries = [entry]
    for subresource in resource.subresources:
        entries.append(
            {
                "name": f"{resource.plural}/{subresource}",
                "singularName": "",
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": list(resources.SUBRESOURCE_VERBS),
            }
        )
    return entries


def api_resource_list(registry: resources.Registry, group: str, version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/{group}/{version}``; ``None`` if that group/version is not served."""
    served = registry.in_version(group, version)
    if not served:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for resource in served for entry in _entries(resource)],
    }


def root_paths(registry: resources.Registry) -> dict[str, Any]:
    """``/``: the served paths, as `kubectl get --raw /` shows them."""
    paths = {"/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz"}
    for group in registry.groups():
        paths.add(f"/apis/{group}")
        for v in registry.versions(group):
            paths.add(f"/apis/{group}/{v}")
    return {"paths": sorted(paths)}
