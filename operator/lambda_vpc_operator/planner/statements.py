"""The IAM side of a tenant policy: the statement that makes AWS enforce the same rule.

``lambda-vpc-operator policy iam -f POLICY.yaml`` prints, for each LambdaVpcPolicy, an Allow
statement for lambda:CreateFunction and lambda:UpdateFunctionConfiguration whose Resource lists the
policy's function globs as ARNs and whose Condition uses Lambda's own condition keys (aws-facts
"IAM"): lambda:SubnetIds and lambda:SecurityGroupIds are list keys, so ForAllValues:StringEquals
(every subnet and group of the request must be listed, as the operator requires);
lambda:VpcIds holds the one VPC of the request, so StringEquals. Attach it to the role a team uses
outside Kubernetes (CI, console) and AWS refuses what the operator would refuse. The namespace
selector has no IAM equivalent: it picks which team's role gets the statement.

Pure: a policy spec in, a JSON-ready dict out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lambda_vpc_operator.models.policies import PolicySpec

ACTIONS = ("lambda:CreateFunction", "lambda:UpdateFunctionConfiguration")
# IAM ARNs accept * and ? as wildcards; [...] classes of a glob have no IAM spelling.
_CHARACTER_CLASS = re.compile(r"\[[^\]]*\]")


class NotExpressible(ValueError):
    """A policy uses a glob feature IAM has no spelling for."""


def function_resource(pattern: str, partition: str = "aws") -> str:
    """A function glob as an IAM Resource: ARN patterns as they are, names under any region/account."""
    if _CHARACTER_CLASS.search(pattern):
        raise NotExpressible(
            f"function pattern {pattern!r} uses a [...] character class, which IAM ARNs cannot express; "
            "use * or ? instead"
        )
    if ":" in pattern:
        return pattern
    return f"arn:{partition}:lambda:*:*:function:{pattern}"


def _sid(name: str) -> str:
    # Sid: [A-Za-z0-9] only.
    words = re.split(r"[^A-Za-z0-9]+", name)
    return "LambdaVpcPolicy" + "".join(w[:1].upper() + w[1:] for w in words if w)


def statement(name: str, spec: PolicySpec, partition: str = "aws") -> dict[str, Any]:
    """The Allow statement equivalent to one LambdaVpcPolicy."""
    patterns = spec.functions if spec.functions is not None else ["*"]
    resources = sorted({function_resource(p, partition) for p in patterns})
    condition: dict[str, dict[str, list[str]]] = {}
    if spec.vpc_ids is not None:
        condition.setdefault("StringEquals", {})["lambda:VpcIds"] = sorted(spec.vpc_ids)
    if spec.subnet_ids is not None:
        condition.setdefault("ForAllValues:StringEquals", {})["lambda:SubnetIds"] = sorted(spec.subnet_ids)
    if spec.security_group_ids is not None:
        condition.setdefault("ForAllValues:StringEquals", {})["lambda:SecurityGroupIds"] = sorted(
            spec.security_group_ids
        )
    result: dict[str, Any] = {
        "Sid": _sid(name),
        "Effect": "Allow",
        "Action": list(ACTIONS),
        "Resource": resources[0] if len(resources) == 1 else resources,
    }
    if condition:
        result["Condition"] = condition
    return result


def policy_document(policies: Iterable[tuple[str, PolicySpec]], partition: str = "aws") -> dict[str, Any]:
    """One IAM policy document with a statement per LambdaVpcPolicy."""
    return {"Version": "2012-10-17", "Statement": [statement(name, spec, partition) for name, spec in policies]}


# -- the roles in other accounts (spec.roleArn, defaultRoleArn) ------------------------------

ASSUME_ROLE = "sts:AssumeRole"
# What `policy iam` names as the operator when it is not told (--operator-role-arn): a reader
# replaces it; the operator's real identity is what `aws sts get-caller-identity` says in its pod.
OPERATOR_ROLE_PLACEHOLDER = "arn:{partition}:iam::OPERATOR_ACCOUNT_ID:role/lambda-vpc-operator"


def roles_of(policies: Iterable[tuple[str, PolicySpec]]) -> tuple[list[str], list[str]]:
    """(role ARNs the policies name literally: defaultRoleArn and roleArns without a glob,
    roleArns patterns, whose roles each need the same trust policy)."""
    literal: set[str] = set()
    patterns: set[str] = set()
    for _, spec in policies:
        if spec.default_role_arn:
            literal.add(spec.default_role_arn)
        for pattern in spec.role_arns or ():
            (patterns if any(c in pattern for c in "*?[") else literal).add(pattern)
    return sorted(literal), sorted(patterns)


def trust_policy(operator_role_arn: str, external_ids: Iterable[str] = ()) -> dict[str, Any]:
    """The trust policy a target role needs: the operator's role may sts:AssumeRole it (aws-facts
    "Trust policies"), with an sts:ExternalId condition when attachments send one."""
    allow: dict[str, Any] = {
        "Sid": "LambdaVpcOperator",
        "Effect": "Allow",
        "Principal": {"AWS": operator_role_arn},
        "Action": ASSUME_ROLE,
    }
    ids = sorted(set(external_ids))
    if ids:
        allow["Condition"] = {"StringEquals": {"sts:ExternalId": ids[0] if len(ids) == 1 else ids}}
    return {"Version": "2012-10-17", "Statement": [allow]}
