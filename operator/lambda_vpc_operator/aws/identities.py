"""Which AWS account and partition the operator works in (sts:GetCallerIdentity, once per process).

A policy may name functions by ARN (``arn:aws:lambda:*:123456789012:function:team-a-*``) while an
attachment names its function by name only; the function then lives in the operator's own account
(one operator serves one account), which this module learns once. GetCallerIdentity needs no
permission. A failure is retried, at most every ``RETRY_AFTER`` seconds.

The partition (``aws``, ``aws-cn``, ``aws-us-gov``...) comes from the same answer's ``Arn``
(aws-facts "Refusals": ARNs in aws-cn and aws-us-gov): every ARN the operator builds for a function
named without one uses it, never a constant ``aws``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from lambda_vpc_operator.aws import calling, clients, errors

logger = logging.getLogger(__name__)

RETRY_AFTER = 60.0


class Identity:
    def __init__(self, clients: clients.AwsClients, clock: Callable[[], float] = time.monotonic) -> None:
        self.clients = clients
        self.clock = clock
        self._account: str | None = None
        self._partition: str | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def known(self) -> str | None:
        """The account id if already learned (no request)."""
        return self._account

    @property
    def partition(self) -> str | None:
        """The ARN partition of the operator's credentials, if already learned (no request)."""
        return self._partition

    async def account_id(self) -> str | None:
        """The account id, or None if STS could not be reached (recently)."""
        if self._account is not None:
            return self._account
        async with self._lock:
            if self._account is not None:
                return self._account
            if self._failed_at is not None and self.clock() - self._failed_at < RETRY_AFTER:
                return None
            try:
                response = await calling.call(self.clients.sts(), "GetCallerIdentity")
            except errors.AwsError as exc:
                logger.warning("Could not learn the AWS account (sts:GetCallerIdentity): %s", exc)
                self._failed_at = self.clock()
                return None
            self._partition = partition_of_arn(response.get("Arn"))
            self._account = str(response["Account"])
            return self._account


def partition_of_arn(arn: object) -> str | None:
    """``aws-cn`` of ``arn:aws-cn:sts::123456789012:assumed-role/...``; None for anything else."""
    parts = str(arn or "").split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else None
