"""Can a function's execution role manage its network interfaces? iam:SimulatePrincipalPolicy says.

Lambda creates, describes and deletes a VPC function's Hyperplane ENIs with the function's own
execution role (aws-facts "IAM"); a role without those permissions is refused at once or fails
later. The operator asks IAM once per role, not per attachment: a thousand attachments usually
share a handful of roles. Answers are cached (an allowed role for ``ALLOWED_TTL``, a role missing
permissions for the shorter ``DENIED_TTL``, so that a fixed role is noticed soon), and concurrent
questions about one role share one request.

If the operator itself may not call SimulatePrincipalPolicy (AccessDenied), or IAM fails or answers
something botocore cannot parse (a plain moto server answers an HTML 500), the answer says
``checked=False``: a warning for the user, not a failure (Lambda will judge the role itself); it is
cached like a denial, so a broken IAM costs one request per role and ``DENIED_TTL``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lambda_vpc_operator.aws import calling, clients, errors, sharing
from lambda_vpc_operator.models.failures import FailureKind
from lambda_vpc_operator.models.permissions import ENI_ACTIONS, EvalDecision, RolePermissions

# Roles change rarely; a resync (10 minutes by default) sees at most one answer this old.
ALLOWED_TTL = 600.0
# A role missing permissions is usually being fixed right now.
DENIED_TTL = 60.0
# IAM's answer for a role that does not exist (a 404 we report, not an operator failure).
NO_SUCH_ENTITY = "NoSuchEntity"

_Key = tuple[str, tuple[str, ...]]


class Roles:
    def __init__(
        self,
        clients: clients.AwsClients,
        allowed_ttl: float = ALLOWED_TTL,
        denied_ttl: float = DENIED_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = clients
        self.allowed_ttl = allowed_ttl
        self.denied_ttl = denied_ttl
        self.clock = clock
        self._cache: dict[_Key, tuple[float, RolePermissions]] = {}
        self._in_flight: sharing.SingleFlight[_Key, RolePermissions] = sharing.SingleFlight()

    async def permissions(self, role_arn: str, actions: tuple[str, ...] = ENI_ACTIONS) -> RolePermissions:
        """The role's decision for each action (cached); raises ``errors.AwsError`` only if transient."""
        key = (role_arn, tuple(sorted(actions)))
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        return await self._in_flight.run(key, lambda: self._ask(role_arn, key[1]), f"simulating {role_arn}")

    async def _ask(self, role_arn: str, actions: tuple[str, ...]) -> RolePermissions:
        ttl = self.denied_ttl  # a role missing permissions, or IAM failing, is usually fixed soon
        try:
            pages = await calling.call_pages(
                self.clients.iam(), "SimulatePrincipalPolicy", PolicySourceArn=role_arn, ActionNames=list(actions)
            )
        except errors.AwsError as exc:
            failure = exc.failure
            if failure.kind == FailureKind.ACCESS_DENIED:
                # Our own permission: changed by whoever deploys the operator, rarely.
                answer = RolePermissions(role_arn, checked=False, error=f"{failure.code}: {failure.message}")
                ttl = self.allowed_ttl
            elif failure.kind == FailureKind.SERVICE_ERROR:
                # IAM down, or no IAM at all behind the endpoint (an HTML 500): the check is unknown.
                answer = RolePermissions(role_arn, checked=False, error=f"{failure.code}: {failure.message}")
            elif failure.code == NO_SUCH_ENTITY:
                answer = RolePermissions(role_arn, error=f"the role does not exist ({failure.message})")
            else:
                raise
        else:
            answer = _answer(role_arn, pages)
            if answer.checked and not answer.missing(actions):
                ttl = self.allowed_ttl
        self._cache[(role_arn, actions)] = (self.clock() + ttl, answer)
        return answer

def _answer(role_arn: str, pages: list[dict[str, Any]]) -> RolePermissions:
    """The decisions of SimulatePrincipalPolicy's pages; an answer we cannot read is "unknown"."""
    decisions: dict[str, EvalDecision] = {}
    try:
        for page in pages:
            for result in page.get("EvaluationResults") or ():
                decisions[result["EvalActionName"]] = EvalDecision(result["EvalDecision"])
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        return RolePermissions(role_arn, checked=False, error=f"unreadable SimulatePrincipalPolicy answer ({exc!r})")
    return RolePermissions(role_arn, decisions)
