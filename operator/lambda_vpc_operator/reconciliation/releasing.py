"""The last steps of a deletion, once the function is as deletionPolicy wants it (``planner.cleanup``).

1. Remove our owner tag (UntagResource), only while it holds the value this attachment wrote, so
   the function is free for another attachment; Retain does this too.
2. With ``spec.waitForNetworkCleanup`` (Detach only): hold the finalizer until Lambda has deleted
   the ENIs that served only this function, at most ``spec.deletionTimeout``; the remaining ENIs
   are in ``status.networkCleanup``. Other functions' combinations come from one paged
   ListFunctions per deletion (an ENI they use is never deleted, so it is not waited for).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lambda_vpc_operator.aws import AwsGateway
from lambda_vpc_operator.aws.errors import AwsError
from lambda_vpc_operator.models.attachments import AttachmentSpec, DeletionPolicy
from lambda_vpc_operator.models.enis import EniFacts
from lambda_vpc_operator.models.failures import FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionRef
from lambda_vpc_operator.models.owners import TAG
from lambda_vpc_operator.models.reactivations import duration_seconds
from lambda_vpc_operator.planner import cleanup, conditions, delays, reactivation
from lambda_vpc_operator.planner.plans import Outcome
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reporting import Reporter

logger = logging.getLogger(__name__)

Write = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]


async def finish(
    aws: AwsGateway,
    now: datetime.datetime,
    reporter: Reporter,
    memory: AttachmentMemory,
    status: Mapping[str, Any],
    spec: AttachmentSpec,
    ref: FunctionRef,
    observed: FunctionObservation | None,
    *,
    owned: bool,
    owner_tag: str,
    generation: int,
    write: Write,
) -> float | None:
    """None when the finalizer may go; else the seconds until the next look."""
    if observed is None or not owned:
        return None  # the function is gone (or never ours): nothing left to do on AWS
    if not memory.untagged and cleanup.owner_tag_is_ours(observed.tags, owner_tag):
        try:
            await aws.functions.untag(observed.arn, [TAG])
        except AwsError as exc:
            if exc.failure.transient:
                return exc.failure.retry_after or delays.wait_delay(memory.attempt)
            if exc.failure.kind != FailureKind.NOT_FOUND:
                reporter.post(cleanup.untag_failed(ref.name, exc.failure))
        memory.untagged = True
    former = cleanup.former_vpc(status)
    if spec.deletion_policy != DeletionPolicy.DETACH or not spec.wait_for_network_cleanup or not former.attached:
        return None
    vpc_id = status.get("vpcId")
    if not vpc_id:
        return None
    region = ref.region or aws.clients.default_region
    if memory.cleanup_shared is None:
        memory.cleanup_shared = await _shared(aws, region, observed.arn)
    enis: tuple[EniFacts, ...] | None = None
    failure = None
    try:
        enis = tuple(await aws.enis.in_vpc(region, vpc_id))
    except AwsError as exc:
        failure = exc.failure
    started_text = (status.get("networkCleanup") or {}).get("startedTime") or reactivation.format_time(now)
    started = reactivation.parse_time(started_text) or now
    plan = cleanup.plan_cleanup(ref.name, cleanup.Cleanup(
        former=former, enis=enis, shared=memory.cleanup_shared, started=started, now=now,
        timeout=duration_seconds(spec.deletion_timeout), read_failure=failure,
    ), started_text)  # fmt: skip
    for event in plan.events:
        reporter.post(event)
    if plan.outcome == Outcome.RELEASED:
        return None
    await write({
        **plan.status_fields,
        "conditions": conditions.merge(
            status.get("conditions") or (), plan.conditions or (), generation=generation,
            now=reactivation.format_time(now),
        ),
    })  # fmt: skip
    return plan.requeue_after


async def _shared(aws: AwsGateway, region: str, arn: str) -> frozenset[cleanup.Combo]:
    """The (subnet, group set) combinations other functions of the region use (their ENIs stay)."""
    try:
        return cleanup.combos_of([f.vpc async for f in aws.functions.list_functions(region) if f.arn != arn])
    except AwsError as exc:
        # Unknown: every ENI is waited for, and deletionTimeout bounds the wait.
        logger.info("ListFunctions failed during a deletion: %s", exc.failure.code)
        return frozenset()
