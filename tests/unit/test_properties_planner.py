"""Properties of the planner and the models, for random specs, observations and stored statuses.

- a plan never sends a partial update: the write is the spec's whole VpcConfig, with the RevisionId read;
- idempotence: once AWS holds what a plan wrote, the next plan writes nothing;
- invalid input (a spec, an AWS answer, a stored condition) yields a condition or our error class,
  never another exception;
- status rendering is stable: the same inputs give the same patch, and a patch once applied gives none.

Bounded (modest max_examples, no deadline) so that the unit suite stays fast.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_vpc_operator.aws import errors
from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings
from lambda_vpc_operator.models.settings import OperatorSettings
from lambda_vpc_operator.planner import conditions, planning, status_patches
from lambda_vpc_operator.planner import errors as error_planning
from lambda_vpc_operator.planner.conditions import ConditionType, Reason
from lambda_vpc_operator.planner.plans import Event, Outcome
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reconciler import AttachmentView, Reconciler

BOUNDED = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GENERATION = 3
NOW = "2026-01-01T00:00:00Z"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"

subnets = st.sets(st.sampled_from(["subnet-a1", "subnet-b2", "subnet-c3"]), min_size=1, max_size=3)
groups = st.sets(st.sampled_from(["sg-1", "sg-2", "sg-3"]), min_size=1, max_size=3)
# What AWS may hold: any of those, or nothing at all.
held = st.one_of(
    st.just(VpcSettings()),
    st.builds(lambda s, g, v6: VpcSettings.of(sorted(s), sorted(g), v6), subnets, groups, st.booleans()),
)


@st.composite
def specs(draw: st.DrawFn) -> AttachmentSpec:
    return AttachmentSpec.model_validate({
        "functionName": "orders",
        "subnetIds": sorted(draw(subnets)),
        "securityGroupIds": sorted(draw(groups)),
        "ipv6AllowedForDualStack": draw(st.booleans()),
        "driftPolicy": draw(st.sampled_from(["Correct", "Report"])),
        "reactivation": {"policy": draw(st.sampled_from(["Auto", "Manual", "Disabled"]))},
    })  # fmt: skip


@st.composite
def observations(draw: st.DrawFn) -> FunctionObservation:
    vpc = draw(held)
    update = draw(st.sampled_from([None, *UpdateStatus]))
    return FunctionObservation(
        name="orders",
        arn=ARN,
        vpc=vpc,
        vpc_id="vpc-1" if vpc.attached else None,
        state=draw(st.sampled_from([None, *FunctionState])),
        state_reason=None,
        state_reason_code=draw(st.sampled_from([None, "Idle", "Creating", "Restoring"])),
        last_update_status=update,
        last_update_status_reason="failed" if update == UpdateStatus.FAILED else None,
        last_update_status_reason_code=(
            draw(st.sampled_from(["SubnetOutOfIPAddresses", "InternalError", "EniLimitExceeded"]))
            if update == UpdateStatus.FAILED else None
        ),
        revision_id=draw(st.sampled_from(["rev-1", "rev-2"])),
    )  # fmt: skip


failures = st.one_of(
    st.none(),
    st.builds(
        Failure,
        kind=st.sampled_from(list(FailureKind)),
        code=st.sampled_from(["ServiceException", "TooManyRequestsException", "AccessDeniedException"]),
        message=st.text(max_size=20),
        retry_after=st.one_of(st.none(), st.floats(0, 300)),
    ),
)
stored_conditions = st.lists(
    st.fixed_dictionaries({
        "type": st.sampled_from([*(t.value for t in ConditionType), "Foreign"]),
        "status": st.sampled_from(["True", "False", "Unknown", "Maybe", ""]),
        "reason": st.sampled_from(["Attached", "Progressing", "ReconcileError", ""]),
        "message": st.text(max_size=10),
        "lastTransitionTime": st.just(NOW),
    }),
    max_size=5,
    unique_by=lambda c: c["type"],
)  # fmt: skip


@st.composite
def situations(draw: st.DrawFn) -> planning.Situation:
    return planning.Situation(
        generation=GENERATION,
        observed=draw(observations()),
        conditions=draw(stored_conditions),
        applied_generation=draw(st.sampled_from([None, GENERATION - 1, GENERATION])),
        attempt=draw(st.integers(0, 12)),
        resync=draw(st.booleans()),
        update_sent=draw(st.booleans()),
    )


@BOUNDED
@given(specs(), situations())
def test_a_plan_writes_the_whole_configuration_or_nothing(spec: AttachmentSpec, s: planning.Situation) -> None:
    plan = planning.plan_attachment(spec, s)
    if plan.action is None:
        return
    assert s.observed is not None
    assert plan.action.vpc == planning.desired_vpc(spec)  # every field of VpcConfig, never a part
    assert plan.action.revision_id == s.observed.revision_id  # conditional on what was just read
    assert plan.outcome == Outcome.UPDATE


@BOUNDED
@given(specs(), situations())
def test_once_aws_holds_the_write_no_further_write(spec: AttachmentSpec, s: planning.Situation) -> None:
    plan = planning.plan_attachment(spec, s)
    if plan.action is None:
        return
    assert s.observed is not None
    # AWS applied our write: the VpcConfig is ours, the update Successful.
    observed = dataclasses.replace(
        s.observed, vpc=plan.action.vpc, vpc_id="vpc-1", last_update_status=UpdateStatus.SUCCESSFUL,
        last_update_status_reason=None, last_update_status_reason_code=None,
    )  # fmt: skip
    for applied in (None, GENERATION):
        after = dataclasses.replace(s, observed=observed, applied_generation=applied, update_sent=True, attempt=0)
        again = planning.plan_attachment(spec, after)
        assert again.action is None, (again.outcome, again.conditions)


@BOUNDED
@given(specs(), situations(), failures, failures)
def test_any_failure_or_stored_status_yields_a_plan_never_an_exception(
    spec: AttachmentSpec, s: planning.Situation, read: Failure | None, refused: Failure | None
) -> None:
    plan = planning.plan_attachment(spec, dataclasses.replace(s, read_failure=read, action_failure=refused))
    assert isinstance(plan.outcome, Outcome)
    if plan.conditions is not None:
        merged = conditions.merge(s.conditions, plan.conditions, generation=GENERATION, now=NOW)
        assert {c["type"] for c in merged} >= {ConditionType.READY.value}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
spec_fields = st.dictionaries(
    st.sampled_from(
        ["functionName", "subnetIds", "securityGroupIds", "region", "driftPolicy", "deletionPolicy",
         "readinessTimeout", "reactivation", "ipv6AllowedForDualStack", "adoption", "unknownField"]
    ),
    json_values,
    max_size=6,
)  # fmt: skip


class Recorder:
    def __init__(self) -> None:
        self.patches: list[Mapping[str, Any]] = []
        self.events: list[Event] = []
        self.status: dict[str, Any] = {}

    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        self.patches.append(patch)
        self.status = merge_patch(self.status, patch)
        return self.status

    def post(self, event: Event) -> None:
        self.events.append(event)


class NoAws:
    """Any AWS call is a failure of the property: an invalid spec must be refused before AWS."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"AWS touched for an invalid spec ({name})")


@settings(max_examples=60, deadline=None)
@given(spec_fields)
def test_an_invalid_spec_is_a_condition_never_an_exception(raw: dict[str, Any]) -> None:
    try:
        AttachmentSpec.model_validate(raw)
    except pydantic.ValidationError:
        pass
    else:
        return  # valid specs are the other properties' business
    reconciler = Reconciler(NoAws(), OperatorSettings())  # type: ignore[arg-type]
    reporter = Recorder()
    view = AttachmentView("ns", "a", GENERATION, raw, {})
    asyncio.run(reconciler.reconcile(view, reporter, AttachmentMemory()))
    stalled = conditions.find(reporter.status["conditions"], ConditionType.STALLED)
    assert stalled is not None and stalled["reason"] == Reason.INVALID_SPEC
    assert "spec." in stalled["message"]  # names the field


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["FunctionName", "FunctionArn", "State", "VpcConfig", "LastUpdateStatus"]),
                       json_values, max_size=5))  # fmt: skip
def test_an_unexpected_aws_answer_is_our_error_class(configuration: dict[str, Any]) -> None:
    try:
        with errors.reading("GetFunction"):
            FunctionObservation.from_aws(configuration)
    except errors.UnexpectedAnswer as exc:
        assert exc.failure.kind == FailureKind.SERVICE_ERROR


def merge_patch(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386, as the API server applies a status merge patch."""
    result = dict(current)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = value
    return result


@BOUNDED
@given(specs(), situations(), st.dictionaries(st.sampled_from(["vpcId", "state", "lastSyncTime"]), json_values))
def test_status_rendering_is_stable(spec: AttachmentSpec, s: planning.Situation, extra: dict[str, Any]) -> None:
    plan = planning.plan_attachment(spec, s)
    current: dict[str, Any] = {"conditions": list(s.conditions), **extra}

    def render() -> dict[str, Any]:
        wanted: dict[str, Any] = {"observedGeneration": GENERATION, **status_patches.observed_fields(s.observed)}
        if plan.conditions is not None:
            wanted["conditions"] = conditions.merge(s.conditions, plan.conditions, generation=GENERATION, now=NOW)
        wanted.update(plan.status_fields)
        return wanted

    first = status_patches.status_patch(current, render())
    assert first == status_patches.status_patch(current, render())  # the same inputs, the same patch
    assert status_patches.status_patch(merge_patch(current, first), render()) == {}  # applied: nothing more


@BOUNDED
@given(
    st.text(max_size=30), st.integers(1, 40), stored_conditions, st.one_of(st.none(), st.text(max_size=10)),
    st.integers(1, 12), st.floats(0, 0.999),
)  # fmt: skip
def test_error_plans_are_bounded_and_stable(
    message: str, failures_: int, stored: list[dict[str, Any]], last: str | None, stall_after: int, jitter: float
) -> None:
    error = error_planning.ErrorSummary.of(RuntimeError(message))
    plan = error_planning.plan_error(error, failures_, stored, last_error=last, stall_after=stall_after, jitter=jitter)
    assert 0 < plan.delay <= error_planning.MAX_DELAY
    assert plan == error_planning.plan_error(
        error, failures_, stored, last_error=last, stall_after=stall_after, jitter=jitter
    )
    types = [c.type for c in plan.conditions]
    assert (ConditionType.STALLED in types) == (failures_ >= stall_after) != (ConditionType.RECONCILING in types)
    merged = conditions.merge(stored, plan.conditions, generation=GENERATION, now=NOW)
    assert merged == conditions.merge(stored, plan.conditions, generation=GENERATION, now=NOW)


@pytest.mark.parametrize("secret", ["AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"])
@settings(max_examples=50, deadline=None)
@given(prefix=st.text(max_size=20), suffix=st.text(max_size=20))
def test_redaction_never_lets_a_key_through(secret: str, prefix: str, suffix: str) -> None:
    assert secret not in error_planning.redact(f"{prefix} {secret} {suffix}")
