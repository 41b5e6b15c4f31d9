"""Wake-up handlers run on kopf's event loop, never in its thread pool.

kopf runs a ``def`` handler in a worker thread; ``asyncio.Event.set()`` is not thread-safe, so a
wake-up set from there may never reach the daemon awaiting the event (or corrupt the loop's state).
"""

from __future__ import annotations

import asyncio
from typing import cast

import boto3
import kopf

from lambda_vpc_operator.aws import AwsGateway
from lambda_vpc_operator.handlers import attachments, policies
from lambda_vpc_operator.kube.status_writer import StatusWriter
from lambda_vpc_operator.models.settings import OperatorSettings
from lambda_vpc_operator.reconciliation.reconciler import Reconciler


def test_every_watch_handler_is_a_coroutine() -> None:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    settings = OperatorSettings()
    reconciler = Reconciler(AwsGateway.create("us-east-1", session=session), settings)
    guardrails = policies.Guardrails(reconciler.guard, settings)
    registry = kopf.OperatorRegistry()
    policies.register(registry, guardrails)
    # The writer is only used inside the handlers, which this test never runs.
    attachments.register(registry, reconciler, cast(StatusWriter, object()), guardrails)

    handlers = list(registry._watching.get_all_handlers())
    ids = {str(h.id) for h in handlers}
    assert {"wake_on_spec_change", "wake_on_policy_change", "wake_on_namespace_change"} <= ids
    sync = [str(h.id) for h in handlers if not asyncio.iscoroutinefunction(h.fn)]
    assert sync == []
