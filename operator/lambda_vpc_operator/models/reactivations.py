"""How an attachment brings an idle (Inactive) function back, and what it reports about it.

A VPC function idle for 14 days loses its Hyperplane ENIs and turns Inactive; the next invoke
fails while Lambda rebuilds them (aws-facts "Inactive functions and reactivation"). We invoke it
ourselves, on our terms, so that a user's request never meets a cold VPC.
"""

from __future__ import annotations

import enum
import json
import re

from pydantic import Field, field_validator

from lambda_vpc_operator.models.camel import CamelModel

# Recognisable by the function, which can return early on it (see docs/reactivation.md).
DEFAULT_PAYLOAD = '{"lambdavpc.dev/reactivation": true}'
DURATION_PATTERN = r"^[1-9][0-9]*(s|m|h|d)$"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Lambda's synchronous payload limit is 6 MB; a marker needs a few bytes.
MAX_PAYLOAD = 4096


def duration_seconds(text: str) -> float:
    """'7d' -> 604800.0 (the CRD pattern guarantees the form)."""
    match = re.fullmatch(DURATION_PATTERN, text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30m, 12h or 7d")
    return float(int(text[:-1]) * _UNITS[text[-1]])


class ReactivationPolicy(enum.StrEnum):
    AUTO = "Auto"  # reactivate as soon as Inactive is seen
    MANUAL = "Manual"  # only when the attachment is annotated lambdavpc.dev/reactivate=<new value>
    DISABLED = "Disabled"  # report Inactive, never invoke


class InvocationType(enum.StrEnum):
    # Fails at once on an Inactive function, before any function code runs.
    REQUEST_RESPONSE = "RequestResponse"
    # May be queued and delivered later, running the function with our payload.
    EVENT = "Event"


class ReactivationSpec(CamelModel):
    policy: ReactivationPolicy = Field(
        default=ReactivationPolicy.AUTO,
        description="Auto: invoke an Inactive function at once. Manual: only on the lambdavpc.dev/reactivate "
        "annotation. Disabled: report only.",
    )
    invocation_type: InvocationType = Field(
        default=InvocationType.REQUEST_RESPONSE,
        description="RequestResponse fails at once on an Inactive function and runs no code; Event may be "
        "queued and run the function later with the payload.",
    )
    payload: str = Field(
        default=DEFAULT_PAYLOAD,
        max_length=MAX_PAYLOAD,
        description="JSON sent with the invoke; the default is a marker the function can recognise and ignore.",
    )
    max_attempts: int = Field(default=3, ge=1, le=10, description="Invokes before giving up (Stalled).")
    keep_warm_interval: str | None = Field(
        default=None,
        pattern=DURATION_PATTERN,
        description="Invoke whenever this long (e.g. 7d) has passed since the operator last invoked the "
        "function, so it never reaches 14 idle days.",
    )

    @field_validator("payload")
    @classmethod
    def _json(cls, value: str) -> str:
        json.loads(value)
        return value


class ReactivationStatus(CamelModel):
    attempts: int = Field(default=0, description="Invokes in the current (or last) reactivation.")
    started_time: str | None = Field(default=None, description="When the current reactivation began.")
    last_attempt_time: str | None = None
    last_result: str | None = Field(
        default=None,
        description="Started, Reactivated, Failed, Recovered (Active again after Failed), KeptWarm, NotInactive "
        "or an AWS error code.",
    )
    last_success_time: str | None = None
    last_duration_seconds: float | None = None
    last_invoke_time: str | None = Field(default=None, description="When the operator last invoked the function.")
    handled_request: str | None = Field(
        default=None, description="The lambdavpc.dev/reactivate annotation value last acted on."
    )
