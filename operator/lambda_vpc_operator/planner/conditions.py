"""Status conditions in the metav1.Condition shape that kstatus, kubectl wait, Argo CD and Flux read.

Four types: ``Ready`` (always present, the summary), ``NetworkReady`` (always present on a live
attachment: the function's Hyperplane ENIs are there; normal polarity, Ready requires it),
``Reconciling`` and ``Stalled`` (present only while True, the "abnormal-true" polarity kstatus and
Flux use). A fifth, ``AliasesCurrent`` (``planner.aliases``), is information beside them: it is
decided by its own step, never by a Plan, so ``merge`` leaves it alone and ``put`` sets it.
``merge`` keeps lastTransitionTime when a
condition's status did not flip, so re-reporting the same state never rewrites status.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class ConditionType(enum.StrEnum):
    READY = "Ready"
    NETWORK_READY = "NetworkReady"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    ALIASES_CURRENT = "AliasesCurrent"  # the aliases' versions hold the spec's VpcConfig (information only)
    PAUSED = "Paused"  # the lambdavpc.dev/paused annotation: no AWS write, no status change (handlers)


# Conditions decided apart from the Plan (their own step and schedule): a plan that does not name
# them leaves them as they are.
REPORTED_APART = frozenset({ConditionType.ALIASES_CURRENT, ConditionType.PAUSED})


class Reason(enum.StrEnum):
    """Every reason we put in a condition or Event: one place, no typos."""

    # Ready=True
    ATTACHED = "Attached"
    # NetworkReady=True
    NETWORK_INTERFACES_READY = "NetworkInterfacesReady"
    # work under way (Reconciling=True, Ready=False/Unknown)
    PROGRESSING = "Progressing"  # a new generation was seen, nothing decided yet
    UPDATING = "Updating"  # we sent UpdateFunctionConfiguration
    CLAIMING = "Claiming"  # we tagged the function: its next reading confirms the claim
    UPDATE_IN_PROGRESS = "UpdateInProgress"  # AWS is applying an update (ours or someone's)
    FUNCTION_PENDING = "FunctionPending"  # State=Pending: creation or ENI (re)build
    CORRECTING_DRIFT = "CorrectingDrift"
    THROTTLED = "Throttled"
    AWS_UNAVAILABLE = "AwsUnavailable"
    TRANSITIONING = "Transitioning"  # other non-terminal Lambda states
    DETACHING = "Detaching"
    REACTIVATING = "Reactivating"
    WAITING_FOR_NETWORK_INTERFACES = "WaitingForNetworkInterfaces"  # Lambda builds ENIs; slow is not a failure
    # Inactive: Ready=True with policy Disabled, Reconciling with Auto, Stalled with Manual (planning._idle)
    INACTIVE = "Inactive"
    # Stalled=True: a human must act
    CONFLICT = "Conflict"
    FUNCTION_NOT_FOUND = "FunctionNotFound"
    FUNCTION_FAILED = "FunctionFailed"
    UPDATE_FAILED = "UpdateFailed"
    INVALID_SPEC = "InvalidSpec"
    INVALID_CONFIGURATION = "InvalidConfiguration"
    ACCESS_DENIED = "AccessDenied"
    DRIFT_DETECTED = "DriftDetected"
    SUBNET_NOT_FOUND = "SubnetNotFound"
    SECURITY_GROUP_NOT_FOUND = "SecurityGroupNotFound"
    MIXED_VPCS = "MixedVpcs"
    DEDICATED_TENANCY = "DedicatedTenancy"
    NOT_DUAL_STACK = "NotDualStack"
    REACTIVATION_FAILED = "ReactivationFailed"
    FUNCTION_DEACTIVATED = "FunctionDeactivated"  # State Deactivated
    FUNCTION_NOT_INVOCABLE = "FunctionNotInvocable"  # State ActiveNonInvocable
    # Stalled=True by the guardrails (planner.guards, planner.policies): no AWS write
    POLICY_DENIED = "PolicyDenied"  # no LambdaVpcPolicy allows the attachment
    OWNED_ELSEWHERE = "OwnedElsewhere"  # the owner tag names another cluster, or another live attachment
    NOT_ADOPTED = "NotAdopted"  # in a VPC or tagged before, and spec.adoption is Refuse
    # The execution role cannot manage ENIs: Stalled with --role-check require; Reconciling (retried)
    # when AWS refuses the role at the call (aws-facts "Refusals").
    ROLE_MISSING_PERMISSIONS = "RoleMissingPermissions"
    NO_INTERNET_ROUTE = "NoInternetRoute"  # requireInternetAccess, but a subnet has no NAT route
    # sts:AssumeRole of spec.roleArn / the policy's defaultRoleArn refused (planner.accounts): Stalled, retried slowly
    ASSUME_ROLE_FAILED = "AssumeRoleFailed"
    # AliasesCurrent (planner.aliases): True, False (a warning, not a failure), Unknown
    ALIASES_MATCH_SPEC = "AliasesMatchSpec"
    STALE_ALIASES = "StaleAliases"  # an alias invokes a version published with another VpcConfig
    ALIASES_UNREADABLE = "AliasesUnreadable"  # ListAliases or a version read refused or failed
    # A look raised (planner.errors): Reconciling, then Stalled after many failures in a row
    RECONCILE_ERROR = "ReconcileError"
    # Events only
    FORCE_RELEASED = "ForceReleased"  # the lambdavpc.dev/force-release annotation let the finalizer go
    SLOW_PROVISIONING = "SlowProvisioning"  # ENIs take longer than spec.readinessTimeout
    # Paused=True (handlers.attachments): the lambdavpc.dev/paused annotation holds the operator back
    PAUSED_BY_ANNOTATION = "PausedByAnnotation"
    RELEASED_WHILE_PAUSED = "ReleasedWhilePaused"  # Event: deleted while paused, AWS left untouched


class Status(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@dataclasses.dataclass(frozen=True)
class ConditionSpec:
    """A condition as the planner wants it; times and generations are added by ``merge``."""

    type: ConditionType
    status: Status
    reason: str  # a Reason, or an AWS reason code such as SubnetOutOfIPAddresses
    message: str = ""


def ready(status: Status, reason: str, message: str = "") -> ConditionSpec:
    return ConditionSpec(ConditionType.READY, status, reason, message)


def network_ready(status: Status, reason: str, message: str = "") -> ConditionSpec:
    return ConditionSpec(ConditionType.NETWORK_READY, status, reason, message)


def reconciling(reason: str, message: str = "") -> ConditionSpec:
    return ConditionSpec(ConditionType.RECONCILING, Status.TRUE, reason, message)


def stalled(reason: str, message: str = "") -> ConditionSpec:
    return ConditionSpec(ConditionType.STALLED, Status.TRUE, reason, message)


def find(conditions: Iterable[Mapping[str, Any]], type_: ConditionType) -> Mapping[str, Any] | None:
    for condition in conditions:
        if condition.get("type") == type_:
            return condition
    return None


def is_true(conditions: Iterable[Mapping[str, Any]], type_: ConditionType) -> bool:
    condition = find(conditions, type_)
    return condition is not None and condition.get("status") == Status.TRUE


def merge(
    current: Sequence[Mapping[str, Any]],
    wanted: Sequence[ConditionSpec],
    *,
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """The new condition list: ours replaced by ``wanted``, foreign ones kept, times preserved.

    A condition type of ours that is not wanted is removed (Reconciling and Stalled exist only
    while True). lastTransitionTime moves only when the status flips.
    """
    ours = {t.value for t in ConditionType} - REPORTED_APART
    result: list[dict[str, Any]] = []
    for spec in wanted:
        previous = find(current, spec.type)
        flipped = previous is None or previous.get("status") != spec.status
        result.append(
            {
                "type": spec.type.value,
                "status": spec.status.value,
                "reason": str(spec.reason),
                "message": spec.message,
                "observedGeneration": generation,
                "lastTransitionTime": now if flipped or previous is None else previous["lastTransitionTime"],
            }
        )
    result.extend(dict(c) for c in current if c.get("type") not in ours)
    return result


def put(
    current: Sequence[Mapping[str, Any]],
    type_: ConditionType,
    wanted: ConditionSpec | None,
    *,
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """The condition list with one condition set to ``wanted`` (None removes it), in its place; the
    others untouched, so that an unchanged condition makes no status patch."""
    result = [dict(c) for c in current if c.get("type") != type_ or wanted is not None]
    if wanted is None:
        return result
    condition = merge(current, (wanted,), generation=generation, now=now)[0]
    for i, existing in enumerate(result):
        if existing.get("type") == type_:
            result[i] = condition
            return result
    return [*result, condition]
