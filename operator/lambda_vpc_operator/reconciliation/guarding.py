"""The guardrails at work: gather what the pure checks need, and answer the reconciler and the webhook.

Four checks stop an attachment before any AWS write (``planner.guards``, ``planner.policies``):

1. the tenant policy, first with what the spec says (no AWS call at all), then, when a policy
   lists VPCs, with the VPC EC2 reports for the subnets (the preflight's cached facts);
2. ``spec.requireInternetAccess``: the route tables of the subnets' VPC (``aws.routes``);
3. ownership: the function's ``lambdavpc.dev/owner`` tag (from the GetFunction the reconciler
   reads anyway); an unowned function is claimed in status.ownership before any AWS write, changed
   (the RevisionId of the write guards against a concurrent writer), and tagged once the update is
   done, off the critical path (``OwnerTag``, after the look's report); one in a VPC or tagged
   before only with ``spec.adoption: Adopt``, and then tagged first and changed after a later look
   has seen the tag stick;
4. the execution role (``aws.roles``: SimulatePrincipalPolicy, cached per role), as ``--role-check``
   says: advice by default (a warning; AWS' refusal at the call is the authority), a stall with
   ``require``, not asked with ``off``.

Each returns ``Problem``s that the reconciler puts in the ``Situation``, so the planner stalls on
them as on any preflight error. The same policy and ownership rules answer the admission webhook
(``admit``). The cluster's side (policies, namespace labels, claims) arrives as a ``Context`` that
the handlers build from kopf indexes for each look.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pydantic

from lambda_vpc_operator.aws import AwsGateway
from lambda_vpc_operator.aws.budgets import Priority, Ticket
from lambda_vpc_operator.aws.errors import AwsError
from lambda_vpc_operator.models import owners
from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionRef, spec_claim_key
from lambda_vpc_operator.models.networks import NetworkFacts
from lambda_vpc_operator.models.settings import OperatorSettings, RoleCheck
from lambda_vpc_operator.planner import guards, planning, policies
from lambda_vpc_operator.planner.conditions import Reason
from lambda_vpc_operator.planner.plans import Event, EventType
from lambda_vpc_operator.planner.validation import Problem, Severity
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reporting import Reporter

logger = logging.getLogger(__name__)

# Admission answers within the API server's timeout (the chart's 10 s) whatever AWS does: each AWS
# read it makes (the account, the subnets' VPC) gets this long, then the answer is given without it
# (a warning; the reconcile-time check decides). The read goes on and fills the cache for the next.
ADMISSION_AWS_BUDGET = 2.0


# The owner tag of a fresh claim, sent after the look's report: its failure, or None.
# A fresh claim's owner tag, sent later by the reconciler (with the look's budget ticket, if it has one).
OwnerTag = Callable[[Ticket | None], Awaitable[Failure | None]]


@dataclasses.dataclass(frozen=True)
class Context:
    """What the cluster knows that the guardrails need, for one look at one attachment."""

    policies: policies.PolicySet = dataclasses.field(default_factory=policies.PolicySet)
    # Every attachment ("namespace/name") that names the same function now, this one included.
    claimants: frozenset[str] = frozenset()


def vpcs_of(facts: NetworkFacts, subnet_ids: frozenset[str], group_ids: frozenset[str]) -> frozenset[str]:
    """The VPCs the named subnets and groups belong to (unknown ids contribute nothing)."""
    found = {facts.subnets[s].vpc_id for s in subnet_ids if s in facts.subnets}
    found |= {facts.security_groups[g].vpc_id for g in group_ids if g in facts.security_groups}
    found.discard("")
    return frozenset(found)


class Guard:
    def __init__(
        self, aws: AwsGateway, settings: OperatorSettings, clock: Callable[[], str] = lambda: ""
    ) -> None:
        self.aws = aws
        self.settings = settings
        self.now = clock  # RFC 3339, as status writes times

    def owner(self, namespace: str, name: str) -> owners.Owner:
        """This installation's owner value for an attachment (what its tag says)."""
        return owners.Owner(self.settings.cluster_name, namespace, name)

    # -- the policy --------------------------------------------------------------------------

    async def request(
        self, namespace: str, spec: AttachmentSpec, ref: FunctionRef, rules: policies.PolicySet | None = None
    ) -> policies.Request:
        """The policy's view of an attachment (the VPC not known yet)."""
        rules = rules or policies.PolicySet()
        role = policies.role_for(spec.role_arn, namespace, rules)
        # A function named without an ARN lives in the role's account, else in the operator's own.
        account = ref.account or _role_account(role.arn) or await self.aws.identity.account_id()
        return self._request(namespace, spec, ref, account, rules)

    def _request(
        self, namespace: str, spec: AttachmentSpec, ref: FunctionRef, account: str | None, rules: policies.PolicySet
    ) -> policies.Request:
        role = policies.role_for(spec.role_arn, namespace, rules)
        account = account or _role_account(role.arn)
        region = ref.region or self.settings.default_region
        # A function named without an ARN is in the operator's account, and partition (STS says which).
        partition = ref.partition if ref.account else self.aws.identity.partition or ref.partition
        arn = f"arn:{partition}:lambda:{region}:{account}:function:{ref.name}" if account else None
        return policies.Request(
            namespace=namespace,
            function_name=ref.name,
            function_arn=arn,
            # A selector's ids are known only once resolved (the reconciler's look): judged then.
            subnet_ids=frozenset(spec.subnet_ids or ()),
            security_group_ids=frozenset(spec.security_group_ids or ()),
            role_arn=role.arn,
            role_field=role.field,
        )

    async def policy(
        self, namespace: str, spec: AttachmentSpec, ref: FunctionRef, context: Context
    ) -> tuple[Problem, ...]:
        """PolicyDenied from what the spec alone says; nothing if allowed or if the VPC must decide."""
        verdict = policies.evaluate(await self.request(namespace, spec, ref, context.policies), context.policies)
        problem = guards.policy_problem(verdict)
        return (problem,) if problem is not None else ()

    async def policy_with_vpc(
        self, namespace: str, spec: AttachmentSpec, ref: FunctionRef, context: Context, facts: NetworkFacts
    ) -> tuple[Problem, ...]:
        """PolicyDenied, now that EC2 said which VPC the subnets and groups are in."""
        if not policies.needs_vpc(context.policies, namespace):
            return ()
        request = await self.request(namespace, spec, ref, context.policies)
        vpc_ids = vpcs_of(facts, request.subnet_ids, request.security_group_ids)
        verdict = policies.evaluate(dataclasses.replace(request, vpc_ids=vpc_ids), context.policies)
        problem = guards.policy_problem(verdict)
        return (problem,) if problem is not None else ()

    def flipped(self, namespace: str, spec: Mapping[str, Any], context: Context, denied: bool | None) -> bool:
        """Whether new policies may change the verdict of the last look (``denied``), without I/O.

        Undecided verdicts (the VPC decides) count as changed: the look itself will tell.
        """
        try:
            parsed = AttachmentSpec.model_validate(dict(spec))
            ref = FunctionRef.parse(parsed.function_name, parsed.region or self.settings.default_region)
        except (pydantic.ValidationError, ValueError):
            return False
        request = self._request(namespace, parsed, ref, ref.account or self.aws.identity.known, context.policies)
        verdict = policies.evaluate(request, context.policies)
        return verdict.outcome == policies.Decision.UNDECIDED or verdict.denied != denied

    # -- the network (after the preflight's Describe* calls) ---------------------------------

    async def network(
        self,
        namespace: str,
        spec: AttachmentSpec,
        ref: FunctionRef,
        context: Context,
        *,
        refresh: bool,
    ) -> tuple[tuple[Problem, ...], Failure | None]:
        """The VPC rule of the policy and ``requireInternetAccess``; a transient failure to wait on."""
        desired = planning.desired_vpc(spec)
        region = ref.region or self.settings.default_region
        wants_routes = spec.require_internet_access
        if not wants_routes and not policies.needs_vpc(context.policies, namespace):
            return (), None
        try:
            # Cached by aws.networks: the preflight has just asked for exactly these ids.
            facts = await self.aws.networks.describe(
                region, sorted(desired.subnet_ids), sorted(desired.security_group_ids)
            )
        except AwsError as exc:
            return (), exc.failure if exc.failure.transient else None
        problems = await self.policy_with_vpc(namespace, spec, ref, context, facts)
        if problems or not wants_routes:
            return problems, None
        vpc_ids = sorted({s.vpc_id for s in facts.subnets.values() if s.vpc_id})
        try:
            tables = await self.aws.routes.of_vpcs(region, vpc_ids, refresh=refresh)
        except AwsError as exc:
            if exc.failure.transient:
                return (), exc.failure
            return (guards.routes_unknown(f"{exc.failure.code}: {exc.failure.message}"),), None
        return tuple(guards.internet_access(desired, facts, tables)), None

    # -- the function (after GetFunction) ----------------------------------------------------

    async def function(
        self,
        me: owners.Owner,
        spec: AttachmentSpec,
        ref: FunctionRef,
        observed: FunctionObservation,
        situation: planning.Situation,
        context: Context,
        status: Mapping[str, Any],
        record: Callable[[dict[str, Any]], Awaitable[None]],
        defer: Callable[[OwnerTag], None] | None = None,
        *,
        tags_read: bool = False,
    ) -> planning.Situation:
        """Ownership (recording the claim, then tagging the function, when it is ours to take) and the
        execution role. ``status`` is the attachment's status as it stands; ``record`` writes a new
        status.ownership; ``defer`` takes the owner tag of a fresh claim, for the reconciler to send
        after its report when the look sent no update (None: sent now, as a dry run wants it).
        ``tags_read``: ``observed`` was read by GetFunction in this look (not the observer's snapshot)."""
        history = history_of(status, observed.arn)

        def decide(tags: Mapping[str, str]) -> guards.OwnershipDecision:
            return guards.ownership(
                me, tags, context.claimants, situation.conflict_with,
                attached=observed.vpc.attached, adoption=spec.adoption, history=history,
            )  # fmt: skip

        decision = decide(observed.tags or {})
        seen: Mapping[str, str] = observed.tags or {}
        tags_known = tags_read and observed.tags is not None
        if decision.kind in TAKING and not observed.busy and not history.claimed and not tags_known:
            # About to take it, and GetFunction showed no Tags (they are only there for a caller allowed
            # lambda:ListTags, aws-facts "IAM"), or they are a snapshot older than this look: "no tags"
            # must not be mistaken for "nobody's", so ask ListTags itself. Tags GetFunction answered in
            # this look are the truth, and cost no request of the shared budget (docs/design.md
            # "Ownership off the critical path"). Once: with our claim on record, the look that recorded
            # it read the tags, so asking at every look would make a throttled account need two
            # control-plane calls in a row (ListTags, then the update) for any progress.
            tags = await self._tags(observed)
            if isinstance(tags, Failure):
                if tags.kind == FailureKind.ACCESS_DENIED:
                    return dataclasses.replace(situation, problems=(*situation.problems, guards.tags_unreadable(tags)))
                return dataclasses.replace(situation, read_failure=tags)
            seen, decision = tags, decide(tags)
        if decision.kind == guards.Ownership.CONFLICT:
            return dataclasses.replace(situation, conflict_with=decision.other)
        situation = dataclasses.replace(situation, conflict_with=None)
        if decision.kind == guards.Ownership.OWNED_ELSEWHERE:
            problem = guards.owned_elsewhere(observed.name, decision.other or "")
            return dataclasses.replace(situation, problems=(*situation.problems, problem))
        if decision.kind == guards.Ownership.NOT_ADOPTED:
            vpc = observed.vpc
            holds = f"VPC {observed.vpc_id or '?'} ({planning.describe_vpc(vpc)})" if vpc.attached else ""
            problem = guards.not_adopted(observed.name, holds, decision.previous_owner)
            return dataclasses.replace(situation, problems=(*situation.problems, problem))
        extra: list[Problem] = []
        if observed.role and self.settings.role_check != RoleCheck.OFF:
            require = self.settings.role_check == RoleCheck.REQUIRE
            try:
                permissions = await self.aws.roles.permissions(observed.role)
            except AwsError as exc:
                if require:
                    return dataclasses.replace(situation, read_failure=exc.failure)
                # The check is advice: without an answer the update goes on (aws-facts "Refusals").
                extra = [guards.role_unknown(observed.role, f"{exc.failure.code}: {exc.failure.message}")]
            else:
                extra = guards.role_permissions(permissions, require=require)
        situation = dataclasses.replace(situation, problems=(*situation.problems, *extra))
        if any(p.severity == Severity.ERROR for p in extra):
            return situation
        if decision.kind == guards.Ownership.OWNED and not history.claimed:
            # Tagged by us but not on record (a status lost or restored): record it, for the deletion.
            await record(_claim(me, observed, decision, self.now()))
        if decision.kind in TAKING and not observed.busy:
            # The claim is on record (status) before the tag, and the tag before any change: a
            # restart in between finds its own claim, and a deletion knows what to release or restore.
            # TagResource is refused while an update is in progress (aws-facts "Errors"): a busy
            # function is claimed at a later look, before the planner would write anything.
            claim = status.get("ownership") or {}
            if not history.claimed:
                await record(_claim(me, observed, decision, self.now()))
            elif claim.get("ownerTag") != me.tag_value:
                await record({**claim, "ownerTag": me.tag_value})  # re-tagged under a new cluster name
            if decision.kind == guards.Ownership.CLAIM and not seen.get(owners.TAG):
                # Nobody's function (no VPC, no tag): the tag is off the critical path (docs/design.md
                # "Ownership off the critical path"). The update goes first, with the RevisionId just
                # read: a concurrent writer makes it fail (PreconditionFailed) and the next look finds
                # the function in their VPC, no longer ours to claim. The tag follows once the update is
                # done (TagResource is refused while it runs), after the look's report.
                async def owner_tag(ticket: Ticket | None) -> Failure | None:
                    return await self._tag_if_untagged(observed, me, ticket)

                if defer is None:  # at once: the tags were just read
                    failure = await self._tag(observed, me)
                    return situation if failure is None else dataclasses.replace(situation, action_failure=failure)
                defer(owner_tag)
                return situation
            failure = await self._tag(observed, me)
            if failure is not None:
                return dataclasses.replace(situation, action_failure=failure)
            # TagResource is last-writer-wins: another installation may have tagged it a moment ago.
            # Change nothing before a later look has seen our tag on the function.
            situation = dataclasses.replace(situation, just_claimed=True)
        return situation

    async def _tags(
        self, observed: FunctionObservation, priority: Priority = Priority.SPEC_CHANGE
    ) -> Mapping[str, str] | Failure:
        try:
            return await self.aws.functions.list_tags(observed.arn, priority=priority)
        except AwsError as exc:
            logger.info("%s: ListTags refused: %s", observed.name, exc.failure.code)
            return exc.failure

    async def _tag_if_untagged(
        self, observed: FunctionObservation, me: owners.Owner, ticket: Ticket | None
    ) -> Failure | None:
        """The owner tag of a fresh claim, unless a tag appeared since (the next look decides then)."""
        tags = await self._tags_now(observed)
        if isinstance(tags, Failure):
            return tags
        if tags.get(owners.TAG):
            return None
        return await self._tag(observed, me, ticket)

    async def _tags_now(self, observed: FunctionObservation) -> Mapping[str, str] | Failure:
        """The function's tags now: GetFunction's (its own bucket) when it shows them, else ListTags
        (the shared budget, at the owner tag's priority)."""
        try:
            current = await self.aws.observer.observe(FunctionRef.parse(observed.arn), fresh=True)
        except AwsError as exc:
            logger.info("%s: GetFunction before the owner tag failed: %s", observed.name, exc.failure.code)
            return exc.failure
        if current is not None and current.tags is not None:
            return current.tags
        return await self._tags(observed, Priority.OWNERSHIP)

    async def _tag(
        self, observed: FunctionObservation, me: owners.Owner, ticket: Ticket | None = None
    ) -> Failure | None:
        try:
            await self.aws.functions.tag(
                observed.arn, {owners.TAG: me.tag_value}, priority=Priority.OWNERSHIP, ticket=ticket
            )
        except AwsError as exc:
            logger.info("%s: TagResource refused: %s", me.key, exc.failure.code)
            if exc.failure.kind == FailureKind.ACCESS_DENIED:
                return dataclasses.replace(
                    exc.failure,
                    message=f"{exc.failure.message} (the operator tags each function it manages with "
                    f"{owners.TAG}: grant it lambda:TagResource)",
                )
            return exc.failure
        return None

    # -- deletion ----------------------------------------------------------------------------

    async def release_verdict(
        self,
        me: owners.Owner,
        namespace: str,
        spec: AttachmentSpec,
        ref: FunctionRef,
        observed: FunctionObservation | None,
        context: Context,
        status: Mapping[str, Any],
    ) -> tuple[bool, str | None]:
        """Whether deleting may change the function, and if not, why: never when the policy now denies
        it; else only a function this attachment claimed (``guards.releasable``)."""
        if await self.policy(namespace, spec, ref, context):
            return False, "the tenant policy no longer allows this attachment to change it (PolicyDenied)"
        if observed is None:
            return True, None  # the function is gone: nothing to change, nothing to protect
        why = guards.releasable(me, observed.tags or {}, context.claimants, history_of(status, observed.arn))
        return why is None, why

    # -- admission ---------------------------------------------------------------------------

    async def admit(
        self,
        namespace: str,
        name: str,
        spec: Mapping[str, Any],
        old_spec: Mapping[str, Any] | None,
        context: Context,
    ) -> guards.Admission:
        """The webhook's answer for a create, or an update of the spec."""
        if old_spec is not None and dict(old_spec) == dict(spec):
            # Metadata and finalizer updates (kopf's own among them) are never refused: a policy
            # changed after admission must not block a deletion.
            return guards.Admission(True)
        if old_spec is not None and (changed := guards.immutable_changes(old_spec, spec)):
            return guards.immutable(changed)
        try:
            parsed = AttachmentSpec.model_validate(dict(spec))
            ref = FunctionRef.parse(parsed.function_name, parsed.region or self.settings.default_region)
        except pydantic.ValidationError as exc:
            # Rules across fields (ids or selector, the ARN's region) are named here too; the rest the schema says.
            across = [str(e["msg"]).removeprefix("Value error, ") for e in exc.errors() if not e["loc"]]
            if across:
                return guards.Admission(False, Reason.INVALID_SPEC, f"{Reason.INVALID_SPEC}: {'; '.join(across)}")
            return guards.Admission(True)  # the schema, or the reconciler's InvalidSpec, says what is wrong
        except ValueError:
            return guards.Admission(True)
        try:
            request = await asyncio.wait_for(
                self.request(namespace, parsed, ref, context.policies), ADMISSION_AWS_BUDGET
            )
        except (TimeoutError, AwsError):
            # Without the account, a rule naming function ARNs stays undecided: the reconciler decides.
            request = self._request(namespace, parsed, ref, ref.account, context.policies)
        verdict = policies.evaluate(request, context.policies)
        vpc_error: str | None = None
        if verdict.outcome == policies.Decision.UNDECIDED:
            try:
                facts = await asyncio.wait_for(self.aws.networks.describe(
                    ref.region or self.settings.default_region, sorted(request.subnet_ids),
                    sorted(request.security_group_ids),
                ), ADMISSION_AWS_BUDGET)  # fmt: skip
            except TimeoutError:
                vpc_error = f"EC2 did not answer within {ADMISSION_AWS_BUDGET:g}s"
            except AwsError as exc:
                vpc_error = f"{exc.failure.code}: {exc.failure.message}"
            else:
                vpc_ids = vpcs_of(facts, request.subnet_ids, request.security_group_ids)
                verdict = policies.evaluate(dataclasses.replace(request, vpc_ids=vpc_ids), context.policies)
        region = self.settings.default_region
        function_changed = old_spec is None or spec_claim_key(old_spec, region) != spec_claim_key(spec, region)
        me = f"{namespace}/{name}"
        others = sorted(c for c in context.claimants if c != me) if function_changed else []
        return guards.admission(verdict, parsed.function_name, others, vpc_error=vpc_error)


def _role_account(role_arn: str | None) -> str | None:
    """The account of a role ARN (arn:PARTITION:iam::ACCOUNT:role/...), None without one."""
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[2] == "iam" and parts[4] else None


# Decisions after which this look writes the owner tag.
TAKING = (guards.Ownership.CLAIM, guards.Ownership.ADOPT)


def history_of(status: Mapping[str, Any], arn: str) -> guards.History:
    """What the attachment's status says about function ``arn``."""
    claim = status.get("ownership") or {}
    mine = claim.get("functionArn") == arn
    return guards.History(
        recorded_tag=str(claim.get("ownerTag")) if mine and claim.get("ownerTag") else None,
        managed_before=mine or status.get("functionArn") == arn,
    )


def _claim(
    me: owners.Owner, observed: FunctionObservation, decision: guards.OwnershipDecision, now: str
) -> dict[str, Any]:
    """status.ownership for a claim: the function, our tag, and what an adoption took over."""
    adopted = decision.kind == guards.Ownership.ADOPT
    claim: dict[str, Any] = {
        "functionArn": observed.arn, "ownerTag": me.tag_value, "claimedTime": now, "adopted": adopted,
    }  # fmt: skip
    if adopted and observed.vpc.attached:
        claim["previousVpcConfig"] = {
            "subnetIds": sorted(observed.vpc.subnet_ids),
            "securityGroupIds": sorted(observed.vpc.security_group_ids),
            "ipv6AllowedForDualStack": observed.vpc.ipv6_allowed_for_dual_stack,
            "vpcId": observed.vpc_id,
        }
    if adopted and decision.previous_owner:
        claim["previousOwner"] = decision.previous_owner
    return claim


def post_once(memory: AttachmentMemory, reporter: Reporter, generation: int, problems: tuple[Problem, ...]) -> None:
    """Post each warning (and each INFO, as a Normal Event) once per generation (a resync must not repeat it)."""
    for problem in problems:
        if problem.severity == Severity.ERROR or memory.warned.get(problem.reason) == generation:
            continue
        memory.warned[problem.reason] = generation
        kind = EventType.WARNING if problem.severity == Severity.WARNING else EventType.NORMAL
        reporter.post(Event(kind, problem.reason, problem.message))
