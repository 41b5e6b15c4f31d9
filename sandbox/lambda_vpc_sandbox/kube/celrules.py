"""CEL validation rules (``x-kubernetes-validations``) of a CRD schema, as kube-apiserver evaluates them.

Why: the operator's CRD declares rules the API server enforces on writes (``functionName`` is
immutable: ``self == oldSelf``). Without them the emulator would accept an update a real cluster
refuses, and the tests of what happens after such an update would test the impossible. The
expressions are evaluated with cel-python (a pure-Python CEL implementation).

What kube-apiserver does, and so this module:

- each rule of a schema node is evaluated with ``self`` bound to the value at that node, for every
  node present in the object (list items and map values included);
- a *transition rule* (one that names ``oldSelf``) is evaluated only on an update, and only where
  the old object has a value at the same path (object properties and map keys correlate; list
  items do not, except in ``x-kubernetes-list-type: map`` lists, which the emulator does not
  correlate: such rules are skipped there);
- a rule that is false gives ``<path>: Invalid value: "<type>": <message>`` (the rule's
  ``message``, else ``failed rule: <rule>``), reason ``FieldValueInvalid``; a rule that cannot be
  evaluated gives the evaluation error the same way.

Not emulated: ``messageExpression``, ``reason``/``fieldPath`` overrides, cost limits, ``optionalOldSelf``.
"""

from __future__ import annotations

import functools
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

from lambda_vpc_sandbox.kube.schemas import FIELD_VALUE_INVALID, FieldError

_RULES = "x-kubernetes-validations"
_MISSING = object()


@functools.cache
def _program(rule: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _failure(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, FIELD_VALUE_INVALID, f'Invalid value: "{_type_name(value)}": {detail}')


def _check_rules(schema: dict[str, Any], value: Any, old: Any, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    for rule in schema.get(_RULES) or ():
        expression = str(rule.get("rule", ""))
        transition = "oldSelf" in expression
        if transition and old is _MISSING:
            continue
        activation: dict[str, Any] = {"self": json_to_cel(value)}
        if transition:
            activation["oldSelf"] = json_to_cel(old)
        try:
            result = _program(expression).evaluate(activation)
        except Exception as exc:  # a CEL evaluation error is a validation failure, as on the server
            found.append(_failure(path, value, f"rule {expression!r} failed to evaluate: {exc}"))
            continue
        if isinstance(result, CELEvalError) or not bool(result):
            found.append(_failure(path, value, str(rule.get("message") or f"failed rule: {expression}")))
    return found


def validate(new: Any, old: Any, schema: dict[str, Any], path: str = "") -> list[FieldError]:
    """Every failed rule in ``new`` (``old``: the stored object on an update, ``_MISSING``/None on a create)."""
    if old is None and not path:
        old = _MISSING
    found = _check_rules(schema, new, old, path) if path else []
    if isinstance(new, dict):
        for name, child_schema in (schema.get("properties") or {}).items():
            if name in new:
                child_old = old.get(name, _MISSING) if isinstance(old, dict) else _MISSING
                found += validate(new[name], child_old, child_schema, f"{path}.{name}" if path else name)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in new.items():
                child_old = old.get(key, _MISSING) if isinstance(old, dict) else _MISSING
                found += validate(item, child_old, extra, f"{path}[{key}]")
    elif isinstance(new, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(new):
            found += validate(item, _MISSING, schema["items"], f"{path}[{index}]")
    return found
