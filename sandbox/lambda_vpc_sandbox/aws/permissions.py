"""IAM as the simulator needs it: iam:SimulatePrincipalPolicy, policy evaluation, AccessDenied answers.

Why: the operator checks a function's execution role with SimulatePrincipalPolicy before it
attaches the function (aws-facts "IAM": ``PolicySourceArn=role, ActionNames=[...]`` ->
``EvaluationResults[].EvalDecision`` in allowed | explicitDeny | implicitDeny, paginated), and moto
does not implement it (aws-facts "moto 5.2": HTML 500). This module answers it from the role moto
holds: its inline policies and its attached managed policies (default version), evaluated the way
IAM does for one principal: an explicit Deny wins, then an Allow, else implicitDeny.

The same evaluator judges the callers of the simulator that hold a principal policy
(``authorization``): one request is one action on one resource ARN. Resource and NotResource globs
follow IAM's rules for ARNs (``*`` and ``?`` within a colon-separated segment, a ``*`` ending a
segment may run past the colons, case-sensitive), so ``arn:aws:lambda:*:*:function:*`` allows a
function and not a layer. SimulatePrincipalPolicy simulates the resource ``*``: only statements
whose Resource matches ``*`` apply to it.

Simplifications: statements with a Condition never match (a request or simulation without context
values cannot satisfy a condition); Action and NotAction globs (``*``, ``?``) match
case-insensitively, as IAM's do. Permission boundaries, SCPs and resource policies are not
simulated.

Also here: ``denied_response``, the AccessDenied answer of a request a principal policy does not
allow or of an operation a test took away (``SimulatorControl.deny``), in the wire format of each
protocol (aws-facts "IAM" and
"Errors": the operator must turn a refused SimulatePrincipalPolicy into a warning, not a failure).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
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
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    conditional: bool  # has a Condition: never satisfied here
    source: str  # the policy it came from (SourcePolicyId)

    def matches(self, action: str, resource: str = "*") -> bool:
        if self.conditional:
            return False
        if self.not_resources:
            if any(resource_glob(resource, pattern) for pattern in self.not_resources):
                return False
        elif not any(resource_glob(resource, pattern) for pattern in self.resources):
            return False
        return self.names(action)

    def names(self, action: str) -> bool:
        """The statement's Action (or NotAction) covers ``action``, whatever its Resource or Condition."""
        if self.not_actions:
            return not any(_glob(action, pattern) for pattern in self.not_actions)
        return any(_glob(action, pattern) for pattern in self.actions)


def _glob(action: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


@functools.lru_cache(maxsize=256)
def _resource_regex(pattern: str) -> re.Pattern[str]:
    # IAM "Resource" element: * and ? work within an ARN segment; a * that ends a segment (or the
    # ARN) "can expand to match beyond colon boundaries". Nothing else is special ([ is literal).
    regex = ""
    for i, char in enumerate(pattern):
        if char == "*":
            ends_segment = i + 1 == len(pattern) or pattern[i + 1] == ":"
            regex += ".*" if ends_segment else "[^:]*"
        elif char == "?":
            regex += "[^:]"
        else:
            regex += re.escape(char)
    return re.compile(regex, re.DOTALL)


def resource_glob(resource: str, pattern: str) -> bool:
    """Does an IAM Resource pattern match this resource ARN (case-sensitive, as IAM's ARNs are)?"""
    return _resource_regex(pattern).fullmatch(resource) is not None


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
        found.append(Statement(
            effect=str(item.get("Effect", "")),
            actions=_strings(item.get("Action")),
            not_actions=_strings(item.get("NotAction")),
            resources=_strings(item.get("Resource")),
            not_resources=_strings(item.get("NotResource")),
            conditional=bool(item.get("Condition")),
            source=source,
        ))  # fmt: skip
    return found


def decide(action: str, statements: Iterable[Statement], resource: str = "*") -> tuple[str, list[str]]:
    """IAM's evaluation for one principal: (EvalDecision, the matching statements' sources)."""
    statements = list(statements)
    denies = [s.source for s in statements if s.effect == "Deny" and s.matches(action, resource)]
    if denies:
        return "explicitDeny", denies
    allows = [s.source for s in statements if s.effect == "Allow" and s.matches(action, resource)]
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


def denied_response(action: str, account: str, resource: str | None = None, why: str = "") -> wire.Response:
    """AccessDenied for ``service:Action`` (on ``resource``), as that service spells it.

    The message is IAM's: "User: <arn> is not authorized to perform: <action> on resource: <arn>
    because no identity-based policy allows the <action> action" (``why``: that last clause).
    """
    service = action.partition(":")[0]
    principal = f"arn:aws:sts::{account}:assumed-role/lambda-vpc-operator/sandbox"
    message = f"User: {principal} is not authorized to perform: {action}"
    if resource and resource != "*":
        message += f" on resource: {resource}"
    if why:
        message += f" {why}"
    if service == "ec2":
        # EC2's AccessDenied is UnauthorizedOperation (403), its message prefixed as EC2 does.
        message = f"You are not authorized to perform this operation. {message}"
        xml = (
            f"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
        )
        return wire.Response(403, [("Content-Type", "text/xml")], xml.encode())
    if service == "lambda":
        return wire.json_response(403, {"Type": "User", "Message": message},
                                  [("x-amzn-ErrorType", "AccessDeniedException")])  # fmt: skip
    return iam_error(403, "AccessDenied", message)
