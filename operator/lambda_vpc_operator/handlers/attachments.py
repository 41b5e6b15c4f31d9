"""Handlers for LambdaVpcAttachment: every event feeds the looks' scheduler, a claims index, and deletion.

Why looks on a schedule and not create/update handlers with TemporaryError: waiting for AWS is the
normal case here (ENIs take minutes), and kopf logs every TemporaryError as an error and posts it
as an Event. Each attachment is looked at again after the delay its last look asked for, at once on
a spec change, fast only while something is in transition. One scheduler (handlers.looks) runs
them all, rather than a kopf daemon per object: a daemon cost 30 KB an attachment.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import kopf

from lambda_vpc_operator.handlers import controls, kopf_fixes, logs, metrics
from lambda_vpc_operator.handlers.configuring import FINALIZER
from lambda_vpc_operator.handlers.kopf_reporter import KopfReporter
from lambda_vpc_operator.handlers.looks import Looks
from lambda_vpc_operator.handlers.policies import Guardrails
from lambda_vpc_operator.kube.status_writer import StatusWriter
from lambda_vpc_operator.models import attachments
from lambda_vpc_operator.models.functions import spec_claim_key
from lambda_vpc_operator.planner import errors as error_planning
from lambda_vpc_operator.planner.conditions import ConditionType, Reason, Status
from lambda_vpc_operator.planner.plans import Event, EventType
from lambda_vpc_operator.planner.reactivation import REQUEST_ANNOTATION
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reconciler import AttachmentView, Reconciler

RESOURCE = (attachments.GROUP, attachments.VERSION, attachments.PLURAL)
# A deletion handler keeps looping in-process while the steps are short; a long wait (a Stalled
# detach) is handed back to kopf, which retries the handler with a fresh copy of the object.
LONGEST_IN_HANDLER_WAIT = 60.0
WAKE_HANDLER = "wake_on_spec_change"


@dataclasses.dataclass(frozen=True, order=True)
class Claim:
    """An attachment's claim on a function; the oldest claim owns it (unless the function's owner tag
    says otherwise, see reconciliation.guarding). A claim the tenant policy denies comes last: it
    may not touch the function, so it must not keep others from it."""

    denied: bool
    created: str
    key: str


def policy_denied(status: Any) -> bool:
    """The attachment's last verdict was PolicyDenied (read from its status, as the index sees it)."""
    for condition in (status or {}).get("conditions") or ():
        if condition.get("type") == ConditionType.STALLED and condition.get("status") == Status.TRUE:
            return bool(condition.get("reason") == Reason.POLICY_DENIED)
    return False


def view_of(body: Mapping[str, Any]) -> AttachmentView:
    """The look's view of a body: kopf's, or the raw dict a look decodes (``handlers.looks``)."""
    metadata = body.get("metadata") or {}
    return AttachmentView(
        namespace=metadata.get("namespace") or "",
        name=metadata.get("name") or "",
        generation=int(metadata.get("generation") or 0),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
        annotations=dict(metadata.get("annotations") or {}),
        deletion_time=metadata.get("deletionTimestamp"),
    )


def memory_of(memo: Any) -> AttachmentMemory:
    memory = memo.get("attachment")
    if memory is None:
        memory = memo["attachment"] = AttachmentMemory()
    assert isinstance(memory, AttachmentMemory)
    return memory


def owner_of(claims: kopf.Index[str, Claim], key: str | None) -> str | None:
    if key is None or key not in claims:
        return None
    return min(claims[key]).key


@contextlib.contextmanager
def _measured(action: str) -> Iterator[None]:
    """Time one look into the duration histogram (an error is counted by ``Reconciler.fail``)."""
    started = time.monotonic()
    try:
        yield
    finally:
        metrics.reconcile_duration.labels(action).observe(time.monotonic() - started)


def _without_finalizer(raw: Any) -> None:
    finalizers = raw.get("metadata", {}).get("finalizers", [])
    while FINALIZER in finalizers:
        finalizers.remove(FINALIZER)


def register(
    registry: kopf.OperatorRegistry,
    reconciler: Reconciler,
    writer: StatusWriter,
    guardrails: Guardrails | None = None,
) -> None:
    default_region = reconciler.settings.default_region
    logging.getLogger("kopf.objects").addFilter(logs.QuietHandlers(WAKE_HANDLER))

    @kopf.index(*RESOURCE, id="function_claims", registry=registry)
    def function_claims(
        namespace: str | None, name: str, spec: kopf.Spec, meta: kopf.Meta, status: kopf.Status, **_: Any
    ) -> dict[str, Claim]:
        key = spec_claim_key(spec, default_region)
        created = str(meta.get("creationTimestamp") or "")
        claim = Claim(denied=policy_denied(status), created=created, key=f"{namespace}/{name}")
        return {key: claim} if key else {}

    # The scheduler knows attachments by uid: a deleted attachment and its re-creation under the same
    # name are two objects (kopf may handle the new one's events before the old one's DELETED).
    # The raw dict, not a kopf.Body: a Body and its views refer to each other, so each look's would
    # stay in memory (with the whole decoded object) until the next full garbage collection.
    looks = Looks(lambda raw, memory: _step(raw, memory), paused=kopf_fixes.paused)
    uids: dict[str, str] = {}  # namespace/name -> the uid of the attachment that has that name now
    reconciler.waker = lambda key: looks.wake(uids.get(key, ""))  # a parked look's ticket was granted
    if guardrails is not None:
        guardrails.waker = lambda key: looks.wake(uids.get(key, ""))
    indexes: dict[str, Any] = {}  # kopf's live index views, as every handler gets them

    @kopf.on.startup(id="schedule_looks", registry=registry)
    async def schedule_looks(memo: Any, **_: Any) -> None:
        memo["looks_task"] = asyncio.create_task(looks.run(), name="looks")

    @kopf.on.cleanup(id="stop_looks", registry=registry)
    async def stop_looks(memo: Any, **_: Any) -> None:
        await looks.close()  # running looks get their grace period, as kopf gave its daemons
        task = memo.get("looks_task")
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # async: kopf runs a sync handler in its thread pool, and the scheduler's state (and the wake-ups
    # it sets) must only be touched from the event loop.
    @kopf.on.event(*RESOURCE, id=WAKE_HANDLER, registry=registry)
    async def wake_on_spec_change(
        event: Any, meta: kopf.Meta, memo: Any, body: kopf.Body, patch: kopf.Patch, **kwargs: Any
    ) -> None:
        key, uid = f"{meta.get('namespace')}/{meta.get('name')}", str(meta.get("uid"))
        if event.get("type") == "DELETED":
            looks.remove(uid)
            if uids.get(key) == uid:  # not a re-creation's, already here
                del uids[key]
                metrics.attachments.forget(key)
                if guardrails is not None:
                    guardrails.untrack(key)
            return
        if not indexes:
            indexes.update((k, v) for k, v in kwargs.items() if isinstance(v, kopf.Index))
            kopf_fixes.keep_event_queue()
        if meta.get("deletionTimestamp"):
            if error_planning.force_requested(meta.annotations):
                force_release(body, patch)
            return  # the release handler stops the looks, then releases
        if FINALIZER not in (meta.get("finalizers") or ()):
            # kopf puts our finalizer on first (its answer is the next event): no look writes to AWS
            # for an attachment whose deletion would not wait for its release.
            return
        memory = memory_of(memo)
        if looks.upsert(uid, body, memory):
            uids[key] = uid
            metrics.attachments.record(key, body.status)
            return
        if memory.seen_generation is None:
            return  # not looked at yet: its first look is due
        annotations = meta.annotations
        request = annotations.get(REQUEST_ANNOTATION)
        if (
            meta.get("generation") != memory.seen_generation
            or request != memory.seen_request
            or annotations.get(controls.RECONCILE_ANNOTATION) != memory.seen_reconcile_request
            or controls.paused(annotations) != memory.seen_paused
        ):
            looks.wake(uid)

    def force_release(body: kopf.Body, patch: kopf.Patch) -> None:
        """A human annotated a terminating attachment: let our finalizer go now, whatever the release
        handler waits for (its retry may be minutes away), and say what stays on AWS."""
        if FINALIZER not in (body.metadata.get("finalizers") or ()):
            return
        # A JSON patch made on the fresh body, as kopf removes its own finalizer: others' finalizers stay.
        patch.fns.append(_without_finalizer)
        KopfReporter(body, writer).post(
            error_planning.force_release_event(str(body.spec.get("functionName", "")), dict(body.status))
        )

    async def _step(body: Mapping[str, Any], memory: AttachmentMemory) -> float:
        """One look, in a frame of its own: the copies it makes (view, status) are not held between looks."""
        kopf_fixes.use_event_queue()  # kopf.event() from this task, which kopf did not start
        reporter = KopfReporter(body, writer)
        view = view_of(body)
        memory.seen_generation = view.generation
        memory.seen_request = view.annotations.get(REQUEST_ANNOTATION)
        memory.seen_reconcile_request = view.annotations.get(controls.RECONCILE_ANNOTATION)
        memory.seen_paused = controls.paused(view.annotations)
        if memory.status is not None and memory.status == view.status:
            memory.status = None  # the watch caught up with our last write: the body's copy will do
        status = memory.status if memory.status is not None else view.status
        with logs.looking(view.namespace, view.name, view.spec.get("functionName"), "reconcile"):
            try:
                return await _look(view, status, reporter, memory, indexes)
            except Exception as exc:  # nothing escapes a look (planner.errors)
                # Left to escape, the look would end with no status, no Event and no metric:
                # stuck in silence. Cancellation is no Exception.
                return await reconciler.fail(view, reporter, memory, exc, "reconcile")

    async def _look(
        view: AttachmentView, status: Any, reporter: KopfReporter, memory: AttachmentMemory, kwargs: Any
    ) -> float:
        """One look: paused, or a reconcile (now, with fresh reads, when requested)."""
        if memory.seen_paused:
            # No AWS call and no status change but the Paused condition, until the annotation goes.
            await controls.set_paused(reporter, memory, status, True, view.generation, reconciler.clock())
            return reconciler.settings.resync_interval
        await controls.set_paused(reporter, memory, status, False, view.generation, reconciler.clock())
        requested = controls.reconcile_request(view.annotations, status)
        if requested is not None:
            controls.forget_caches(memory)
        function_claims: kopf.Index[str, Claim] = kwargs["function_claims"]
        owner = owner_of(function_claims, spec_claim_key(view.spec, default_region))
        conflict = owner if owner not in (None, view.key) else None
        context = None
        if guardrails is not None:
            guardrails.track(view, memory)
            context = guardrails.context(kwargs, view.namespace, view.spec)
        with _measured("reconcile"):
            delay = await reconciler.reconcile(view, reporter, memory, conflict, context)
        if requested is not None:
            await controls.record_handled(reporter, memory, requested)
        reconciler.recovered(memory)
        return delay

    @kopf.on.delete(*RESOURCE, id="release_attachment", registry=registry)
    async def release_attachment(body: kopf.Body, memo: Any, **kwargs: Any) -> None:
        function_claims: kopf.Index[str, Claim] = kwargs["function_claims"]
        memory = memory_of(memo)
        reporter = KopfReporter(body, writer)
        view = view_of(body)
        # No look of it runs beside its release (a running one finishes first, as kopf's daemon did).
        await looks.stop(str(body.metadata.uid))
        if controls.paused(view.annotations):
            # Paused means hands off AWS: the finalizer goes, the function keeps what it has.
            reporter.post(Event(EventType.NORMAL, Reason.RELEASED_WHILE_PAUSED, (
                f"Deleted while {controls.PAUSED_ANNOTATION} is \"true\": the operator released "
                f"{view.spec.get('functionName')} without any AWS call; its VpcConfig and owner tag are as they were"
            )))  # fmt: skip
            return
        owner = owner_of(function_claims, spec_claim_key(view.spec, default_region))
        owned = owner in (None, view.key)
        context = guardrails.context(kwargs, view.namespace, view.spec) if guardrails is not None else None
        while True:
            if error_planning.force_requested(view.annotations):
                reporter.post(error_planning.force_release_event(str(view.spec.get("functionName", "")), view.status))
                return
            function = view.spec.get("functionName")
            with logs.looking(view.namespace, view.name, function, "release"):
                try:
                    with _measured("release"):
                        delay = await reconciler.release(view_of(body), reporter, memory, owned, context)
                    reconciler.recovered(memory)
                except Exception as exc:  # a failed release says why in status, then is retried
                    delay = await reconciler.fail(view, reporter, memory, exc, "release")
            if delay is None:
                return
            # A stall (retried at resync) goes back to kopf even when the resync is short: while this
            # handler loops, kopf handles no event of the object, the force-release annotation included.
            if delay > LONGEST_IN_HANDLER_WAIT or delay >= reconciler.settings.resync_interval:
                raise kopf.TemporaryError("Waiting to release the function (see status)", delay=delay)
            await asyncio.sleep(delay)
