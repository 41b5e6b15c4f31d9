"""What IAM says a function's execution role may do, for the role preflight.

Lambda creates, describes and deletes the function's Hyperplane ENIs with the function's execution
role (aws-facts "IAM": AWSLambdaVPCAccessExecutionRole). A role without those permissions is
refused at once or, worse, fails later (InsufficientRolePermissions). ``aws.roles`` asks
iam:SimulatePrincipalPolicy; ``planner.guards`` judges the answer.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

# What Lambda does with the execution role when it manages ENIs (aws-facts "IAM"; the issue's
# preflight list: create, describe, delete).
ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
)


class EvalDecision(enum.StrEnum):
    """SimulatePrincipalPolicy EvaluationResults[].EvalDecision (aws-facts "IAM")."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


@dataclasses.dataclass(frozen=True)
class RolePermissions:
    """The decision for each action asked about; ``checked`` False when the operator could not ask."""

    role_arn: str
    decisions: Mapping[str, EvalDecision] = dataclasses.field(default_factory=dict)
    checked: bool = True
    error: str = ""  # why it could not ask (the AWS error code and message)

    def missing(self, actions: tuple[str, ...] = ENI_ACTIONS) -> dict[str, EvalDecision]:
        """The actions not allowed, with their decision (an action without an answer is implicitDeny)."""
        found = {a: self.decisions.get(a, EvalDecision.IMPLICIT_DENY) for a in actions}
        return {a: d for a, d in found.items() if d != EvalDecision.ALLOWED}
