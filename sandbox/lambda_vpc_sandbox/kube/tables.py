"""Server-side ``kubectl get`` tables (``meta.k8s.io/v1`` ``Table``) for custom resources.

Why this exists: ``kubectl get`` asks the API server for ``Accept: application/json;as=Table;g=meta.k8s.io;
v=v1`` and prints whatever columns come back, so the Kubernetes API emulator has to build those tables the
way kube-apiserver's CRD table convertor does (apiextensions-apiserver ``tableconvertor``): a ``Name``
column, then one column per ``additionalPrinterColumns`` entry of the served version (or a single ``Age``
column from ``metadata.creationTimestamp`` when the CRD declares none), each row carrying the object's
metadata as a ``PartialObjectMetadata``.

Cells follow the real server: a missing value, or one whose JSON type does not fit the column type, is
``None``; ``integer`` columns truncate numbers, ``number`` columns widen integers; ``string`` columns print
numbers/booleans as Go does and objects/arrays as compact JSON; ``date`` columns show the age like kubectl
(``45s``, ``5m``, ``3h``, ``2d``), ``<invalid>`` for an unparseable timestamp and ``<unknown>`` for an empty
one.  Only the first value a ``jsonPath`` selects is shown.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Final

from lambda_vpc_sandbox.kube import jsonpaths
from lambda_vpc_sandbox.kube.schemas import go_float, go_json

__all__ = ["human_age", "render_table"]

# metav1.ObjectMeta{}.SwaggerDoc(), as the CRD table convertor uses it for its built-in columns.
NAME_DESCRIPTION: Final = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATION_TIMESTAMP_DESCRIPTION: Final = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
    "lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
# What kube-apiserver serves for a CRD version without additionalPrinterColumns.
DEFAULT_PRINTER_COLUMNS: Final[tuple[dict[str, Any], ...]] = (
    {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
        "description": CREATION_TIMESTAMP_DESCRIPTION,
    },
)

_NS_PER_SECOND: Final = 1_000_000_000
_NS_PER_MINUTE: Final = 60 * _NS_PER_SECOND
_NS_PER_HOUR: Final = 60 * _NS_PER_MINUTE
# time.Parse(time.RFC3339, ...) as metav1.Time.UnmarshalQueryParameter uses it.
_RFC3339_RE: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})"
)
_ZERO_TIME: Final = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)


def _trunc_div(numerator: int, denominator: int) -> int:
    """Go's integer division (truncates toward zero)."""
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def _human_duration_ns(nanos: int) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration on a time.Duration (nanoseconds)."""
    seconds = _trunc_div(nanos, _NS_PER_SECOND)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = nanos // _NS_PER_MINUTE
    if minutes < 10:
        rest = (nanos // _NS_PER_SECOND) % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = nanos // _NS_PER_HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{hours // 24 // 365}y"


def human_age(seconds: float) -> str:
    """A duration as kubectl shows ages (``duration.HumanDuration``): ``45s``, ``5m30s``, ``3h``, ``2d``.

    Under two minutes: seconds; under ten minutes: minutes and seconds; under three hours: minutes; under
    eight hours: hours and minutes; under two days: hours; under eight days: days and hours; under two
    years: days; under eight years: years and days; then years.  Slightly negative values (clock skew of
    up to ~2s) read ``0s``, anything more negative ``<invalid>``.
    """
    return _human_duration_ns(round(seconds * _NS_PER_SECOND))


def _parse_rfc3339(text: str) -> datetime.datetime | None:
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone == "Z":
        tz = datetime.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        tz = datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))
    try:
        return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None


def _age_cell(text: str, now: datetime.datetime) -> str:
    """metav1.Time.UnmarshalQueryParameter + table.ConvertToHumanReadableDateType."""
    if text in ("", "null"):
        return "<unknown>"
    timestamp = _parse_rfc3339(text)
    if timestamp is None:
        return "<invalid>"
    if timestamp == _ZERO_TIME:
        return "<unknown>"
    delta = now - timestamp
    nanos = (delta.days * 86_400 + delta.seconds) * _NS_PER_SECOND + delta.microseconds * 1_000
    return _human_duration_ns(nanos)


def _text_cell(value: Any) -> str | None:
    """What client-go's JSONPath.PrintResults writes for one value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return go_json(value)


def _cell(column_type: str, value: Any, now: datetime.datetime) -> Any:
    """tableconvertor.cellForJSONValue (plus the ``string`` branch of ConvertToTable)."""
    if value is None:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if column_type == "string":
        return _text_cell(value)
    if column_type == "integer":
        return int(value) if is_number else None
    if column_type == "number":
        return float(value) if is_number else None
    if column_type == "boolean":
        return value if isinstance(value, bool) else None
    if column_type == "date":
        return _age_cell(value, now) if isinstance(value, str) else None
    return None


def _first(obj: dict[str, Any], path: str) -> tuple[bool, Any]:
    try:
        found = jsonpaths.evaluate(obj, path)
    except ValueError:
        return False, None
    return (True, found[0]) if found else (False, None)


def _now(now: datetime.datetime | None) -> datetime.datetime:
    if now is None:
        return datetime.datetime.now(datetime.UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=datetime.UTC)


def render_table(
    objects: list[dict[str, Any]],
    printer_columns: list[dict[str, Any]] | None,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects`` with a CRD version's ``additionalPrinterColumns``.

    ``now`` (default: the current time; naive values are UTC) is the reference for ``date`` columns.  The
    table's ``metadata.resourceVersion`` is ``""``: the caller sets the list's resourceVersion.
    """
    columns = list(printer_columns) if printer_columns else [dict(c) for c in DEFAULT_PRINTER_COLUMNS]
    reference = _now(now)
    definitions: list[dict[str, Any]] = [
        {"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0}
    ]
    for column in columns:
        json_path = str(column.get("jsonPath", ""))
        description = column.get("description") or (
            f"Custom resource definition column (in JSONPath format): {json_path}"
        )
        definitions.append(
            {
                "name": column.get("name", ""),
                "type": column.get("type", ""),
                "format": column.get("format", ""),
                "description": description,
                "priority": int(column.get("priority", 0) or 0),
            }
        )
    rows: list[dict[str, Any]] = []
    for obj in objects:
        metadata = obj.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        name = metadata.get("name")
        cells: list[Any] = [name if isinstance(name, str) else ""]
        for column in columns:
            found, value = _first(obj, str(column.get("jsonPath", "")))
            cells.append(_cell(str(column.get("type", "")), value, reference) if found else None)
        rows.append(
            {
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": _copy(metadata),
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": ""},
        "columnDefinitions": definitions,
        "rows": rows,
    }


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
