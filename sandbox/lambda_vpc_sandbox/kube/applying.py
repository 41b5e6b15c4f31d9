"""Server-side apply and field management: ``metadata.managedFields``, conflicts and ``force``.

Flux (kustomize-controller), Argo CD with ``ServerSideApply=true`` and ``kubectl apply
--server-side`` send ``application/apply-patch+yaml`` with a ``fieldManager``; the server merges the
configuration into the live object, records which fields each manager owns, and refuses (409) an
apply that would change a field another manager owns unless ``force=true``, which transfers the
field. Other writes (create, update, merge or JSON patch) record an ``Update`` entry for their
manager and silently take over the fields they change, so a later apply conflicts with them.

Emulated, following structured-merge-diff and kube-apiserver's fieldmanager:

- entries keyed by manager, operation (``Apply``/``Update``), apiVersion (``Update`` only) and
  subresource, with ``time``, ``fieldsType: FieldsV1`` and the real ``f:``/``k:``/``v:`` format
  (see `fieldsets`), sorted as the real server sorts them;
- the merge of an apply into the live object (maps key by key, ``set`` and ``map`` lists item by
  item in the real merge order, atomic lists and scalars replaced), create-on-apply;
- conflicts with the real message (``Apply failed with 1 conflict: conflict with "flux": .spec.x``,
  ``... using v1 at <time>`` for ``Update`` managers) and ``FieldManagerConflict`` causes;
- removal of fields a manager applied before and no longer applies, unless another manager owns them;
- the status subresource: writes to the main resource neither own nor touch ``.status`` and
  writes to ``/status`` own only ``.status``.

Managed fields a non-apply write carries replace the stored ones (``[]`` or ``[{}]`` clears them).

Not emulated: ``null`` in an apply configuration removes the field (no ownership of a null);
unions; the ``before-first-apply`` upgrade of objects without managedFields (every object here has
had them since its creation); conversion of sets between apiVersions (versions differ in
apiVersion only); built-in kinds have unknown schemas, so their lists are atomic except a few
(see `fieldsets`).

Pure functions; `cluster` runs them inside its write pipeline.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from lambda_vpc_sandbox.kube import errors, fieldsets, objects
from lambda_vpc_sandbox.kube.fieldsets import FieldSet, Path, Schema

Obj = dict[str, Any]

APPLY = "Apply"
UPDATE = "Update"
MAX_MANAGER_LENGTH = 128


@dataclasses.dataclass(frozen=True)
class Entry:
    """One ``managedFields`` entry, with its field set decoded."""

    manager: str
    operation: str
    api_version: str
    time: str
    fields: FieldSet
    subresource: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Entries of one key merge: apply entries are per manager whatever the apiVersion."""
        version = self.api_version if self.operation == UPDATE else ""
        return (self.manager, self.operation, version, self.subresource)

    def printed(self) -> str:
        """The manager as conflict messages name it (kube-apiserver's ``printManager``)."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version} at {self.time}" if self.time else f" using {self.api_version}"
        return text


@dataclasses.dataclass(frozen=True)
class Request:
    """Who writes, and through which endpoint: what an entry of this write is keyed by."""

    manager: str
    api_version: str
    subresource: str  # "" or "status"
    has_status: bool  # whether the kind has a status subresource (then .status is separate)
    schema: Schema  # the kind's openAPIV3Schema, or None for schemaless built-ins


def read(obj: Mapping[str, Any]) -> list[Entry]:
    entries: list[Entry] = []
    for raw in (obj.get("metadata") or {}).get("managedFields") or []:
        entries.append(
            Entry(
                manager=str(raw.get("manager", "")),
                operation=str(raw.get("operation", "")),
                api_version=str(raw.get("apiVersion", "")),
                time=str(raw.get("time", "")),
                fields=fieldsets.decode(raw.get("fieldsV1") or {}),
                subresource=str(raw.get("subresource", "")),
            )
        )
    return entries


def write(entries: list[Entry]) -> list[Obj]:
    """Encoded entries, ordered as the real server orders them (operation, time, manager, ...)."""
    ordered = sorted(
        (entry for entry in entries if entry.fields),
        key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource),
    )
    encoded: list[Obj] = []
    for entry in ordered:
        raw: Obj = {
            "manager": entry.manager,
            "operation": entry.operation,
            "apiVersion": entry.api_version,
            "time": entry.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": fieldsets.encode(entry.fields),
        }
        if entry.subresource:
            raw["subresource"] = entry.subresource
        encoded.append(raw)
    return encoded


def _tracked(request: Request, paths: FieldSet) -> FieldSet:
    """The paths a write through this endpoint may own (the fieldmanager's reset fields)."""
    if request.subresource == "status":
        return fieldsets.only_under(paths, "f:status", keep=True)
    if request.has_status:
        return fieldsets.only_under(paths, "f:status", keep=False)
    return paths


def _compare(request: Request, old: Any, new: Any) -> fieldsets.Comparison:
    raw = fieldsets.compare(_without_managed(old), _without_managed(new), fieldsets.object_schema(request.schema))
    return fieldsets.Comparison(
        _tracked(request, raw.added), _tracked(request, raw.modified), _tracked(request, raw.removed)
    )


def _without_managed(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return {}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        return {**obj, "metadata": {key: value for key, value in meta.items() if key != "managedFields"}}
    return obj


def _replace(entries: list[Entry], entry: Entry) -> list[Entry]:
    return [*(e for e in entries if e.key != entry.key), entry]


def record_update(request: Request, old: Obj | None, new: Obj, *, requested: Any = None) -> list[Obj]:
    """
    The managedFields of ``new`` after a non-apply write of ``old`` (``None``: a create).

    The writer gains what it added or modified and loses what it removed; other managers lose both
    silently (an update is always "forced"). ``requested``: the managedFields the request itself
    carried, which replace the stored ones as on real servers (``[]`` or ``[{}]`` resets them,
    a list of no decodable entry keeps them): Flux and kubectl rewrite them this way to hand the
    fields of client-side apply over to their apply manager.
    """
    entries = read(old) if old is not None else []
    if isinstance(requested, list):
        if not requested or requested == [{}]:
            entries = []
        else:
            entries = read({"metadata": {"managedFields": requested}}) or entries
    comparison = _compare(request, old or {}, new)
    if comparison.same:
        return write(entries)
    taken = comparison.changed | comparison.removed
    others = [dataclasses.replace(e, fields=e.fields - taken) for e in entries]
    mine = Entry(request.manager, UPDATE, request.api_version, objects.now(), frozenset(), request.subresource)
    previous = next((e for e in entries if e.key == mine.key), None)
    before = previous.fields if previous is not None else frozenset()
    mine = dataclasses.replace(mine, fields=(before - comparison.removed) | comparison.changed)
    return write(_replace(others, mine))


class ApplyConflict(errors.Conflict):
    """409 with one ``FieldManagerConflict`` cause per conflicting field, as kube-apiserver words it."""

    def __init__(self, conflicts: list[tuple[Entry, Path]]) -> None:
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {entry.printed()}",
                "field": fieldsets.path_string(path),
            }
            for entry, path in conflicts
        ]
        super().__init__(_conflict_message(conflicts), details={"causes": causes})


def _conflict_message(conflicts: list[tuple[Entry, Path]]) -> str:
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {entry.printed()}: {fieldsets.path_string(path)}"
    by_manager: dict[str, list[Path]] = {}
    for entry, path in conflicts:
        by_manager.setdefault(entry.printed(), []).append(path)
    lines: list[str] = []
    for printed in sorted(by_manager):
        lines.append(f"conflicts with {printed}:")
        lines.extend(f"- {fieldsets.path_string(path)}" for path in by_manager[printed])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def apply(request: Request, live: Obj | None, config: Obj, *, force: bool) -> tuple[Obj, list[Obj]]:
    """
    Merge an apply configuration into the live object (``None``: create it); the result and its
    managedFields. Raises `ApplyConflict` when another manager owns a field it changes, unless
    ``force``, which moves those fields to the applier.
    """
    schema = fieldsets.object_schema(request.schema)
    base = live if live is not None else {}
    entries = read(base)
    merged = merge(_without_managed(base), config, schema)
    comparison = _compare(request, base, merged)
    mine_key = Entry(request.manager, APPLY, "", "", frozenset(), request.subresource).key
    conflicts: list[tuple[Entry, Path]] = []
    for entry in entries:
        if entry.key != mine_key:
            conflicts.extend((entry, path) for path in sorted(entry.fields & comparison.changed))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    taken = comparison.changed | comparison.removed
    others = [dataclasses.replace(e, fields=e.fields - taken) for e in entries if e.key != mine_key]
    previous = next((e for e in entries if e.key == mine_key), None)
    applied = _tracked(request, fieldsets.applied_set(config, schema))

    # Fields this manager applied before and no longer applies go, unless someone else owns them.
    owned = frozenset().union(applied, *(e.fields for e in others))
    if previous is not None:
        for path in sorted(previous.fields - applied, key=len, reverse=True):
            if not fieldsets.owns(owned, path):
                merged = remove(merged, path, schema)
        pruned = _compare(request, base, merged).removed
        others = [dataclasses.replace(e, fields=e.fields - pruned) for e in others]

    changed = not comparison.same or previous is None or previous.fields != applied
    time = objects.now() if changed or previous is None else previous.time
    mine = Entry(request.manager, APPLY, request.api_version, time, applied, request.subresource)
    return merged, write([*others, mine])


# ---- merging and removing ---------------------------------------------------------------------


def merge(live: Any, config: Any, schema: Schema) -> Any:
    """An apply configuration merged into a live value (structured-merge-diff's ``Merge``)."""
    if fieldsets.granular_map(live, schema) and fieldsets.granular_map(config, schema):
        result = dict(live)
        for key, value in config.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = merge(live.get(key), value, fieldsets.field_schema(schema, key)[0])
        return result
    if fieldsets.granular_list(live, schema) and fieldsets.granular_list(config, schema):
        return _merge_lists(live, config, schema)
    return copy.deepcopy(config)


def _merge_lists(live: list[Any], config: list[Any], schema: Schema) -> list[Any]:
    """
    Items merged by key; order as structured-merge-diff's list merge: live-only items stay where
    they were, applied items come in the configuration's order.
    """
    item_schema = fieldsets.item_schema_of(schema)
    lhs = fieldsets.items_by_token(live, schema)
    rhs = fieldsets.items_by_token(config, schema)
    left, right = list(lhs), list(rhs)
    shared = [token for token in right if token in lhs]
    next_shared = shared.pop(0) if shared else None
    done: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(left) or ri < len(right):
        if li < len(left) and ri < len(right):
            token = left[li]
            if token == right[ri]:
                out.append(merge(lhs[token], rhs[token], item_schema))
                done.add(token)
                li, ri = li + 1, ri + 1
                if token == next_shared:
                    next_shared = shared.pop(0) if shared else None
                continue
            if token in rhs and next_shared is not None and next_shared != token:
                li += 1
                continue
        if li < len(left):
            token = left[li]
            if token not in rhs:
                out.append(lhs[token])
                li += 1
                continue
            if token in done:
                li += 1
                continue
        if ri < len(right):
            token = right[ri]
            done.add(token)
            out.append(merge(lhs.get(token), rhs[token], item_schema))
            ri += 1
            if token == next_shared:
                next_shared = shared.pop(0) if shared else None
        else:
            li += 1  # a live item already merged: nothing left to place
    return out


def remove(value: Any, path: Path, schema: Schema) -> Any:
    """The value without the field or list item at ``path`` (unchanged if it is not there)."""
    if not path:
        return value
    token, rest = path[0], path[1:]
    if isinstance(value, dict) and token.startswith("f:"):
        key = token[2:]
        if key not in value:
            return value
        result = dict(value)
        if rest:
            result[key] = remove(value[key], rest, fieldsets.field_schema(schema, key)[0])
        else:
            del result[key]
        return result
    if isinstance(value, list) and token[:2] in ("k:", "v:"):
        item_schema = fieldsets.item_schema_of(schema)
        result_list: list[Any] = []
        for item in value:
            if fieldsets.item_token(item, schema) != token:
                result_list.append(item)
            elif rest:
                result_list.append(remove(item, rest, item_schema))
        return result_list
    return value
