"""A small evaluator for the JSONPath dialect of kubectl and CRD ``additionalPrinterColumns``.

Why this exists: the Kubernetes API emulator renders ``kubectl get`` tables from a CRD's printer columns,
whose ``jsonPath`` is k8s.io/client-go/util/jsonpath syntax (not RFC 9535 JSONPath), and tests may want the
same lookups.  Only the subset that columns and everyday ``kubectl -o jsonpath`` use is supported:

* fields ``.a.b`` (``\\.`` escapes a dot inside a name, ``['a.b']`` / ``["a.b"]`` also work), the current
  object ``.`` or ``@``, wildcards ``.*`` / ``[*]``, recursive descent ``..name``;
* indexes ``[0]`` / ``[-1]`` and slices ``[1:3]`` / ``[::2]``;
* filters ``[?(@.type=="Ready")]`` with ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` against string (single
  or double quotes), number, ``true``/``false``/``null`` literals, and the existence test ``[?(@.x)]``;
* the whole expression with or without a leading ``$`` and with or without surrounding braces ``{...}``.

Like client-go with ``AllowMissingKeys(true)``, anything missing (unknown key, index out of range, a field
of a non-object) yields no result rather than an error: :func:`evaluate` returns ``[]``.  Malformed
expressions raise :class:`ValueError`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["evaluate", "parse"]


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str


@dataclasses.dataclass(frozen=True)
class _Wildcard:
    pass


@dataclasses.dataclass(frozen=True)
class _Recursive:
    """``..``: the current values and all their descendants, followed by ``then``."""

    then: _Step


@dataclasses.dataclass(frozen=True)
class _Index:
    index: int


@dataclasses.dataclass(frozen=True)
class _Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclasses.dataclass(frozen=True)
class _Filter:
    left: tuple[_Step, ...]
    operator: str  # "exists", "==", "!=", "<", "<=", ">", ">="
    right: Any  # a literal, or a tuple of steps relative to the element (``@.x``)
    right_is_path: bool


_Step = _Field | _Wildcard | _Recursive | _Index | _Slice | _Filter

_NAME_STOP: Final = frozenset(".[]()=!<>&| \t\n'\"")
_NUMBER_RE: Final = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_OPERATORS: Final = ("==", "!=", "<=", ">=", "<", ">")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> ValueError:
        return ValueError(f"invalid JSONPath {self.text!r} at {self.pos}: {message}")

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def steps(self, *, until: str = "") -> tuple[_Step, ...]:
        """Steps until the end of the text (or a character of ``until`` outside brackets)."""
        found: list[_Step] = []
        while self.pos < len(self.text):
            ch = self.peek()
            if until and ch in until:
                break
            if ch == ".":
                if self.peek(1) == ".":
                    self.pos += 2
                    found.append(_Recursive(self.after_descent()))
                    continue
                self.pos += 1
                if self.peek() == "*":
                    self.pos += 1
                    found.append(_Wildcard())
                elif self.peek() == "[" or self.peek() == "" or (until and self.peek() in until):
                    continue  # "." alone: the current object
                else:
                    found.append(_Field(self.name()))
            elif ch == "[":
                found.append(self.bracket())
            elif (ch in ("@", "$") and not found) or ch in (" ", "\t"):
                self.pos += 1  # the root / current object marker, or blanks
            elif not found:
                found.append(_Field(self.name()))  # "spec.x" without the leading dot
            else:
                raise self.error(f"unexpected {ch!r}")
        return tuple(found)

    def after_descent(self) -> _Step:
        if self.peek() == "[":
            return self.bracket()
        if self.peek() == "*":
            self.pos += 1
            return _Wildcard()
        return _Field(self.name())

    def name(self) -> str:
        chars: list[str] = []
        while self.pos < len(self.text):
            ch = self.peek()
            if ch == "\\" and self.pos + 1 < len(self.text):
                chars.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch in _NAME_STOP:
                break
            chars.append(ch)
            self.pos += 1
        if not chars:
            raise self.error("expected a field name")
        return "".join(chars)

    def bracket(self) -> _Step:
        end = self.matching_bracket(self.pos)
        inner = self.text[self.pos + 1 : end].strip()
        start = self.pos
        self.pos = end + 1
        if inner == "*":
            return _Wildcard()
        if inner[:1] in ("'", '"') and len(inner) >= 2 and inner[-1] == inner[0]:
            return _Field(inner[1:-1])
        if inner.startswith("?"):
            body = inner[1:].strip()
            if not (body.startswith("(") and body.endswith(")")):
                self.pos = start
                raise self.error("a filter is written [?(...)]")
            return _parse_filter(body[1:-1])
        if ":" in inner:
            parts = [p.strip() for p in inner.split(":")]
            if len(parts) > 3:
                raise self.error(f"bad slice {inner!r}")
            try:
                bounds = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
            except ValueError:
                raise self.error(f"bad slice {inner!r}") from None
            if bounds[2] == 0:
                raise self.error("slice step cannot be zero")
            return _Slice(bounds[0], bounds[1], bounds[2])
        try:
            return _Index(int(inner))
        except ValueError:
            self.pos = start
            raise self.error(f"bad subscript {inner!r}") from None

    def matching_bracket(self, start: int) -> int:
        depth = 0
        quote = ""
        for index in range(start, len(self.text)):
            ch = self.text[index]
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in ("'", '"'):
                quote = ch
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
                if depth == 0:
                    return index
        raise self.error("unterminated '['")


def _parse_literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] in ("'", '"') and text[-1] == text[0]:
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if _NUMBER_RE.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    raise ValueError(f"invalid JSONPath filter literal {text!r}")


def _split_condition(body: str) -> tuple[str, str, str]:
    quote = ""
    for index, ch in enumerate(body):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in ("'", '"'):
            quote = ch
            continue
        for operator in _OPERATORS:
            if body.startswith(operator, index):
                return body[:index], operator, body[index + len(operator) :]
    return body, "exists", ""


def _parse_filter(body: str) -> _Filter:
    left_text, operator, right_text = _split_condition(body)
    left = _parse_relative(left_text)
    if operator == "exists":
        return _Filter(left, operator, None, right_is_path=False)
    right_text = right_text.strip()
    if right_text.startswith("@"):
        return _Filter(left, operator, _parse_relative(right_text), right_is_path=True)
    return _Filter(left, operator, _parse_literal(right_text), right_is_path=False)


def _parse_relative(text: str) -> tuple[_Step, ...]:
    text = text.strip()
    if not text.startswith("@"):
        raise ValueError(f"invalid JSONPath filter operand {text!r}: expected @...")
    return _Parser(text).steps()


@functools.lru_cache(maxsize=1024)
def parse(path: str) -> tuple[_Step, ...]:
    """Compile a JSONPath expression (cached); raises ValueError when it is malformed."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return _Parser(text).steps()


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]  # client-go walks map keys in sorted order
    if isinstance(value, list):
        return list(value)
    return []


def _descendants(value: Any) -> Iterator[Any]:
    yield value
    for child in _children(value):
        yield from _descendants(child)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compare(left: Any, operator: str, right: Any) -> bool:
    comparable = (
        (_is_number(left) and _is_number(right))
        or (isinstance(left, str) and isinstance(right, str))
        or (isinstance(left, bool) and isinstance(right, bool))
        or (left is None and right is None)
    )
    if operator == "==":
        return comparable and bool(left == right)
    if operator == "!=":
        return not (comparable and bool(left == right))
    if not comparable or isinstance(left, bool) or left is None:
        return False
    if operator == "<":
        return bool(left < right)
    if operator == "<=":
        return bool(left <= right)
    if operator == ">":
        return bool(left > right)
    return bool(left >= right)


def _matches(element: Any, step: _Filter) -> bool:
    lefts = _run(step.left, [element])
    if step.operator == "exists":
        return bool(lefts)
    if not lefts:
        return False
    if step.right_is_path:
        rights = _run(step.right, [element])
        if not rights:
            return False
        right = rights[0]
    else:
        right = step.right
    return _compare(lefts[0], step.operator, right)


def _apply(step: _Step, values: list[Any]) -> list[Any]:
    out: list[Any] = []
    if isinstance(step, _Field):
        for value in values:
            if isinstance(value, dict) and step.name in value:
                out.append(value[step.name])
    elif isinstance(step, _Wildcard):
        for value in values:
            out.extend(_children(value))
    elif isinstance(step, _Recursive):
        for value in values:
            out.extend(_apply(step.then, list(_descendants(value))))
    elif isinstance(step, _Index):
        for value in values:
            if isinstance(value, list) and -len(value) <= step.index < len(value):
                out.append(value[step.index])
    elif isinstance(step, _Slice):
        for value in values:
            if isinstance(value, list):
                out.extend(value[step.start : step.stop : step.step])
    else:
        for value in values:
            if isinstance(value, list):
                out.extend(item for item in value if _matches(item, step))
    return out


def _run(steps: tuple[_Step, ...], values: list[Any]) -> list[Any]:
    for step in steps:
        if not values:
            break
        values = _apply(step, values)
    return values


def evaluate(obj: Any, path: str) -> list[Any]:
    """All values ``path`` selects in ``obj``, in document order; ``[]`` when nothing matches."""
    return _run(parse(path), [obj])
