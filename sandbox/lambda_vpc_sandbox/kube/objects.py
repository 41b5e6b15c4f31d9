"""Server-managed metadata: the pure decisions a real API server makes about every written object.

Which metadata a client may set and which the server keeps (uid, creationTimestamp, generation,
deletion marks), when generation rises, what names are valid, and how a ``<Kind> "x" is invalid``
message is worded. All functions are purely computational with no side-effects; the `cluster`
module applies their answers to the store.
"""

from __future__ import annotations

import copy
import datetime
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from lambda_vpc_sandbox.kube import errors, patching, resources

Obj = dict[str, Any]

# Metadata only the server writes: kept from the stored object on every update.
SERVER_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)
# Metadata a client may send but the server drops on create (and never stores).
DROPPED_ON_CREATE = (*SERVER_METADATA, "resourceVersion", "selfLink", "managedFields")

# Kubernetes' generateName alphabet: no vowels (no words) and no look-alike characters.
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAME_SUFFIX_LENGTH = 5

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"


class FieldErrorLike(Protocol):
    """What a validation error tells: `schemas.FieldError` and our own `Cause` both fit."""

    @property
    def path(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def message(self) -> str: ...


class Cause:
    """A field error found by the emulator itself (names, metadata, CRD basics)."""

    def __init__(self, path: str, kind: str, message: str) -> None:
        self.path = path
        self.kind = kind
        self.message = message


def now() -> str:
    """RFC 3339 with seconds and a ``Z``, as metav1.Time serialises."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    suffix = "".join(secrets.choice(_NAME_SUFFIX_ALPHABET) for _ in range(_NAME_SUFFIX_LENGTH))
    return f"{prefix}{suffix}"


def new_uid() -> str:
    return str(uuid.uuid4())


def name_errors(resource: resources.Resource, name: str) -> list[Cause]:
    """Object name rules: namespaces are DNS labels, events any path segment, the rest subdomains."""
    if resource.storage_key == resources.NAMESPACES_STORAGE_KEY:
        if len(name) > 63 or re.fullmatch(_DNS1123_LABEL, name) is None:
            return [
                Cause(
                    "metadata.name",
                    "FieldValueInvalid",
                    (
                        f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower case '
                        "alphanumeric characters or '-', and must start and end with an alphanumeric "
                        "character "
                        "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                        f"'{_DNS1123_LABEL}')"
                    ),
                )
            ]
        return []
    if resource.plural == "events":
        if name in (".", "..") or "/" in name or "%" in name:
            return [
                Cause(
                    "metadata.name",
                    "FieldValueInvalid",
                    (f"Invalid value: \"{name}\": may not be '.' or '..' and may not contain '/' or '%'"),
                )
            ]
        return []
    if len(name) > 253 or re.fullmatch(_DNS1123_SUBDOMAIN, name) is None:
        return [
            Cause(
                "metadata.name",
                "FieldValueInvalid",
                (
                    f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                    "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                    "character "
                    f"(e.g. 'example.com', regex used for validation is '{_DNS1123_SUBDOMAIN}')"
                ),
            )
        ]
    return []


def invalid(resource: resources.Resource, name: str, causes: Sequence[FieldErrorLike]) -> errors.Invalid:
    """422 ``<Kind>.<group> "<name>" is invalid: ...`` exactly as `apierrors.NewInvalid` words it."""
    texts: list[str] = []
    for cause in causes:
        text = f"{cause.path}: {cause.message}" if cause.path else cause.message
        if text not in texts:  # the real aggregate drops duplicates
            texts.append(text)
    aggregate = texts[0] if len(texts) == 1 else f"[{', '.join(texts)}]"
    details: dict[str, Any] = errors.object_details(resource.group, resource.kind, name)
    details["causes"] = [
        {"reason": cause.kind, "message": cause.message, "field": cause.path} for cause in causes
    ]
    return errors.Invalid(f'{resource.group_kind} "{name}" is invalid: {aggregate}', details=details)


def prepare_create(resource: resources.Resource, body: Obj, namespace: str | None) -> Obj:
    """
    The object as a create stores it (before admission): server metadata set, status dropped.

    The name must already be decided (generateName resolved) by the caller.
    """
    # apiVersion and kind come first in the key order, and they are always ours.
    obj = {"apiVersion": resource.api_version, "kind": resource.kind, **copy.deepcopy(body)}
    obj["apiVersion"] = resource.api_version
    obj["kind"] = resource.kind
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    for field in DROPPED_ON_CREATE:
        meta.pop(field, None)
    if resource.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now()
    if resource.has_generation:
        meta["generation"] = 1
    # Real servers reset the status of subresource-enabled kinds on create: only /status writes it.
    if resource.has_status and resource.custom:
        obj.pop("status", None)
    return obj


def prepare_update(resource: resources.Resource, old: Obj, candidate: Obj, subresource: str | None) -> Obj:
    """
    The object an update (PUT or the result of a PATCH) would store, before admission.

    The main resource keeps the stored status when a status subresource exists; the status
    subresource changes only ``.status``. Server-managed metadata always comes from the stored object.
    """
    if subresource == "status":
        obj = copy.deepcopy(old)
        if "status" in candidate:
            obj["status"] = copy.deepcopy(candidate["status"])
        else:
            obj.pop("status", None)
        return obj

    obj = copy.deepcopy(candidate)
    obj["apiVersion"] = old["apiVersion"]
    obj["kind"] = old["kind"]
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    old_meta = old["metadata"]
    for field in (*SERVER_METADATA, "name", "namespace", "resourceVersion"):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    meta.pop("managedFields", None)
    meta.pop("selfLink", None)
    if resource.has_status:
        if "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        else:
            obj.pop("status", None)
    return obj


def _content(resource: resources.Resource, obj: Obj) -> dict[str, Any]:
    """What generation tracks: everything but metadata (and status when it is a subresource)."""
    skipped = {"metadata", "apiVersion", "kind"}
    if resource.has_status or not resource.custom:
        skipped.add("status")
    return {key: value for key, value in obj.items() if key not in skipped}


def bump_generation(resource: resources.Resource, old: Obj, new: Obj) -> None:
    """Raise ``metadata.generation`` if the object's content changed (in place, on the new object)."""
    if not resource.has_generation:
        return
    if not patching.json_equal(_content(resource, old), _content(resource, new)):
        new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1


def finalizer_errors(old: Obj, new: Obj) -> list[Cause]:
    """No new finalizers on an object being deleted (a real server's metadata validation)."""
    if not old["metadata"].get("deletionTimestamp"):
        return []
    before = set(old["metadata"].get("finalizers") or ())
    added = [f for f in new["metadata"].get("finalizers") or () if f not in before]
    if not added:
        return []
    quoted = ", ".join(f'"{f}"' for f in added)
    return [
        Cause(
            "metadata.finalizers",
            "FieldValueForbidden",
            f"Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers []string{{{quoted}}}",
        )
    ]


def mark_deleting(resource: resources.Resource, old: Obj) -> Obj:
    """The object as a delete leaves it while finalizers remain (generation rises, as on real servers)."""
    obj = copy.deepcopy(old)
    meta = obj["metadata"]
    meta["deletionTimestamp"] = now()
    meta["deletionGracePeriodSeconds"] = 0
    if resource.has_generation and "generation" in meta:
        meta["generation"] = int(meta["generation"]) + 1
    return obj


def is_released(obj: Obj) -> bool:
    """Marked for deletion with no finalizers left: the server deletes it for real now."""
    meta = obj["metadata"]
    return bool(meta.get("deletionTimestamp")) and not meta.get("finalizers")


def as_version(resource: resources.Resource, obj: Obj) -> Obj:
    """The stored object as seen through one served version (conversion ``None``: apiVersion only)."""
    if obj.get("apiVersion") == resource.api_version:
        return obj
    return {**obj, "apiVersion": resource.api_version}


def dropped_fields(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Paths present in ``before`` but pruned from ``after`` (for fieldValidation Warn/Strict)."""
    found: list[str] = []
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key, value in before.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in after:
                found.append(path)
            else:
                found.extend(dropped_fields(value, after[key], path))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (item_before, item_after) in enumerate(zip(before, after, strict=True)):
            found.extend(dropped_fields(item_before, item_after, f"{prefix}[{index}]"))
    return found
