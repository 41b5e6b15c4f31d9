"""Strategic merge patches of built-in kinds: lists merged by their Go types' merge keys.

``helm upgrade``, ``kubectl apply`` (client-side) and ``kubectl set image`` patch built-in kinds
with ``application/strategic-merge-patch+json``: a merge patch in which some lists are merged item
by item (a Deployment's containers by ``name``) instead of replaced, with directives such as
``$setElementOrder/containers``, ``$patch: delete``, ``$retainKeys`` and
``$deleteFromPrimitiveList/finalizers``. Read as a plain merge patch, helm's three-way patch
would drop every field of a container it does not change and store the directives as fields.

Reproduced from apimachinery's strategicpatch for the lists of the kinds the chart creates
(`STRATEGIES`) and of ObjectMeta (finalizers merged as a set of strings, ownerReferences by
uid): merging and deleting items by key, ``$patch: replace`` on a list or a map, ``$patch:
delete`` of a map, ``$retainKeys``, ``$deleteFromPrimitiveList/``, ``$setElementOrder/`` (listed
items first in that order, the others after in their order). Other lists are replaced, as
lists without a patch strategy are. Custom resources refuse strategic merge patches (415), as
real servers do.

Pure functions over JSON values.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


@dataclasses.dataclass(frozen=True)
class MergeList:
    """A list merged item by item: by ``key`` (objects), or as a set of values (``key`` None)."""

    key: str | None
    items: Strategy = None


Strategy = Mapping[str, Any] | MergeList | None


_CONTAINER = {
    "ports": MergeList("containerPort"),
    "env": MergeList("name"),
    "volumeMounts": MergeList("mountPath"),
}
_POD_SPEC = {
    "containers": MergeList("name", _CONTAINER),
    "initContainers": MergeList("name", _CONTAINER),
    "volumes": MergeList("name"),
    "imagePullSecrets": MergeList("name"),
}
METADATA: dict[str, Any] = {"finalizers": MergeList(None), "ownerReferences": MergeList("uid")}
# patchMergeKey/patchStrategy of the built-in kinds the chart creates (k8s.io/api types).
STRATEGIES: dict[tuple[str, str], dict[str, Any]] = {
    ("apps", "Deployment"): {"spec": {"template": {"metadata": METADATA, "spec": _POD_SPEC}}},
    ("", "Service"): {"spec": {"ports": MergeList("port")}},
}


def strategy_of(group: str, kind: str) -> dict[str, Any]:
    return {"metadata": METADATA, **STRATEGIES.get((group, kind), {})}


class _Deleted:
    """A map that ``$patch: delete`` removed."""


_DELETED = _Deleted()


def patch(target: Any, change: Any, strategy: Strategy) -> Any:
    """The target with a strategic merge patch applied (new objects; inputs are not mutated)."""
    result = _patch_map(target, change, strategy)
    return {} if result is _DELETED else result


def _patch_map(target: Any, change: Any, strategy: Strategy) -> Any:
    if not isinstance(change, dict):
        return _stripped(change)
    fields = strategy if isinstance(strategy, Mapping) else {}
    change = dict(change)
    directive = change.pop("$patch", None)
    if directive == "delete":
        return _DELETED
    if directive == "replace":
        return _stripped(change)
    retain = change.pop("$retainKeys", None)
    orders = {key[len(_ORDER) :]: change.pop(key) for key in list(change) if key.startswith(_ORDER)}
    removals = {
        key[len(_DELETE_PRIMITIVES) :]: change.pop(key) for key in list(change) if key.startswith(_DELETE_PRIMITIVES)
    }
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in change.items():
        sub = fields.get(key)
        if value is None:
            result.pop(key, None)
        elif isinstance(sub, MergeList) and isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, sub)
        elif isinstance(value, dict):
            merged = _patch_map(result.get(key), value, sub)
            if merged is _DELETED:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = _stripped(value)
    for key, values in removals.items():
        if isinstance(result.get(key), list):
            result[key] = [item for item in result[key] if item not in values]
    for key, order in orders.items():
        sub = fields.get(key)
        if isinstance(result.get(key), list) and isinstance(sub, MergeList) and isinstance(order, list):
            result[key] = _ordered(result[key], order, sub)
    if isinstance(retain, list):
        result = {key: value for key, value in result.items() if key in retain}
    return result


def _matches(item: Any, other: Any, key: str | None) -> bool:
    if key is None:
        return bool(item == other)
    return isinstance(item, dict) and isinstance(other, dict) and key in other and item.get(key) == other[key]


def _merge_list(target: Any, change: list[Any], spec: MergeList) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in change):
        return [_stripped(item) for item in change if not (isinstance(item, dict) and "$patch" in item)]
    result = list(target) if isinstance(target, list) else []
    for item in change:
        if spec.key is None:
            if item not in result:
                result.append(copy.deepcopy(item))
            continue
        index = next((i for i, existing in enumerate(result) if _matches(existing, item, spec.key)), None)
        if isinstance(item, dict) and item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_stripped(item))
        else:
            result[index] = _patch_map(result[index], item, spec.items)
    return result


def _ordered(items: list[Any], order: list[Any], spec: MergeList) -> list[Any]:
    listed: list[Any] = []
    for entry in order:
        listed.extend(item for item in items if _matches(item, entry, spec.key) and item not in listed)
    return listed + [item for item in items if item not in listed]


def _stripped(value: Any) -> Any:
    """A value without patch directives (what a new item or a replaced map stores)."""
    if isinstance(value, dict):
        return {
            key: _stripped(item)
            for key, item in value.items()
            if not (key.startswith("$setElementOrder/") or key.startswith("$deleteFromPrimitiveList/"))
            and key not in ("$patch", "$retainKeys")
        }
    if isinstance(value, list):
        return [_stripped(item) for item in value]
    return copy.deepcopy(value)
