"""kopf's settings for this operator: our own persistence keys, quiet Events, peering."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
from typing import Any

import kopf

from lambda_vpc_operator.kube import logins, peerings
from lambda_vpc_operator.models import attachments
from lambda_vpc_operator.models.settings import IO_THREADS, OperatorSettings

# boto3 and the status writer block; they run in the loop's default executor. The stock size,
# min(32, CPUs + 4), is 5 threads on a one-CPU pod: too few for tens of GetFunction calls a second.
PREFIX = attachments.GROUP  # lambdavpc.dev/...: never kopf.zalando.org on our objects
FINALIZER = f"{PREFIX}/finalizer"
COMPONENT = "lambda-vpc-operator"  # Events' source.component and reportingComponent


def register(registry: kopf.OperatorRegistry, ours: OperatorSettings) -> None:
    @kopf.on.startup(id="configure", registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        asyncio.get_running_loop().set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="io")
        )
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=PREFIX, key="last-handled-configuration"
        )
        # Our Events are explicit (planner.plans.Event); kopf's per-handler log lines are not Events.
        settings.posting.level = logging.WARNING
        # Events say who posted them ("From" in kubectl describe): us, not kopf.
        settings.posting.reporting_component = COMPONENT
        settings.posting.reporting_instance = os.environ.get("POD_ID") or socket.gethostname()
        settings.peering.standalone = ours.standalone
        settings.peering.name = ours.peering_name
        settings.peering.priority = ours.priority
        settings.peering.lifetime = ours.peering_lifetime
        settings.peering.mandatory = not ours.standalone
        settings.execution.max_workers = 16
        # A watch stream that died silently must not hide changes for ever (models.settings.WatchSettings).
        settings.watching.server_timeout = ours.watching.server_timeout
        settings.watching.client_timeout = ours.watching.client_timeout
        settings.watching.inactivity_timeout = ours.watching.inactivity_timeout
        settings.watching.connect_timeout = ours.watching.connect_timeout

    if not ours.standalone:

        @kopf.on.startup(id="peering", registry=registry)
        async def create_peering(**_: Any) -> None:
            try:
                await peerings.ensure_peering(ours.namespaces, ours.peering_name)
            except peerings.PeeringCrdMissing as exc:
                raise kopf.TemporaryError(f"kopf peering CRDs are not installed yet: {exc}", delay=5) from None

    # A custom registry has none of kopf's default login handlers: ours (in-cluster service account,
    # else KUBECONFIG), the same credentials our own requests use (kube.rest).
    @kopf.on.login(id="login", registry=registry)
    def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
        return logins.login(settings)

    @kopf.on.probe(id="ok", registry=registry)
    def alive(**_: Any) -> bool:
        return True
