"""The reconciler's ``Reporter`` for kopf: Events through kopf's poster, status through the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from lambda_vpc_operator.kube.statuses import StatusWriter
from lambda_vpc_operator.planner.plans import Event


class KopfReporter:
    def __init__(self, body: kopf.Body, writer: StatusWriter) -> None:
        self.body = body
        self.writer = writer

    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self.writer.patch(self.body.metadata.namespace or "", self.body.metadata.name or "", patch)

    def post(self, event: Event) -> None:
        kopf.event(self.body, type=event.type.value, reason=event.reason, message=event.message[:1024])
