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
