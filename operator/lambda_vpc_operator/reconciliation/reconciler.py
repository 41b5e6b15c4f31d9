"""One look at one attachment: observe, plan, act, report; and the same for a deletion.

``Reconciler.reconcile`` is called by the handlers whenever the attachment changes or its delay
runs out, and returns how long to wait before the next look. It never raises for anything AWS or
the user did: every failure becomes a condition (and at most one Event per flip).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from lambda_vpc_operator.aws import AwsGateway, accounts, budgets, dryrun
from lambda_vpc_operator.aws.budgets import Priority
from lambda_vpc_operator.aws.errors import AwsError, FunctionNotReady, UnexpectedAnswer
from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.enis import EniFacts
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionRef, VpcSettings
from lambda_vpc_operator.models.reactivations import duration_seconds
from lambda_vpc_operator.models.settings import OperatorSettings
from lambda_vpc_operator.planner import accounts as account_planning
from lambda_vpc_operator.planner import aliases as alias_planning
from lambda_vpc_operator.planner import (
    cleanup,
    conditions,
    delays,
    guards,
    network_readiness,
    planning,
    reactivation,
    readiness,
    selectors,
    status_patches,
    validation,
)
from lambda_vpc_operator.planner import errors as error_planning
from lambda_vpc_operator.planner import policies as policy_rules
from lambda_vpc_operator.planner.conditions import ConditionType, Reason, Status
from lambda_vpc_operator.planner.plans import Event, EventType, Outcome, Plan, UpdateVpcConfig
from lambda_vpc_operator.planner.validation import Problem, Severity
from lambda_vpc_operator.reconciliation import failing, guarding, releasing, selecting
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reporting import Reporter

logger = logging.getLogger(__name__)

# status field: the generation whose VpcConfig we sent and have not seen in place (planning.foreign_failure).
SENT_GENERATION = "sentGeneration"
# When Lambda says Active but the cached ENI list (aws.enis, shared per VPC) lacks one, it is
# read again if older than this, rather than reporting a wait that is already over.
FRESH_INTERFACES = 0.5


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass(frozen=True)
class AttachmentView:
    """The parts of a LambdaVpcAttachment the reconciler reads (from the live object)."""

    namespace: str
    name: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str] = dataclasses.field(default_factory=dict)
    deletion_time: str | None = None  # metadata.deletionTimestamp: spec.deletionTimeout runs from here

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclasses.dataclass(frozen=True)
class Preview:
    """Reconciler.preview's answer: the facts read, the plan, the ENIs of the desired VPC, the Events."""

    spec: AttachmentSpec
    ref: FunctionRef
    situation: planning.Situation
    plan: Plan
    enis: tuple[EniFacts, ...] | None
    events: tuple[Event, ...]


@dataclasses.dataclass(frozen=True)
class _Look:
    """What one look of one attachment works from; the status it reports moves on beside it."""

    view: AttachmentView
    reporter: Reporter
    memory: AttachmentMemory
    spec: AttachmentSpec  # the selectors' literal ids once resolved
    ref: FunctionRef
    resync: bool  # a steady look at the resync interval
    fresh: bool  # GetFunction now, not the observer's snapshot
    conflict_with: str | None
    context: guarding.Context | None  # the guardrails' view of the cluster; None: claims alone decide


class _Recorder:
    """A Reporter that writes nowhere: status patches are merged in memory, Events kept."""

    def __init__(self, status: Mapping[str, Any]) -> None:
        self.status = dict(status)
        self.events: list[Event] = []

    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        self.status.update(patch)
        return dict(self.status)

    def post(self, event: Event) -> None:
        self.events.append(event)


# Seconds until a parked look looks again if its ticket's wake-up never came (a safety net: the
# scheduler does not lose wake-ups, a restart forgets tickets along with everything else).
PARKED_RECHECK = 600.0


def _write_priority(situation: planning.Situation) -> Priority:
    """Why an update is sent: putting back a drift (the generation was applied before) or a user's change."""
    return Priority.DRIFT if situation.applied_generation == situation.generation else Priority.SPEC_CHANGE


class InvalidSpec(Exception):
    """The spec passed the CRD schema (or there was none) but still cannot be used."""


def _spec_or_none(raw: Mapping[str, Any]) -> AttachmentSpec | None:
    try:
        return AttachmentSpec.model_validate(dict(raw))
    except pydantic.ValidationError:
        return None


def _same_function(ref: FunctionRef, claim: Mapping[str, Any] | None) -> None:
    """The spec still names the function this attachment claimed (functionName and region are immutable;
    an API server without the CRD's CEL rules, or an old CRD, may have let a change through)."""
    arn = (claim or {}).get("functionArn")
    if not arn:
        return
    held = FunctionRef.parse(str(arn))
    if (ref.name, ref.region) != (held.name, held.region) or (ref.account or held.account) != held.account:
        raise InvalidSpec(
            f"spec.functionName/spec.region name {ref.name} in {ref.region}, but this attachment manages {arn} "
            "(status.ownership); they are immutable: put the old values back, or delete this attachment (which "
            "releases that function) and create a new one"
        )


class Reconciler:
    def __init__(
        self,
        aws: AwsGateway,
        settings: OperatorSettings,
        clock: Callable[[], datetime.datetime] = utcnow,
        waker: Callable[[str], None] | None = None,
    ) -> None:
        self.aws = aws
        self.settings = settings
        self.now = clock
        self.guard = guarding.Guard(aws, settings, clock=self.clock)
        # Looks at an attachment (by namespace/name) now: the looks' scheduler sets it. A parked
        # look's ticket calls it when its token is taken (``_parked``).
        self.waker: Callable[[str], None] = waker or (lambda key: None)

    def clock(self) -> str:
        """The current time as status writes it (RFC 3339, UTC, seconds)."""
        return reactivation.format_time(self.now())

    # -- parsing -----------------------------------------------------------------------------

    def parse(self, view: AttachmentView) -> tuple[AttachmentSpec, FunctionRef]:
        try:
            spec = AttachmentSpec.model_validate(dict(view.spec))
        except pydantic.ValidationError as exc:
            fields = "; ".join(
                f"spec.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                if err["loc"]
                else str(err["msg"]).removeprefix("Value error, ")  # a rule across fields names them itself
                for err in exc.errors()
            )
            raise InvalidSpec(f"{fields}; fix the spec and apply it again") from None
        try:
            ref = FunctionRef.parse(spec.function_name, spec.region or self.settings.default_region)
        except ValueError as exc:
            raise InvalidSpec(f"spec.functionName: {exc}") from None
        if spec.region and ref.region != spec.region:
            raise InvalidSpec(
                f"spec.region {spec.region} contradicts the region {ref.region} in spec.functionName; "
                "drop spec.region or fix the ARN"
            )
        return spec, ref

    # -- a live attachment -------------------------------------------------------------------

    async def reconcile(
        self,
        view: AttachmentView,
        reporter: Reporter,
        memory: AttachmentMemory,
        conflict_with: str | None = None,
        context: guarding.Context | None = None,
    ) -> float:
        """Take one step towards the spec; return the seconds until the next look.

        ``context`` (policies, claims) turns the guardrails on (``guarding``); without it, only the
        claims decide conflicts, as before the guardrails existed.
        """
        if memory.ticket is not None:
            memory.ticket.kept = False  # this look keeps it only if it stops for it again (_parked)
        paid = memory.ticket is not None and memory.ticket.usable
        try:
            with budgets.paid_look(paid):  # woken by its ticket: its reads go first, its write is paid
                return await self._reconcile(view, reporter, memory, conflict_with, context)
        finally:
            if memory.ticket is not None and (memory.ticket.spent or not memory.ticket.kept):
                # Spent, or this look did not need it (no write, or it failed first): out of the queue,
                # a token taken goes back. A parked look's ticket stays, granted meanwhile or not: the
                # grant wakes the next look, which spends it.
                memory.drop_ticket()

    async def _reconcile(
        self,
        view: AttachmentView,
        reporter: Reporter,
        memory: AttachmentMemory,
        conflict_with: str | None,
        context: guarding.Context | None,
    ) -> float:
        status: Mapping[str, Any] = memory.status if memory.status is not None else view.status
        generation = view.generation
        if status.get("observedGeneration") != generation:
            # kstatus: a new generation is announced before anything else happens.
            memory.attempt, memory.preflight_generation, memory.detach_sent = 0, None, False
            status = await self._write(reporter, memory, status, {
                "observedGeneration": generation,
                "conditions": conditions.merge(
                    status.get("conditions") or (), planning.plan_start(generation), generation=generation,
                    now=self.clock(),
                ),
            })  # fmt: skip

        resync, memory.resync_due = memory.resync_due, False
        # Only a steady look at resync may take the observer's snapshot (aws.observer); a new generation,
        # a transition, a restart or a reconcile request (controls.forget_caches) reads the function now.
        fresh = not resync or memory.preflight_generation != generation
        try:
            spec, ref = self.parse(view)
            _same_function(ref, status.get("ownership"))
        except InvalidSpec as exc:
            plan = Plan(
                outcome=Outcome.STALLED,
                conditions=(
                    conditions.ready(Status.FALSE, Reason.INVALID_SPEC, str(exc)),
                    conditions.stalled(Reason.INVALID_SPEC, str(exc)),
                ),
            )
            # The Warning Event names the field and the fix too, once (on the flip), never at each look.
            plan = dataclasses.replace(plan, events=planning.transition_events(status.get("conditions") or (), plan))
            await self._report(view, reporter, memory, status, plan, None, observed_ok=False)
            return self._resync()
        target, stop = await self._account(view, spec, ref, memory, status, context)
        if target is None:
            # A role the policy does not allow, or one STS refused: Stalled, nothing else read or written.
            assert stop is not None
            await self._report(view, reporter, memory, status, stop, None, observed_ok=False)
            memory.attempt, memory.resync_due = memory.attempt + 1, stop.requeue_after is None
            return min(stop.requeue_after or self._resync(), self.settings.resync_interval)
        look = _Look(view, reporter, memory, spec, ref, resync, fresh, conflict_with, context)
        return await target._look(look, status)

    async def _look(self, look: _Look, status: Mapping[str, Any]) -> float:
        """``reconcile`` once the spec parsed and the account is known (this reconciler's AWS is its):
        resolve the selectors, gather the situation, plan, send the update the plan wants, add the
        reactivation's share, report, then what waits for the report (aliases, invoke, owner tag)."""
        view, reporter, memory = look.view, look.reporter, look.memory
        spec, ref, resync = look.spec, look.ref, look.resync
        generation = view.generation
        if memory.forget_networks:
            # A reconcile request: the Describe answers of this account (a role session's caches for
            # a role's) and of the function's region (a full ARN's, not the default) are asked again.
            memory.forget_networks = False
            self.aws.networks.forget(ref.region, spec.subnet_ids or (), spec.security_group_ids or ())
        resolution = await selecting.resolve(
            self.aws, spec, ref.region or self.settings.default_region, memory, status, generation, resync
        )
        if not resolution.resolved:
            # A selector that matches nothing (or too much): Stalled naming it, nothing written to AWS.
            plan = selectors.plan_unresolved(
                resolution.problem, resolution.failure, status.get("conditions") or (), memory.attempt
            )
            await self._report(view, reporter, memory, status, plan, None, observed_ok=False)
            memory.attempt, memory.resync_due = memory.attempt + 1, plan.requeue_after is None
            return plan.requeue_after or self._resync()
        look = dataclasses.replace(look, spec=resolution.spec)  # the policy, preflight and plan judge literal ids
        spec = look.spec
        status = await self._write(reporter, memory, status, resolution.status_fields)
        for event in resolution.events:
            reporter.post(event)

        owner_tags: list[guarding.OwnerTag] = []  # a fresh claim's tag, sent after the report
        situation, observed_ok = await self._situation(look, status, owner_tags.append)
        plan = planning.plan_attachment(spec, situation)
        updating = plan.action is not None
        if plan.action is not None:
            parked = self._parked(look, _write_priority(situation))
            if parked is not None:
                return parked  # its ticket wakes it; that look plans again, on fresh facts, and writes
            for event in plan.events:
                reporter.post(event)
            situation = await self._update(view.key, memory, status, spec, ref, situation, plan.action)
            observed_ok = observed_ok or situation.action_failure is None
            plan = planning.plan_after_update(spec, situation)
        observed = situation.observed

        revival: reactivation.ReactivationPlan | None = None
        if observed is not None and plan.action is None and planning.revivable(plan, observed, status):
            revival = reactivation.plan_reactivation(
                spec.reactivation,
                observed,
                status.get("reactivation") or {},
                function=spec.function_name,
                now=self.now(),
                request=view.annotations.get(reactivation.REQUEST_ANNOTATION),
                last_sync_time=status.get("lastSyncTime"),
                window=self.settings.reactivation_window,
            )
            plan = planning.with_reactivation(plan, revival, status.get("conditions") or ())

        extra: dict[str, Any] = {"reactivation": revival.status} if revival is not None and revival.status else {}
        if plan.applied:
            extra[SENT_GENERATION] = None  # our write took effect (even if idle now): a later failure is not ours
        elif memory.update_generation == generation:
            extra[SENT_GENERATION] = generation
        status = await self._report(view, reporter, memory, status, plan, observed, observed_ok=observed_ok, **extra)
        status = await self._check_aliases(
            view, reporter, memory, status, spec, ref, plan, observed, observed_ok, resync
        )
        if revival is not None and revival.invoke is not None:
            # The attempt is on record before the invoke: a restart in between does not repeat it.
            result = await self._invoke(ref, revival.invoke)
            await self._write(reporter, memory, status, {"reactivation": {**revival.status, "lastResult": result}})
        retag_after: float | None = None
        if owner_tags and not updating and observed is not None and not observed.busy:
            # After the report: Ready never waits for the tag. Not in a look that sent (or tried) an
            # update: TagResource is refused while it runs (aws-facts "Errors"), and a refused update
            # goes first at the next look; a later look tags then.
            retag_after = self._parked(look, Priority.OWNERSHIP)
            if retag_after is None:
                retag_after = await self._owner_tag(view.key, memory, reporter, generation, owner_tags[0])
        return self._next_look(memory, plan, generation, retag_after)

    def _parked(self, look: _Look, priority: Priority) -> float | None:
        """Stop the look here instead of waiting for a control-plane token: the seconds until the next
        look if so (its ticket wakes it sooner, once its token is taken), None to go on and write now.

        A look waiting in the budget's queue holds its whole state (the body, the situation, the plan,
        a dozen coroutine frames: about 40 KB) for as long as the queue is: 5,000 new attachments at
        10 requests/s wait up to 500 s, most of the operator's peak memory. A ``budgets.Ticket`` keeps
        its place (arrival, priority) for a few hundred bytes, and the look that spends it plans on
        facts read then, not minutes ago."""
        memory = look.memory
        budget = self.aws.functions.control_budget(look.ref)
        ticket = memory.ticket
        if ticket is not None and ticket.budget is budget and ticket.usable:
            return None  # its token is taken: the write goes at once
        if ticket is not None and (ticket.budget is not budget or ticket.spent or priority < ticket.priority):
            memory.drop_ticket()  # another region's, or more urgent now: a new place
        if memory.ticket is None:
            if not budget.would_wait():
                return None
            key = look.view.key
            memory.ticket = budget.reserve(priority, lambda: self.waker(key))
        memory.ticket.kept = True
        # Woken by its ticket. Not sooner: each look of a parked attachment reads the function again, and
        # 5,000 of them every 30 s (a short resync interval) spent GetFunction's budget that the woken
        # looks need (the 5,000 benchmark: 1.67 times the lower bound instead of 1.05).
        return max(self.settings.resync_interval, PARKED_RECHECK)

    async def _situation(
        self, look: _Look, status: Mapping[str, Any], defer: Callable[[guarding.OwnerTag], None]
    ) -> tuple[planning.Situation, bool]:
        """Everything the planner judges, gathered once: policy, preflight, the function, ownership and
        the network. Also whether GetFunction answered (the function may be gone: None observed)."""
        memory, spec, ref, resync, context = look.memory, look.spec, look.ref, look.resync, look.context
        generation = look.view.generation
        situation = planning.Situation(
            generation=generation,
            observed=None,
            conditions=tuple(status.get("conditions") or ()),
            applied_generation=status.get("appliedGeneration"),
            conflict_with=look.conflict_with,
            attempt=memory.attempt,
            resync=resync,
            # After a restart, status remembers what memory forgot: a failed update is ours only if we sent one.
            update_sent=generation in (memory.update_generation, status.get(SENT_GENERATION)),
        )
        observed: FunctionObservation | None = None
        observed_ok = False
        if context is not None:
            # Guardrails: the tenant policy before any AWS call; ownership from the function's tag.
            situation, observed, observed_ok = await self._guarded_look(
                look.view, spec, ref, situation, memory, look.reporter, context, defer, fresh=look.fresh
            )
        elif look.conflict_with is None:
            desired = planning.desired_vpc(spec)
            problems, failure = await self._preflight(ref, desired, generation, memory, look.reporter, resync)
            situation = dataclasses.replace(situation, problems=problems, read_failure=failure)
            if failure is None and not validation.errors_of(list(problems)):
                observed, failure = await self._observe(ref, fresh=look.fresh)
                observed_ok = failure is None
                situation = dataclasses.replace(situation, observed=observed, read_failure=failure)
        network = await self._network(ref, spec, observed, status, memory, generation, steady=resync)
        return dataclasses.replace(situation, network=network), observed_ok

    async def _update(
        self,
        key: str,
        memory: AttachmentMemory,
        status: Mapping[str, Any],
        spec: AttachmentSpec,
        ref: FunctionRef,
        situation: planning.Situation,
        action: UpdateVpcConfig,
    ) -> planning.Situation:
        """UpdateFunctionConfiguration as planned; the situation after it: what the write answered
        (and the network then), or the refusal."""
        try:
            observed = await self.aws.functions.update_vpc(
                ref, action.vpc, action.revision_id, priority=_write_priority(situation), ticket=memory.ticket
            )
        except AwsError as exc:
            logger.info("%s: UpdateFunctionConfiguration refused: %s", key, exc.failure.code)
            return dataclasses.replace(situation, action_failure=exc.failure)
        memory.update_generation = situation.generation
        network = await self._network(ref, spec, observed, status, memory, situation.generation)
        return dataclasses.replace(situation, observed=observed, attempt=0, update_sent=True, network=network)

    async def _owner_tag(
        self, key: str, memory: AttachmentMemory, reporter: Reporter, generation: int, owner_tag: guarding.OwnerTag
    ) -> float | None:
        """Send a fresh claim's owner tag; the seconds until it is tried again if it must be soon."""
        failure = await owner_tag(memory.ticket)
        if failure is None:
            memory.owner_tag_failures = 0
            return None
        logger.info("%s: owner tag not written yet: %s", key, failure.code)
        if failure.kind == FailureKind.ACCESS_DENIED:
            # A human must grant lambda:TagResource: say so once, retry at resync pace.
            guarding.post_once(memory, reporter, generation, (guards.owner_tag_refused(failure),))
            return None
        # Throttled, busy: again soon, 2 s growing to 30 s, not at resync pace.
        memory.owner_tag_failures += 1
        return delays.wait_delay(memory.owner_tag_failures - 1)

    def _next_look(self, memory: AttachmentMemory, plan: Plan, generation: int, retag_after: float | None) -> float:
        """What this look leaves for the next: the attempt count, and the seconds until it."""
        if plan.outcome in (Outcome.WAIT, Outcome.UPDATE):
            memory.attempt += 1
        else:
            memory.attempt = 0
        if plan.applied:
            memory.update_generation = None  # our write took effect: a later failure is not ours
        if any(e.reason == Reason.SLOW_PROVISIONING for e in plan.events):
            memory.slow_generation = generation  # posted once per generation
        if retag_after is not None:
            return min(plan.requeue_after or retag_after, retag_after)
        if plan.requeue_after is None:
            memory.resync_due = True
            return self._resync()
        return min(plan.requeue_after, self.settings.resync_interval)

    def _resync(self) -> float:
        """The resync interval, jittered upwards: looks started together (a restart) drift apart."""
        return delays.resync_delay(self.settings.resync_interval, random.random())

    async def _account(
        self,
        view: AttachmentView,
        spec: AttachmentSpec,
        ref: FunctionRef,
        memory: AttachmentMemory,
        status: Mapping[str, Any],
        context: guarding.Context | None,
    ) -> tuple[Reconciler | None, Plan | None]:
        """The reconciler of the attachment's account: this one, or one acting through the role the
        attachment names (or its policy's defaultRoleArn). (None, a Stalled plan) when the policy does
        not allow that role (decided before any AWS call: no role is assumed for a tenant the policy
        does not trust) or STS refuses it; (None, a wait) when STS is away for a moment."""
        if self.aws.accounts is None:
            return self, None
        rules = context.policies if context is not None else None
        choice = policy_rules.role_for(spec.role_arn, view.namespace, rules or policy_rules.PolicySet())
        previous = status.get("conditions") or ()
        held = str((status.get("ownership") or {}).get("functionArn") or "")
        if choice.arn is None:
            home = self.aws.identity.known
            if held and home and (account := FunctionRef.parse(held).account) and account != home:
                # Claimed through a role no longer named (a defaultRoleArn gone): never act on it with
                # the operator's own identity, in the wrong account. A deletion lets it go untouched.
                message = (
                    f"{held}, which this attachment manages, is in account {account} and no role of it is named "
                    "any more (spec.roleArn, or the namespace policy's defaultRoleArn)"
                )
                plan = Plan(outcome=Outcome.STALLED, conditions=(
                    conditions.ready(Status.FALSE, Reason.POLICY_DENIED, message),
                    conditions.stalled(Reason.POLICY_DENIED, message),
                ))  # fmt: skip
                return None, dataclasses.replace(plan, events=planning.transition_events(previous, plan))
            return self, None
        if held and (account := FunctionRef.parse(held).account) and account != accounts.account_of(choice.arn):
            # The function this attachment manages is in another account than the role now named:
            # acting through it would leave that function with nobody to release it.
            message = (
                f"{choice.field} {choice.arn} is in another account than {held}, which this attachment manages "
                "(status.ownership); put back a role of that account, or delete this attachment (which releases "
                "that function) and create a new one"
            )
            plan = Plan(outcome=Outcome.STALLED, conditions=(
                conditions.ready(Status.FALSE, Reason.INVALID_SPEC, message),
                conditions.stalled(Reason.INVALID_SPEC, message),
            ))  # fmt: skip
            return None, dataclasses.replace(plan, events=planning.transition_events(previous, plan))
        if context is not None:
            denied = await self.guard.policy(view.namespace, spec, ref, context)
            memory.policy_denied = bool(denied)
            if denied:
                return None, selectors.plan_unresolved(denied[0], None, previous, memory.attempt)
        role = accounts.RoleSession(choice.arn, spec.external_id, accounts.session_name(view.namespace))
        try:
            gateway = await self.aws.accounts.assume(role)
        except AwsError as exc:
            logger.info("%s: sts:AssumeRole of %s failed: %s", view.key, choice.arn, exc.failure.code)
            if exc.failure.transient:
                return None, selectors.plan_unresolved(None, exc.failure, previous, memory.attempt)
            return None, account_planning.plan_assume_failure(choice.arn, exc.failure, previous, memory.attempt)
        if isinstance(self.aws.functions, dryrun.DryRunFunctions):
            # `plan`: the role's account is previewed with its writes recorded, as the operator's own.
            gateway = dataclasses.replace(gateway, functions=self.aws.functions.sharing(gateway.functions))
        return Reconciler(gateway, self.settings, self.now, self.waker), None

    async def _guarded_look(
        self,
        view: AttachmentView,
        spec: AttachmentSpec,
        ref: FunctionRef,
        situation: planning.Situation,
        memory: AttachmentMemory,
        reporter: Reporter,
        context: guarding.Context,
        defer: Callable[[guarding.OwnerTag], None] | None = None,
        *,
        fresh: bool = True,
    ) -> tuple[planning.Situation, FunctionObservation | None, bool]:
        """Policy, preflight (network, routes), GetFunction, ownership and role: each step only if the
        ones before found no error, so a denied attachment costs no AWS call at all. Returns the
        situation, the observation and whether GetFunction answered (None: the function is gone)."""
        generation = situation.generation
        # The claims' verdict waits for the owner tag (step 5): until then a passing read failure
        # must not show as a Conflict (a younger tag owner would flap).
        older_claim, situation = situation.conflict_with, dataclasses.replace(situation, conflict_with=None)
        denied = await self.guard.policy(view.namespace, spec, ref, context)
        memory.policy_denied = bool(denied)
        if denied:
            return dataclasses.replace(situation, problems=denied), None, False
        first_look = memory.preflight_generation != generation
        problems, failure = await self._preflight(
            ref, planning.desired_vpc(spec), generation, memory, reporter, situation.resync
        )
        if failure is None and not validation.errors_of(list(problems)):
            extra, failure = await self.guard.network(view.namespace, spec, ref, context, refresh=first_look)
            memory.policy_denied = any(p.reason == Reason.POLICY_DENIED for p in extra)
            problems = (*extra, *problems)
            guarding.post_once(memory, reporter, generation, extra)
        situation = dataclasses.replace(situation, problems=problems, read_failure=failure)
        if failure is not None or validation.errors_of(list(problems)):
            return situation, None, False
        observed, failure = await self._observe(ref, fresh=fresh)
        situation = dataclasses.replace(situation, observed=observed, read_failure=failure)
        if observed is None:
            return situation, None, failure is None
        before = len(situation.problems)
        situation = dataclasses.replace(situation, conflict_with=older_claim)
        status: Mapping[str, Any] = memory.status if memory.status is not None else view.status

        async def record(claim: dict[str, Any]) -> None:
            await self._write(reporter, memory, status, {"ownership": claim})

        situation = await self.guard.function(
            self.guard.owner(view.namespace, view.name), spec, ref, observed, situation, context, status, record,
            defer, tags_read=fresh,
        )  # fmt: skip
        guarding.post_once(memory, reporter, generation, tuple(situation.problems[before:]))
        return situation, observed, True

    async def _invoke(self, ref: FunctionRef, invoke: reactivation.Invoke) -> str:
        """Invoke (retries off); the answer as status.reactivation.lastResult."""
        try:
            await self.aws.functions.invoke(ref, invoke.payload, invoke.invocation_type.value)
        except FunctionNotReady:
            # aws-facts: the expected answer for an Inactive function; Lambda is rebuilding now.
            return reactivation.Result.STARTED
        except AwsError as exc:
            logger.info("%s: invoke failed: %s", ref.name, exc.failure.code)
            return exc.failure.code
        return reactivation.Result.INVOKED if invoke.purpose == reactivation.Result.STARTED else invoke.purpose

    async def _preflight(
        self,
        ref: FunctionRef,
        desired: VpcSettings,
        generation: int,
        memory: AttachmentMemory,
        reporter: Reporter,
        resync: bool,
    ) -> tuple[tuple[Problem, ...], Failure | None]:
        """Validate the desired network once per generation (and again at each resync)."""
        if memory.preflight_generation == generation and not resync:
            return memory.problems, None
        first_time = memory.preflight_generation != generation
        if first_time:
            memory.facts = None
        try:
            facts = await self.aws.networks.describe(
                ref.region or self.settings.default_region,
                sorted(desired.subnet_ids),
                sorted(desired.security_group_ids),
                refresh=first_time,
            )
        except AwsError as exc:
            if exc.failure.kind == FailureKind.ACCESS_DENIED:
                # Validation is a courtesy; without ec2:Describe* AWS itself will judge the update.
                problem = Problem(
                    Severity.WARNING, "CannotValidate", "spec",
                    f"Could not validate the network ({exc.failure.code}); grant the operator "
                    "ec2:DescribeSubnets, ec2:DescribeSecurityGroups and ec2:DescribeVpcs",
                )  # fmt: skip
                problems: tuple[Problem, ...] = (problem,)
            elif exc.failure.transient:
                return (), exc.failure
            else:
                raise
        else:
            problems = tuple(validation.validate_network(desired, facts))
            memory.facts = facts
        memory.preflight_generation, memory.problems = generation, problems
        if first_time:
            for problem in problems:
                if problem.severity == Severity.WARNING:
                    reporter.post(Event(EventType.WARNING, problem.reason, problem.message))
        return problems, None

    async def _network(
        self,
        ref: FunctionRef,
        spec: AttachmentSpec,
        observed: FunctionObservation | None,
        status: Mapping[str, Any],
        memory: AttachmentMemory,
        generation: int,
        *,
        steady: bool = False,
    ) -> network_readiness.NetworkSituation:
        """The Hyperplane ENIs that matter now: of the function's VPC once it holds (or applies) the
        spec's configuration, and of any VPC it just left (aws.enis: one shared read per VPC).
        A ``steady`` look (a resync) takes a reading up to a resync interval old: the looks of a VPC's
        attachments, spread over the interval, then share one DescribeNetworkInterfaces per interval
        instead of one per INTERFACES_TTL."""
        region = ref.region or self.settings.default_region
        desired = planning.desired_vpc(spec)
        enis: tuple[EniFacts, ...] | None = None
        failure: Failure | None = None
        vpc_id = network_readiness.interfaces_vpc(desired, observed)
        if vpc_id:
            try:
                max_age = self.settings.resync_interval if steady else None
                enis = await self.aws.enis.in_vpc(region, vpc_id, max_age=max_age)
                age = self.aws.enis.age(region, vpc_id)
                if (
                    observed is not None
                    and readiness.lambda_ready(desired, observed)
                    and readiness.subnets_without_interface(desired, enis)
                    and age is not None
                    and age > FRESH_INTERFACES
                ):
                    enis = await self.aws.enis.in_vpc(region, vpc_id, max_age=FRESH_INTERFACES)
            except AwsError as exc:
                logger.info("%s: DescribeNetworkInterfaces failed: %s", ref.name, exc.failure.code)
                enis, failure = None, exc.failure
        previous: dict[str, tuple[EniFacts, ...]] = {}
        for left in sorted(network_readiness.previous_vpcs(status, observed)):
            try:
                previous[left] = await self.aws.enis.in_vpc(region, left)
            except AwsError as exc:
                logger.info("%s: DescribeNetworkInterfaces of %s failed: %s", ref.name, left, exc.failure.code)
        return network_readiness.NetworkSituation(
            now=self.now(),
            enis=enis,
            previous_enis=previous,
            facts=memory.facts,
            status=status,
            readiness_timeout=spec.readiness_timeout,
            slow_reported=memory.slow_generation == generation,
            read_failure=failure,
        )

    # -- aliases: where traffic through aliases goes (planner.aliases; never touches Ready) ------

    async def _check_aliases(
        self,
        view: AttachmentView,
        reporter: Reporter,
        memory: AttachmentMemory,
        status: Mapping[str, Any],
        spec: AttachmentSpec,
        ref: FunctionRef,
        plan: Plan,
        observed: FunctionObservation | None,
        observed_ok: bool,
        resync: bool,
    ) -> Mapping[str, Any]:
        """AliasesCurrent and status.aliases: read once per generation in sync, and again at a resync
        once ``--alias-interval`` has passed (informational: Ready never waits for them).

        Costs one ListAliases (a page) plus one GetFunctionConfiguration per version never read
        before (aws.aliases keeps them: versions are immutable), from the shared 15/s budget.
        """
        if observed is None:
            if observed_ok and view.status.get("functionArn"):
                self.aws.aliases.forget(view.status["functionArn"])  # the function is gone
            return status
        if plan.outcome not in alias_planning.CHECKED_OUTCOMES:
            return status
        if memory.aliases_generation == view.generation and not (
            resync and alias_planning.due(memory.aliases_read_at, time.monotonic(), self.settings.alias_interval)
        ):
            return status
        reading = await self._read_aliases(ref, observed)
        if reading is None:
            return status  # the aliases' share of the budget is spent: a later look reads them
        verdict = alias_planning.plan_aliases(
            spec.function_name, planning.desired_vpc(spec), observed, reading, status.get("conditions") or ()
        )
        if not reading.transient:
            memory.aliases_generation, memory.aliases_read_at = view.generation, time.monotonic()
        if verdict.keep:
            return status
        stored = await self._write(reporter, memory, status, {
            **verdict.status_fields,
            "conditions": conditions.put(
                status.get("conditions") or (), ConditionType.ALIASES_CURRENT, verdict.condition,
                generation=view.generation, now=self.clock(),
            ),
        })  # fmt: skip
        for event in verdict.events:
            reporter.post(event)
        return stored

    async def _read_aliases(
        self, ref: FunctionRef, observed: FunctionObservation
    ) -> alias_planning.AliasReading | None:
        try:
            found = await self.aws.aliases.of_function(ref)
        except AwsError as exc:
            logger.info("%s: ListAliases failed: %s", ref.name, exc.failure.code)
            return alias_planning.AliasReading(failure=exc.failure)
        if found is None:
            return None
        versions, failures = {}, {}
        for version in alias_planning.versions_to_read(found):
            try:
                versions[version] = await self.aws.aliases.version(ref, observed.arn, version)
            except AwsError as exc:
                logger.info("%s: reading version %s failed: %s", ref.name, version, exc.failure.code)
                failures[version] = exc.failure
        return alias_planning.AliasReading(found, versions, failures)

    async def _observe(
        self, ref: FunctionRef, *, fresh: bool = True
    ) -> tuple[FunctionObservation | None, Failure | None]:
        """The function from the observer: its snapshot for a steady look (``fresh`` False), else read now."""
        try:
            return await self.aws.observer.observe(ref, fresh=fresh), None
        except UnexpectedAnswer:
            # Not AWS being away (which keeps the last conditions): an answer we cannot read is
            # ReconcileError, with its Event and metric, and Stalled if it persists (planner.errors).
            raise
        except AwsError as exc:
            return None, exc.failure

    async def _report(
        self,
        view: AttachmentView,
        reporter: Reporter,
        memory: AttachmentMemory,
        status: Mapping[str, Any],
        plan: Plan,
        observed: FunctionObservation | None,
        *,
        observed_ok: bool,
        **extra: Any,
    ) -> Mapping[str, Any]:
        generation = view.generation
        wanted: dict[str, Any] = {"observedGeneration": generation, **extra}
        if observed_ok:
            wanted.update(status_patches.observed_fields(observed))
        if plan.conditions is not None:
            now = self.clock()
            previous = status.get("conditions") or ()
            wanted["conditions"] = conditions.merge(previous, plan.conditions, generation=generation, now=now)
            if plan.outcome == Outcome.IN_SYNC and not conditions.is_true(previous, ConditionType.READY):
                wanted["lastSyncTime"] = now
        elif memory.failures:
            # A look went through after failed ones, and keeps the conditions: not the ReconcileError.
            previous = status.get("conditions") or ()
            kept = [c for c in previous if not error_planning.reported(c)]
            if len(kept) != len(previous):
                wanted["conditions"] = kept
        if plan.applied:
            wanted["appliedGeneration"] = generation
        wanted.update(plan.status_fields)
        stored = await self._write(reporter, memory, status, wanted)
        for event in plan.events:
            reporter.post(event)
        return stored

    async def _write(
        self,
        reporter: Reporter,
        memory: AttachmentMemory,
        status: Mapping[str, Any],
        wanted: Mapping[str, Any],
    ) -> Mapping[str, Any]:
        patch = status_patches.status_patch(status, wanted)
        if not patch:
            return status
        stored = await reporter.patch_status(patch)
        memory.status = stored
        return stored

    # -- a dry run: `lambda-vpc-operator plan` ------------------------------------------------

    async def preview(self, view: AttachmentView, context: guarding.Context | None = None) -> Preview:
        """What one look would decide, with no write: the steps of ``reconcile`` up to the plan.

        Give this reconciler an AwsGateway whose functions are ``aws.dryrun.DryRunFunctions``: the
        guardrails' claim (TagResource) is then recorded, not sent; the plan's write is never sent.
        Raises InvalidSpec for a spec the operator would stall on.
        """
        spec, ref = self.parse(view)
        memory = AttachmentMemory()
        reporter = _Recorder(view.status)
        situation = planning.Situation(
            generation=view.generation,
            observed=None,
            conditions=tuple(view.status.get("conditions") or ()),
            applied_generation=view.status.get("appliedGeneration"),
            resync=True,
        )
        target, stop = await self._account(view, spec, ref, memory, view.status, context)
        if target is None:
            assert stop is not None
            return Preview(spec, ref, situation, stop, None, stop.events)
        if target is not self:
            return await target.preview(view, context)  # in the role's account, its writes recorded too
        observed: FunctionObservation | None = None
        if context is not None:
            situation, observed, _ = await self._guarded_look(view, spec, ref, situation, memory, reporter, context)
            # The operator would tag first and change the function at its next look: a plan shows both.
            situation = dataclasses.replace(situation, just_claimed=False)
        else:
            problems, failure = await self._preflight(ref, planning.desired_vpc(spec), view.generation, memory,
                                                      reporter, True)  # fmt: skip
            situation = dataclasses.replace(situation, problems=problems, read_failure=failure)
            if failure is None and not validation.errors_of(list(problems)):
                observed, failure = await self._observe(ref)
                situation = dataclasses.replace(situation, observed=observed, read_failure=failure)
        network = await self._network(ref, spec, observed, view.status, memory, view.generation)
        situation = dataclasses.replace(situation, network=network)
        plan = planning.plan_attachment(spec, situation)
        enis: tuple[EniFacts, ...] | None = None
        vpcs = {s.vpc_id for s in (memory.facts.subnets.values() if memory.facts else ()) if s.vpc_id}
        if len(vpcs) == 1:
            try:
                enis = await self.aws.enis.in_vpc(ref.region or self.settings.default_region, vpcs.pop())
            except AwsError as exc:
                logger.info("%s: DescribeNetworkInterfaces failed: %s", ref.name, exc.failure.code)
        return Preview(spec, ref, situation, plan, enis, tuple(reporter.events))

    # -- a look that raised (planner.errors) --------------------------------------------------

    async def fail(
        self, view: AttachmentView, reporter: Reporter, memory: AttachmentMemory, exc: Exception, handler: str
    ) -> float:
        """Report an exception that escaped a look (ReconcileError); return the seconds until the next.

        Never raises: if even the status write fails (the API server is what broke), the delay stands.
        """
        memory.failures += 1
        summary = error_planning.ErrorSummary.of(exc)
        failing.errors.count(handler, summary.kind)
        logger.error("%s: %s failed (%d in a row): %s", view.key, handler, memory.failures, summary.text)
        logger.debug("%s: traceback of the failed %s", view.key, handler, exc_info=exc)
        status: Mapping[str, Any] = memory.status if memory.status is not None else view.status
        plan = error_planning.plan_error(
            summary, memory.failures, status.get("conditions") or (), last_error=memory.last_error,
            stall_after=self.settings.stall_after_errors, jitter=random.random(),
        )  # fmt: skip
        try:
            await self._write(reporter, memory, status, {
                "conditions": conditions.merge(
                    status.get("conditions") or (), plan.conditions, generation=view.generation, now=self.clock()
                ),
            })  # fmt: skip
            for event in plan.events:
                reporter.post(event)
            memory.last_error = summary.text
        except Exception as write_error:  # reporting must not raise in turn
            text = error_planning.ErrorSummary.of(write_error).text
            logger.warning("%s: could not report the failure: %s", view.key, text)
        return plan.delay

    @staticmethod
    def recovered(memory: AttachmentMemory) -> None:
        """A look went through: the next failure starts the backoff (and its Event) afresh."""
        memory.failures, memory.last_error = 0, None

    # -- deletion ----------------------------------------------------------------------------

    async def release(
        self,
        view: AttachmentView,
        reporter: Reporter,
        memory: AttachmentMemory,
        owned: bool,
        context: guarding.Context | None = None,
    ) -> float | None:
        """One step of a deletion; None when the finalizer may go, else seconds until the next step."""
        if not memory.release_started:
            # A deletion starts its waits afresh (as a new generation does), not at the live looks' 30 s.
            memory.release_started, memory.attempt = True, 0
            memory.drop_ticket()  # a parked look's place in the queue: no look of it runs again
        status: Mapping[str, Any] = memory.status if memory.status is not None else view.status
        claim: Mapping[str, Any] = status.get("ownership") or {}
        spec: AttachmentSpec | None
        ref: FunctionRef | None
        try:
            spec, ref = self.parse(view)
        except InvalidSpec:
            # An attachment that never parsed never touched AWS, unless it claimed a function before.
            spec, ref = _spec_or_none(view.spec), None
        if claim.get("functionArn"):
            # The function this attachment claimed is the one to release, whatever the spec says now.
            ref = FunctionRef.parse(str(claim["functionArn"]))
        if spec is None or ref is None:
            return None
        target, stop = await self._account(view, spec, ref, memory, status, context)
        if target is None:
            assert stop is not None
            if any(c.reason == Reason.POLICY_DENIED for c in stop.conditions or ()):
                # The policy no longer allows the role: the operator does not act there, not even to detach.
                reporter.post(Event(EventType.WARNING, Reason.POLICY_DENIED, "Released without touching the "
                                    f"function: {stop.conditions[0].message if stop.conditions else ''}"))  # fmt: skip
                return None
            if not claim.get("functionArn"):
                # Never claimed a function through that role: nothing of it is on AWS, nothing to wait for.
                return None
            return await self._release_waits(view, reporter, memory, status, stop, spec, ref.name)
        return await target._release_look(view, reporter, memory, owned, context, status, claim, spec, ref)

    async def _release_look(
        self,
        view: AttachmentView,
        reporter: Reporter,
        memory: AttachmentMemory,
        owned: bool,
        context: guarding.Context | None,
        status: Mapping[str, Any],
        claim: Mapping[str, Any],
        spec: AttachmentSpec,
        ref: FunctionRef,
    ) -> float | None:
        """``release`` once the account is known: this reconciler's AWS is the function's."""
        observed, failure = await self._observe(ref)
        if failure is None and observed is None:
            failure = Failure(FailureKind.NOT_FOUND, "ResourceNotFoundException", "function not found")
        why: str | None = None
        if context is not None:
            # A policy that now denies it, or another attachment's owner tag: leave the function alone.
            owned, why = await self.guard.release_verdict(
                self.guard.owner(view.namespace, view.name), view.namespace, spec, ref, observed, context, status
            )
        release = planning.Release(
            policy=spec.deletion_policy,
            restore=planning.restored_vpc(claim.get("previousVpcConfig")),
            observed=observed,
            owned=owned,
            read_failure=failure,
            attempt=memory.attempt,
            detach_sent=memory.detach_sent,
        )
        if why is not None:
            release = dataclasses.replace(release, not_owned=why)
        function = ref.name
        plan = planning.plan_release(function, release)
        if plan.action is not None:
            try:
                observed = await self.aws.functions.update_vpc(ref, plan.action.vpc, plan.action.revision_id)
                memory.detach_sent = True
            except AwsError as exc:
                plan = planning.plan_release(function, dataclasses.replace(release, action_failure=exc.failure))
        if plan.outcome == Outcome.RELEASED:
            if not memory.release_reported:
                for event in plan.events:
                    reporter.post(event)
                memory.release_reported = True
            # Then our owner tag, and (waitForNetworkCleanup) the wait for Lambda to delete the ENIs.
            return await releasing.finish(
                self.aws, self.now(), reporter, memory, status, spec, ref, observed, owned=owned and why is None,
                owner_tag=claim.get("ownerTag") or self.guard.owner(view.namespace, view.name).tag_value,
                generation=view.generation, write=lambda fields: self._write(reporter, memory, status, fields),
            )  # fmt: skip
        return await self._release_waits(view, reporter, memory, status, plan, spec, function)

    async def _release_waits(
        self,
        view: AttachmentView,
        reporter: Reporter,
        memory: AttachmentMemory,
        status: Mapping[str, Any],
        plan: Plan,
        spec: AttachmentSpec,
        function: str,
    ) -> float | None:
        """A release that cannot finish yet: say why in status and Events, and when to look again;
        None (released anyway, with a Warning) once spec.deletionTimeout has passed since the deletion."""
        deleted_at = reactivation.parse_time(view.deletion_time)
        overdue = cleanup.give_up(function, plan, deleted_at, self.now(), duration_seconds(spec.deletion_timeout))
        if overdue is not None:
            for event in overdue.events:
                reporter.post(event)
            return None
        if plan.conditions is not None:
            await self._write(reporter, memory, status, {
                "conditions": conditions.merge(
                    status.get("conditions") or (), plan.conditions, generation=view.generation, now=self.clock()
                ),
            })  # fmt: skip
        for event in plan.events:
            reporter.post(event)
        memory.attempt += 1
        return plan.requeue_after if plan.requeue_after is not None else self.settings.resync_interval
