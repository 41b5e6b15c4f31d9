"""IAM as the guardrails need it: iam:SimulatePrincipalPolicy, and refusing the operator a permission.

Why: the operator checks a function's execution role with SimulatePrincipalPolicy before it
attaches the function (aws-facts "IAM": ``PolicySourceArn=role, ActionNames=[...]`` ->
``EvaluationResults[].EvalDecision`` in allowed | explicitDeny | implicitDeny, paginated), and moto
does not implement it (aws-facts "moto 5.2": HTML 500). This module answers it from the role moto
holds: its inline policies and its attached managed policies (default version), evaluated the way
IAM does for one principal: an explicit Deny wins, then an Allow, else implicitDeny.

Simplifications, enough for execution roles: the resource simulated is ``*`` (a statement applies
when its Resource is ``*``-matching); statements with a Condition or a NotResource never match (a
simulation without context values cannot satisfy a condition); Action and NotAction globs (``*``,
``?``) match case-insensitively, as IAM's do. Permission boundaries and SCPs are not simulated.

Also here: ``denied_response``, the AccessDenied answer of an operation a test took away from the
operator (``SimulatorControl.deny``), in the wire format of each protocol (aws-facts "IAM" and
"Errors": the operator must turn a refused SimulatePrincipalPolicy into a warning, not a failure).
"""

from __future__ import annotations

import fnmatch
import json
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from . import wire

IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
SIMULATE = "iam:SimulatePrincipalPolicy"
# SimulatePrincipalPolicy's MaxItems default (botocore iam model: 1..1000, default 100).
DEFAULT_MAX_ITEMS = 100


@dataclass(frozen=True)
class Statement:
    effect: str  # Allow | Deny
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    applies_to_any_resource: bool  # Resource matches "*", no NotResource, no Condition
    source: str  # the policy it came from (SourcePolicyId)

    def matches(self, action: str) -> bool:
        if not self.applies_to_any_resource:
            return False
        return self.names(action)

    def names(self, action: str) -> bool:
        """The statement's Action (or NotAction) covers ``action``, whatever its Resource or Condition."""
        if self.not_actions:
            return not any(_glob(action, pattern) for pattern in self.not_actions)
        return any(_glob(action, pattern) for pattern in self.actions)


def _glob(action: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def statements_of(document: Any, source: str) -> list[Statement]:
    """The statements of one policy document (a JSON string, URL-encoded or not, or a dict)."""
    if isinstance(document, str):
        text = document if document.lstrip().startswith("{") else urllib.parse.unquote(document)
        document = json.loads(text)
    raw = document.get("Statement") or []
    found = []
    for item in [raw] if isinstance(raw, dict) else raw:
        resources = _strings(item.get("Resource"))
        any_resource = (
            any(fnmatch.fnmatchcase("*", r) for r in resources)
            and "NotResource" not in item
            and not item.get("Condition")
        )
        found.append(Statement(
            effect=str(item.get("Effect", "")),
            actions=_strings(item.get("Action")),
            not_actions=_strings(item.get("NotAction")),
            applies_to_any_resource=any_resource,
            source=source,
        ))  # fmt: skip
    return found


def decide(action: str, statements: Iterable[Statement]) -> tuple[str, list[str]]:
    """IAM's evaluation for one principal: (EvalDecision, the matching statements' sources)."""
    statements = list(statements)
    denies = [s.source for s in statements if s.effect == "Deny" and s.matches(action)]
    if denies:
        return "explicitDeny", denies
    allows = [s.source for s in statements if s.effect == "Allow" and s.matches(action)]
    if allows:
        return "allowed", allows
    return "implicitDeny", []


def lambda_may(action: str, statements: Iterable[Statement]) -> bool:
    """Whether Lambda, acting with the role on the function's own subnets and groups, is allowed ``action``.

    Unlike the context-free simulation above, an Allow scoped to resources or carrying a Condition
    counts (the real call names real resources; aws-facts "Refusals": the preflight's implicitDeny for
    such roles is not AWS' verdict); an explicit Deny on every resource still wins.
    """
    statements = list(statements)
    if any(s.effect == "Deny" and s.matches(action) for s in statements):
        return False
    return any(s.effect == "Allow" and s.names(action) for s in statements)


#: IAM operations that change what a role may do; the simulator notes when (iam_propagation_delay).
ROLE_CHANGES = frozenset({
    "CreateRole", "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
})  # fmt: skip


def changed_role(body: bytes) -> str | None:
    """The RoleName a query-protocol IAM request names (for ROLE_CHANGES)."""
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    values = form.get("RoleName")
    return values[0] if values else None


def html_500() -> wire.Response:
    """What a plain moto server answers for an IAM operation it does not implement
    (aws-facts "moto 5.2": SimulatePrincipalPolicy is an HTML 500): botocore cannot parse it."""
    body = (
        "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
        "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to "
        "complete your request. Either the server is overloaded or there is an error in the application.</p>\n"
    )
    return wire.Response(500, [("Content-Type", "text/html; charset=utf-8")], body.encode())


def role_statements(account: str, role_arn: str) -> list[Statement] | None:
    """Every statement of a role moto holds (inline and attached), None if there is no such role."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["aws"]
    role = next((r for r in backend.get_roles() if r.arn == role_arn), None)
    if role is None:
        return None
    found: list[Statement] = []
    for name, document in sorted(role.policies.items()):
        found += statements_of(document, name)
    for arn, policy in sorted(role.managed_policies.items()):
        version = next((v for v in policy.versions if v.version_id == policy.default_version_id), None)
        if version is not None:
            found += statements_of(version.document, arn)
    return found


# -- the wire -------------------------------------------------------------------------------------


def _member_list(form: Mapping[str, list[str]], name: str) -> list[str]:
    indexed = []
    for key, values in form.items():
        prefix = f"{name}.member."
        if key.startswith(prefix) and key[len(prefix):].isdigit():
            indexed.append((int(key[len(prefix):]), values[0]))
    return [value for _, value in sorted(indexed)]


def simulate_principal_policy(account: str, body: bytes) -> wire.Response:
    """The SimulatePrincipalPolicy answer (query protocol, XML), one page of MaxItems results."""
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    role_arn = (form.get("PolicySourceArn") or [""])[0]
    actions = _member_list(form, "ActionNames")
    if not role_arn or not actions:
        return iam_error(400, "InvalidInput", "PolicySourceArn and ActionNames are required.")
    statements = role_statements(account, role_arn)
    if statements is None:
        return iam_error(404, "NoSuchEntity", f"The role with name {role_arn.rsplit('/', 1)[-1]} cannot be found.")
    try:
        max_items = int((form.get("MaxItems") or [str(DEFAULT_MAX_ITEMS)])[0])
        start = int((form.get("Marker") or ["0"])[0] or 0)
    except ValueError:
        return iam_error(400, "InvalidInput", "MaxItems and Marker must be numbers.")
    page = actions[start : start + max(1, max_items)]
    truncated = start + len(page) < len(actions)
    members = []
    for action in page:
        decision, sources = decide(action, statements)
        matched = "".join(
            f"<member><SourcePolicyId>{escape(s)}</SourcePolicyId><SourcePolicyType>role</SourcePolicyType></member>"
            for s in sources
        )
        members.append(
            f"<member><EvalActionName>{escape(action)}</EvalActionName><EvalResourceName>*</EvalResourceName>"
            f"<EvalDecision>{decision}</EvalDecision><MatchedStatements>{matched}</MatchedStatements>"
            "<MissingContextValues/></member>"
        )
    marker = f"<Marker>{start + len(page)}</Marker>" if truncated else ""
    xml = (
        f'<SimulatePrincipalPolicyResponse xmlns="{IAM_NAMESPACE}"><SimulatePrincipalPolicyResult>'
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{marker}"
        f"<EvaluationResults>{''.join(members)}</EvaluationResults>"
        f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
        "</ResponseMetadata></SimulatePrincipalPolicyResponse>"
    )
    return wire.Response(200, [("Content-Type", "text/xml")], xml.encode())


def iam_error(status: int, code: str, message: str) -> wire.Response:
    """An IAM/STS (query protocol) error."""
    xml = (
        f'<ErrorResponse xmlns="{IAM_NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return wire.Response(status, [("Content-Type", "text/xml")], xml.encode())


def denied_response(operation: str, account: str) -> wire.Response:
    """AccessDenied for ``service:Operation``, as that service spells it."""
    service = operation.partition(":")[0]
    principal = f"arn:aws:sts::{account}:assumed-role/lambda-vpc-operator/sandbox"
    message = f"User: {principal} is not authorized to perform: {operation}"
    if service == "ec2":
        xml = (
            f"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
        )
        return wire.Response(403, [("Content-Type", "text/xml")], xml.encode())
    if service == "lambda":
        return wire.json_response(403, {"Type": "User", "Message": message},
                                  [("x-amzn-ErrorType", "AccessDeniedException")])  # fmt: skip
    return iam_error(403, "AccessDenied", message)
