"""The status the planner writes, read the way kstatus (Flux wait, HelmRelease, kubectl wait) reads it.

``kstatus`` below restates kstatus' generic rules (deletionTimestamp, observedGeneration, then
Reconciling, Stalled, Ready); the statuses are built as the reconciler builds them, from
``conditions.merge(plan.conditions)`` of real plans.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from lambda_vpc_operator.models.aliases import AliasFacts, VersionFacts
from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings
from lambda_vpc_operator.models.reactivations import ReactivationSpec
from lambda_vpc_operator.planner import conditions, reactivation
from lambda_vpc_operator.planner.aliases import AliasReading, plan_aliases
from lambda_vpc_operator.planner.conditions import ConditionSpec, ConditionType
from lambda_vpc_operator.planner.planning import Situation, plan_attachment, plan_start
from lambda_vpc_operator.planner.plans import Outcome

MakeSpec = Callable[..., AttachmentSpec]
MakeObservation = Callable[..., FunctionObservation]

GENERATION = 7
NOW = "2025-01-01T00:00:00Z"


class KStatus(enum.StrEnum):
    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"


def kstatus(obj: Mapping[str, Any]) -> KStatus:
    """kstatus' generic rules, in their order."""
    metadata = obj.get("metadata", {})
    status = obj.get("status", {})
    if metadata.get("deletionTimestamp"):
        return KStatus.TERMINATING
    if "observedGeneration" in status and status["observedGeneration"] != metadata.get("generation"):
        return KStatus.IN_PROGRESS
    by_type = {c["type"]: c["status"] for c in status.get("conditions", [])}
    if by_type.get("Reconciling") == "True":
        return KStatus.IN_PROGRESS
    if by_type.get("Stalled") == "True":
        return KStatus.FAILED
    if "Ready" in by_type:
        return KStatus.CURRENT if by_type["Ready"] == "True" else KStatus.IN_PROGRESS
    return KStatus.CURRENT


def resource(wanted: Sequence[ConditionSpec], *, observed_generation: int = GENERATION) -> dict[str, Any]:
    return {
        "metadata": {"generation": GENERATION},
        "status": {
            "observedGeneration": observed_generation,
            "conditions": conditions.merge([], wanted, generation=GENERATION, now=NOW),
        },
    }


def test_start_of_a_generation_is_in_progress() -> None:
    assert kstatus(resource(plan_start(GENERATION))) == KStatus.IN_PROGRESS


@pytest.mark.parametrize(
    ("overrides", "situation", "outcome", "expected"),
    [
        pytest.param({}, {}, Outcome.IN_SYNC, KStatus.CURRENT, id="in-sync"),
        pytest.param({"vpc": VpcSettings.of(["subnet-z9"], ["sg-9"])}, {}, Outcome.UPDATE, KStatus.IN_PROGRESS,
                     id="update"),
        pytest.param({"last_update_status": UpdateStatus.IN_PROGRESS}, {}, Outcome.WAIT, KStatus.IN_PROGRESS,
                     id="wait-busy"),
        pytest.param({"state": FunctionState.DEACTIVATING}, {}, Outcome.WAIT, KStatus.IN_PROGRESS,
                     id="wait-transitioning"),
        # AWS-side states no VpcConfig changes: a human must act (Flux wait and Argo CD must not hang).
        pytest.param({"state": FunctionState.DEACTIVATED}, {}, Outcome.STALLED, KStatus.FAILED, id="deactivated"),
        pytest.param({"state": FunctionState.ACTIVE_NON_INVOCABLE}, {}, Outcome.STALLED, KStatus.FAILED,
                     id="active-non-invocable"),
        # Someone else's failed update (a code deploy) leaves our configuration in place: still Current.
        pytest.param({"last_update_status": UpdateStatus.FAILED,
                      "last_update_status_reason_code": "InvalidZipFileException"},
                     {}, Outcome.IN_SYNC, KStatus.CURRENT, id="foreign-failed-update"),
        pytest.param({"state": FunctionState.FAILED, "state_reason_code": "InvalidSubnet"}, {}, Outcome.STALLED,
                     KStatus.FAILED, id="stalled-failed-function"),
        pytest.param({}, {"conflict_with": "ns/other"}, Outcome.STALLED, KStatus.FAILED, id="stalled-conflict"),
        pytest.param({"vpc": VpcSettings.of(["subnet-z9"], ["sg-9"])}, {"applied_generation": GENERATION},
                     Outcome.UPDATE, KStatus.IN_PROGRESS, id="correcting-drift"),
        # Inactive with reactivation Auto: the reactivation is under way (it ends Ready or Stalled).
        pytest.param({"state": FunctionState.INACTIVE, "state_reason_code": "Idle"}, {}, Outcome.IDLE,
                     KStatus.IN_PROGRESS, id="idle-auto"),
    ],
)  # fmt: skip
def test_plans_read_as_kstatus(
    make_spec: MakeSpec,
    make_observation: MakeObservation,
    overrides: dict[str, Any],
    situation: dict[str, Any],
    outcome: Outcome,
    expected: KStatus,
) -> None:
    s = Situation(generation=GENERATION, observed=make_observation(**overrides), **situation)
    plan = plan_attachment(make_spec(), s)
    assert plan.outcome == outcome
    assert plan.conditions is not None
    assert kstatus(resource(plan.conditions)) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # The user chose never to reactivate: idle is as desired.
        pytest.param("Disabled", KStatus.CURRENT, id="disabled"),
        # Waiting for a human's lambdavpc.dev/reactivate annotation: Stalled names it.
        pytest.param("Manual", KStatus.FAILED, id="manual"),
    ],
)
def test_idle_without_auto_reactivation_is_settled(
    make_spec: MakeSpec, make_observation: MakeObservation, policy: str, expected: KStatus
) -> None:
    observed = make_observation(state=FunctionState.INACTIVE, state_reason_code="Idle")
    spec = make_spec(reactivation={"policy": policy})
    plan = plan_attachment(spec, Situation(generation=GENERATION, observed=observed))
    assert plan.outcome == Outcome.IDLE
    assert plan.conditions is not None
    assert kstatus(resource(plan.conditions)) == expected


def test_reactivation_steps_read_as_kstatus(make_observation: MakeObservation) -> None:
    """Auto: Reactivating is InProgress; giving up is Failed; both settle."""
    now = datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC)
    observed = make_observation(state=FunctionState.INACTIVE, state_reason_code="Idle")
    started = reactivation.plan_reactivation(ReactivationSpec(), observed, {}, function="orders", now=now)
    assert started.conditions is not None
    assert kstatus(resource(started.conditions)) == KStatus.IN_PROGRESS
    record = {"attempts": 3, "startedTime": "2026-11-25T10:00:00Z", "lastAttemptTime": "2026-11-25T10:00:00Z"}
    gave_up = reactivation.plan_reactivation(ReactivationSpec(), observed, record, function="orders", now=now)
    assert gave_up.conditions is not None
    assert kstatus(resource(gave_up.conditions)) == KStatus.FAILED


def test_drift_reported_reads_as_failed(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    s = Situation(
        generation=GENERATION,
        observed=make_observation(vpc=VpcSettings.of(["subnet-z9"], ["sg-9"])),
        applied_generation=GENERATION,
    )
    plan = plan_attachment(make_spec(driftPolicy="Report"), s)
    assert plan.outcome == Outcome.DRIFT_REPORTED
    assert plan.conditions is not None
    assert kstatus(resource(plan.conditions)) == KStatus.FAILED


def test_missing_function_reads_as_failed(make_spec: MakeSpec) -> None:
    plan = plan_attachment(make_spec(), Situation(generation=GENERATION, observed=None))
    assert plan.conditions is not None
    assert kstatus(resource(plan.conditions)) == KStatus.FAILED


def test_in_sync_after_a_stall_clears_the_failure(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    stalled = conditions.merge([], [conditions.ready(conditions.Status.FALSE, "InvalidSubnet"),
                                    conditions.stalled("InvalidSubnet")], generation=GENERATION, now=NOW)  # fmt: skip
    plan = plan_attachment(make_spec(), Situation(generation=GENERATION, observed=make_observation()))
    assert plan.conditions is not None
    merged = conditions.merge(stalled, plan.conditions, generation=GENERATION, now=NOW)
    obj = {"metadata": {"generation": GENERATION}, "status": {"observedGeneration": GENERATION, "conditions": merged}}
    assert kstatus(obj) == KStatus.CURRENT


def test_transient_read_failure_keeps_the_previous_verdict(make_spec: MakeSpec) -> None:
    failure = Failure(FailureKind.SERVICE_ERROR, "ServiceException", "boom")
    ready = conditions.merge([], [conditions.ready(conditions.Status.TRUE, "Attached")], generation=GENERATION, now=NOW)
    plan = plan_attachment(make_spec(), Situation(generation=GENERATION, observed=None, conditions=ready,
                                                  read_failure=failure))  # fmt: skip
    assert plan.conditions is None  # the reconciler leaves status.conditions as they are ...
    obj = {"metadata": {"generation": GENERATION}, "status": {"observedGeneration": GENERATION, "conditions": ready}}
    assert kstatus(obj) == KStatus.CURRENT  # ... so kstatus still says Current


def test_stale_observed_generation_is_in_progress_even_when_ready(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    plan = plan_attachment(make_spec(), Situation(generation=GENERATION, observed=make_observation()))
    assert plan.conditions is not None
    assert kstatus(resource(plan.conditions, observed_generation=GENERATION - 1)) == KStatus.IN_PROGRESS


def test_every_condition_carries_the_generation_for_kubectl_wait(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    plan = plan_attachment(make_spec(), Situation(generation=GENERATION, observed=make_observation()))
    assert plan.conditions is not None
    merged = resource(plan.conditions)["status"]["conditions"]
    assert [(c["type"], c["observedGeneration"]) for c in merged] == [("Ready", GENERATION)]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param({"metadata": {"generation": 1, "deletionTimestamp": NOW}, "status": {}}, KStatus.TERMINATING,
                     id="terminating"),
        pytest.param({"metadata": {"generation": 1}, "status": {}}, KStatus.CURRENT, id="no-conditions"),
        pytest.param({"metadata": {"generation": 2}, "status": {"observedGeneration": 1}}, KStatus.IN_PROGRESS,
                     id="generation-behind"),
        pytest.param({"metadata": {"generation": 1}, "status": {"conditions": [
            {"type": "Reconciling", "status": "True"}, {"type": "Stalled", "status": "True"}]}},
            KStatus.IN_PROGRESS, id="reconciling-before-stalled"),
        pytest.param({"metadata": {"generation": 1}, "status": {"conditions": [
            {"type": "Ready", "status": "Unknown"}]}}, KStatus.IN_PROGRESS, id="ready-unknown"),
    ],
)  # fmt: skip
def test_the_kstatus_rules_themselves(obj: dict[str, Any], expected: KStatus) -> None:
    assert kstatus(obj) == expected


def test_stale_aliases_leave_an_attached_function_current(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    """AliasesCurrent=False is information: kstatus (and kubectl wait on Ready) must not wait on it."""
    observed = make_observation()
    plan = plan_attachment(make_spec(), Situation(generation=GENERATION, observed=observed))
    assert plan.outcome == Outcome.IN_SYNC and plan.conditions is not None
    merged = conditions.merge([], plan.conditions, generation=GENERATION, now=NOW)
    old = VersionFacts("1", VpcSettings.of(["subnet-old"], ["sg-1"]), "vpc-old")
    reading = AliasReading((AliasFacts("live", "1"),), {"1": old})
    verdict = plan_aliases("orders", observed.vpc, observed, reading, merged)
    assert verdict.condition is not None and verdict.condition.status == conditions.Status.FALSE
    merged = conditions.put(merged, ConditionType.ALIASES_CURRENT, verdict.condition, generation=GENERATION, now=NOW)
    obj = {"metadata": {"generation": GENERATION}, "status": {"observedGeneration": GENERATION, "conditions": merged}}
    assert kstatus(obj) == KStatus.CURRENT
