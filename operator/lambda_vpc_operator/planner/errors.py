"""What a look that raised reports: ReconcileError, a bounded backoff, Stalled after many in a row.

The handlers catch whatever escapes a look (our bug, a library's, an answer nobody expected) and ask
this module what to say; nothing here does I/O. The rules (docs/design.md "Errors"):

- ``Reconciling=True`` with reason ``ReconcileError`` and the exception's class and message, secrets
  redacted (``redact``): never a silent ``Progressing``;
- a Warning Event once per distinct error (the same error repeated is not news);
- retried 2 s doubling to 5 minutes, jittered so a thousand attachments failing together do not
  come back together;
- after ``stall_after`` consecutive failures, ``Stalled=True`` with the same message: kstatus,
  Argo CD and Flux see Failed, and the look is still retried at the slow end.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_vpc_operator.planner import conditions
from lambda_vpc_operator.planner.conditions import ConditionSpec, ConditionType, Reason, Status
from lambda_vpc_operator.planner.plans import Event, EventType

FIRST_DELAY = 2.0
MAX_DELAY = 300.0
# Each delay is moved by up to this fraction either way (jitter), never above MAX_DELAY.
JITTER = 0.2
# Consecutive failed looks before the attachment is Stalled (--stall-after-errors).
DEFAULT_STALL_AFTER = 10
# A condition message is for humans; a traceback-sized one is not.
MAX_MESSAGE = 400
REDACTED = "[REDACTED]"

# What credentials look like in text: AWS access key ids (AKIA/ASIA...), key=value pairs naming a
# secret, token, password or signature, Authorization headers, and long base64 runs (session tokens).
_SECRETS = (
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{12,}\b"),
    re.compile(
        r"(?i)((?:aws_)?(?:secret(?:_?access)?_?key|session_?token|security_?token|password|passwd|token|"
        r"signature|x-amz-security-token|x-amz-signature|credential)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"
    ),
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\n]+"),
    re.compile(r"[A-Za-z0-9+/]{40,}={0,2}"),
)


def redact(text: str) -> str:
    """``text`` with anything that looks like an AWS key, a session token or a secret replaced."""
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


@dataclasses.dataclass(frozen=True)
class ErrorSummary:
    """An exception as status shows it: its class and its (redacted, bounded) message."""

    kind: str
    message: str

    @classmethod
    def of(cls, exc: BaseException) -> ErrorSummary:
        kind, message = type(exc).__name__, str(exc)
        # Our AwsErrors read "Code: message", and the code is often the class name: say it once.
        message = message.removeprefix(f"{kind}: ")
        return cls(kind, redact(message))

    @property
    def text(self) -> str:
        text = f"{self.kind}: {self.message}" if self.message else self.kind
        return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


@dataclasses.dataclass(frozen=True)
class ErrorPlan:
    conditions: tuple[ConditionSpec, ...]
    delay: float
    events: tuple[Event, ...]
    stalled: bool


def error_delay(failures: int, jitter: float = 0.5) -> float:
    """2 s doubling to 5 min for the ``failures``-th failure in a row (1-based); ``jitter`` in [0, 1)
    moves it by up to JITTER either way (0.5: not at all)."""
    base = min(MAX_DELAY, FIRST_DELAY * 2.0 ** max(0, failures - 1))
    return min(MAX_DELAY, base * (1.0 + JITTER * (2.0 * jitter - 1.0)))


def plan_error(
    error: ErrorSummary,
    failures: int,
    previous: Sequence[Mapping[str, Any]],
    *,
    last_error: str | None = None,
    stall_after: int = DEFAULT_STALL_AFTER,
    jitter: float = 0.5,
) -> ErrorPlan:
    """What to report after the ``failures``-th look in a row raised ``error``.

    ``previous`` is the stored condition list: a Ready=True attachment stays Ready (one failed look
    says nothing about the function), anything else says ReconcileError. ``last_error`` is the text
    of the error last posted as an Event: the same error is not posted again.
    """
    stalled = failures >= max(1, stall_after)
    delay = error_delay(failures, jitter)
    text = error.text
    tail = f" (failed {failures} time(s) in a row; retrying in {delay:.0f}s)"
    message = f"The look at this attachment failed: {text}{tail}"
    wanted: list[ConditionSpec] = []
    ready = conditions.find(previous, ConditionType.READY)
    if ready is not None and ready.get("status") == Status.TRUE and not stalled:
        wanted.append(_kept(ConditionType.READY, ready))
        network = conditions.find(previous, ConditionType.NETWORK_READY)
        if network is not None:
            wanted.append(_kept(ConditionType.NETWORK_READY, network))
    else:
        wanted.append(conditions.ready(Status.FALSE, Reason.RECONCILE_ERROR, message))
        wanted.append(conditions.network_ready(Status.UNKNOWN, Reason.RECONCILE_ERROR, message))
    if stalled:
        wanted.append(conditions.stalled(Reason.RECONCILE_ERROR, message))
    else:
        wanted.append(conditions.reconciling(Reason.RECONCILE_ERROR, message))
    events: tuple[Event, ...] = ()
    if text != last_error:
        events = (Event(EventType.WARNING, Reason.RECONCILE_ERROR, f"{text}; retrying in {delay:.0f}s"),)
    return ErrorPlan(tuple(wanted), delay, events, stalled)


def reported(condition: Mapping[str, Any]) -> bool:
    """A Reconciling or Stalled condition of ours saying a look failed (cleared by the next good look)."""
    return condition.get("type") in (ConditionType.RECONCILING, ConditionType.STALLED) and (
        condition.get("reason") == Reason.RECONCILE_ERROR
    )


def _kept(type_: ConditionType, stored: Mapping[str, Any]) -> ConditionSpec:
    status = str(stored.get("status"))
    return ConditionSpec(
        type_,
        Status(status) if status in set(Status) else Status.UNKNOWN,
        str(stored.get("reason") or Reason.RECONCILE_ERROR),
        str(stored.get("message") or ""),
    )


# -- deletion: a human may let the finalizer go (docs/design.md "Deletion") -------------------

FORCE_RELEASE_ANNOTATION = "lambdavpc.dev/force-release"


def force_requested(annotations: Mapping[str, str]) -> bool:
    """The annotation is set to anything but "false" (or empty): ``kubectl annotate ... =true``."""
    value = annotations.get(FORCE_RELEASE_ANNOTATION)
    return value is not None and value.strip().lower() not in ("", "false", "0", "no")


def force_release_event(function: str, status: Mapping[str, Any]) -> Event:
    """The Warning Event of a forced release: what the operator leaves on AWS, for a human to clean up."""
    claim: Mapping[str, Any] = status.get("ownership") or {}
    arn = str(claim.get("functionArn") or status.get("functionArn") or function)
    subnets = ", ".join(status.get("subnetIds") or ()) or "none known"
    groups = ", ".join(status.get("securityGroupIds") or ()) or "none known"
    tag = claim.get("ownerTag")
    left = f"Lambda function {arn} keeps its VpcConfig as AWS holds it (last seen: subnets {subnets}; "
    left += f"security groups {groups})"
    if tag:
        left += f" and its owner tag lambdavpc.dev/owner={tag}"
    reasons = [
        str(c.get("message")) for c in status.get("conditions") or ()
        if c.get("type") in (ConditionType.STALLED, ConditionType.RECONCILING) and c.get("message")
    ]  # fmt: skip
    why = f"; the release was stuck: {redact(reasons[0])}" if reasons else ""
    return Event(
        EventType.WARNING,
        Reason.FORCE_RELEASED,
        f"Finalizer released by the {FORCE_RELEASE_ANNOTATION} annotation without releasing the function: "
        f"{left}{why}. Detach it (or delete the tag) yourself if it is no longer wanted",
    )
