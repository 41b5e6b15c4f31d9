"""What Ready means when traffic does not use $LATEST: the ``AliasesCurrent`` condition (pure).

The operator configures $LATEST only; it never publishes a version nor moves an alias. Published
versions keep the VpcConfig they were published with (aws-facts "Lambda function configuration"),
so with SAM ``AutoPublishAlias`` or CDK ``currentVersion`` the live traffic goes through an alias
to a version that may sit in another VPC, or none, while $LATEST is Attached. This module compares,
per alias, every version it invokes (a weighted alias invokes two) with the spec, and says so.

AliasesCurrent is information, not failure: Ready, Reconciling and Stalled are not touched, so
kstatus, ``kubectl wait`` and Argo CD never wait on a human publishing a version (it would make
them hang). False is a warning, with a Warning Event once per transition; Unknown says why the
aliases could not be read; no aliases, no condition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_vpc_operator.models.aliases import LATEST, AliasFacts, AliasStatus, VersionFacts
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, VpcSettings
from lambda_vpc_operator.planner import conditions, readiness
from lambda_vpc_operator.planner.conditions import ConditionSpec, ConditionType, Reason, Status
from lambda_vpc_operator.planner.planning import describe_vpc
from lambda_vpc_operator.planner.plans import Event, EventType, Outcome

# The looks after which the aliases are read: the spec's configuration is in place on $LATEST.
CHECKED_OUTCOMES = frozenset({Outcome.IN_SYNC, Outcome.IDLE})
ROWS = "aliases"  # status.aliases
FIX = "publish a new version and move the alias to it (the operator configures $LATEST only)"
PERMISSIONS = "lambda:ListAliases and lambda:GetFunctionConfiguration"
# Rows detailed in a message (all are in status.aliases): messages and Events stay short.
DETAILED = 5


@dataclasses.dataclass(frozen=True)
class AliasReading:
    """What the aws layer answered for one function's aliases."""

    aliases: tuple[AliasFacts, ...] = ()
    versions: Mapping[str, VersionFacts] = dataclasses.field(default_factory=dict)
    version_failures: Mapping[str, Failure] = dataclasses.field(default_factory=dict)
    failure: Failure | None = None  # ListAliases itself failed

    @property
    def transient(self) -> bool:
        """A read failed for a passing reason (throttle, AWS unavailable): worth reading again soon."""
        failures = [self.failure, *self.version_failures.values()]
        return any(f is not None and f.transient for f in failures)


@dataclasses.dataclass(frozen=True)
class AliasesPlan:
    condition: ConditionSpec | None  # None: no AliasesCurrent (the function has no aliases)
    status_fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    events: tuple[Event, ...] = ()
    keep: bool = False  # a passing failure: leave status as it is and read again at the next look


def versions_to_read(aliases: Sequence[AliasFacts]) -> list[str]:
    """The published versions whose VpcConfig is needed ($LATEST is the observation itself)."""
    return sorted({v for a in aliases for v in a.versions if v != LATEST}, key=lambda v: (len(v), v))


def plan_aliases(
    function: str,
    desired: VpcSettings,
    latest: FunctionObservation,
    reading: AliasReading,
    current: Sequence[Mapping[str, Any]],
) -> AliasesPlan:
    """AliasesCurrent and status.aliases from one reading; ``current`` is the stored condition list."""
    previous = conditions.find(current, ConditionType.ALIASES_CURRENT)
    if reading.failure is not None:
        if reading.failure.transient and previous is not None:
            # Throttled or AWS unavailable: the last verdict stands (no flap), the next look reads again.
            return AliasesPlan(condition=None, keep=True)
        message = f"Could not list the aliases of {function} ({reading.failure.code}: {reading.failure.message}); "
        message += _remedy(reading.failure)
        condition = _unknown(message)
        return AliasesPlan(condition, events=_events(previous, condition))
    if not reading.aliases:
        return AliasesPlan(condition=None, status_fields={ROWS: None})

    rows = [row for alias in reading.aliases for row in _rows(alias, desired, latest, reading)]
    stale = _names(rows, False)
    unknown = _names(rows, None)
    if stale:
        details = _details(rows, False)
        message = (
            f"Alias(es) {', '.join(stale)} of {function} invoke versions published with another VpcConfig "
            f"than the spec's ({describe_vpc(desired)}): {details}. To move their traffic, {FIX}"
        )
        if unknown:
            message += f". Not read: {', '.join(unknown)}"
        condition = ConditionSpec(ConditionType.ALIASES_CURRENT, Status.FALSE, Reason.STALE_ALIASES, message)
    elif unknown:
        details = _details(rows, None)
        condition = _unknown(f"Could not read the versions of alias(es) {', '.join(unknown)}: {details}")
    else:
        names = ", ".join(a.name for a in reading.aliases)
        condition = ConditionSpec(
            ConditionType.ALIASES_CURRENT, Status.TRUE, Reason.ALIASES_MATCH_SPEC,
            f"Every alias of {function} ({names}) invokes a version with the spec's VpcConfig",
        )  # fmt: skip
    fields = {ROWS: [r.model_dump(by_alias=True, exclude_none=True) for r in rows]}
    return AliasesPlan(condition, status_fields=fields, events=_events(previous, condition))


def _unknown(message: str) -> ConditionSpec:
    return ConditionSpec(ConditionType.ALIASES_CURRENT, Status.UNKNOWN, Reason.ALIASES_UNREADABLE, message)


def _remedy(failure: Failure) -> str:
    if failure.kind == FailureKind.ACCESS_DENIED:
        return f"grant the operator {PERMISSIONS} on the function; Ready is not affected"
    if failure.transient:
        return "will try again at the next look; Ready is not affected"
    return "will try again at the next resync; Ready is not affected"


def _rows(
    alias: AliasFacts, desired: VpcSettings, latest: FunctionObservation, reading: AliasReading
) -> list[AliasStatus]:
    weighted = bool(alias.additional_versions)
    rows = []
    for version in alias.versions:
        weight: float | None = None
        if weighted:
            extra = alias.additional_versions.get(version)
            weight = extra if extra is not None else round(1.0 - sum(alias.additional_versions.values()), 6)
        row = AliasStatus(name=alias.name, function_version=version, weight=weight)
        where = f"{alias.name} -> version {version}" + (f" ({weight:.0%} of its traffic)" if weighted else "")
        if version == LATEST:
            # $LATEST is what the operator configures: the observation is its configuration.
            current = readiness.config_applied(desired, latest)
            row.vpc_config_current, row.vpc_id = current, latest.vpc_id
            if not current:
                row.message = f"{where} has {describe_vpc(latest.vpc)}"
        elif version in reading.versions:
            facts = reading.versions[version]
            row.vpc_config_current, row.vpc_id = facts.vpc == desired, facts.vpc_id
            if facts.vpc != desired:
                row.message = f"{where} has {describe_vpc(facts.vpc)}" + (f" in {facts.vpc_id}" if facts.vpc_id else "")
        else:
            failure = reading.version_failures.get(version)
            code = f"{failure.code}: {failure.message}" if failure is not None else "not read"
            row.message = f"{where} could not be read ({code})"
            if failure is not None and failure.kind == FailureKind.ACCESS_DENIED:
                row.message += f"; grant the operator {PERMISSIONS}"
        rows.append(row)
    return rows


def _details(rows: Sequence[AliasStatus], current: bool | None) -> str:
    messages = [r.message or "" for r in rows if r.vpc_config_current is current]
    more = f"; and {len(messages) - DETAILED} more in status.aliases" if len(messages) > DETAILED else ""
    return "; ".join(messages[:DETAILED]) + more


def _names(rows: Sequence[AliasStatus], current: bool | None) -> list[str]:
    return list(dict.fromkeys(r.name for r in rows if r.vpc_config_current is current))


def _events(previous: Mapping[str, Any] | None, condition: ConditionSpec) -> tuple[Event, ...]:
    """One Event per transition: Warning into False or Unknown, Normal from False back to True."""
    was = previous.get("status") if previous is not None else None
    if was == condition.status:
        return ()
    if condition.status == Status.FALSE:
        return (Event(EventType.WARNING, Reason.STALE_ALIASES, condition.message),)
    if condition.status == Status.UNKNOWN:
        return (Event(EventType.WARNING, Reason.ALIASES_UNREADABLE, condition.message),)
    if was == Status.FALSE:
        return (Event(EventType.NORMAL, Reason.ALIASES_MATCH_SPEC, condition.message),)
    return ()


def due(read_at: float | None, now: float, interval: float) -> bool:
    """A steady function's aliases are read again ``interval`` seconds after the last reading (0: at
    every resync): an alias moves by a deploy, rarely, and AliasesCurrent never holds Ready back."""
    return read_at is None or now - read_at >= interval
