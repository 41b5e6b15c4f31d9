"""Protobuf request bodies of the few built-in kinds Go clients send that way, decoded to JSON.

client-go's typed clients, as helm (its release Secrets, ``--create-namespace``) and
``kubectl create namespace`` use them, send ``application/vnd.kubernetes.protobuf``: the four bytes
``k8s\\0`` then a ``runtime.Unknown`` message (typeMeta, raw) whose ``raw`` is the object in
the generated protobuf of its Go type (k8s.io/api/core/v1/generated.proto). Without those
schemas a body cannot be decoded generically, so this module knows, by field number, only what
those clients send: Namespace, Secret, ConfigMap and DeleteOptions, with ObjectMeta (name,
generateName, namespace, uid, resourceVersion, generation, creationTimestamp, labels,
annotations, ownerReferences, finalizers; managedFields are skipped: the stored ones are kept).
Any other kind stays 415. Responses are always JSON, which such clients accept.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Callable, Iterator
from typing import Any

MAGIC = b"k8s\x00"

Obj = dict[str, Any]
Field = tuple[int, int, Any]  # (number, wire type, value: int or bytes)


class ProtobufError(ValueError):
    """A body this module cannot decode (unknown kind or malformed)."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[Field]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ProtobufError("truncated field")
            yield number, wire, data[pos : pos + size]
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")


def _text(value: Any) -> str:
    return bytes(value).decode()


def _map_entry(value: bytes, decode: Callable[[bytes], Any]) -> tuple[str, Any]:
    key, item = "", decode(b"")
    for number, _, field in _fields(value):
        if number == 1:
            key = _text(field)
        elif number == 2:
            item = decode(field)
    return key, item


def _time(value: bytes) -> str:
    seconds = 0
    for number, _, field in _fields(value):
        if number == 1:
            seconds = field
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner_reference(value: bytes) -> Obj:
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
    flags = {6: "controller", 7: "blockOwnerDeletion"}
    ref: Obj = {}
    for number, _, field in _fields(value):
        if number in names:
            ref[names[number]] = _text(field)
        elif number in flags:
            ref[flags[number]] = bool(field)
    return ref


def _metadata(value: bytes) -> Obj:
    strings = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    meta: Obj = {}
    for number, _, field in _fields(value):
        if number in strings:
            if field:
                meta[strings[number]] = _text(field)
        elif number == 7:
            meta["generation"] = field
        elif number == 8:
            meta["creationTimestamp"] = _time(field)
        elif number in (11, 12):
            key, item = _map_entry(field, _text)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item
        elif number == 13:
            meta.setdefault("ownerReferences", []).append(_owner_reference(field))
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(field))
    return meta


def _base64(value: bytes) -> str:
    return base64.b64encode(bytes(value)).decode()


def _namespace(raw: bytes) -> Obj:
    obj: Obj = {}
    for number, _, field in _fields(raw):
        if number == 1:
            obj["metadata"] = _metadata(field)
        elif number == 2:
            finalizers = [_text(f) for n, _, f in _fields(field) if n == 1]
            obj["spec"] = {"finalizers": finalizers} if finalizers else {}
    return obj


def _secret(raw: bytes) -> Obj:
    obj: Obj = {}
    for number, _, field in _fields(raw):
        if number == 1:
            obj["metadata"] = _metadata(field)
        elif number == 2:
            key, item = _map_entry(field, _base64)
            obj.setdefault("data", {})[key] = item
        elif number == 3:
            obj["type"] = _text(field)
        elif number == 4:
            key, item = _map_entry(field, _text)
            obj.setdefault("stringData", {})[key] = item
        elif number == 5:
            obj["immutable"] = bool(field)
    return obj


def _config_map(raw: bytes) -> Obj:
    obj: Obj = {}
    for number, _, field in _fields(raw):
        if number == 1:
            obj["metadata"] = _metadata(field)
        elif number == 2:
            key, item = _map_entry(field, _text)
            obj.setdefault("data", {})[key] = item
        elif number == 3:
            key, item = _map_entry(field, _base64)
            obj.setdefault("binaryData", {})[key] = item
        elif number == 4:
            obj["immutable"] = bool(field)
    return obj


def _delete_options(raw: bytes) -> Obj:
    obj: Obj = {}
    for number, _, field in _fields(raw):
        if number == 1:
            obj["gracePeriodSeconds"] = field
        elif number == 2:
            preconditions: Obj = {}
            for n, _, f in _fields(field):
                preconditions["uid" if n == 1 else "resourceVersion"] = _text(f)
            obj["preconditions"] = preconditions
        elif number == 4:
            obj["propagationPolicy"] = _text(field)
        elif number == 5:
            obj.setdefault("dryRun", []).append(_text(field))
    return obj


_DECODERS: dict[str, Callable[[bytes], Obj]] = {
    "Namespace": _namespace,
    "Secret": _secret,
    "ConfigMap": _config_map,
    "DeleteOptions": _delete_options,
}


def decode(body: bytes) -> Obj:
    """A protobuf request body as the JSON object it stands for; `ProtobufError` if not known."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    api_version = kind = ""
    raw = b""
    for number, _, field in _fields(body[len(MAGIC) :]):
        if number == 1:  # TypeMeta
            for n, _, f in _fields(field):
                if n == 1:
                    api_version = _text(f)
                elif n == 2:
                    kind = _text(f)
        elif number == 2:
            raw = bytes(field)
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise ProtobufError(f"protobuf bodies of kind {kind or '?'} are not emulated")
    obj = decoder(raw)
    if kind != "DeleteOptions":
        obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj
