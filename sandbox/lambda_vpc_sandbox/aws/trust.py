"""sts:AssumeRole as AWS judges it: the role must exist and its trust policy must name the caller.

Why: moto lets anyone assume any role, even one that does not exist ("the role does not need to
exist", moto's STSBackend.assume_role), and then serves the new account with no permission check at
all. An operator tested against that never sees the refusals that matter across accounts
(docs/aws-facts.md "Trust policies"): AWS answers AccessDenied ("User: <caller> is not authorized to
perform: sts:AssumeRole on resource: <role>") when the role does not exist, when no Allow of its
trust policy names the caller, when a Deny does, or when an ``sts:ExternalId`` condition does not
match the request's ExternalId; and the session it grants may do only what the role's permission
policies allow. So:

- ``refusal`` judges an AssumeRole before moto serves it;
- ``assumed_role`` tells ``middleware`` which role an access key moto issued belongs to, whose
  policies (``permissions.role_statements``) then judge every request signed with it.

Who the caller is: an assumed-role key is its role; any other key is the simulator's stand-in for
the operator's own role, ``arn:aws:iam::<account>:role/lambda-vpc-operator`` (the principal
``permissions.denied_response`` names too).

Trust policy rules simulated: Effect Allow/Deny; Action or NotAction globs matching
``sts:AssumeRole``; Principal ``"*"``, ``{"AWS": ...}`` with ``*``, an account id,
``arn:aws:iam::ACCOUNT:root`` (any principal of that account) or a role/user ARN (exact); Condition
``StringEquals`` / ``StringLike`` on ``sts:ExternalId`` only (any other condition is never satisfied,
as in ``permissions``: no request context to satisfy it). Service principals never match a caller.
"""

from __future__ import annotations

import fnmatch
import json
import urllib.parse
from collections.abc import Iterable
from typing import Any

from . import permissions, wire

ACTION = "sts:AssumeRole"
# The role the simulator says the operator's own key stands for (permissions.denied_response).
OPERATOR_ROLE = "lambda-vpc-operator"


def caller_arn(access_key: str | None, account: str) -> str:
    """The IAM principal a trust policy sees for ``access_key`` (a role ARN)."""
    role = assumed_role(access_key, account)
    return role or f"arn:aws:iam::{account}:role/{OPERATOR_ROLE}"


def assumed_role(access_key: str | None, account: str) -> str | None:
    """The role ARN of a key moto issued for an AssumeRole, None for any other key."""
    if not access_key:
        return None
    from moto.iam.models import iam_backends

    key = iam_backends[account]["aws"].access_keys.get(access_key)
    role = getattr(key, "role_arn", None) if key is not None else None
    return str(role) if role else None


def _role(role_arn: str) -> Any:
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam" or not parts[4].isdigit():
        return None
    backend = iam_backends[parts[4]]["aws"]
    return next((r for r in backend.get_roles() if r.arn == role_arn), None)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _document(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    text = str(raw or "{}")
    text = text if text.lstrip().startswith("{") else urllib.parse.unquote(text)
    data = json.loads(text)
    return data if isinstance(data, dict) else {}


def _names_action(statement: dict[str, Any]) -> bool:
    if "NotAction" in statement:
        return not any(fnmatch.fnmatchcase(ACTION.lower(), p.lower()) for p in _list(statement["NotAction"]))
    return any(fnmatch.fnmatchcase(ACTION.lower(), p.lower()) for p in _list(statement.get("Action")))


def _names_caller(principal: Any, caller: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    account = caller.split(":")[4]
    names = ("*", caller, account, f"arn:aws:iam::{account}:root")
    return any(entry in names for entry in _list(principal.get("AWS")))


def _conditions_hold(condition: Any, external_id: str | None) -> bool:
    if not condition:
        return True
    if not isinstance(condition, dict):
        return False
    for operator, pairs in condition.items():
        if operator not in ("StringEquals", "StringLike") or not isinstance(pairs, dict):
            return False
        for key, expected in pairs.items():
            if key.lower() != "sts:externalid" or external_id is None:
                return False
            values = _list(expected)
            if operator == "StringEquals" and external_id not in values:
                return False
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(external_id, v) for v in values):
                return False
    return True


def trusts(document: Any, caller: str, external_id: str | None) -> bool:
    """Whether a trust policy lets ``caller`` assume the role (an explicit Deny wins)."""
    statements: Iterable[Any] = _list_of_dicts(_document(document).get("Statement"))
    allowed = False
    for statement in statements:
        if not _names_action(statement) or not _names_caller(statement.get("Principal"), caller):
            continue
        if not _conditions_hold(statement.get("Condition"), external_id):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _list_of_dicts(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def refusal(access_key: str | None, account: str, form: dict[str, list[str]]) -> wire.Response | None:
    """AccessDenied for an AssumeRole AWS would refuse (no such role, not trusted); None to serve it."""
    role_arn = (form.get("RoleArn") or [""])[0]
    external_id = next(iter(form.get("ExternalId") or ()), None)
    role = _role(role_arn)
    # aws-facts "Trust policies": a missing role and an untrusting one get the same AccessDenied.
    if role is None or not trusts(role.assume_role_policy_document, caller_arn(access_key, account), external_id):
        return permissions.denied_response(ACTION, account, role_arn or None)
    return None
