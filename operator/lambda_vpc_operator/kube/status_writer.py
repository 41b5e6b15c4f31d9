"""Write an attachment's .status through the status subresource, as a JSON merge patch.

The API server may answer a write 429 (API Priority and Fairness, with Retry-After), 5xx (a
restarting server or etcd) or even 409 (its own retries of the update lost a race). The merge patch
carries no resourceVersion, so sending it again is safe: each is retried a few times here, Retry-After
honoured, before the look fails (and is retried with its backoff, planner.errors).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import urllib3

from lambda_vpc_operator.kube.rest import KubeApi, KubeApiError
from lambda_vpc_operator.models import attachments

logger = logging.getLogger(__name__)

RETRIED = frozenset({409, 429, 500, 502, 503, 504})
ATTEMPTS = 5
FIRST_BACKOFF = 0.5  # seconds, doubling: 7.5 s in all before the look fails
LONGEST_RETRY_AFTER = 10.0  # a longer Retry-After is the look's backoff's business, not a held write


class StatusWriter:
    def __init__(self, api: KubeApi | None = None, *, first_backoff: float = FIRST_BACKOFF) -> None:
        self._api = api or KubeApi()
        self._first_backoff = first_backoff

    async def patch(self, namespace: str, name: str, status_patch: Mapping[str, Any]) -> Mapping[str, Any]:
        """Apply the patch; return the stored status (empty if the object is gone)."""
        for attempt in range(ATTEMPTS):
            try:
                stored = await asyncio.to_thread(
                    self._api.merge_patch,
                    f"/apis/{attachments.GROUP}/{attachments.VERSION}/namespaces/{namespace}/{attachments.PLURAL}/{name}/status",
                    {"status": dict(status_patch)},
                )
            except KubeApiError as exc:
                if exc.status == 404:
                    logger.debug("%s/%s is gone; status not written", namespace, name)
                    return {}
                if exc.status not in RETRIED or attempt == ATTEMPTS - 1:
                    raise
                delay = _retry_after(exc) or self._first_backoff * 2**attempt
                logger.info("%s/%s: status write answered %s; again in %gs", namespace, name, exc.status, delay)
            except urllib3.exceptions.HTTPError as exc:  # the connection failed: nothing was answered
                if attempt == ATTEMPTS - 1:
                    raise
                delay = self._first_backoff * 2**attempt
                logger.info("%s/%s: status write failed (%r); again in %gs", namespace, name, exc, delay)
            else:
                status: Mapping[str, Any] = stored.get("status") or {}
                return status
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _retry_after(exc: KubeApiError) -> float | None:
    """A 429's Retry-After (seconds), capped; None without one."""
    value = exc.retry_after if exc.status == 429 else None
    return min(value, LONGEST_RETRY_AFTER) if value else None
