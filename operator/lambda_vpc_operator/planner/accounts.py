"""What a refused sts:AssumeRole means for an attachment: Stalled AssumeRoleFailed, retried slowly.

An attachment naming a role (``spec.roleArn``, or its policy's ``defaultRoleArn``) is acted on in
that role's account; when STS refuses the role (it does not exist, its trust policy does not name
the operator, the ExternalId differs: AWS answers AccessDenied for all three and does not say which),
nothing else can be read or written. No retry of ours fixes it, so the attachment is Stalled with
AWS' message and the fix, and looked at again on the slow end of ``planner.errors``' backoff (the
role may be fixed at any time; a hot loop against STS would help nobody).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_vpc_operator.models.failures import Failure
from lambda_vpc_operator.planner import conditions, planning
from lambda_vpc_operator.planner import errors as error_planning
from lambda_vpc_operator.planner.conditions import Reason, Status
from lambda_vpc_operator.planner.plans import Outcome, Plan

# The first retry after a refused AssumeRole: a trust policy is fixed by a human, not in seconds.
FIRST_RETRY = 60.0


def assume_delay(attempt: int) -> float:
    """60 s, then planner.errors' backoff up to its 5 minutes (``attempt``: refusals before this one)."""
    return max(FIRST_RETRY, error_planning.error_delay(attempt + 1))


def assume_message(role_arn: str | None, failure: Failure, delay: float) -> str:
    role = role_arn or "the attachment's role"
    return (
        f"sts:AssumeRole of {role} was refused ({failure.code}: {failure.message}); the role must exist and its "
        "trust policy must allow the operator's identity sts:AssumeRole (with the sts:ExternalId condition "
        "matching spec.externalId if it has one): `lambda-vpc-operator policy iam` prints that trust policy. "
        f"Retrying in {delay:g}s"
    )


def plan_assume_failure(
    role_arn: str | None, failure: Failure, current: Sequence[Mapping[str, Any]], attempt: int
) -> Plan:
    """Stalled AssumeRoleFailed naming the role and AWS' message; the next look after ``assume_delay``."""
    delay = assume_delay(attempt)
    message = assume_message(role_arn, failure, delay)
    plan = Plan(
        outcome=Outcome.STALLED,
        conditions=(
            conditions.ready(Status.FALSE, Reason.ASSUME_ROLE_FAILED, message),
            conditions.stalled(Reason.ASSUME_ROLE_FAILED, message),
        ),
        requeue_after=delay,
    )
    return dataclasses.replace(plan, events=planning.transition_events(current, plan))
