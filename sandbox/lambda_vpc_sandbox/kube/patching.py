"""Applying JSON merge patches (RFC 7386) and JSON patches (RFC 6902) to objects.

kopf patches with both: merge patches for its own fields and status, and JSON patches that start
with a ``test`` of ``/metadata/resourceVersion`` for finalizers -- a failing test means "someone
changed it in between", which kopf expects as 422. Strategic merge patches of built-in kinds are
in `strategic`.

Pure functions: they never mutate their inputs and return new objects.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(Exception):
    """A patch that is well-formed but cannot be applied to this object (422 on real servers)."""


class PatchFormatError(Exception):
    """A patch that is not a valid patch document at all (400 on real servers)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's ``==``, ``true`` is not ``1`` (but ``1`` is ``1.0``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _split_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchFormatError(f'JSON pointer must be empty or start with a "/": {pointer!r}')
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchError(f"Unable to access invalid index: {token}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"Unable to access invalid index: {index}")
    return index


def _get(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise KeyError(token)
            node = node[token]
        elif isinstance(node, list):
            try:
                node = node[_index(node, token, allow_end=False)]
            except PatchError as e:
                raise KeyError(token) from e
        else:
            raise KeyError(token)
    return node


def _parent(doc: Any, tokens: list[str], op: str, path: str) -> Any:
    try:
        return _get(doc, tokens[:-1])
    except KeyError:
        raise PatchError(
            f'{op} operation does not apply: doc is missing path: "{path}": missing value'
        ) from None


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    tokens = _split_pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, op, path)
    key = tokens[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, key, allow_end=True), value)
    else:
        raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> tuple[Any, Any]:
    tokens = _split_pointer(path)
    if not tokens:
        raise PatchError(f"{op} operation does not apply: cannot remove the whole document")
    parent = _parent(doc, tokens, op, path)
    key = tokens[-1]
    if isinstance(parent, dict) and key in parent:
        return doc, parent.pop(key)
    if isinstance(parent, list):
        try:
            return doc, parent.pop(_index(parent, key, allow_end=False))
        except PatchError:
            pass
    raise PatchError(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def _operation_value(operation: dict[str, Any], op: str) -> Any:
    if "value" not in operation:
        raise PatchFormatError(f"{op} operation has no value")
    return copy.deepcopy(operation["value"])


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 with all six operations; messages worded as the real server's (evanphx/json-patch)."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise PatchFormatError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)
    for operation in operations:
        op = operation.get("op")
        path = operation.get("path")
        if not isinstance(path, str):
            raise PatchFormatError(f"{op} operation has no path")
        if op == "add":
            doc = _add(doc, path, _operation_value(operation, op))
        elif op == "remove":
            doc, _ = _remove(doc, path)
        elif op == "replace":
            tokens = _split_pointer(path)
            try:
                _get(doc, tokens)
            except KeyError:
                raise PatchError(
                    f"replace operation does not apply: doc is missing key: {path}: missing value"
                ) from None
            if tokens:
                doc, _ = _remove(doc, path, op)
            doc = _add(doc, path, _operation_value(operation, op), op)
        elif op in ("move", "copy"):
            source = operation.get("from")
            if not isinstance(source, str):
                raise PatchFormatError(f"{op} operation has no from")
            if op == "move":
                doc, value = _remove(doc, source, op)
            else:
                try:
                    value = copy.deepcopy(_get(doc, _split_pointer(source)))
                except KeyError:
                    raise PatchError(
                        f'copy operation does not apply: doc is missing from path: "{source}": missing value'
                    ) from None
            doc = _add(doc, path, value, op)
        elif op == "test":
            expected = operation.get("value")
            try:
                actual = _get(doc, _split_pointer(path))
            except KeyError:
                actual = None
            if not json_equal(actual, expected):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchFormatError(f"Unexpected kind: {op}")
    return doc
