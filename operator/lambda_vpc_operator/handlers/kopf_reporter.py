"""The reconciler's ``Reporter`` for kopf: Events through kopf's poster, status through the API.

Events name our component (``lambda-vpc-operator``, handlers.configuring sets kopf's reporting
component), and each status patch and Event also feeds the metrics (handlers.metrics).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import kopf

from lambda_vpc_operator.handlers import logs, metrics
from lambda_vpc_operator.kube.status_writer import StatusWriter
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
    """For one attachment: its body as kopf gives it, or the raw dict (Events need only its identity)."""

    def __init__(self, body: Mapping[str, Any], writer: StatusWriter) -> None:
        metadata = body.get("metadata") or {}
        self.namespace, self.name = str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
        # What kopf.event needs of the object (bodies.build_object_reference): not the whole body.
        self.ref = {
            "apiVersion": body.get("apiVersion"), "kind": body.get("kind"),
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": metadata.get("uid")},
        }  # fmt: skip
        self.writer = writer

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        stored = await self.writer.patch(self.namespace, self.name, patch)
        metrics.status_written(self.key, patch, stored)
        logs.set_fields(outcome=outcome_of(stored))
        return stored

    def post(self, event: Event) -> None:
        metrics.event_posted(event.reason)
        kopf.event(cast(kopf.Body, self.ref), type=event.type.value, reason=event.reason, message=event.message[:1024])
