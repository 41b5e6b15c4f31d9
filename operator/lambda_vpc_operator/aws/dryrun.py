"""Lambda without writes, for ``lambda-vpc-operator plan``: reads go to AWS, writes are recorded.

``plan`` runs the operator's own look (Reconciler.preview) on the user's credentials; every write
that look would send (TagResource for a claim, UpdateFunctionConfiguration, Invoke) lands here
instead, so nothing in the account changes, whatever the planner decides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.aws import budgets
from lambda_vpc_operator.aws import functions as aws_functions
from lambda_vpc_operator.models import functions


@dataclasses.dataclass(frozen=True)
class Write:
    """One request the operator would have sent: its AWS operation name and its parameters."""

    operation: str
    params: Mapping[str, Any]


class DryRunFunctions(aws_functions.LambdaFunctions):
    """``aws.functions.LambdaFunctions`` whose writes are recorded, never sent (reads are the real ones)."""

    def __init__(self, real: aws_functions.LambdaFunctions) -> None:
        super().__init__(real.clients, real.budgets)
        self.writes: list[Write] = []

    def sharing(self, real: aws_functions.LambdaFunctions) -> DryRunFunctions:
        """The same dry run over another account's functions (a role session's): one list of writes."""
        other = DryRunFunctions(real)
        other.writes = self.writes
        return other

    async def update_vpc(
        self,
        ref: functions.FunctionRef,
        vpc: functions.VpcSettings,
        revision_id: str | None = None,
        *,
        priority: budgets.Priority = budgets.Priority.SPEC_CHANGE,
        ticket: budgets.Ticket | None = None,
    ) -> functions.FunctionObservation:
        self.writes.append(Write("UpdateFunctionConfiguration", {
            "FunctionName": ref.api_name, "VpcConfig": vpc.to_aws(), "RevisionId": revision_id,
        }))  # fmt: skip
        raise DryRun("UpdateFunctionConfiguration")

    async def tag(
        self,
        arn: str,
        tags: Mapping[str, str],
        *,
        priority: budgets.Priority = budgets.Priority.OWNERSHIP,
        ticket: budgets.Ticket | None = None,
    ) -> None:
        self.writes.append(Write("TagResource", {"Resource": arn, "Tags": dict(tags)}))

    async def invoke(
        self, ref: functions.FunctionRef, payload: bytes = b"", invocation_type: str = "RequestResponse"
    ) -> aws_functions.InvokeResult:
        self.writes.append(Write("Invoke", {"FunctionName": ref.api_name, "InvocationType": invocation_type}))
        raise DryRun("Invoke")


class DryRun(Exception):
    """A write a dry run does not send (Reconciler.preview never lets it reach AWS or the planner)."""
