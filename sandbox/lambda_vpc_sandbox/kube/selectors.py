"""Label and field selectors of list and watch requests, parsed into predicates over objects.

Label selectors support the full set-based grammar (``=``, ``==``, ``!=``, ``in``, ``notin``,
``key``, ``!key``). Field selectors support ``=``, ``==`` and ``!=`` on any dotted path of the
object (e.g. ``metadata.name``, ``involvedObject.uid`` that ``kubectl describe`` asks of events);
real servers accept only a few fields per kind and answer 400 for others, the emulator is lenient.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lambda_vpc_sandbox.kube import errors

Predicate = Callable[[dict[str, Any]], bool]

# A requirement: `key op value`, `key in (a,b)`, `key notin (a,b)`, `key`, `!key`.
_LABEL_RE = re.compile(
    r"""\s*(?:
        (?P<not>!)\s*(?P<absent>[^\s,!=()]+)
      | (?P<setkey>[^\s,!=()]+)\s+(?P<setop>in|notin)\s*\((?P<values>[^()]*)\)
      | (?P<key>[^\s,!=()]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s,!=()]*)
      | (?P<exists>[^\s,!=()]+)
    )\s*(?:,|$)""",
    re.VERBOSE,
)


def _always(_: dict[str, Any]) -> bool:
    return True


def _all_of(predicates: list[Predicate]) -> Predicate:
    if not predicates:
        return _always
    return lambda obj: all(predicate(obj) for predicate in predicates)


def _label_requirement(match: re.Match[str]) -> Predicate:
    def labels(obj: dict[str, Any]) -> dict[str, Any]:
        return obj.get("metadata", {}).get("labels") or {}

    if match["absent"] is not None:
        absent: str = match["absent"]
        return lambda obj: absent not in labels(obj)
    if match["setkey"] is not None:
        setkey: str = match["setkey"]
        values = {value.strip() for value in match["values"].split(",") if value.strip()}
        if match["setop"] == "in":
            return lambda obj: labels(obj).get(setkey) in values
        return lambda obj: labels(obj).get(setkey) not in values
    if match["key"] is not None:
        key: str = match["key"]
        value: str = match["value"]
        if match["op"] == "!=":
            return lambda obj: labels(obj).get(key) != value
        return lambda obj: key in labels(obj) and labels(obj)[key] == value
    exists: str = match["exists"]
    return lambda obj: exists in labels(obj)


def parse_labels(selector: str) -> Predicate:
    """Parse a label selector; 400 BadRequest on malformed input, as the real server."""
    predicates: list[Predicate] = []
    position = 0
    selector = selector.strip()
    while position < len(selector):
        match = _LABEL_RE.match(selector, position)
        if match is None or match.end() == position:
            raise errors.BadRequest(f"unable to parse requirement: found '{selector[position:]}'")
        predicates.append(_label_requirement(match))
        position = match.end()
    return _all_of(predicates)


def _field_value(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return ""
        node = node[part]
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


def parse_fields(selector: str) -> Predicate:
    predicates: list[Predicate] = []
    for term in (part.strip() for part in selector.split(",")):
        if not term:
            continue
        match = re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(.*)", term)
        if match is None:
            raise errors.BadRequest(f"invalid selector: '{selector}'; can't understand '{term}'")
        path, op, value = match.groups()
        predicates.append(_field_requirement(path, value, negated=op == "!="))
    return _all_of(predicates)


def _field_requirement(path: str, value: str, *, negated: bool) -> Predicate:
    def check(obj: dict[str, Any]) -> bool:
        return (_field_value(obj, path) == value) != negated

    return check


def parse(label_selector: str | None, field_selector: str | None) -> Predicate:
    predicates = []
    if label_selector:
        predicates.append(parse_labels(label_selector))
    if field_selector:
        predicates.append(parse_fields(field_selector))
    return _all_of(predicates)
