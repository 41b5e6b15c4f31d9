"""What the shipping tests share: the repository's paths and reading RBAC out of rendered manifests.

Plain functions and constants (the fixtures live in conftest.py); the tests import them as
``shipping``, the way pytest's rootdir-relative imports find a module beside them.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "lambda-vpc-operator"
HELM = ROOT / ".tools" / "bin" / "helm"
RELEASE = "lvo"
NAMESPACE = "lambda-vpc-operator"
# The Kubernetes version the chart is validated against (kubernetes-validate's schemas).
KUBERNETES_VERSION = "1.32.0"
# The chart's ServiceAccount under RELEASE with default values.
SERVICE_ACCOUNT = f"{RELEASE}-lambda-vpc-operator"


class HelmFailed(Exception):
    """`helm template` or `helm lint` exited non-zero; the message is helm's own."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """One (apiGroup, resource, verb) an RBAC rule allows, with the resourceNames it is limited to."""

    api_group: str
    resource: str  # "plural" or "plural/subresource"
    verb: str
    resource_names: tuple[str, ...] = ()


def find(manifests: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [dict(m) for m in manifests if m.get("kind") == kind and (name is None or m["metadata"]["name"] == name)]


def expand_rules(rules: Iterable[Mapping[str, Any]]) -> set[Rule]:
    """Every (group, resource, verb) a list of PolicyRules allows; wildcards are refused outright."""
    allowed: set[Rule] = set()
    for rule in rules:
        names = tuple(sorted(rule.get("resourceNames") or ()))
        for group in rule.get("apiGroups") or ():
            for resource in rule.get("resources") or ():
                for verb in rule.get("verbs") or ():
                    if "*" in (group, resource, verb):
                        raise AssertionError(f"a wildcard is never least privilege: {rule}")
                    allowed.add(Rule(group, resource, verb, names))
    return allowed


@dataclasses.dataclass(frozen=True)
class Grants:
    """What the chart grants its ServiceAccount: cluster-wide (ClusterRoles bound by
    ClusterRoleBindings) and per namespace (Roles bound by RoleBindings)."""

    cluster: frozenset[Rule]
    namespaced: Mapping[str, frozenset[Rule]]

    def all_rules(self) -> set[Rule]:
        rules = set(self.cluster)
        for per_namespace in self.namespaced.values():
            rules |= per_namespace
        return rules


def grants_of(manifests: Sequence[Mapping[str, Any]], service_account: str) -> Grants:
    """The rules bound to ``service_account`` (in NAMESPACE) by the rendered bindings."""

    def bound(binding: Mapping[str, Any]) -> bool:
        return any(
            s.get("kind") == "ServiceAccount" and s.get("name") == service_account and s.get("namespace") == NAMESPACE
            for s in binding.get("subjects") or ()
        )

    cluster_roles = {m["metadata"]["name"]: m for m in find(manifests, "ClusterRole")}
    roles = {(m["metadata"]["namespace"], m["metadata"]["name"]): m for m in find(manifests, "Role")}
    cluster: set[Rule] = set()
    namespaced: dict[str, set[Rule]] = {}
    for binding in find(manifests, "ClusterRoleBinding"):
        if bound(binding):
            assert binding["roleRef"]["kind"] == "ClusterRole", binding
            cluster |= expand_rules(cluster_roles[binding["roleRef"]["name"]]["rules"])
    for binding in find(manifests, "RoleBinding"):
        if bound(binding):
            namespace = binding["metadata"]["namespace"]
            ref = binding["roleRef"]
            role = cluster_roles[ref["name"]] if ref["kind"] == "ClusterRole" else roles[(namespace, ref["name"])]
            namespaced.setdefault(namespace, set()).update(expand_rules(role["rules"]))
    return Grants(frozenset(cluster), {ns: frozenset(rules) for ns, rules in namespaced.items()})
