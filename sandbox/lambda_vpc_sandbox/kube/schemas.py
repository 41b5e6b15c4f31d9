"""Admission of custom resources against a CRD's structural ``openAPIV3Schema``, as kube-apiserver does it.

Why this exists: the in-memory Kubernetes API emulator used by the operator's tests must accept and reject
custom resources exactly like a real API server, otherwise the operator could pass its tests against the
emulator and still fail on a cluster (an unknown field silently kept, a default not applied, a bad value
accepted, a 422 whose causes do not look like the real ones).  :func:`admit` reproduces, for
``apiextensions.k8s.io/v1`` structural schemas, what kube-apiserver does to a custom resource on every
write:

1. **Pruning** (``structuralpruning``): fields not described by the schema are dropped, unless a
   ``x-kubernetes-preserve-unknown-fields: true`` node covers them.  At the resource root and in
   ``x-kubernetes-embedded-resource`` objects ``apiVersion``, ``kind`` and ``metadata`` are kept as they are
   (``metadata`` is never pruned below).
2. **Nulls and defaulting** (``structuraldefaulting``): a ``null`` in a field that is not ``nullable``
   becomes the field's ``default`` if it has one and is dropped otherwise; absent fields with a ``default``
   get it, also inside objects that exist (and inside defaulted values); absent objects are not created
   unless they themselves have a default.
3. **Validation**, with the messages of kube-openapi's validator as converted to ``field.Error`` by
   ``apiextensions-apiserver`` (``kubeOpenAPIResultToFieldErrors``): ``type`` (``integer`` accepts
   ``1.0`` but not ``1.5``), ``nullable``, ``required``, ``properties``, ``additionalProperties``, ``items``,
   ``enum``, ``pattern`` (RE2 semantics: unanchored search, ASCII classes, ``$`` only at the very end),
   ``minLength``/``maxLength`` (in runes), ``minimum``/``maximum`` and their boolean ``exclusive*``,
   ``multipleOf``, ``minItems``/``maxItems``/``uniqueItems``, ``minProperties``/``maxProperties``,
   ``format``, ``x-kubernetes-int-or-string``, ``oneOf``/``anyOf``/``allOf``/``not``; then the embedded
   resource checks (``apiVersion``/``kind`` required) and ``x-kubernetes-list-type`` ``set``/``map``
   uniqueness (``FieldValueDuplicate``), in that order, like the real server.  ``metadata.name`` /
   ``metadata.generateName`` of the resource are checked loosely first (DNS-1123 subdomain, or
   ``Required value`` when both are missing); labels, annotations and the rest of ``metadata`` are not.

Deliberate fidelity notes (the real server behaves this way, so the emulator does too):

* ``format`` is only enforced for the string formats a CRD supports (``date-time``, ``date``, ``uuid``,
  ``ipv4``, ``cidr``, ``byte``, ...).  ``int32``/``int64``/``float``/``double`` are *not* range-checked:
  kube-apiserver strips them from the validation schema, so ``2**40`` is accepted in an ``int32`` field.
* ``minimum``/``maximum``/``multipleOf`` are truncated to integers when the value is an integer (kube-openapi
  compares natively), and ``maxItems``/``maxProperties`` violations are ``FieldValueTooMany``.
* Errors raised by ``oneOf``/``anyOf``/``allOf``/``not`` carry the path ``<nil>`` and the bad value ``""``
  exactly like the real 422 (``<nil>: Invalid value: "": "spec.x" must validate ...``); for a failed
  ``anyOf``/``oneOf`` the errors of the closest alternative (here: the one with the fewest errors) follow.
* Identical errors are reported once (kube-openapi de-duplicates its results).

Not implemented here: ``x-kubernetes-validations`` (CEL rules: ``celrules``, run by the cluster after this),
validation ratcheting on update (every write is validated as a create), ``patternProperties``/``$ref``/
``dependencies`` (not allowed in structural schemas) and the full ``ObjectMeta`` validation.

Everything is plain recursion over JSON-like values (``dict``/``list``/``str``/``int``/``float``/``bool``/
``None``); regular expressions are compiled once and cached.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import decimal
import functools
import ipaddress
import math
import re
import warnings
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeGuard

__all__ = [
    "FIELD_VALUE_DUPLICATE",
    "FIELD_VALUE_FORBIDDEN",
    "FIELD_VALUE_INVALID",
    "FIELD_VALUE_NOT_SUPPORTED",
    "FIELD_VALUE_REQUIRED",
    "FIELD_VALUE_TOO_LONG",
    "FIELD_VALUE_TOO_MANY",
    "FIELD_VALUE_TYPE_INVALID",
    "FieldError",
    "admit",
    "go_float",
    "go_json",
]

Schema = dict[str, Any]

# The ``reason`` of a StatusCause, as k8s.io/apimachinery/pkg/util/validation/field.ErrorType spells them.
FIELD_VALUE_INVALID: Final = "FieldValueInvalid"
FIELD_VALUE_REQUIRED: Final = "FieldValueRequired"
FIELD_VALUE_NOT_SUPPORTED: Final = "FieldValueNotSupported"
FIELD_VALUE_TOO_MANY: Final = "FieldValueTooMany"
FIELD_VALUE_TOO_LONG: Final = "FieldValueTooLong"
FIELD_VALUE_DUPLICATE: Final = "FieldValueDuplicate"
FIELD_VALUE_TYPE_INVALID: Final = "FieldValueTypeInvalid"
FIELD_VALUE_FORBIDDEN: Final = "FieldValueForbidden"

_KIND_TEXT: Final[dict[str, str]] = {
    FIELD_VALUE_INVALID: "Invalid value",
    FIELD_VALUE_TYPE_INVALID: "Invalid value",
    FIELD_VALUE_REQUIRED: "Required value",
    FIELD_VALUE_NOT_SUPPORTED: "Unsupported value",
    FIELD_VALUE_TOO_MANY: "Too many",
    FIELD_VALUE_TOO_LONG: "Too long",
    FIELD_VALUE_DUPLICATE: "Duplicate value",
    FIELD_VALUE_FORBIDDEN: "Forbidden",
}
# Error types whose message never shows the bad value (field.Error.ErrorBody).
_KINDS_WITHOUT_VALUE: Final = frozenset({FIELD_VALUE_REQUIRED, FIELD_VALUE_FORBIDDEN, FIELD_VALUE_TOO_LONG})

# Where a path is the "nil" field.Path (errors of the logical junctors), the real server prints this.
_NIL_PATH: Final = "<nil>"
_RESOURCE_META_FIELDS: Final = frozenset({"apiVersion", "kind", "metadata"})


@dataclasses.dataclass(frozen=True)
class FieldError:
    """One validation failure, shaped like a ``StatusCause`` of a 422 ``Invalid`` Status.

    ``path`` is the cause's ``field`` (``spec.subnetIds[0]``), ``kind`` its ``reason``
    (``FieldValueInvalid``, ...) and ``message`` its ``message`` (``Required value``,
    ``Invalid value: "x": spec.a in body should match '^a$'``, ...).
    """

    path: str
    kind: str
    message: str

    def __str__(self) -> str:
        """The error as it appears inside the Status ``message``: ``<path>: <message>``."""
        return f"{self.path}: {self.message}"


# --------------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------------


def admit(obj: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """Return a pruned, defaulted deep copy of obj and the validation errors (empty if valid).

    ``obj`` is a whole custom resource (``apiVersion``, ``kind``, ``metadata``, ``spec``, ...) and ``schema``
    the ``openAPIV3Schema`` of the served version.  ``obj`` is never modified.  The errors are in a stable
    order: metadata name checks, then schema validation (per node: type, logical junctors, string, format,
    number, items and array size, enum, object properties in schema order, required), then embedded
    resource checks, then list-type uniqueness.
    """
    schema = schema or {}
    admitted = _prune(obj, schema, resource_root=True)
    if not isinstance(admitted, dict):  # pragma: no cover - guarded by the signature
        admitted = {}

    errors: list[FieldError] = []
    errors.extend(_validate_root_meta(admitted.get("metadata")))
    sink = _Sink(main=True)
    _validate(admitted, schema, "", "", sink)
    errors.extend(_dedupe(sink.errors))
    errors.extend(sink.embedded)
    errors.extend(sink.listtype)
    return admitted, errors


# --------------------------------------------------------------------------------------------------------
# Pruning, null handling and defaulting (one copying pass)
# --------------------------------------------------------------------------------------------------------


def _copy_json(value: Any) -> Any:
    """Deep copy of a JSON-like value (much faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _has_default(schema: Schema) -> bool:
    return schema.get("default") is not None


def _put(out: dict[str, Any], key: str, value: Any, schema: Schema) -> None:
    """Store a known field: a non-nullable null becomes the default, or disappears without one."""
    if value is None and not schema.get("nullable"):
        if _has_default(schema):
            out[key] = _prune(schema["default"], schema, resource_root=False)
        return
    out[key] = _prune(value, schema, resource_root=False)


def _add_defaults(out: dict[str, Any], schema: Schema, resource_root: bool) -> None:
    for key, prop in (schema.get("properties") or {}).items():
        if key in out or not _has_default(prop):
            continue
        if resource_root and key in _RESOURCE_META_FIELDS:
            continue
        out[key] = _prune(prop["default"], prop, resource_root=False)


def _prune_item(item: Any, items: Schema | None, skip: bool) -> Any:
    if items is None:
        return _copy_json(item) if skip else _prune(item, None, resource_root=False)
    if item is None and not items.get("nullable") and _has_default(items):
        item = items["default"]
    if skip:
        return _skip_prune(item, items)
    return _prune(item, items, resource_root=False)


def _prune(value: Any, schema: Schema | None, *, resource_root: bool) -> Any:
    """Copy ``value`` keeping only what ``schema`` describes (structuralpruning.prune + defaulting)."""
    if schema is not None and schema.get("x-kubernetes-preserve-unknown-fields"):
        return _skip_prune(value, schema, resource_root=resource_root)
    if isinstance(value, dict):
        if schema is None:
            return {}
        resource_root = resource_root or bool(schema.get("x-kubernetes-embedded-resource"))
        props: Schema = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if resource_root and key in _RESOURCE_META_FIELDS:
                out[key] = _copy_json(item)
                continue
            prop = props.get(key)
            if prop is not None:
                _put(out, key, item, prop)
            elif isinstance(additional, dict):
                _put(out, key, item, additional)
            elif isinstance(additional, bool):
                # additionalProperties given as a bool has no schema below it: like the real pruner,
                # the value is pruned against "nothing" (scalars survive, objects are emptied).
                out[key] = _prune(item, None, resource_root=False)
        _add_defaults(out, schema, resource_root)
        return out
    if isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        items = items if isinstance(items, dict) else None
        return [_prune_item(item, items, skip=False) for item in value]
    return value


def _skip_prune(value: Any, schema: Schema, *, resource_root: bool = False) -> Any:
    """Copy under ``x-kubernetes-preserve-unknown-fields``: unknown fields stay, known ones are pruned."""
    if isinstance(value, dict):
        resource_root = resource_root or bool(schema.get("x-kubernetes-embedded-resource"))
        props: Schema = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if resource_root and key in _RESOURCE_META_FIELDS:
                out[key] = _copy_json(item)
                continue
            prop = props.get(key)
            if prop is not None:
                _put(out, key, item, prop)
            elif isinstance(additional, dict):
                _put(out, key, item, additional)
            else:
                out[key] = _copy_json(item)
        _add_defaults(out, schema, resource_root)
        return out
    if isinstance(value, list):
        items = schema.get("items")
        items = items if isinstance(items, dict) else None
        return [_prune_item(item, items, skip=True) for item in value]
    return value


# --------------------------------------------------------------------------------------------------------
# Go-compatible rendering of values inside messages
# --------------------------------------------------------------------------------------------------------

_GO_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _go_quote(text: str) -> str:
    """strconv.Quote / %q."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        else:
            code = ord(ch)
            if code < 0x20 or code == 0x7F:
                out.append(f"\\x{code:02x}")
            elif ch.isprintable():
                out.append(ch)
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a positive finite float, and the decimal point position."""
    _sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0")
    assert isinstance(exponent, int)
    exponent += len(digits) - len(text)
    if not text:  # pragma: no cover - zero is handled by the callers
        return "0", 1
    return text, len(text) + exponent


def _fmt_e(digits: str, dp: int) -> str:
    exp = dp - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_f(digits: str, dp: int) -> str:
    if dp <= 0:
        return "0." + "0" * (-dp) + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def go_float(value: float) -> str:
    """A float64 as Go's fmt ``%v`` prints it (``1e+06``, ``0.5``, ``1.5e-05``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits, dp = _shortest_digits(abs(value))
    sign = "-" if value < 0 else ""
    exp = dp - 1
    if exp < -4 or exp >= 6:
        return sign + _fmt_e(digits, dp)
    return sign + _fmt_f(digits, dp)


def _go_json_float(value: float) -> str:
    """A float64 as Go's encoding/json writes it (``1``, ``0.5``, ``1e+21``, ``1e-7``)."""
    if value == 0:
        return "0"
    digits, dp = _shortest_digits(abs(value))
    sign = "-" if value < 0 else ""
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        text = _fmt_e(digits, dp)
        text = re.sub(r"e([+-])0(\d)$", r"e\1\2", text)
        return sign + text
    return sign + _fmt_f(digits, dp)


def go_json(value: Any) -> str:
    """Compact JSON as Go's json.Marshal writes it (sorted keys, ``<>&`` escaped, Go float format)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        return _go_json_string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_go_json_string(str(k))}:{go_json(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    return _go_json_string(str(value))


def _go_json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or ch in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_sharp_v(value: Any) -> str:
    """Go's ``%#v`` of an unstructured value (``map[string]interface {}{"a":1}``)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{_go_quote(str(k))}:{_go_sharp_v(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, (list, tuple)):
        return "[]interface {}{" + ", ".join(_go_sharp_v(v) for v in value) + "}"
    return _go_quote(str(value))


def _go_value(value: Any) -> str:
    """The bad value as field.Error.ErrorBody prints it."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return _go_quote(value)
    return _go_sharp_v(value)


def _error(kind: str, path: str, value: Any = "", detail: str = "") -> FieldError:
    text = _KIND_TEXT[kind]
    if kind not in _KINDS_WITHOUT_VALUE:
        text = f"{text}: {_go_value(value)}"
    if detail:
        text = f"{text}: {detail}"
    return FieldError(path or _NIL_PATH, kind, text)


def _composite_error(message: str) -> FieldError:
    """A kube-openapi error that is not a *Validation (junctors): reported on the nil path."""
    return FieldError(_NIL_PATH, FIELD_VALUE_INVALID, f'Invalid value: "": {message}')


def _dedupe(errors: Iterable[FieldError]) -> list[FieldError]:
    seen: set[FieldError] = set()
    out: list[FieldError] = []
    for err in errors:
        if err not in seen:
            seen.add(err)
            out.append(err)
    return out


# --------------------------------------------------------------------------------------------------------
# Regular expressions (Go RE2 flavour on top of Python's re)
# --------------------------------------------------------------------------------------------------------

_POSIX_CLASSES: Final = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_MULTILINE_FLAG = re.compile(r"\(\?[a-zA-Z]*m")


def _re2_to_python(pattern: str) -> str:
    """Translate the RE2 constructs Python spells differently (``\\z``, ``$``, POSIX classes, ...)."""
    multiline = bool(_MULTILINE_FLAG.search(pattern))
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "z" and not in_class:
                out.append("\\Z")
                i += 2
            elif nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
            else:
                out.append(pattern[i : i + 2])
                i += 2
            continue
        if in_class:
            if ch == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                name = pattern[i + 2 : end] if end > 0 else ""
                if name in _POSIX_CLASSES:
                    out.append(_POSIX_CLASSES[name])
                    i = end + 2
                    continue
                out.append("\\[")
                i += 1
                continue
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if ch == "$" and not multiline:
            out.append("\\Z")
        elif pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=2048)
def _compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled pattern, or None when Python cannot express it (the check is then skipped).

    A CRD with an invalid RE2 pattern is rejected when the CRD is created, so a pattern that fails here
    is valid RE2 that Python's ``re`` does not understand (``\\pL``, ...): being lenient is safer than
    rejecting every object.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return re.compile(_re2_to_python(pattern), re.ASCII)
        except re.error:
            return None


# --------------------------------------------------------------------------------------------------------
# Formats (the go-openapi strfmt registry, restricted to what CRDs support)
# --------------------------------------------------------------------------------------------------------

_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_TIME_TAIL_RE = re.compile(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
_UUID_RES: Final = {
    "uuid": re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$"),
    "uuid3": re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$"),
    "uuid4": re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"),
    "uuid5": re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$"),
}
_HOSTNAME_RE = re.compile(
    r"^([^\W_]((-?[^\W_]{0,62})?)|([^\W_](([^\W_]|-){0,61}[^\W_])?(\.))+([^\W\d_]){2,63})\Z"
)
_MAC_RE = re.compile(
    r"^(?:[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}"
    r"|[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\2[0-9A-Fa-f]{2}){6}"
    r"|[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\3[0-9A-Fa-f]{2}){18}"
    r"|[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2}"
    r"|[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){3}"
    r"|[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){9})\Z"
)
_GO_DURATION_RE = re.compile(r"^[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)\Z")
_HUMAN_DURATION_RE = re.compile(r"^\s*(\d+)\s*([A-Za-zµ]+)\s*\Z")
_HUMAN_DURATION_UNITS: Final = frozenset(
    {
        *("ns", "us", "µs", "ms", "s", "m", "h", "d", "w"),
        *("nanosecond", "nanoseconds", "microsecond", "microseconds", "millisecond", "milliseconds"),
        *("second", "seconds", "sec", "secs", "minute", "minutes", "min", "mins"),
        *("hour", "hours", "hr", "hrs", "day", "days", "week", "weeks", "wk", "wks"),
    }
)
_EMAIL_RE = re.compile(r"^(?:[^<>@\s]+@[^<>@\s]+|[^<>]*<[^<>@\s]+@[^<>@\s]+>)\Z")
_URI_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:|/)[^\x00-\x20\x7f]*\Z")
_SIMPLE_FORMAT_RES: Final = {
    "bsonobjectid": re.compile(r"^[0-9a-fA-F]{24}\Z"),
    "hexcolor": re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})\Z"),
    "ssn": re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}\Z"),
    "creditcard": re.compile(
        r"^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}"
        r"|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})\Z"
    ),
}
_RGB_RE = re.compile(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)\Z")


def _is_date(text: str) -> bool:
    match = _DATE_RE.fullmatch(text)
    if match is None:
        return False
    year, month, day = (int(g) for g in match.groups())
    try:
        datetime.date(year or 2000, month, day)  # year 0000 is a (leap) year for Go's time.Parse
    except ValueError:
        return False
    return True


def _is_date_time(text: str) -> bool:
    """strfmt.IsDateTime: RFC 3339 date-time, time zone required, ``T`` in any case."""
    if len(text) < 4:
        return False
    parts = text.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    match = _DATE_TIME_TAIL_RE.match(parts[1])
    if match is None:
        return False
    return match.group(1) <= "23" and match.group(2) <= "59" and match.group(3) <= "59"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text


def _is_cidr(text: str) -> bool:
    if "/" not in text or "%" in text:
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_hostname(text: str) -> bool:
    if len(text) > 255 or _HOSTNAME_RE.match(text) is None:
        return False
    return all(len(part.encode()) <= 63 for part in text.split("."))


def _is_duration(text: str) -> bool:
    if _GO_DURATION_RE.match(text):
        return True
    match = _HUMAN_DURATION_RE.match(text)
    return match is not None and match.group(2) in _HUMAN_DURATION_UNITS


def _is_rgb(text: str) -> bool:
    match = _RGB_RE.match(text)
    return match is not None and all(int(g) <= 255 for g in match.groups())


def _isbn_digits(text: str) -> str:
    return re.sub(r"[\s-]", "", text)


def _is_isbn10(text: str) -> bool:
    digits = _isbn_digits(text)
    if re.fullmatch(r"[0-9]{9}[0-9X]", digits) is None:
        return False
    total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
    return total % 11 == 0


def _is_isbn13(text: str) -> bool:
    digits = _isbn_digits(text)
    if re.fullmatch(r"[0-9]{13}", digits) is None:
        return False
    total = sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(digits))
    return total % 10 == 0


def _is_credit_card(text: str) -> bool:
    return _SIMPLE_FORMAT_RES["creditcard"].match(re.sub(r"\D", "", text)) is not None


def _regex_check(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: pattern.match(text) is not None


_FORMAT_CHECKS: Final[dict[str, Callable[[str], bool]]] = {
    "datetime": _is_date_time,
    "date": _is_date,
    "duration": _is_duration,
    "ipv4": lambda text: "." in text and _is_ip(text),
    "ipv6": lambda text: ":" in text and _is_ip(text),
    "cidr": _is_cidr,
    "mac": _regex_check(_MAC_RE),
    "hostname": _is_hostname,
    "byte": _is_base64,
    "email": _regex_check(_EMAIL_RE),
    "uri": _regex_check(_URI_RE),
    "password": lambda text: True,
    "rgbcolor": _is_rgb,
    "isbn10": _is_isbn10,
    "isbn13": _is_isbn13,
    "isbn": lambda text: _is_isbn10(text) or _is_isbn13(text),
    **{name: _regex_check(rx) for name, rx in _UUID_RES.items()},
    **{name: _regex_check(rx) for name, rx in _SIMPLE_FORMAT_RES.items()},
    "creditcard": _is_credit_card,
}


def _effective_format(schema: Schema) -> tuple[str, str]:
    """(format as written, normalized name) when the format is one CRDs validate, else ("", "")."""
    fmt = schema.get("format")
    if not fmt or not isinstance(fmt, str):
        return "", ""
    normalized = fmt.replace("-", "")
    if normalized not in _FORMAT_CHECKS:
        return "", ""  # StripUnsupportedFormatsPostProcess: int32, int64, float, double, ... are ignored
    return fmt, normalized


# --------------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------------


class _Sink:
    """Where one validation walk puts its findings."""

    __slots__ = ("embedded", "errors", "listtype", "main")

    def __init__(self, *, main: bool) -> None:
        self.main = main  # the walk over the structural schema (not a logical-junctor alternative)
        self.errors: list[FieldError] = []  # kube-openapi schema validation
        self.embedded: list[FieldError] = []  # schemaobjectmeta.Validate
        self.listtype: list[FieldError] = []  # listtype.ValidateListSetsAndMaps


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _json_type(value: Any) -> tuple[str, str]:
    """(JSON schema type, Go format) of a decoded JSON value, like kube-openapi's schemaInfoForType."""
    if isinstance(value, bool):
        return "boolean", ""
    if isinstance(value, str):
        return "string", ""
    if isinstance(value, int):
        return "integer", "int64"
    if isinstance(value, float):
        return "number", "float64"
    if isinstance(value, list):
        return "array", ""
    if isinstance(value, dict):
        return "object", ""
    return "", ""


def _is_json_integer(value: float) -> bool:
    """swag.IsFloat64AJSONInteger."""
    if math.isnan(value) or math.isinf(value) or abs(value) > 2.0**53:
        return False
    if value.is_integer():
        return True
    return abs(value - round(value)) < 1e-9 * max(1.0, abs(value))


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _schema_types(schema: Schema) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    declared = schema.get("type")
    if isinstance(declared, str) and declared:
        return [declared]
    if isinstance(declared, list):
        return [str(t) for t in declared]
    return []


def _type_error(path: str, type_name: str, found: str) -> FieldError:
    detail = f"{path} in body must be of type {type_name}: {_go_quote(found)}"
    return _error(FIELD_VALUE_TYPE_INVALID, path, found, detail)


def _validate(value: Any, schema: Schema, path: str, fpath: str, sink: _Sink) -> None:
    """Validate ``value`` at ``path`` (kube-openapi style) / ``fpath`` (field.Path style)."""
    errors = sink.errors
    if value is None:
        _check_type(None, schema, path, errors)
        _check_enum(None, schema, path, errors)
        return
    _check_type(value, schema, path, errors)
    if "anyOf" in schema or "oneOf" in schema or "allOf" in schema or "not" in schema:
        _check_junctors(value, schema, path, fpath, errors)
    if isinstance(value, str):
        _check_string(value, schema, path, errors)
        _check_format(value, schema, path, errors)
    elif _is_number(value):
        _check_number(value, schema, path, errors)
    elif isinstance(value, list):
        if sink.main and "x-kubernetes-list-type" in schema:
            _check_list_type(value, schema, fpath, sink.listtype)
        _check_array(value, schema, path, fpath, sink)
    if "enum" in schema:
        _check_enum(value, schema, path, errors)
    if isinstance(value, dict):
        if sink.main and schema.get("x-kubernetes-embedded-resource"):
            _check_embedded(value, fpath, sink.embedded)
        _check_object(value, schema, path, fpath, sink)


def _check_type(value: Any, schema: Schema, path: str, errors: list[FieldError]) -> None:
    types = _schema_types(schema)
    fmt, _ = _effective_format(schema)
    if not types and not fmt:
        return
    if value is None:
        if types and "null" not in types and not schema.get("nullable"):
            errors.append(_type_error(path, ",".join(types), "null"))
        return
    found, go_format = _json_type(value)
    is_float_int = found == "number" and _is_json_integer(value) and "integer" in types
    is_int_float = found == "integer" and "number" in types
    stringish = isinstance(value, (str, list))
    if not stringish and fmt and not (found in types or go_format == fmt or is_float_int or is_int_float):
        errors.append(_type_error(path, fmt, go_format))
        return
    if fmt and stringish and "number" not in types and "integer" not in types:
        return
    if not (found in types or is_float_int or is_int_float):
        errors.append(_type_error(path, ",".join(types), found))


def _sub_validate(value: Any, schema: Any, path: str, fpath: str) -> list[FieldError]:
    sink = _Sink(main=False)
    if isinstance(schema, dict):
        _validate(value, schema, path, fpath, sink)
    return _dedupe(sink.errors)


def _check_junctors(value: Any, schema: Schema, path: str, fpath: str, errors: list[FieldError]) -> None:
    quoted = _go_quote(path)
    any_of = schema.get("anyOf")
    if any_of:
        best: list[FieldError] | None = None
        for alternative in any_of:
            found = _sub_validate(value, alternative, path, fpath)
            if not found:
                best = None
                break
            if best is None or len(found) < len(best):
                best = found
        else:
            errors.append(_composite_error(f"{quoted} must validate at least one schema (anyOf)"))
        if best:
            errors.extend(best)
    one_of = schema.get("oneOf")
    if one_of:
        valid = 0
        best = None
        for alternative in one_of:
            found = _sub_validate(value, alternative, path, fpath)
            if not found:
                valid += 1
                best = None
                continue
            if valid == 0 and (best is None or len(found) < len(best)):
                best = found
        if valid != 1:
            extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            message = f"{quoted} must validate one and only one schema (oneOf). {extra}"
            errors.append(_composite_error(message))
            if best:
                errors.extend(best)
    all_of = schema.get("allOf")
    if all_of:
        valid = 0
        for alternative in all_of:
            found = _sub_validate(value, alternative, path, fpath)
            valid += not found
            errors.extend(found)
        if valid != len(all_of):
            extra = ". None validated" if valid == 0 else ""
            errors.append(_composite_error(f"{quoted} must validate all the schemas (allOf){extra}"))
    negated = schema.get("not")
    if isinstance(negated, dict) and not _sub_validate(value, negated, path, fpath):
        errors.append(_composite_error(f"{quoted} must not validate the schema (not)"))


def _check_string(value: str, schema: Schema, path: str, errors: list[FieldError]) -> None:
    max_length = schema.get("maxLength")
    if max_length is not None and len(value) > max_length:
        unit = "byte" if max_length == 1 else "bytes"
        errors.append(_error(FIELD_VALUE_TOO_LONG, path, value, f"may not be more than {max_length} {unit}"))
        return
    min_length = schema.get("minLength")
    if min_length is not None and len(value) < min_length:
        detail = f"{path} in body should be at least {min_length} chars long"
        errors.append(_error(FIELD_VALUE_INVALID, path, value, detail))
        return
    pattern = schema.get("pattern")
    if pattern:
        compiled = _compile_pattern(pattern)
        if compiled is not None and compiled.search(value) is None:
            detail = f"{path} in body should match '{pattern}'"
            errors.append(_error(FIELD_VALUE_INVALID, path, value, detail))


def _check_format(value: str, schema: Schema, path: str, errors: list[FieldError]) -> None:
    fmt, normalized = _effective_format(schema)
    if fmt and not _FORMAT_CHECKS[normalized](value):
        errors.append(_type_error(path, fmt, value))


def _format_bound(bound: float | int) -> str:
    return str(bound) if isinstance(bound, int) else go_float(bound)


def _check_number(value: float, schema: Schema, path: str, errors: list[FieldError]) -> None:
    native_int = isinstance(value, int)
    multiple_of = schema.get("multipleOf")
    if _is_number(multiple_of):
        factor: float | int = int(multiple_of) if native_int and int(multiple_of) != 0 else float(multiple_of)
        if factor < 0:
            detail = f"factor MultipleOf declared for {path} must be positive: {_format_bound(factor)}"
            errors.append(_error(FIELD_VALUE_INVALID, path, factor, detail))
        elif isinstance(factor, int):
            if isinstance(value, int) and value % factor != 0:
                detail = f"{path} in body should be a multiple of {factor}"
                errors.append(_error(FIELD_VALUE_INVALID, path, value, detail))
        elif factor > 0:
            ratio = (1 / factor * value) if factor < 1 else value / factor
            if not _is_json_integer(ratio):
                detail = f"{path} in body should be a multiple of {go_float(factor)}"
                errors.append(_error(FIELD_VALUE_INVALID, path, value, detail))
    minimum = schema.get("minimum")
    if _is_number(minimum):
        bound: float | int = int(minimum) if native_int else float(minimum)
        exclusive = bool(schema.get("exclusiveMinimum"))
        if value < bound or (exclusive and value <= bound):
            relation = "greater than" if exclusive else "greater than or equal to"
            detail = f"{path} in body should be {relation} {_format_bound(bound)}"
            errors.append(_error(FIELD_VALUE_INVALID, path, value, detail))
    maximum = schema.get("maximum")
    if _is_number(maximum):
        bound = int(maximum) if native_int else float(maximum)
        exclusive = bool(schema.get("exclusiveMaximum"))
        if value > bound or (exclusive and value >= bound):
            relation = "less than" if exclusive else "less than or equal to"
            detail = f"{path} in body should be {relation} {_format_bound(bound)}"
            errors.append(_error(FIELD_VALUE_INVALID, path, value, detail))


def _check_array(value: list[Any], schema: Schema, path: str, fpath: str, sink: _Sink) -> None:
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            _validate(item, items, f"{path}[{index}]", f"{fpath}[{index}]", sink)
    elif isinstance(items, list):
        for index, (item, item_schema) in enumerate(zip(value, items, strict=False)):
            if isinstance(item_schema, dict):
                _validate(item, item_schema, f"{path}[{index}]", f"{fpath}[{index}]", sink)
    size = len(value)
    errors = sink.errors
    min_items = schema.get("minItems")
    if min_items is not None and size < min_items:
        detail = f"{path} in body should have at least {min_items} items"
        errors.append(_error(FIELD_VALUE_INVALID, path, size, detail))
    max_items = schema.get("maxItems")
    if max_items is not None and size > max_items:
        unit = "item" if max_items == 1 else "items"
        errors.append(_error(FIELD_VALUE_TOO_MANY, path, size, f"must have at most {max_items} {unit}"))
    if schema.get("uniqueItems") and _non_unique_indices(value):
        detail = f"{path} in body shouldn't contain duplicates"
        errors.append(_error(FIELD_VALUE_INVALID, path, "", detail))


def _json_equal(left: Any, right: Any) -> bool:
    """Equality of decoded JSON values without Python's ``True == 1`` (numbers compare numerically)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_json_equal(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and bool(left == right)


def _check_enum(value: Any, schema: Schema, path: str, errors: list[FieldError]) -> None:
    allowed = schema.get("enum")
    if not allowed:
        return
    if any(_json_equal(value, candidate) for candidate in allowed):
        return
    shown = ", ".join(_go_quote(v if isinstance(v, str) else go_json(v)) for v in allowed)
    errors.append(_error(FIELD_VALUE_NOT_SUPPORTED, path, value, f"supported values: {shown}"))


def _check_object(value: dict[str, Any], schema: Schema, path: str, fpath: str, sink: _Sink) -> None:
    errors = sink.errors
    count = len(value)
    min_properties = schema.get("minProperties")
    if min_properties is not None and count < min_properties:
        detail = f"{path} in body should have at least {min_properties} properties"
        errors.append(_error(FIELD_VALUE_INVALID, path, count, detail))
        return
    max_properties = schema.get("maxProperties")
    if max_properties is not None and count > max_properties:
        unit = "item" if max_properties == 1 else "items"
        errors.append(_error(FIELD_VALUE_TOO_MANY, path, count, f"must have at most {max_properties} {unit}"))
        return
    props: Schema = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if additional is False:
        for key in value:
            if key not in props:
                detail = f"{path}.{key} in body is a forbidden property"
                errors.append(_error(FIELD_VALUE_INVALID, path, key, detail))
    elif isinstance(additional, dict):
        for key, item in value.items():
            if key not in props:
                _validate(item, additional, _child(path, key), f"{fpath}[{key}]", sink)
    for name, prop in props.items():
        if name in value and isinstance(prop, dict):
            _validate(value[name], prop, _child(path, name), _child(fpath, name), sink)
    for name in schema.get("required") or ():
        if name not in value:
            errors.append(_error(FIELD_VALUE_REQUIRED, _child(path, name)))


def _scalar_key(value: Any) -> tuple[str, Any]:
    """A hashable identity that keeps Go's distinctions (``1`` is not ``1.0`` is not ``true``)."""
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, int):
        return "i", value
    if isinstance(value, float):
        return "f", value
    if isinstance(value, (dict, list)):
        return "c", go_json(value)
    return "s" if isinstance(value, str) else "o", value


def _non_unique_indices(values: list[Any]) -> list[int]:
    """Index of the second appearance of every repeated value (listtype.validateListSet)."""
    seen: dict[tuple[str, Any], int] = {}
    repeated: list[int] = []
    for index, item in enumerate(values):
        key = _scalar_key(item)
        times = seen.get(key, 0)
        seen[key] = times + 1
        if times == 1:
            repeated.append(index)
    return repeated


_UNSPECIFIED: Final = object()


def _check_list_type(value: list[Any], schema: Schema, fpath: str, errors: list[FieldError]) -> None:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        for index in _non_unique_indices(value):
            errors.append(_error(FIELD_VALUE_DUPLICATE, f"{fpath}[{index}]", value[index]))
        return
    if list_type != "map":
        return
    for index, item in enumerate(value):
        if item is not None and not isinstance(item, dict):
            detail = "must be an object for an array of list-type map"
            errors.append(_error(FIELD_VALUE_INVALID, f"{fpath}[{index}]", item, detail))
            return
    if len(value) <= 1:
        return
    key_fields = [str(k) for k in schema.get("x-kubernetes-list-map-keys") or ()]
    keys: list[Any] = []
    shown: list[dict[str, Any]] = []
    for item in value:
        present = {k: item[k] for k in key_fields if isinstance(item, dict) and k in item}
        shown.append(present)
        if len(key_fields) == 1:
            keys.append(present[key_fields[0]] if present else _UNSPECIFIED)
        else:
            keys.append(present)
    identities: list[Any] = [("u", None) if k is _UNSPECIFIED else k for k in keys]
    seen: dict[Any, int] = {}
    for index, identity in enumerate(identities):
        key = identity if isinstance(identity, tuple) else _scalar_key(identity)
        times = seen.get(key, 0)
        seen[key] = times + 1
        if times == 1:
            errors.append(_error(FIELD_VALUE_DUPLICATE, f"{fpath}[{index}]", shown[index]))


_GROUP_VERSION_ERROR: Final = "unexpected GroupVersion string: "


def _check_embedded(value: dict[str, Any], fpath: str, errors: list[FieldError]) -> None:
    """schemaobjectmeta.validateEmbeddedResource, with a loose metadata check."""
    if "apiVersion" not in value:
        errors.append(_error(FIELD_VALUE_REQUIRED, _child(fpath, "apiVersion"), detail="must not be empty"))
    if "kind" not in value:
        errors.append(_error(FIELD_VALUE_REQUIRED, _child(fpath, "kind"), detail="must not be empty"))
    for key, item in value.items():
        where = _child(fpath, key)
        if key == "apiVersion":
            if not isinstance(item, str):
                errors.append(_error(FIELD_VALUE_INVALID, where, item, "must be a string"))
            elif not item:
                errors.append(_error(FIELD_VALUE_INVALID, where, item, "must not be empty"))
            elif item.count("/") > 1:
                errors.append(_error(FIELD_VALUE_INVALID, where, item, _GROUP_VERSION_ERROR + item))
        elif key == "kind":
            if not isinstance(item, str):
                errors.append(_error(FIELD_VALUE_INVALID, where, item, "must be a string"))
            elif not item:
                errors.append(_error(FIELD_VALUE_INVALID, where, item, "must not be empty"))
        elif key == "metadata" and isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, str) and name:
                for message in _path_segment_name_errors(name):
                    errors.append(_error(FIELD_VALUE_INVALID, _child(where, "name"), name, message))


def _path_segment_name_errors(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


# --------------------------------------------------------------------------------------------------------
# Loose ObjectMeta checks of the resource itself
# --------------------------------------------------------------------------------------------------------

_DNS1123_SUBDOMAIN_FMT: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1123_SUBDOMAIN_RE: Final = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}\\Z")
_DNS1123_SUBDOMAIN_MAX: Final = 253
_DNS1123_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character "
    f"(e.g. 'example.com', regex used for validation is '{_DNS1123_SUBDOMAIN_FMT}')"
)


def _dns1123_subdomain_errors(name: str) -> list[str]:
    """validation.IsDNS1123Subdomain."""
    found: list[str] = []
    if len(name) > _DNS1123_SUBDOMAIN_MAX:
        found.append(f"must be no more than {_DNS1123_SUBDOMAIN_MAX} characters")
    if _DNS1123_SUBDOMAIN_RE.match(name) is None:
        found.append(_DNS1123_SUBDOMAIN_MSG)
    return found


def _validate_root_meta(metadata: Any) -> list[FieldError]:
    """The name / generateName part of ValidateObjectMetaAccessor (NameIsDNSSubdomain)."""
    meta = metadata if isinstance(metadata, dict) else {}
    errors: list[FieldError] = []
    name = meta.get("name")
    generate_name = meta.get("generateName")
    if isinstance(generate_name, str) and generate_name:
        masked = generate_name
        if len(masked) > 1 and masked.endswith("-"):  # maskTrailingDash: a suffix will be appended
            masked = masked[:-1] + "a"
        for message in _dns1123_subdomain_errors(masked):
            errors.append(_error(FIELD_VALUE_INVALID, "metadata.generateName", generate_name, message))
    if name is None or name == "":
        if not generate_name:
            detail = "name or generateName is required"
            errors.append(_error(FIELD_VALUE_REQUIRED, "metadata.name", detail=detail))
    elif not isinstance(name, str):
        errors.append(_error(FIELD_VALUE_INVALID, "metadata.name", name, "must be a string"))
    else:
        for message in _dns1123_subdomain_errors(name):
            errors.append(_error(FIELD_VALUE_INVALID, "metadata.name", name, message))
    return errors
