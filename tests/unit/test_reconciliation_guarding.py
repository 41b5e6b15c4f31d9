"""reconciliation.guarding (and handlers.policies' glue) with a fake AWS: what is asked, what is decided."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from lambda_vpc_operator.aws import clients, identities
from lambda_vpc_operator.aws.errors import AccessDenied, Throttled, UpdateConflict
from lambda_vpc_operator.handlers.policies import CLAIMS_INDEX, LABELS_INDEX, POLICIES_INDEX, POLICIES_KEY, Guardrails
from lambda_vpc_operator.models.attachments import AttachmentSpec, DeletionPolicy
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import (
    FunctionObservation,
    FunctionRef,
    FunctionState,
    UpdateStatus,
    VpcSettings,
)
from lambda_vpc_operator.models.networks import NetworkFacts, SecurityGroupFacts, SubnetFacts
from lambda_vpc_operator.models.permissions import ENI_ACTIONS, EvalDecision, RolePermissions
from lambda_vpc_operator.models.policies import PolicyMode, PolicySpec
from lambda_vpc_operator.models.settings import OperatorSettings, RoleCheck
from lambda_vpc_operator.planner import guards, planning
from lambda_vpc_operator.planner.conditions import Reason
from lambda_vpc_operator.planner.policies import Policy, PolicySet
from lambda_vpc_operator.planner.validation import Severity
from lambda_vpc_operator.reconciliation.guarding import Context, Guard, OwnerTag
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reconciler import AttachmentView

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/exec"
ME = "team-a/orders"
SPEC = {"functionName": "orders", "subnetIds": ["subnet-a"], "securityGroupIds": ["sg-1"]}


class FakeAws:
    """The parts of AwsGateway the guard uses, recording every call."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.tag_error: Exception | None = None
        self.describe_error: Exception | None = None
        self.list_tags_error: Exception | None = None
        self.tags_on_aws: dict[str, str] = {}  # what ListTags answers (GetFunction may hide them)
        self.tags_shown = False  # whether GetFunction answers Tags (a caller allowed lambda:ListTags)
        self.permissions = RolePermissions(ROLE, dict.fromkeys(ENI_ACTIONS, EvalDecision.ALLOWED))
        self.identity = self
        self.networks = self
        self.roles = self
        self.functions = self
        self.observer = self

    known = ACCOUNT
    partition: str | None = None

    async def account_id(self) -> str:
        self.calls.append("GetCallerIdentity")
        return ACCOUNT

    async def describe(self, region: str, subnets: list[str], groups: list[str], **_: Any) -> NetworkFacts:
        self.calls.append("Describe")
        if self.describe_error is not None:
            raise self.describe_error
        return NetworkFacts(
            subnets={s: SubnetFacts(s, "vpc-1", "us-east-1a", 250, "10.0.0.0/24") for s in subnets},
            security_groups={g: SecurityGroupFacts(g, "vpc-1") for g in groups},
        )

    async def permissions_of(self, role: str) -> RolePermissions:
        self.calls.append("SimulatePrincipalPolicy")
        return self.permissions

    async def observe(self, ref: FunctionRef, *, fresh: bool = True) -> FunctionObservation:
        self.calls.append("GetFunction")
        return observation(tags=dict(self.tags_on_aws) if self.tags_shown else None)

    async def list_tags(self, arn: str, **_: Any) -> dict[str, str]:
        self.calls.append("ListTags")
        if self.list_tags_error is not None:
            raise self.list_tags_error
        return dict(self.tags_on_aws)

    async def tag(self, arn: str, tags: dict[str, str], **_: Any) -> None:
        self.calls.append(f"TagResource {tags}")
        if self.tag_error is not None:
            raise self.tag_error


@pytest.fixture
def aws() -> FakeAws:
    fake = FakeAws()
    fake.roles = type("Roles", (), {"permissions": fake.permissions_of})()  # type: ignore[assignment]
    return fake


@pytest.fixture
def guard(aws: FakeAws) -> Guard:
    return Guard(aws, OperatorSettings())  # type: ignore[arg-type]


def context(*specs: dict[str, Any], claimants: tuple[str, ...] = (ME,), mode: PolicyMode = PolicyMode.ENFORCE,
            labels: dict[str, dict[str, str]] | None = None) -> Context:  # fmt: skip
    found = tuple(
        Policy(f"p{i}", PolicySpec.model_validate({"namespaceSelector": {}, **s})) for i, s in enumerate(specs)
    )
    return Context(PolicySet(found, labels or {}, mode), frozenset(claimants))


def observation(**overrides: Any) -> FunctionObservation:
    values: dict[str, Any] = {
        "name": "orders", "arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders",
        "vpc": VpcSettings.of(["subnet-a"], ["sg-1"]), "vpc_id": "vpc-1", "state": FunctionState.ACTIVE,
        "state_reason": None, "state_reason_code": None, "last_update_status": UpdateStatus.SUCCESSFUL,
        "last_update_status_reason": None, "last_update_status_reason_code": None, "revision_id": "r1",
        "role": ROLE, "tags": {},
    }  # fmt: skip
    values.update(overrides)
    return FunctionObservation(**values)


REF = FunctionRef.parse("orders", "us-east-1")


def situation(**overrides: Any) -> planning.Situation:
    return dataclasses.replace(planning.Situation(generation=1, observed=None), **overrides)


# --- admission ----------------------------------------------------------------------------------


async def test_admit_allows_what_a_policy_allows(guard: Guard, aws: FakeAws) -> None:
    answer = await guard.admit("team-a", "orders", SPEC, None, context({"functions": ["ord*"]}))
    assert answer.allowed and "allowed by LambdaVpcPolicy p0" in answer.message
    assert "Describe" not in aws.calls


async def test_admit_denies_with_the_rule(guard: Guard) -> None:
    answer = await guard.admit("team-a", "orders", SPEC, None, context({"subnetIds": ["subnet-z"]}))
    assert not answer.allowed and answer.reason == Reason.POLICY_DENIED and "spec.subnetIds" in answer.message


async def test_admit_never_blocks_an_update_without_a_spec_change(guard: Guard, aws: FakeAws) -> None:
    answer = await guard.admit("team-a", "orders", SPEC, dict(SPEC), context())  # enforce, no policy
    assert answer.allowed and aws.calls == []


async def test_admit_asks_ec2_for_the_vpc_only_when_a_policy_needs_it(guard: Guard, aws: FakeAws) -> None:
    allowed = await guard.admit("team-a", "orders", SPEC, None, context({"vpcIds": ["vpc-1"]}))
    denied = await guard.admit("team-a", "orders", SPEC, None, context({"vpcIds": ["vpc-2"]}))
    assert allowed.allowed and not denied.allowed and "spec.vpcIds" in denied.message
    assert aws.calls.count("Describe") == 2


async def test_admit_passes_with_a_warning_when_ec2_refuses(guard: Guard, aws: FakeAws) -> None:
    aws.describe_error = AccessDenied(Failure(FailureKind.ACCESS_DENIED, "UnauthorizedOperation", "no"))
    answer = await guard.admit("team-a", "orders", SPEC, None, context({"vpcIds": ["vpc-1"]}))
    assert answer.allowed and "UnauthorizedOperation" in answer.warnings[0]


async def test_admit_denies_a_function_another_attachment_names(guard: Guard) -> None:
    answer = await guard.admit("team-a", "orders", SPEC, None, context({}, claimants=("team-b/orders",)))
    assert not answer.allowed and answer.reason == Reason.OWNED_ELSEWHERE and "team-b/orders" in answer.message


async def test_admit_checks_ownership_only_when_the_function_changes(guard: Guard) -> None:
    old = {**SPEC, "subnetIds": ["subnet-b"]}
    answer = await guard.admit("team-a", "orders", SPEC, old, context({}, claimants=(ME, "team-b/orders")))
    assert answer.allowed


async def test_admit_leaves_an_unparsable_spec_to_the_schema(guard: Guard) -> None:
    unparsable = {"functionName": "x", "subnetIds": "subnet-1", "securityGroupIds": ["sg-1"]}
    assert (await guard.admit("team-a", "orders", unparsable, None, context())).allowed


async def test_admit_names_the_rules_across_fields(guard: Guard) -> None:
    # Neither subnetIds nor subnetSelector: no single field is wrong, so the webhook says which pair.
    answer = await guard.admit("team-a", "orders", {"functionName": "x", "securityGroupIds": ["sg-1"]}, None, context())
    assert not answer.allowed and "exactly one of spec.subnetIds and spec.subnetSelector" in answer.message


# --- after GetFunction --------------------------------------------------------------------------


MINE = "team-a/orders"  # no --cluster-name: the tag value of an older release
DETACHED_FN = {"vpc": VpcSettings(), "vpc_id": None}


class Claims:
    """status.ownership as the reconciler would keep it: what ``record`` wrote, in order."""

    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    async def record(self, claim: dict[str, Any]) -> None:
        self.written.append(claim)


async def look(
    guard: Guard, observed: FunctionObservation, sit: planning.Situation, ctx: Context, *,
    adoption: str = "Refuse", claim: dict[str, Any] | None = None, claims: Claims | None = None,
    defer: Callable[[OwnerTag], None] | None = None, tags_read: bool = False,
) -> planning.Situation:  # fmt: skip
    spec = AttachmentSpec.model_validate({**SPEC, "adoption": adoption})
    owner = guard.owner("team-a", "orders")
    status = {"ownership": claim} if claim else {}
    return await guard.function(
        owner, spec, REF, observed, sit, ctx, status, (claims or Claims()).record, defer, tags_read=tags_read
    )


async def test_an_untagged_function_outside_any_vpc_is_claimed_then_changed_then_tagged(
    guard: Guard, aws: FakeAws
) -> None:
    claims = Claims()
    later: list[OwnerTag] = []
    after = await look(guard, observation(**DETACHED_FN), situation(), context({}), claims=claims, defer=later.append)
    assert after.problems == () and after.action_failure is None and after.conflict_with is None
    # The claim is on record before any AWS write; the tag waits for the reconciler (after the update).
    assert aws.calls == ["ListTags", "SimulatePrincipalPolicy"]
    (claim,) = claims.written
    assert claim["functionArn"] == observation().arn and claim["ownerTag"] == MINE and claim["adopted"] is False
    assert not after.just_claimed  # the VpcConfig write goes now, guarded by the RevisionId just read
    (owner_tag,) = later
    assert await owner_tag(None) is None
    # GetFunction showed no Tags (no lambda:ListTags, or none to show): ListTags before the tag.
    assert aws.calls[2:] == ["GetFunction", "ListTags", f"TagResource {{'{guards.OWNER_TAG}': '{MINE}'}}"]


async def test_tags_getfunction_answered_in_this_look_spare_the_listtags(guard: Guard, aws: FakeAws) -> None:
    # GetFunction answers Tags only to a caller allowed lambda:ListTags (aws-facts "IAM"): read in this
    # look, they are the truth, and the claim costs the shared budget nothing but its update.
    aws.tags_shown = True
    claims = Claims()
    later: list[OwnerTag] = []
    after = await look(guard, observation(**DETACHED_FN), situation(), context({}), claims=claims,
                       defer=later.append, tags_read=True)  # fmt: skip
    assert after.problems == () and after.action_failure is None and len(claims.written) == 1
    assert aws.calls == ["SimulatePrincipalPolicy"]
    (owner_tag,) = later
    assert await owner_tag(None) is None
    assert aws.calls[1:] == ["GetFunction", f"TagResource {{'{guards.OWNER_TAG}': '{MINE}'}}"]


async def test_a_snapshot_or_hidden_tags_still_ask_listtags(guard: Guard, aws: FakeAws) -> None:
    # Tags from the observer's snapshot may predate another installation's tag (TagResource need not
    # move the RevisionId the sweep compares); Tags GetFunction did not show are no answer at all.
    aws.tags_on_aws = {guards.OWNER_TAG: "another-cluster/team-a/orders"}
    for observed, tags_read in (
        (observation(**DETACHED_FN), False),
        (observation(**{**DETACHED_FN, "tags": None}), True),
    ):
        aws.calls.clear()
        claims = Claims()
        after = await look(guard, observed, situation(), context({}), claims=claims, tags_read=tags_read)
        assert [p.reason for p in after.problems] == [Reason.OWNED_ELSEWHERE]
        assert aws.calls == ["ListTags"] and claims.written == []


async def test_a_tag_that_appeared_before_the_deferred_tag_is_left_alone(guard: Guard, aws: FakeAws) -> None:
    aws.tags_shown = True
    later: list[OwnerTag] = []
    await look(guard, observation(**DETACHED_FN), situation(), context({}), defer=later.append, tags_read=True)
    aws.tags_on_aws = {guards.OWNER_TAG: "another-cluster/team-a/orders"}
    (owner_tag,) = later
    assert await owner_tag(None) is None
    assert aws.calls[-1] == "GetFunction"  # no TagResource: the next look decides whose it is


async def test_the_tag_of_a_claim_in_place_costs_the_critical_path_nothing(guard: Guard, aws: FakeAws) -> None:
    # A later look: our claim on record, our VpcConfig on the function, no tag yet. Nothing is asked
    # before the report; the deferred tag reads the tags first and leaves a tag that appeared alone.
    recorded = {"functionArn": observation().arn, "ownerTag": MINE, "claimedTime": "t", "adopted": False}
    later: list[OwnerTag] = []
    claims = Claims()
    after = await look(guard, observation(), situation(), context({}), claim=recorded, claims=claims,
                       defer=later.append)  # fmt: skip
    assert after.problems == () and not after.just_claimed and claims.written == []
    assert aws.calls == ["SimulatePrincipalPolicy"]
    aws.tags_on_aws = {guards.OWNER_TAG: "another-cluster/team-a/orders"}
    (owner_tag,) = later
    assert await owner_tag(None) is None
    assert aws.calls[1:] == ["GetFunction", "ListTags"]  # not overwritten: the next look shows whose it is


async def test_an_adoption_is_still_tagged_first_and_confirmed_before_any_change(guard: Guard, aws: FakeAws) -> None:
    # Someone's function (in a VPC): TagResource is last-writer-wins, so a later look must see our tag.
    later: list[OwnerTag] = []
    after = await look(guard, observation(), situation(), context({}), adoption="Adopt", defer=later.append)
    assert later == [] and after.just_claimed
    assert aws.calls[-1] == f"TagResource {{'{guards.OWNER_TAG}': '{MINE}'}}"


async def test_a_tag_getfunction_hid_is_found_before_taking_anything(guard: Guard, aws: FakeAws) -> None:
    # aws-facts "IAM": without lambda:ListTags GetFunction answers no Tags; ListTags tells the truth.
    aws.tags_on_aws = {guards.OWNER_TAG: "another-cluster/team-a/orders"}
    claims = Claims()
    after = await look(guard, observation(**DETACHED_FN), situation(), context({}), claims=claims)
    assert [p.reason for p in after.problems] == [Reason.OWNED_ELSEWHERE]
    assert aws.calls == ["ListTags"] and claims.written == []


async def test_unreadable_tags_take_nothing(guard: Guard, aws: FakeAws) -> None:
    aws.list_tags_error = AccessDenied(Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "no ListTags"))
    claims = Claims()
    after = await look(guard, observation(**DETACHED_FN), situation(), context({}), claims=claims)
    assert [p.reason for p in after.problems] == [Reason.ACCESS_DENIED]
    assert "lambda:ListTags" in after.problems[0].message
    assert aws.calls == ["ListTags"] and claims.written == []


async def test_our_own_tag_without_a_record_is_recorded(guard: Guard, aws: FakeAws) -> None:
    claims = Claims()
    await look(guard, observation(tags={guards.OWNER_TAG: MINE}), situation(), context({}), claims=claims)
    (claim,) = claims.written
    assert claim["ownerTag"] == MINE and claim["adopted"] is False
    assert not any(c.startswith(("TagResource", "ListTags")) for c in aws.calls)


async def test_a_renamed_cluster_retags_what_it_recorded(aws: FakeAws) -> None:
    renamed = Guard(aws, OperatorSettings(cluster_name="new-name"))  # type: ignore[arg-type]
    recorded = {"functionArn": observation().arn, "ownerTag": "old-name/team-a/orders", "claimedTime": "t",
                "adopted": False}  # fmt: skip
    aws.tags_on_aws = {guards.OWNER_TAG: "old-name/team-a/orders"}
    claims = Claims()
    after = await look(renamed, observation(tags=dict(aws.tags_on_aws)), situation(), context({}),
                       claim=recorded, claims=claims)  # fmt: skip
    assert after.problems == ()
    assert claims.written == [{**recorded, "ownerTag": "new-name/team-a/orders"}]
    assert aws.calls[-1] == f"TagResource {{'{guards.OWNER_TAG}': 'new-name/team-a/orders'}}"


async def test_a_function_in_a_vpc_is_not_adopted_without_asking(guard: Guard, aws: FakeAws) -> None:
    claims = Claims()
    after = await look(guard, observation(), situation(), context({}), claims=claims)
    assert [p.reason for p in after.problems] == [Reason.NOT_ADOPTED]
    assert "vpc-1" in after.problems[0].message and "subnet-a" in after.problems[0].message
    assert aws.calls == [] and claims.written == []


async def test_adoption_records_what_aws_held_before_the_tag(guard: Guard, aws: FakeAws) -> None:
    claims = Claims()
    stale = observation(tags={guards.OWNER_TAG: "gone/one"}, vpc=VpcSettings.of(["subnet-z"], ["sg-9"], True))
    aws.tags_on_aws = {guards.OWNER_TAG: "gone/one"}
    await look(guard, stale, situation(), context({}), adoption="Adopt", claims=claims)
    (claim,) = claims.written
    assert claim["adopted"] is True and claim["previousOwner"] == "gone/one"
    assert claim["previousVpcConfig"] == {
        "subnetIds": ["subnet-z"], "securityGroupIds": ["sg-9"], "ipv6AllowedForDualStack": True, "vpcId": "vpc-1",
    }  # fmt: skip
    assert aws.calls[-1] == f"TagResource {{'{guards.OWNER_TAG}': '{MINE}'}}"


async def test_a_recorded_claim_is_not_rewritten_when_the_tag_is_lost(guard: Guard, aws: FakeAws) -> None:
    claims = Claims()
    recorded = {"functionArn": observation().arn, "ownerTag": MINE, "claimedTime": "t", "adopted": True}
    after = await look(guard, observation(), situation(), context({}), claim=recorded, claims=claims)
    assert after.problems == () and claims.written == [] and aws.calls[-1].startswith("TagResource")


async def test_our_own_tag_costs_no_write(guard: Guard, aws: FakeAws) -> None:
    ours = observation(tags={guards.OWNER_TAG: MINE})
    await look(guard, ours, situation(conflict_with="x/older"), context({}))
    assert aws.calls == ["SimulatePrincipalPolicy"]


async def test_a_busy_function_is_claimed_later(guard: Guard, aws: FakeAws) -> None:
    busy = observation(last_update_status=UpdateStatus.IN_PROGRESS, **DETACHED_FN)
    claims = Claims()
    await look(guard, busy, situation(), context({}), claims=claims)
    assert not any(c.startswith("TagResource") for c in aws.calls) and claims.written == []


async def test_owned_elsewhere_is_a_problem_and_nothing_is_asked(guard: Guard, aws: FakeAws) -> None:
    other = "team-b/orders"
    after = await look(guard, observation(tags={guards.OWNER_TAG: other}), situation(),
                       context({}, claimants=(ME, other)), adoption="Adopt")  # fmt: skip
    assert [p.reason for p in after.problems] == [Reason.OWNED_ELSEWHERE] and aws.calls == []


async def test_another_clusters_function_is_never_taken(guard: Guard, aws: FakeAws) -> None:
    settings = OperatorSettings(cluster_name="prod")
    here = Guard(aws, settings)  # type: ignore[arg-type]
    theirs = observation(tags={guards.OWNER_TAG: "staging/team-a/orders"})
    after = await look(here, theirs, situation(), context({}), adoption="Adopt")
    assert [p.reason for p in after.problems] == [Reason.OWNED_ELSEWHERE]
    assert "cluster staging" in after.problems[0].message and aws.calls == []


async def test_an_older_claim_on_an_untagged_function_is_a_conflict(guard: Guard, aws: FakeAws) -> None:
    after = await look(guard, observation(), situation(conflict_with="team-b/orders"), context({}))
    assert after.conflict_with == "team-b/orders" and aws.calls == []


def guard_with(aws: FakeAws, role_check: RoleCheck) -> Guard:
    return Guard(aws, OperatorSettings(role_check=role_check))  # type: ignore[arg-type]


async def test_a_role_missing_permissions_stops_before_the_tag_when_required(aws: FakeAws) -> None:
    aws.permissions = RolePermissions(ROLE, {})
    after = await look(guard_with(aws, RoleCheck.REQUIRE), observation(**DETACHED_FN), situation(), context({}))
    assert [p.reason for p in after.problems] == [Reason.ROLE_MISSING_PERMISSIONS]
    assert aws.calls == ["ListTags", "SimulatePrincipalPolicy"]


async def test_a_role_missing_permissions_is_a_warning_by_default(guard: Guard, aws: FakeAws) -> None:
    """aws-facts "Refusals": the simulation has no resources or context; AWS' refusal at the call decides."""
    aws.permissions = RolePermissions(ROLE, {})
    after = await look(guard, observation(**DETACHED_FN), situation(), context({}))
    assert [(p.reason, p.severity) for p in after.problems] == [(guards.ROLE_MAY_LACK_PERMISSIONS, Severity.WARNING)]
    assert ROLE in after.problems[0].message
    assert aws.calls == ["ListTags", "SimulatePrincipalPolicy", f"TagResource {{'{guards.OWNER_TAG}': '{ME}'}}"]


async def test_role_check_off_asks_nothing(aws: FakeAws) -> None:
    aws.permissions = RolePermissions(ROLE, {})
    after = await look(guard_with(aws, RoleCheck.OFF), observation(**DETACHED_FN), situation(), context({}))
    assert after.problems == () and "SimulatePrincipalPolicy" not in aws.calls


@pytest.mark.parametrize(
    ("error", "kind", "hint"),
    [
        pytest.param(AccessDenied(Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "no")),
                     FailureKind.ACCESS_DENIED, "lambda:TagResource", id="access-denied"),
        pytest.param(UpdateConflict(Failure(FailureKind.CONFLICT, "ResourceConflictException", "busy")),
                     FailureKind.CONFLICT, "", id="conflict"),
    ],
)  # fmt: skip
async def test_a_refused_tag_is_the_looks_action_failure(
    guard: Guard, aws: FakeAws, error: Exception, kind: FailureKind, hint: str
) -> None:
    aws.tag_error = error
    after = await look(guard, observation(**DETACHED_FN), situation(), context({}))
    assert after.action_failure is not None and after.action_failure.kind == kind
    assert hint in after.action_failure.message


async def test_a_transient_role_check_failure_is_a_read_failure_when_required(aws: FakeAws) -> None:
    async def failing(role: str) -> RolePermissions:
        raise Throttled(Failure(FailureKind.THROTTLED, "Throttling", "slow down"))

    aws.roles = type("Roles", (), {"permissions": staticmethod(failing)})()  # type: ignore[assignment]
    after = await look(guard_with(aws, RoleCheck.REQUIRE), observation(**DETACHED_FN), situation(), context({}))
    assert after.read_failure is not None and after.read_failure.transient


async def test_a_failed_role_check_is_unknown_and_the_look_goes_on(guard: Guard, aws: FakeAws) -> None:
    async def failing(role: str) -> RolePermissions:
        raise Throttled(Failure(FailureKind.THROTTLED, "Throttling", "slow down"))

    aws.roles = type("Roles", (), {"permissions": staticmethod(failing)})()  # type: ignore[assignment]
    after = await look(guard, observation(**DETACHED_FN), situation(), context({}))
    assert after.read_failure is None
    assert [(p.reason, p.severity) for p in after.problems] == [(guards.CANNOT_CHECK_ROLE, Severity.WARNING)]


# --- partitions ---------------------------------------------------------------------------------


async def test_a_function_named_without_an_arn_takes_the_callers_partition(
    aws: FakeAws, aws_clients: clients.AwsClients
) -> None:
    """aws-facts "Refusals": ARNs in aws-cn and aws-us-gov; STS GetCallerIdentity's Arn says which."""
    with Stubber(aws_clients.sts()) as sts:
        sts.add_response("get_caller_identity", {
            "Account": ACCOUNT, "UserId": "AROAEXAMPLE:op", "Arn": f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/op/pod",
        }, {})  # fmt: skip
        aws.identity = identities.Identity(aws_clients)  # type: ignore[assignment]
        guard = Guard(aws, OperatorSettings(default_region="us-east-1"))  # type: ignore[arg-type]
        request = await guard.request("team-a", AttachmentSpec.model_validate(SPEC), REF)
    assert request.function_arn == f"arn:aws-cn:lambda:us-east-1:{ACCOUNT}:function:orders"


async def test_an_arn_keeps_its_own_partition(guard: Guard, aws: FakeAws) -> None:
    aws.partition = "aws-cn"
    ref = FunctionRef.parse(f"arn:aws-us-gov:lambda:us-gov-west-1:{ACCOUNT}:function:orders")
    request = await guard.request("team-a", AttachmentSpec.model_validate(SPEC), ref)
    assert request.function_arn == f"arn:aws-us-gov:lambda:us-gov-west-1:{ACCOUNT}:function:orders"


def test_a_name_alone_takes_its_regions_partition_until_sts_says() -> None:
    assert FunctionRef.parse("orders", "cn-north-1").partition == "aws-cn"
    assert FunctionRef.parse("orders", "us-gov-west-1").partition == "aws-us-gov"
    assert FunctionRef.parse("orders", "eu-west-1").partition == "aws"


# --- deletion -----------------------------------------------------------------------------------


async def test_release_follows_the_policy_then_our_claim(guard: Guard) -> None:
    spec = AttachmentSpec.model_validate(SPEC)
    ours, theirs = observation(tags={guards.OWNER_TAG: MINE}), observation(tags={guards.OWNER_TAG: "team-b/orders"})
    both = context({}, claimants=(ME, "team-b/orders"))
    me = guard.owner("team-a", "orders")
    claimed = {"ownership": {"functionArn": observation().arn, "ownerTag": MINE}}

    async def verdict(
        observed: FunctionObservation | None, ctx: Context, status: dict[str, Any]
    ) -> tuple[bool, str | None]:
        return await guard.release_verdict(me, "team-a", spec, REF, observed, ctx, status)

    allowed, why = await verdict(ours, context(), claimed)  # enforce, no policy
    assert not allowed and why is not None and "PolicyDenied" in why
    assert await verdict(ours, both, {}) == (True, None)  # our tag, even without a record
    assert await verdict(theirs, both, claimed) == (False, "it is owned by LambdaVpcAttachment team-b/orders")
    assert await verdict(observation(), context({}), claimed) == (True, None)  # claimed, untagged since
    # Never claimed (NotAdopted, a lost conflict): left exactly as it is.
    allowed, why = await verdict(observation(), context({}), {})
    assert not allowed and why is not None and "never claimed" in why
    assert await verdict(None, context({}), {}) == (True, None)  # the function is gone
    older_release = observation(tags={guards.OWNER_TAG: ME})
    assert await verdict(older_release, both, {"functionArn": observation().arn}) == (True, None)
    elsewhere = observation(tags={guards.OWNER_TAG: "staging/team-a/orders"})
    other_cluster = Guard(guard.aws, OperatorSettings(cluster_name="prod"))
    allowed, why = await other_cluster.release_verdict(
        other_cluster.owner("team-a", "orders"), "team-a", spec, REF, elsewhere, context({}), claimed
    )
    assert not allowed and why is not None and "cluster staging" in why


def test_a_denied_release_says_why() -> None:
    release = planning.Release(policy=DeletionPolicy.DETACH, observed=None, owned=False, not_owned="because")
    (event,) = planning.plan_release("orders", release).events
    assert event.reason == "Retained" and "(because)" in event.message


# --- wake-ups (handlers.policies.Guardrails) ----------------------------------------------------


def indexes(*specs: dict[str, Any], labels: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    policies = [Policy(f"p{i}", PolicySpec.model_validate(s)) for i, s in enumerate(specs)]
    return {
        POLICIES_INDEX: {POLICIES_KEY: policies} if policies else {},
        LABELS_INDEX: {ns: [dict(v)] for ns, v in (labels or {}).items()},
        CLAIMS_INDEX: {},
    }


def test_only_attachments_whose_verdict_flips_are_woken(guard: Guard) -> None:
    rails = Guardrails(guard, OperatorSettings())
    woken: list[str] = []
    rails.waker = woken.append
    memories = {name: AttachmentMemory(policy_denied=denied) for name, denied in (("a", False), ("b", True))}
    for name, memory in memories.items():
        rails.track(AttachmentView("team-a", name, 1, SPEC, {}), memory)
    allow_team_a = {"namespaceSelector": {"matchLabels": {"team": "a"}}}

    assert rails.wake(indexes(allow_team_a, labels={"team-a": {"team": "a"}})) == 1
    assert woken == ["team-a/b"]

    woken.clear()
    assert rails.wake(indexes(labels={"team-a": {"team": "a"}})) == 1  # the policy is gone: a flips
    assert woken == ["team-a/a"]


def test_a_namespace_change_wakes_only_that_namespace(guard: Guard) -> None:
    rails = Guardrails(guard, OperatorSettings())
    woken: list[str] = []
    rails.waker = woken.append
    here, there = AttachmentMemory(policy_denied=True), AttachmentMemory(policy_denied=True)
    rails.track(AttachmentView("team-a", "x", 1, SPEC, {}), here)
    rails.track(AttachmentView("team-b", "y", 1, SPEC, {}), there)
    allowed = indexes({"namespaceSelector": {}})
    assert rails.wake(allowed, ["team-a"]) == 1 and woken == ["team-a/x"]
    rails.untrack("team-a/x")
    assert rails.wake(allowed) == 1 and woken == ["team-a/x", "team-b/y"]
