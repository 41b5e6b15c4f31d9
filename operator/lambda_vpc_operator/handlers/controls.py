"""The annotations a human uses to steer one attachment: look now, or hold off.

- ``lambdavpc.dev/reconcile-requested-at: <any new value>`` (Flux's convention): the next look
  happens now, with fresh AWS reads (the preflight, route tables and aliases read again instead of
  from their caches), and ``status.lastHandledReconcileAt`` records the value handled.
- ``lambdavpc.dev/paused: "true"``: no AWS write and no status change until the annotation goes,
  apart from the ``Paused`` condition that says so; a paused attachment that is deleted is released
  without any AWS call (the function keeps whatever it has).

Handled in the kopf glue only: the reconciler never runs for a paused attachment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.models.attachments import GROUP
from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.conditions import ConditionSpec, ConditionType, Reason, Status
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reporting import Reporter

RECONCILE_ANNOTATION = f"{GROUP}/reconcile-requested-at"
PAUSED_ANNOTATION = f"{GROUP}/paused"
HANDLED_RECONCILE = "lastHandledReconcileAt"  # status field

PAUSED = ConditionSpec(
    ConditionType.PAUSED, Status.TRUE, Reason.PAUSED_BY_ANNOTATION,
    f"The {PAUSED_ANNOTATION} annotation is \"true\": the operator neither writes to AWS nor updates this "
    f"status; remove the annotation to resume (deleting this attachment now leaves the function as it is)",
)  # fmt: skip


def paused(annotations: Mapping[str, str]) -> bool:
    return str(annotations.get(PAUSED_ANNOTATION, "")).strip().lower() == "true"


def reconcile_request(annotations: Mapping[str, str], status: Mapping[str, Any]) -> str | None:
    """The reconcile-requested-at value not handled yet, if any."""
    value = annotations.get(RECONCILE_ANNOTATION)
    if value is None or value == status.get(HANDLED_RECONCILE):
        return None
    return str(value)


def forget_caches(memory: AttachmentMemory) -> None:
    """Make the next look read everything from AWS again, as a new generation would, and now."""
    memory.preflight_generation = None
    memory.aliases_generation = None
    memory.forget_networks = True  # the cached Describe answers too (by the look, in its account)
    memory.resync_due = True
    memory.attempt = 0


async def set_paused(
    reporter: Reporter, memory: AttachmentMemory, status: Mapping[str, Any], on: bool, generation: int, now: str
) -> None:
    """Add (or remove) the Paused condition; the only status write of a paused attachment."""
    current = status.get("conditions") or ()
    present = conditions.find(current, ConditionType.PAUSED) is not None
    if present == on:
        return
    updated = conditions.put(current, ConditionType.PAUSED, PAUSED if on else None, generation=generation, now=now)
    memory.status = await reporter.patch_status({"conditions": updated})


async def record_handled(reporter: Reporter, memory: AttachmentMemory, value: str) -> None:
    memory.status = await reporter.patch_status({HANDLED_RECONCILE: value})
