"""The reconciler's ``Reporter`` for kopf: Events through kopf's poster, status through the API.

Events name our component (``lambda-vpc-operator``, handlers.configuring sets kopf's reporting
component), and each status patch and Event also feeds the metrics (handlers.metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from lambda_vpc_operator.handlers import logs, metrics
from lambda_vpc_operator.kube.statuses import StatusWriter
from lambda_vpc_operator.planner.plans import Event


def outcome_of(status: Mapping[str, Any]) -> str | None:
    """What a look ended in, for the logs: Stalled's reason if stalled, else Ready's reason."""
    found = {c.get("type"): c for c in status.get("conditions") or ()}
    stalled = found.get("Stalled")
    if stalled and stalled.get("status") == "True":
        return f"Stalled:{stalled.get('reason')}"
    ready = found.get("Ready")
    return str(ready.get("reason")) if ready else None


class KopfReporter:
    def __init__(self, body: kopf.Body, writer: StatusWriter) -> None:
        self.body = body
        self.writer = writer

    @property
    def key(self) -> str:
        return f"{self.body.metadata.namespace}/{self.body.metadata.name}"

    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        stored = await self.writer.patch(self.body.metadata.namespace or "", self.body.metadata.name or "", patch)
        metrics.status_written(self.key, patch, stored)
        logs.set_fields(outcome=outcome_of(stored))
        return stored

    def post(self, event: Event) -> None:
        metrics.event_posted(event.reason)
        kopf.event(self.body, type=event.type.value, reason=event.reason, message=event.message[:1024])
