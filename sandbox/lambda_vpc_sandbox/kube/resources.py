"""The registry of served resources: the built-in ones and those registered by CRDs.

A resource is served per version, but its objects are stored once per (group, plural): real servers
keep one storage version and convert on read; our CRDs use conversion ``None``, so only
``apiVersion`` differs between versions. The registry answers the lookups of every request, so
lookups are single dict accesses; discovery documents are built from it on request.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

# Verbs of a main resource and of a subresource, as the real server lists them in discovery.
RESOURCE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")

StorageKey = tuple[str, str]  # (group, plural): one storage for all versions of a resource


@dataclasses.dataclass(frozen=True)
class Resource:
    """One served version of a resource, with what the server needs to handle its objects."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    list_kind: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = RESOURCE_VERBS
    subresources: tuple[str, ...] = ()  # e.g. ("status",)
    has_generation: bool = False  # whether metadata.generation is maintained (CRs and CRDs)
    custom: bool = False  # a custom resource: schema admission, no strategic merge, `kind` required
    schema: Mapping[str, Any] | None = None  # openAPIV3Schema of this version
    printer_columns: tuple[Mapping[str, Any], ...] = ()  # additionalPrinterColumns of this version

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> StorageKey:
        return (self.group, self.plural)

    @property
    def group_resource(self) -> str:
        """As in error messages: ``lambdavpcattachments.example.com``, or ``namespaces``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """As in validation messages: ``LambdaVpcAttachment.example.com``, or ``Namespace``."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def effective_list_kind(self) -> str:
        return self.list_kind or f"{self.kind}List"


_AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
# The columns real servers print for the built-ins people look at in the sandbox (others: Name, Age).
_NAMESPACE_COLUMNS = ({"name": "Status", "type": "string", "jsonPath": ".status.phase"}, _AGE_COLUMN)
_EVENT_COLUMNS = (
    {"name": "Last Seen", "type": "date", "jsonPath": ".lastTimestamp"},
    {"name": "Type", "type": "string", "jsonPath": ".type"},
    {"name": "Reason", "type": "string", "jsonPath": ".reason"},
    {"name": "Object", "type": "string", "jsonPath": ".involvedObject.name"},
    {"name": "Message", "type": "string", "jsonPath": ".message"},
)


def _builtin(group: str, plural: str, kind: str, *, namespaced: bool, **kwargs: Any) -> Resource:
    return Resource(
        group=group,
        version="v1",
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        **kwargs,
    )


def builtin_resources() -> list[Resource]:
    """The built-in resources a kopf operator, kubectl, helm (our chart) and our tests need; schemaless."""
    return [
        _builtin(
            "",
            "namespaces",
            "Namespace",
            namespaced=False,
            short_names=("ns",),
            verbs=tuple(v for v in RESOURCE_VERBS if v != "deletecollection"),
            subresources=("status",),
            printer_columns=_NAMESPACE_COLUMNS,
        ),
        _builtin("", "events", "Event", namespaced=True, short_names=("ev",), printer_columns=_EVENT_COLUMNS),
        _builtin("", "configmaps", "ConfigMap", namespaced=True, short_names=("cm",)),
        _builtin("", "secrets", "Secret", namespaced=True),
        _builtin("", "serviceaccounts", "ServiceAccount", namespaced=True, short_names=("sa",)),
        _builtin(
            "",
            "services",
            "Service",
            namespaced=True,
            short_names=("svc",),
            categories=("all",),
            subresources=("status",),
        ),
        _builtin("events.k8s.io", "events", "Event", namespaced=True, short_names=("ev",)),
        # What `helm install` of our chart creates: stored, served, never run (no controllers).
        _builtin(
            "apps",
            "deployments",
            "Deployment",
            namespaced=True,
            short_names=("deploy",),
            categories=("all",),
            subresources=("status",),
            has_generation=True,
        ),
        _builtin(
            "policy",
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            namespaced=True,
            short_names=("pdb",),
            subresources=("status",),
            has_generation=True,
        ),
        _builtin("rbac.authorization.k8s.io", "roles", "Role", namespaced=True),
        _builtin("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", namespaced=True),
        _builtin("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", namespaced=False),
        _builtin("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
        _builtin("coordination.k8s.io", "leases", "Lease", namespaced=True),
        _builtin(
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            namespaced=False,
            categories=("api-extensions",),
            has_generation=True,
        ),
        _builtin(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            namespaced=False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            subresources=("status",),
            has_generation=True,
        ),
    ]


CRD_STORAGE_KEY: StorageKey = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES_STORAGE_KEY: StorageKey = ("", "namespaces")


def crd_names(crd: Mapping[str, Any]) -> dict[str, Any]:
    """``spec.names`` with the defaults the real server fills in (singular, listKind)."""
    names = dict(crd.get("spec", {}).get("names", {}))
    kind = str(names.get("kind", ""))
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", f"{kind}List")
    return names


def resources_from_crd(crd: Mapping[str, Any]) -> list[Resource]:
    """One `Resource` per served version of an (already validated) apiextensions.k8s.io/v1 CRD."""
    spec = crd["spec"]
    names = crd_names(crd)
    result: list[Resource] = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        result.append(
            Resource(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                singular=names["singular"],
                kind=names["kind"],
                list_kind=names["listKind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=("status",) if "status" in subresources else (),  # scale is not emulated
                has_generation=True,
                custom=True,
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            )
        )
    return result


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_STABILITY = {None: 2, "beta": 1, "alpha": 0}


def version_priority(version: str) -> tuple[int, int, int, int, str]:
    """
    Sort key of Kubernetes version priority (highest first when sorted ascending).

    GA before beta before alpha, higher numbers first, non-Kubernetes-looking versions last
    alphabetically -- as real discovery orders CRD versions and picks the preferred one.
    """
    match = _VERSION_RE.match(version)
    if match is None:
        return (1, 0, 0, 0, version)
    major, stability, minor = match.groups()
    return (0, -_STABILITY[stability], -int(major), -int(minor or 0), "")


class Registry:
    """Served resources by (group, version, plural), plus the lookups discovery and kubectl need."""

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._resources: dict[tuple[str, str, str], Resource] = {}
        self._group_order: list[str] = []  # registration order of API groups, as listed in /apis
        for resource in resources:
            self.add(resource)

    def add(self, resource: Resource) -> None:
        self._resources[(resource.group, resource.version, resource.plural)] = resource
        if resource.group not in self._group_order:
            self._group_order.append(resource.group)

    def remove(self, storage_key: StorageKey) -> list[Resource]:
        """Forget all versions of a resource; return what was removed."""
        removed = [res for res in self._resources.values() if res.storage_key == storage_key]
        for res in removed:
            del self._resources[(res.group, res.version, res.plural)]
        group = storage_key[0]
        if group in self._group_order and not any(res.group == group for res in self._resources.values()):
            self._group_order.remove(group)
        return removed

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        return self._resources.get((group, version, plural))

    def versions_of(self, storage_key: StorageKey) -> list[Resource]:
        return [res for res in self._resources.values() if res.storage_key == storage_key]

    def groups(self) -> list[str]:
        """Named API groups (not the core group), in registration order."""
        return [group for group in self._group_order if group]

    def versions(self, group: str) -> list[str]:
        """Versions served in a group, preferred first."""
        found = {res.version for res in self._resources.values() if res.group == group}
        return sorted(found, key=version_priority)

    def in_version(self, group: str, version: str) -> list[Resource]:
        return [res for res in self._resources.values() if res.group == group and res.version == version]
