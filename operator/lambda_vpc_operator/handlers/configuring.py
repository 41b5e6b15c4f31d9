"""kopf's settings for this operator: our own persistence keys, quiet Events, peering."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from lambda_vpc_operator.models import attachments
from lambda_vpc_operator.models.settings import OperatorSettings

PREFIX = attachments.GROUP  # lambdavpc.dev/...: never kopf.zalando.org on our objects
FINALIZER = f"{PREFIX}/finalizer"


def register(registry: kopf.OperatorRegistry, ours: OperatorSettings) -> None:
    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=PREFIX, key="last-handled-configuration"
        )
        # Our Events are explicit (planner.plans.Event); kopf's per-handler log lines are not Events.
        settings.posting.level = logging.WARNING
        settings.peering.standalone = ours.standalone
        settings.peering.name = ours.peering_name
        settings.peering.priority = ours.priority
        settings.peering.mandatory = not ours.standalone
        settings.execution.max_workers = 16
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330

    @kopf.on.probe(id="ok", registry=registry)
    def alive(**_: Any) -> bool:
        return True
