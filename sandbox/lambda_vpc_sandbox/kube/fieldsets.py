"""Field sets: which fields of an object a manager owns, as structured-merge-diff computes them.

Server-side apply decides ownership and conflicts on sets of field paths. A path is a tuple of the
tokens real servers write in ``metadata.managedFields[].fieldsV1``: ``f:<field>`` for a field of a
map, ``k:{"type":"Ready"}`` for an item of a ``map`` list (by its keys, sorted), ``v:"subnet-a"``
for an item of a ``set`` list, ``i:<n>`` (never produced here: lists without a list type are
atomic). FieldsV1 nests those tokens; ``".": {}`` marks a path that is itself in the set while it
also has children, as on real servers.

What is reproduced from structured-merge-diff: the apply set of a configuration (`applied_set`:
every leaf, every list item, map entries of maps without declared fields), the comparison of two
objects (`compare`: added paths with all their children, modified leaves, removed paths), list
types from the schema (``x-kubernetes-list-type`` ``atomic`` by default, ``set``, ``map`` with
``x-kubernetes-list-map-keys``; ``x-kubernetes-map-type: atomic``), ObjectMeta's own list types
(finalizers a set, ownerReferences a map by uid), and the wording of paths in conflict messages
(``.spec.subnetIds[="subnet-a"]``, ``.status.conditions[type="Ready"]``).

Built-in kinds are schemaless here, so their fields are deduced as structured-merge-diff does for
unknown types: maps are granular, lists atomic -- except the map lists of the built-ins the chart
creates (`BUILTIN_SCHEMAS`: a Deployment's containers by name, their ports, env and volume
mounts, a Service's ports), as their Go types declare them.

Pure functions over plain JSON values; a schema node is an ``openAPIV3Schema`` dict or ``None``
(unknown: deduced).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lambda_vpc_sandbox.kube import patching

Path = tuple[str, ...]
FieldSet = frozenset[Path]
Schema = Mapping[str, Any] | None

_STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
# ObjectMeta as the real server's schema types it (the rest of metadata is scalars).
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["uid"],
        },
    },
}


def _map_list(keys: list[str], items: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "array",
        "items": items or {"type": "object"},
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": keys,
    }


_CONTAINER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ports": _map_list(["containerPort", "protocol"]),
        "env": _map_list(["name"]),
        "volumeMounts": _map_list(["mountPath"]),
    },
}
_POD_TEMPLATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "containers": _map_list(["name"], _CONTAINER),
                "initContainers": _map_list(["name"], _CONTAINER),
                "volumes": _map_list(["name"]),
                "imagePullSecrets": _map_list(["name"]),
            },
        }
    },
}
# The list types of the built-in kinds the chart creates, as their Go types declare them (the rest
# of a built-in is unknown: maps granular, lists atomic).
BUILTIN_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("apps", "Deployment"): {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"template": _POD_TEMPLATE}}},
    },
    ("", "Service"): {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"ports": _map_list(["port", "protocol"])}}},
    },
}


# Never owned by anyone: the server's own metadata (fieldmanager's stripMetaManager).
STRIPPED: frozenset[Path] = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        *(
            ("f:metadata", f"f:{field}")
            for field in (
                "name",
                "namespace",
                "creationTimestamp",
                "selfLink",
                "uid",
                "clusterName",
                "generation",
                "managedFields",
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            )
        ),
    }
)


def object_schema(schema: Schema) -> dict[str, Any]:
    """The root schema of a kind: its openAPIV3Schema (or unknown) with ObjectMeta's list types."""
    if schema is None:
        return {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"metadata": METADATA_SCHEMA},
        }
    return {**schema, "properties": {**(schema.get("properties") or {}), "metadata": METADATA_SCHEMA}}


# ---- schema navigation ------------------------------------------------------------------------


def field_schema(schema: Schema, key: str) -> tuple[Schema, bool]:
    """The schema of a map's key, and whether the key is a declared field (``properties``)."""
    if schema is None:
        return None, False
    properties = schema.get("properties") or {}
    if key in properties:
        return properties[key], True
    extra = schema.get("additionalProperties")
    return (extra if isinstance(extra, Mapping) else None), False


def item_schema_of(schema: Schema) -> Schema:
    if schema is None:
        return None
    items = schema.get("items")
    return items if isinstance(items, Mapping) else None


def list_type(schema: Schema) -> str:
    """``atomic`` (the default of CRDs and of unknown lists), ``set`` or ``map``."""
    if schema is None:
        return "atomic"
    return str(schema.get("x-kubernetes-list-type") or "atomic")


def granular_map(value: Any, schema: Schema) -> bool:
    return isinstance(value, dict) and not (schema is not None and schema.get("x-kubernetes-map-type") == "atomic")


def granular_list(value: Any, schema: Schema) -> bool:
    return isinstance(value, list) and list_type(schema) != "atomic"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def item_token(item: Any, schema: Schema) -> str:
    """The path token of an item of a ``set`` or ``map`` list."""
    if list_type(schema) == "map":
        keys = sorted((schema or {}).get("x-kubernetes-list-map-keys") or [])
        source = item if isinstance(item, dict) else {}
        return "k:" + _compact({key: source[key] for key in keys if key in source})
    return "v:" + _compact(item)


def items_by_token(items: list[Any], schema: Schema) -> dict[str, Any]:
    """A granular list's items by token (a duplicate keeps its last occurrence)."""
    return {item_token(item, schema): item for item in items}


# ---- sets of an object ------------------------------------------------------------------------


def applied_set(config: Any, schema: Schema) -> FieldSet:
    """The paths an apply configuration claims (structured-merge-diff's ``ToFieldSet``)."""
    found: set[Path] = set()
    _applied(config, schema, (), found)
    return frozenset(found) - STRIPPED


def _applied(value: Any, schema: Schema, path: Path, found: set[Path]) -> None:
    if granular_map(value, schema):
        for key, child in value.items():
            child_schema, declared = field_schema(schema, key)
            child_path = (*path, f"f:{key}")
            _applied(child, child_schema, child_path, found)
            if child is None or child == {} or not declared:
                found.add(child_path)
    elif granular_list(value, schema):
        item_schema = item_schema_of(schema)
        for item in value:
            item_path = (*path, item_token(item, schema))
            _applied(item, item_schema, item_path, found)
            found.add(item_path)
    elif path:
        found.add(path)


def _all_paths(value: Any, schema: Schema, path: Path) -> Iterator[Path]:
    """A path and every path below it (what an added or removed subtree adds or removes)."""
    yield path
    if granular_map(value, schema):
        for key, child in value.items():
            yield from _all_paths(child, field_schema(schema, key)[0], (*path, f"f:{key}"))
    elif granular_list(value, schema):
        item_schema = item_schema_of(schema)
        for item in value:
            yield from _all_paths(item, item_schema, (*path, item_token(item, schema)))


@dataclasses.dataclass(frozen=True)
class Comparison:
    """How one object differs from another, as paths (structured-merge-diff's ``Compare``)."""

    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    @property
    def changed(self) -> FieldSet:
        return self.added | self.modified

    @property
    def same(self) -> bool:
        return not (self.added or self.modified or self.removed)


def compare(old: Any, new: Any, schema: Schema) -> Comparison:
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()
    _compare(old, new, schema, (), added, modified, removed)
    return Comparison(frozenset(added) - STRIPPED, frozenset(modified) - STRIPPED, frozenset(removed) - STRIPPED)


def _compare(
    old: Any, new: Any, schema: Schema, path: Path, added: set[Path], modified: set[Path], removed: set[Path]
) -> None:
    if granular_map(old, schema) and granular_map(new, schema):
        olds: dict[str, Any] = old
        news: dict[str, Any] = new
        pairs = [(f"f:{key}", field_schema(schema, key)[0], key) for key in dict.fromkeys([*olds, *news])]
        for token, child_schema, key in pairs:
            _compare_entry(
                key in olds,
                olds.get(key),
                key in news,
                news.get(key),
                child_schema,
                (*path, token),
                added,
                modified,
                removed,
            )
    elif granular_list(old, schema) and granular_list(new, schema):
        item_schema = item_schema_of(schema)
        old_items = items_by_token(old, schema)
        new_items = items_by_token(new, schema)
        for token in dict.fromkeys([*old_items, *new_items]):
            _compare_entry(
                token in old_items,
                old_items.get(token),
                token in new_items,
                new_items.get(token),
                item_schema,
                (*path, token),
                added,
                modified,
                removed,
            )
    elif path and not patching.json_equal(old, new):
        modified.add(path)


def _compare_entry(
    in_old: bool,
    old: Any,
    in_new: bool,
    new: Any,
    schema: Schema,
    path: Path,
    added: set[Path],
    modified: set[Path],
    removed: set[Path],
) -> None:
    if in_old and in_new:
        _compare(old, new, schema, path, added, modified, removed)
    elif in_new:
        added.update(_all_paths(new, schema, path))
    else:
        removed.update(_all_paths(old, schema, path))


def owns(owned: FieldSet, path: Path) -> bool:
    """Whether a set holds a path or anything below it."""
    size = len(path)
    return any(candidate[:size] == path for candidate in owned)


def only_under(paths: Iterable[Path], top: str, *, keep: bool) -> FieldSet:
    """The paths under (``keep``) or not under (not ``keep``) one top-level field token."""
    return frozenset(path for path in paths if (path[0] == top) == keep)


# ---- FieldsV1 ---------------------------------------------------------------------------------


def encode(paths: Iterable[Path]) -> dict[str, Any]:
    """FieldsV1: nested tokens, ``"."`` where a path in the set also has children in it."""
    tree: dict[str, Any] = {}
    members: list[Path] = sorted(paths)
    for path in members:
        node = tree
        for token in path:
            node = node.setdefault(token, {})
    for path in members:
        node = tree
        for token in path:
            node = node[token]
        if node and "." not in node:
            node["."] = {}
    return _sorted_tree(tree)


def _sorted_tree(node: dict[str, Any]) -> dict[str, Any]:
    ordered: dict[str, Any] = {}
    if "." in node:
        ordered["."] = {}
    for key in sorted(k for k in node if k != "."):
        ordered[key] = _sorted_tree(node[key])
    return ordered


def decode(fields: Mapping[str, Any]) -> FieldSet:
    found: set[Path] = set()
    _decode(fields, (), found)
    return frozenset(found)


def _decode(node: Mapping[str, Any], path: Path, found: set[Path]) -> None:
    if path and (not node or "." in node):
        found.add(path)
    for token, child in node.items():
        if token != "." and isinstance(child, Mapping):
            _decode(child, (*path, token), found)


def path_string(path: Path) -> str:
    """A path as conflict messages print it: ``.spec.subnetIds[="subnet-a"]``, ``[type="Ready"]``."""
    parts: list[str] = []
    for token in path:
        kind, _, rest = token.partition(":")
        if kind == "f":
            parts.append(f".{rest}")
        elif kind == "v":
            parts.append(f"[={rest}]")
        elif kind == "k":
            keys = json.loads(rest)
            parts.append("[" + ",".join(f"{key}={_compact(value)}" for key, value in keys.items()) + "]")
        else:
            parts.append(f"[{rest}]")
    return "".join(parts)
