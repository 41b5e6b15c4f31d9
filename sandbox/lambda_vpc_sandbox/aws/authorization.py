"""Who may do what: each request judged as IAM judges it, for callers that hold a principal policy.

Why: the operator's least-privilege policy (docs/iam-policy.json) is only proven if the operator
runs under it. A test gives an access key a principal policy (``SimulatorControl.set_principal_policy``);
every request signed with that key is then one IAM action on one resource ARN, evaluated against
that policy by ``permissions.decide`` (explicit Deny, then Allow, else implicit deny), and refused
AccessDenied in the service's own wire format when it is not allowed. A key without a principal
policy (the tests' own clients) may do everything, as before.

The mapping, from the IAM service authorization reference:

- Lambda: the action is the operation's (``Invoke`` -> ``lambda:InvokeFunction``); the resource is
  the function's ARN, in the caller's account and region unless the request names a full ARN
  (``FunctionName`` in the path, qualified when the request is), the ARN of ``/tags/{Resource}``,
  else ``*`` (ListFunctions has no resource-level permission).
- EC2: ``ec2:<Action>`` on ``*`` (Describe* support no resource-level permissions; the operator
  calls no other EC2 action).
- IAM: ``iam:SimulatePrincipalPolicy`` on the role in ``PolicySourceArn``; other actions on ``*``.
- STS: ``sts:GetCallerIdentity`` needs no permission (not even an explicit Deny refuses it).
- Beyond its own action, CreateFunction / UpdateFunctionConfiguration with a VpcConfig needs
  ec2:DescribeSecurityGroups, ec2:DescribeSubnets and ec2:DescribeVpcs (aws-facts "IAM"): Lambda
  refuses it with AccessDeniedException "Your access has been denied by EC2...". Only the principal
  policy counts here: ``deny`` takes away the named operation alone.

aws-facts "IAM: what the operator's own policy allows": GetFunction answers ``Tags`` "only if you
have explicit allow permissions for lambda:ListTags" (botocore lambda model), so
``Caller.sees_tags`` tells ``responses.get_function`` whether to show them.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from . import permissions, wire
from .responses import split_function_name

# IAM actions whose name differs from the API operation's (the IAM service authorization reference).
ACTION_NAMES = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:InvokeWithResponseStream": "lambda:InvokeFunction",
}
# STS: "No permissions are required to perform this operation" (GetCallerIdentity).
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}
# aws-facts "IAM: what the operator's own policy allows": GetFunction's Tags need lambda:ListTags.
LIST_TAGS = "lambda:ListTags"
# aws-facts "IAM": the caller of CreateFunction / UpdateFunctionConfiguration with a VpcConfig needs
# these, because Lambda reads the groups, subnets and VPC with the caller's credentials (EC2
# Describe* have no resource-level permissions: judged on "*"). Checked in this order.
VPC_OPERATIONS = {"CreateFunction", "UpdateFunctionConfiguration"}
VPC_READS = (
    ("ec2:DescribeSecurityGroups", "SecurityGroupIds"),
    ("ec2:DescribeSubnets", "SubnetIds"),
    ("ec2:DescribeVpcs", None),
)


@dataclass(frozen=True)
class Request:
    """One request as IAM authorizes it: an action on a resource, and the actions AWS checks on the
    caller beyond it, with the ids they read (a VpcConfig's groups, subnets)."""

    action: str
    resource: str
    implied: tuple[tuple[str, tuple[str, ...]], ...] = ()


def lambda_request(
    operation: str, params: dict[str, str], query: dict[str, list[str]], body: bytes, account: str, region: str
) -> Request:
    """The action and resource of a Lambda request (``operation`` without the ``lambda:`` prefix)."""
    request = _lambda_target(operation, params, query, body, account, region)
    if operation in VPC_OPERATIONS:
        vpc = _json(body).get("VpcConfig")
        if isinstance(vpc, dict) and (vpc.get("SubnetIds") or vpc.get("SecurityGroupIds")):
            implied = tuple(
                (action, tuple(map(str, vpc.get(key) or ())) if key else ()) for action, key in VPC_READS
            )
            return Request(request.action, request.resource, implied)
    return request


def _lambda_target(
    operation: str, params: dict[str, str], query: dict[str, list[str]], body: bytes, account: str, region: str
) -> Request:
    action = ACTION_NAMES.get(f"lambda:{operation}", f"lambda:{operation}")
    if "Resource" in params:  # TagResource, UntagResource, ListTags: the ARN itself
        return Request(action, params["Resource"])
    raw = params.get("FunctionName")
    if raw is None and operation == "CreateFunction":
        raw = str(_json(body).get("FunctionName") or "")
    if not raw:
        return Request(action, "*")
    if raw.startswith("arn:"):
        return Request(action, raw)
    name, qualifier = split_function_name(raw)
    qualifier = qualifier or next(iter(query.get("Qualifier") or []), None)
    parts = raw.split(":")
    owner = parts[0] if len(parts) >= 3 and parts[1] == "function" else account  # partial ARN
    arn = f"arn:aws:lambda:{region}:{owner}:function:{name}"
    return Request(action, f"{arn}:{qualifier}" if qualifier else arn)


def query_request(operation: str, body: bytes, query: dict[str, list[str]]) -> Request:
    """The action and resource of an EC2, IAM or STS (query protocol) request ``service:Action``."""
    if operation == permissions.SIMULATE:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        role = (form.get("PolicySourceArn") or query.get("PolicySourceArn") or ["*"])[0]
        return Request(operation, role)
    if operation == "sts:AssumeRole":
        # IAM: sts:AssumeRole is authorized on the role's ARN (the caller's side of a cross-account assume).
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        return Request(operation, (form.get("RoleArn") or query.get("RoleArn") or ["*"])[0])
    return Request(operation, "*")


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Caller:
    """The signer of one request: its account, its principal policy (None: unrestricted) and the
    operations ``SimulatorControl.deny`` takes away from every caller."""

    account: str
    statements: tuple[permissions.Statement, ...] | None
    denied_operations: frozenset[str] = frozenset()

    def decision(self, request: Request) -> str:
        """IAM's EvalDecision for this caller: allowed | explicitDeny | implicitDeny."""
        if self.statements is None or request.action in NO_PERMISSION_NEEDED:
            return "allowed"
        return permissions.decide(request.action, self.statements, request.resource)[0]

    def may(self, action: str, resource: str) -> bool:
        """Would the caller be allowed ``action`` on ``resource`` (``deny`` included)?"""
        return action not in self.denied_operations and self.decision(Request(action, resource)) == "allowed"

    def sees_tags(self, function_arn: str) -> bool:
        """GetFunction shows ``Tags`` only to a caller allowed lambda:ListTags on the function."""
        return self.may(LIST_TAGS, function_arn)

    def refusal(self, operation: str, request: Request) -> Refusal | None:
        """Why this caller may not send this request (with the answer to give), None when it may."""
        if operation in self.denied_operations:
            return Refusal(operation, False, permissions.denied_response(operation, self.account))
        decision = self.decision(request)
        if decision != "allowed":
            why = (
                "with an explicit deny in an identity-based policy"
                if decision == "explicitDeny"
                else f"because no identity-based policy allows the {request.action} action"
            )
            response = permissions.denied_response(request.action, self.account, request.resource, why)
            return Refusal(request.action, True, response)
        for action, ids in request.implied:
            if self.decision(Request(action, "*")) != "allowed":
                return Refusal(action, True, _denied_by_ec2(action, ids))
        return None


@dataclass(frozen=True)
class Refusal:
    action: str  # the IAM action refused
    by_policy: bool  # False: an operation SimulatorControl.deny took away
    response: wire.Response


def _denied_by_ec2(action: str, ids: tuple[str, ...]) -> wire.Response:
    # aws-facts "IAM": Lambda's answer when the caller may not read the VpcConfig's resources
    # (as reported in aws/aws-sdk-ruby#1192, Miserlou/Zappa#2151): 403 AccessDeniedException.
    target = f" for {', '.join(ids)}" if ids else ""
    message = (
        f"Your access has been denied by EC2, please make sure your request credentials have permission to "
        f"{action.partition(':')[2]}{target}. EC2 Error Code: UnauthorizedOperation. EC2 Error Message: "
        "You are not authorized to perform this operation."
    )
    return wire.json_response(403, {"Type": "User", "Message": message},
                              [("x-amzn-ErrorType", "AccessDeniedException")])  # fmt: skip
