"""The planner's output: what to do, what to report, when to look again."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.models.functions import VpcSettings
from lambda_vpc_operator.planner.conditions import ConditionSpec


class Outcome(enum.StrEnum):
    IN_SYNC = "InSync"  # AWS matches the spec and the function is Active: nothing to do
    UPDATE = "Update"  # send UpdateFunctionConfiguration now
    WAIT = "Wait"  # AWS is busy or transitioning; look again after requeue_after
    DRIFT_REPORTED = "DriftReported"  # driftPolicy Report: differences reported, left alone
    IDLE = "Idle"  # applied, but the function is Inactive
    STALLED = "Stalled"  # a human must act; no AWS write until something changes
    RELEASED = "Released"  # deletion: nothing left to do on AWS, the finalizer may go


class EventType(enum.StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclasses.dataclass(frozen=True)
class Event:
    type: EventType
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class UpdateVpcConfig:
    """UpdateFunctionConfiguration(VpcConfig=vpc, RevisionId=revision_id)."""

    vpc: VpcSettings
    revision_id: str | None


@dataclasses.dataclass(frozen=True)
class Plan:
    outcome: Outcome
    # None: leave the conditions as they are (a passing read failure must not flap Ready).
    conditions: tuple[ConditionSpec, ...] | None
    action: UpdateVpcConfig | None = None
    events: tuple[Event, ...] = ()
    # Seconds until the next look; None: steady, the resync interval decides.
    requeue_after: float | None = None
    # The spec's configuration is in place on AWS (drift after this is someone else's change).
    applied: bool = False
    # More status fields to write (camelCase; None deletes), e.g. the network rows of ``network_readiness``.
    status_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
