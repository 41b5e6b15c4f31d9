"""The simulator's own state beside moto's backends, and the rules that move it along the clock.

Why: moto holds the functions, subnets and ENIs; this backend holds what moto lacks (lifecycle
states, changes in flight, Hyperplane ENI bookkeeping, injected faults, request budgets, counters)
under one lock, keyed by account and region like moto's backends. Nothing runs in the background:
every request first calls ``settle()``, which replays, in time order, every deadline the simulated
clock has passed (ENI ready, change done, ENI deleted, function idle). So ``advance(seconds)`` on
the clock makes any delay pass at once, and a test sees exactly the same sequence as a slow run.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.exceptions import UnknownFunctionException

from . import budgets, config, exceptions, faults, journal, networking, permissions
from .clock import Clock
from .functions import FunctionRecord, Operation, OperationKind, State
from .networking import Combo, EniStatus, Failure, HyperplaneEni, VpcSettings

#: Invocation types and their status codes (aws-facts "Inactive functions and reactivation":
#: RequestResponse 200, Event 202, DryRun 204).
INVOCATION_STATUS = {"RequestResponse": 200, "Event": 202, "DryRun": 204}


# The refill rates a test may set (a slow refill makes a burst measurable on a busy machine).
RATE_KEYS = ("control_per_s", "get_function_per_s", "ec2_non_mutating_per_s", "ec2_unfiltered_per_s")

class ControlError(Exception):
    """A control call that cannot be done (unknown function, nothing to replace...)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _gone(missing: LookupError) -> Failure:
    """aws-facts "Errors": a subnet or security group that is gone fails the change later."""
    name = str(missing).strip("'\"")
    code = "InvalidSubnet" if name.startswith("subnet-") else "InvalidSecurityGroup"
    return Failure(code, f"The resource '{name}' does not exist.")


def configure_moto() -> None:
    """aws-facts "moto 5.2": without Docker, and configured before any function is created
    (switching afterwards loses the functions created before it)."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("lambda", {})["use_docker"] = False


def reset_moto() -> None:
    """aws-facts "moto 5.2": backends are process-global: reset them between tests."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    configure_moto()


@dataclass
class Invocation:
    function: str
    region: str
    invocation_type: str
    payload: str
    at: float
    status: int
    result: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RegionState:
    """Our state for one account and region (moto keys its backends the same way)."""

    account: str
    region: str
    functions: dict[str, FunctionRecord] = field(default_factory=dict)
    enis: dict[Combo, HyperplaneEni] = field(default_factory=dict)
    injected: dict[str, deque[Failure]] = field(default_factory=dict)
    rebuild_failures: dict[str, Failure] = field(default_factory=dict)
    # Indexes kept by SimulatorBackend._hold, so that no transition scans every function: the ENI
    # combinations each function keeps alive and waits for, and how many functions do, per combination.
    holds: dict[str, tuple[frozenset[Combo], frozenset[Combo]]] = field(default_factory=dict)
    held: Counter[Combo] = field(default_factory=Counter)
    waited: Counter[Combo] = field(default_factory=Counter)

    @property
    def ec2(self) -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account][self.region]

    @property
    def lambdas(self) -> Any:
        from moto.awslambda_simple.models import lambda_simple_backends

        return lambda_simple_backends[self.account][self.region]


#: Timer kinds, in the order they run at equal times: ENIs finish before the changes waiting for
#: them, changes before the deletion of ENIs, idleness last.
ENI_READY, FINISH, ENI_DELETE, IDLE = range(4)


@dataclass(order=True)
class _Timer:
    """A deadline in the heap; checked against the current state when it is reached (a deadline
    that moved or whose object is gone is dropped or pushed again), so nothing is ever searched."""

    at: float
    kind: int
    seq: int
    region: RegionState = field(compare=False)
    key: Any = field(compare=False)  # the Combo of an ENI, the name of a function
    target: Any = field(compare=False)  # the HyperplaneEni, Operation or FunctionRecord it was set for


class SimulatorBackend:
    """All simulator state and rules; every public method must be called with ``lock`` held."""

    def __init__(self, cfg: config.SimConfig | None = None) -> None:
        self.lock = threading.RLock()
        self.initial_config = (cfg or config.SimConfig()).copy()
        self.clock = Clock()
        self.counter = budgets.CallCounter()
        self.faults = faults.Faults()  # its own lock: the middleware draws faults without ours
        self.journal = journal.Journal()  # its own lock: requests are recorded once answered
        self._clear()

    def _clear(self) -> None:
        self.config = self.initial_config.copy()
        self.budgets = budgets.Budgets(budgets.Limits.from_config(self.config))
        self.regions: dict[tuple[str, str], RegionState] = {}
        self.subnet_failures: dict[str, Failure] = {}
        self.free_addresses: dict[str, int] = {}
        self.address_bases: dict[str, int] = {}  # moto's own count of a subnet whose count we set
        self.jitter_bases: dict[str, int] = {}  # moto's own count of a subnet free_address_jitter moves
        self.jitter_random = random.Random(0)  # reproducible moves
        self.eni_quotas: dict[str, int] = {}
        self.combo_delays: dict[Combo, float] = {}  # eni_create_delay per combination
        self.invocations: list[Invocation] = []
        # "service:Operation"s answered AccessDenied, as if the operator's role lacked them (permissions).
        self.denied_operations: set[str] = set()
        # Access key -> the statements of its principal policy (authorization); absent: unrestricted.
        self.principal_policies: dict[str, tuple[permissions.Statement, ...]] = {}
        # Access key -> IAM action -> requests its principal policy refused (not those of ``deny``).
        self.refused: dict[str, dict[str, int]] = {}
        # "service:Operation"s answered with an HTML 500, as a plain moto server does for what it lacks.
        self.broken_operations: set[str] = set()
        # "lambda:Operation"s answered 200 with an empty JSON object: an answer without what the API
        # promises, which the operator must report (aws.errors.UnexpectedAnswer), never choke on.
        self.garbled_operations: set[str] = set()
        # Function name -> real seconds each of its Invokes takes (a slow function in RequestResponse
        # mode holds the caller that long): slept outside the backend's lock, so only its caller waits.
        self.invoke_delays: dict[str, float] = {}
        # RoleName -> simulated time of its last change (creation, policies), for iam_propagation_delay.
        self.role_changes: dict[str, float] = {}
        self.counter.reset()
        self.faults.reset()
        self.journal.reset()
        self._timers: list[_Timer] = []
        self._sequence = itertools.count()

    def reset(self) -> None:
        """moto's backends, our state, the config, the clock and the counters, all back to new."""
        reset_moto()
        self.clock.reset()
        self._clear()

    def set_principal_policy(self, access_key: str, document: Any) -> int:
        """Every request signed with ``access_key`` is judged against this IAM policy document
        (authorization). Returns its number of statements."""
        try:
            statements = tuple(permissions.statements_of(document, f"principal:{access_key}"))
        except (ValueError, TypeError, AttributeError) as error:
            raise ControlError(f"Not an IAM policy document: {error}") from None
        if not statements or any(s.effect not in ("Allow", "Deny") for s in statements):
            raise ControlError("An IAM policy document needs statements with Effect Allow or Deny.")
        self.principal_policies[access_key] = statements
        return len(statements)

    def record_refusal(self, access_key: str, action: str) -> None:
        counts = self.refused.setdefault(access_key, {})
        counts[action] = counts.get(action, 0) + 1

    def clear_principal_policy(self, access_key: str | None = None) -> None:
        """``access_key`` (every key when None) may do everything again."""
        if access_key is None:
            self.principal_policies.clear()
        else:
            self.principal_policies.pop(access_key, None)

    def region(self, account: str, region: str) -> RegionState:
        key = (account, region)
        if key not in self.regions:
            self.regions[key] = RegionState(account, region)
        return self.regions[key]

    # -- time --------------------------------------------------------------------------------------

    def settle(self) -> None:
        """Apply every transition whose deadline the simulated clock has passed, in time order.
        A heap of timers: the cost is the transitions due, not the number of functions or ENIs."""
        now = self.clock.now()
        while self._timers and self._timers[0].at <= now:
            self._fire(heapq.heappop(self._timers))

    def advance(self, seconds: float) -> float:
        now = self.clock.advance(seconds)
        self.settle()
        return now

    def _push(self, r: RegionState, at: float, kind: int, key: Any, target: Any) -> None:
        heapq.heappush(self._timers, _Timer(at, kind, next(self._sequence), r, key, target))

    def _eni_timer(self, r: RegionState, eni: HyperplaneEni) -> None:
        if eni.status is EniStatus.CREATING:
            self._push(r, eni.ready_at, ENI_READY, eni.combo, eni)
        elif eni.status is EniStatus.DELETING and eni.delete_at is not None:
            self._push(r, eni.delete_at, ENI_DELETE, eni.combo, eni)

    def _function_timer(self, r: RegionState, fn: FunctionRecord) -> None:
        if fn.operation is not None:
            # not_before is the earliest it can end; _fire pushes it again while an ENI is awaited.
            self._push(r, fn.operation.not_before, FINISH, fn.name, fn.operation)
        elif self._may_idle(fn):
            self._push(r, fn.last_activity + self.config.idle_after, IDLE, fn.name, fn)

    @staticmethod
    def _may_idle(fn: FunctionRecord) -> bool:
        # aws-facts "Inactive functions": idle for 14 days -> Inactive (VPC functions: the Lambda
        # guide says Inactive is Lambda reclaiming the external resources).
        return fn.operation is None and fn.state is State.ACTIVE and fn.vpc is not None and fn.vpc.attached

    def _fire(self, timer: _Timer) -> None:
        r = timer.region
        if self.regions.get((r.account, r.region)) is not r:
            return  # from before a reset
        if timer.kind in (ENI_READY, ENI_DELETE):
            eni = r.enis.get(timer.key)
            if eni is not timer.target:
                return
            if timer.kind == ENI_READY and eni.status is EniStatus.CREATING and eni.ready_at == timer.at:
                self._finish_eni(r, eni, timer.at)
            elif timer.kind == ENI_DELETE and eni.status is EniStatus.DELETING and eni.delete_at == timer.at:
                self._expire_eni(r, eni, timer.at)
            return
        fn = r.functions.get(timer.key)
        if fn is None:
            return
        if timer.kind == FINISH:
            if fn.operation is not timer.target:
                return
            due = self._due(r, fn.operation)
            if due > timer.at:
                self._push(r, due, FINISH, fn.name, fn.operation)  # an ENI it needs is not there yet
            else:
                self._finish(r, fn, due)
        elif fn is timer.target and self._may_idle(fn):
            idle_at = fn.last_activity + self.config.idle_after
            if idle_at > timer.at:
                self._push(r, idle_at, IDLE, fn.name, fn)  # invoked since: idle later
            else:
                self._idle(r, fn, idle_at)

    def _due(self, r: RegionState, operation: Operation) -> float:
        """A change ends after its own delay and once every ENI it needs exists (aws-facts
        "Hyperplane ENIs": the function becomes Active only when the ENI is ready)."""
        due = operation.not_before
        for combo in operation.combos:
            eni = r.enis.get(combo)
            if eni is not None and eni.status is EniStatus.CREATING:
                due = max(due, eni.ready_at)
        return due

    # -- Hyperplane ENIs ---------------------------------------------------------------------------

    def _ensure_eni(self, r: RegionState, combo: Combo, function: str, now: float) -> None:
        eni = r.enis.get(combo)
        if eni is not None and eni.status is not EniStatus.FAILED:
            if eni.status is EniStatus.DELETING:
                # aws-facts "Hyperplane ENIs": deleted only if no function uses it; reused instead.
                eni.status, eni.delete_at = EniStatus.READY, None
            return
        vpc_id = networking.vpc_of_subnet(r.ec2, combo.subnet_id)
        failure = self._capacity_failure(r, combo, vpc_id) or self._role_failure(r, function)
        eni_id = None
        if failure is None:
            try:
                # aws-facts "Hyperplane ENIs" / "moto 5.2": visible in EC2 at once, status attaching
                # while Lambda builds it (the function stays Pending / InProgress meanwhile).
                eni_id = networking.create_lambda_eni(r.ec2, combo, function, networking.ATTACHING)
            except LookupError as gone:
                failure = _gone(gone)
        reserved = failure is None and combo.subnet_id in self.free_addresses
        if reserved:
            self.free_addresses[combo.subnet_id] -= 1
        # aws-facts "Hyperplane ENIs": creating one can take several minutes (per combination here).
        delay = self.combo_delays.get(combo, self.config.eni_create_delay)
        r.enis[combo] = HyperplaneEni(
            combo,
            vpc_id,
            EniStatus.CREATING,
            now + delay,
            function,
            eni_id=eni_id,
            failure=failure,
            reserved=reserved,
        )
        self._eni_timer(r, r.enis[combo])

    def _role_failure(self, r: RegionState, function: str) -> Failure | None:
        """aws-facts "IAM" / "Errors": Lambda creates ENIs with the function's execution role; without
        ec2:CreateNetworkInterface the change fails later with InsufficientRolePermissions."""
        try:
            role = getattr(r.lambdas.get_function(function), "role", None)
        except UnknownFunctionException:
            return None
        statements = permissions.role_statements(r.account, str(role)) if role else None
        if statements is None or permissions.decide(networking.ENI_ACTION, statements)[0] == "allowed":
            return None  # a role moto does not know is given the benefit of the doubt
        return Failure(
            "InsufficientRolePermissions",
            f"The provided execution role {role} does not have permissions to call CreateNetworkInterface on EC2",
        )

    def role_of(self, r: RegionState, function: str) -> str | None:
        try:
            role = getattr(r.lambdas.get_function(function), "role", None)
        except UnknownFunctionException:
            return None
        return str(role) if role else None

    def role_changed(self, role_name: str | None) -> None:
        if role_name:
            self.role_changes[role_name] = self.clock.now()

    def check_role(self, r: RegionState, role: str | None) -> None:
        """aws-facts "Refusals": a VpcConfig whose execution role may not create ENIs is refused at the
        call, InvalidParameterValueException; a role changed within ``iam_propagation_delay`` is seen
        as it was before the change (IAM propagation), so that refusal passes by itself."""
        if not role or not self.config.role_refused_at_call:
            return
        statements = permissions.role_statements(r.account, role)
        if statements is None:
            return  # a role moto does not know is given the benefit of the doubt
        changed = self.role_changes.get(role.rsplit("/", 1)[-1])
        propagating = changed is not None and self.clock.now() - changed < self.config.iam_propagation_delay
        if propagating or not permissions.lambda_may(networking.ENI_ACTION, statements):
            raise exceptions.InvalidParameterValue(
                "The provided execution role does not have permissions to call CreateNetworkInterface on EC2"
            )

    def _capacity_failure(self, r: RegionState, combo: Combo, vpc_id: str) -> Failure | None:
        free = self.free_addresses.get(combo.subnet_id)
        if free is not None and free <= 0:
            # aws-facts "Errors": ENI problems arrive later as SubnetOutOfIPAddresses.
            return Failure(
                "SubnetOutOfIPAddresses",
                f"Lambda was not able to create an ENI in the VPC of the Lambda function because the "
                f"limit for Network Interfaces has been reached: subnet {combo.subnet_id} has no free "
                f"IP addresses.",
            )
        quota = self.eni_quotas.get(vpc_id, self.config.eni_quota_per_vpc)
        in_vpc = sum(1 for e in r.enis.values() if e.vpc_id == vpc_id and e.status is not EniStatus.FAILED)
        if in_vpc >= quota:
            # aws-facts "Hyperplane ENIs": default quota 500 per VPC; "Errors": EniLimitExceeded.
            return Failure(
                "EniLimitExceeded",
                f"Lambda was not able to create an ENI in the VPC of the Lambda function because the "
                f"limit for Network Interfaces has been reached: {vpc_id} holds {in_vpc} of {quota}.",
            )
        return None

    def _finish_eni(self, r: RegionState, eni: HyperplaneEni, at: float) -> None:
        if eni.failure is None:
            try:
                if eni.eni_id is None or not networking.set_eni_status(r.ec2, eni.eni_id, networking.IN_USE):
                    eni.eni_id = networking.create_lambda_eni(r.ec2, eni.combo, eni.requested_by)
                eni.status = EniStatus.READY
            except LookupError as gone:
                eni.failure = _gone(gone)
        if eni.failure is not None:
            if eni.eni_id is not None:
                networking.delete_eni(r.ec2, eni.eni_id)
                eni.eni_id = None
            eni.status = EniStatus.FAILED
            self._refund(eni)
        self._release_unused(r, at)

    def _expire_eni(self, r: RegionState, eni: HyperplaneEni, at: float) -> None:
        if eni.combo in self._held(r):
            eni.status, eni.delete_at = EniStatus.READY, None
        else:
            self._delete_eni(r, eni)

    def _delete_eni(self, r: RegionState, eni: HyperplaneEni) -> None:
        if eni.eni_id is not None:
            networking.delete_eni(r.ec2, eni.eni_id)
        self._refund(eni)
        r.enis.pop(eni.combo, None)

    def _refund(self, eni: HyperplaneEni) -> None:
        if eni.reserved and eni.combo.subnet_id in self.free_addresses:
            self.free_addresses[eni.combo.subnet_id] += 1
        eni.reserved = False

    def _held(self, r: RegionState) -> Counter[Combo]:
        """The combinations some function keeps alive (counts > 0 only)."""
        return r.held

    def _hold(self, r: RegionState, fn: FunctionRecord) -> None:
        """Update the indexes after a change of ``fn`` (state, VpcConfig, versions, change in flight)."""
        new = (frozenset(fn.held_combos()), fn.operation.combos if fn.operation is not None else frozenset())
        self._unhold(r, fn.name)
        r.holds[fn.name] = new
        r.held.update(new[0])
        r.waited.update(new[1])

    def published(self, r: RegionState, fn: FunctionRecord, version: str) -> None:
        """PublishVersion: the version keeps its VpcConfig's ENIs alive (the indexes learn it)."""
        fn.publish(version)
        self._hold(r, fn)

    def _unhold(self, r: RegionState, name: str) -> None:
        held, waited = r.holds.pop(name, (frozenset(), frozenset()))
        for counter, combos in ((r.held, held), (r.waited, waited)):
            counter.subtract(combos)
            for combo in combos:
                if counter[combo] <= 0:
                    del counter[combo]

    def _release_unused(self, r: RegionState, at: float, *, at_once: bool = False) -> None:
        """Schedule the deletion of ENIs no function uses (aws-facts "Hyperplane ENIs": up to 20
        minutes after the last function left, and only then); ``at_once`` for idle reclaiming."""
        held = self._held(r)
        waited = r.waited
        for combo, eni in list(r.enis.items()):
            if eni.status is EniStatus.FAILED:
                if combo not in waited:
                    r.enis.pop(combo, None)
            elif combo in held:
                if eni.status is EniStatus.DELETING:
                    eni.status, eni.delete_at = EniStatus.READY, None
            elif eni.status is EniStatus.READY:
                if at_once:
                    self._delete_eni(r, eni)
                else:
                    eni.status, eni.delete_at = EniStatus.DELETING, at + self.config.eni_delete_delay
                    self._eni_timer(r, eni)

    # -- changes -----------------------------------------------------------------------------------

    def _start(
        self,
        r: RegionState,
        fn: FunctionRecord,
        kind: OperationKind,
        delay: float,
        target: VpcSettings | None,
        failure: Failure | None,
    ) -> None:
        now = self.clock.now()
        combos = target.combos() if target is not None and failure is None else frozenset()
        for combo in sorted(combos):
            self._ensure_eni(r, combo, fn.name, now)
        fn.begin(Operation(kind, now, now + delay, target, fn.vpc, frozenset(combos), failure))
        self._hold(r, fn)
        self._function_timer(r, fn)
        self._release_unused(r, now)

    def _finish(self, r: RegionState, fn: FunctionRecord, at: float) -> None:
        operation = fn.operation
        assert operation is not None
        failure = operation.failure
        for combo in sorted(operation.combos):
            eni = r.enis.get(combo)
            if eni is None or eni.status is EniStatus.FAILED:
                failure = (eni.failure if eni else None) or Failure(
                    "InternalError", f"The ENI for {combo.describe()} could not be created."
                )
                break
        if failure is None:
            fn.succeed(at)
        else:
            fn.fail(at, failure)
            if operation.kind is OperationKind.UPDATE:
                self._store_moto_vpc(r, fn)
        self._hold(r, fn)
        self._function_timer(r, fn)
        self._release_unused(r, at)

    def _idle(self, r: RegionState, fn: FunctionRecord, at: float) -> None:
        fn.go_idle()
        self._hold(r, fn)
        # aws-facts "Inactive functions": the function loses its unused Hyperplane ENIs.
        self._release_unused(r, at, at_once=True)

    def _injected_failure(self, r: RegionState, name: str, target: VpcSettings | None) -> Failure | None:
        queue = r.injected.get(name)
        if queue:
            return queue.popleft()
        if target is not None and target.attached:
            for subnet_id in target.subnet_ids:
                if subnet_id in self.subnet_failures:
                    return self.subnet_failures[subnet_id]
        return None

    def _store_moto_vpc(self, r: RegionState, fn: FunctionRecord) -> None:
        """Put the reverted VpcConfig back into moto's function too (it stored the failed one)."""
        try:
            moto_fn = r.lambdas.get_function(fn.name)
        except UnknownFunctionException:
            return
        vpc = fn.vpc
        moto_fn._vpc_config = (
            None
            if vpc is None
            else {
                "SubnetIds": list(vpc.subnet_ids),
                "SecurityGroupIds": list(vpc.security_group_ids),
                "Ipv6AllowedForDualStack": vpc.ipv6_allowed,
            }
        )

    # -- the Lambda API side (called by the responses) ---------------------------------------------

    def record(self, r: RegionState, name: str) -> FunctionRecord | None:
        """Our record of a function moto holds; adopted as Active if created behind our back."""
        try:
            moto_fn = r.lambdas.get_function(name)
        except UnknownFunctionException:
            self.forget(r, name)  # deleted behind our back (or moto was reset): release its ENIs
            return None
        fn = r.functions.get(name)
        if fn is None:
            vpc = networking.settings_from_moto(r.ec2, getattr(moto_fn, "_vpc_config", None))
            fn = r.functions[name] = FunctionRecord(
                name, str(moto_fn.function_arn), vpc=vpc, last_activity=self.clock.now()
            )
            self._hold(r, fn)
            self._function_timer(r, fn)
        return fn

    def check_vpc_config(
        self, r: RegionState, vpc_config: Any, fn: FunctionRecord | None = None
    ) -> networking.CheckedVpcConfig:
        """``fn``: the function an UpdateFunctionConfiguration changes (None for CreateFunction)."""
        if not isinstance(vpc_config, dict):
            raise exceptions.InvalidParameterValue("VpcConfig must be an object.")
        current = fn.shown_vpc() if fn is not None else None
        return networking.check_vpc_config(r.ec2, vpc_config, current is not None and current.ipv6_allowed)

    def check_can_change(self, fn: FunctionRecord, revision_id: str | None = None) -> None:
        if fn.state is State.FAILED:
            # Lambda guide "function states": after a failed creation, delete and recreate.
            raise exceptions.ResourceConflict(
                "The operation cannot be performed at this time. "
                f"The function is currently in the following state: {fn.state.value}"
            )
        if fn.busy:
            # aws-facts "Errors": while InProgress (or Pending) updates and TagResource conflict.
            raise exceptions.update_in_progress(fn.arn)
        if revision_id is not None and revision_id != fn.revision_id:
            # aws-facts "Lambda function configuration": a stale RevisionId -> 412.
            raise exceptions.PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
            )

    def accept_create(
        self, r: RegionState, name: str, arn: str, checked: networking.CheckedVpcConfig | None
    ) -> FunctionRecord:
        """aws-facts "Lambda function configuration": Pending (Creating) until its resources exist."""
        target = checked.settings if checked is not None else None
        fn = r.functions[name] = FunctionRecord(name, arn, last_activity=self.clock.now())
        failure = self._injected_failure(r, name, target) or (checked.deferred if checked else None)
        self._start(r, fn, OperationKind.CREATE, self.config.create_delay, target, failure)
        return fn

    def accept_update(
        self, r: RegionState, fn: FunctionRecord, checked: networking.CheckedVpcConfig | None
    ) -> None:
        """aws-facts "Errors": LastUpdateStatus InProgress, then Successful or Failed later."""
        target = checked.settings if checked is not None else fn.vpc
        failure = self._injected_failure(r, fn.name, target) or (checked.deferred if checked else None)
        self._start(r, fn, OperationKind.UPDATE, self.config.update_delay, target, failure)

    def forget_version(self, r: RegionState, fn: FunctionRecord, version: str) -> None:
        """DeleteFunction with a version qualifier: its ENIs go unless something else uses them."""
        if fn.versions.pop(version, None) is not None:
            self._hold(r, fn)
            self._release_unused(r, self.clock.now())

    def forget(self, r: RegionState, name: str) -> None:
        if r.functions.pop(name, None) is not None:
            self._unhold(r, name)
            self._release_unused(r, self.clock.now())

    def invoke(self, r: RegionState, name: str, arn: str, invocation_type: str, payload: bytes) -> int:
        """Invoke a function; returns the status code or raises the Lambda error."""
        now = self.clock.now()
        text = payload.decode("utf-8", "replace")

        def log(status: int, result: str) -> None:
            self.invocations.append(Invocation(name, r.region, invocation_type, text, now, status, result))

        if invocation_type not in INVOCATION_STATUS:
            log(400, "InvalidParameterValueException")
            raise exceptions.InvalidParameterValue(f"Unsupported InvocationType: {invocation_type}")
        fn = self.record(r, name)
        if fn is None:
            # aws-facts "moto 5.2": without Docker moto answers 200 for a missing function; AWS 404.
            log(404, "ResourceNotFoundException")
            raise exceptions.not_found(arn)
        if invocation_type == "DryRun":
            # aws-facts "Inactive functions": no source says DryRun reactivates a function; it
            # only validates parameters and permissions, so it changes nothing here.
            log(204, "DryRun")
            return 204
        restoring = fn.operation is not None and fn.operation.kind is OperationKind.RESTORE
        if fn.state is State.INACTIVE or restoring:
            if fn.operation is None:
                # aws-facts "Inactive functions": the invocation fails and Lambda sets the function
                # Pending until its resources are recreated.
                failure = r.rebuild_failures.pop(name, None)
                self._start(r, fn, OperationKind.RESTORE, self.config.create_delay, fn.vpc, failure)
            # aws-facts: ResourceNotReadyException (502), which botocore retries twice by itself.
            log(502, "ResourceNotReadyException")
            raise exceptions.ResourceNotReady(
                f"The function {name} is inactive and its resources are being restored. "
                "Retry the invocation once the function is Active."
            )
        if fn.state is not State.ACTIVE:
            # aws-facts "Errors": while State=Pending (creation), Invoke fails too.
            log(409, "ResourceConflictException")
            raise exceptions.ResourceConflict(
                "The operation cannot be performed at this time. "
                f"The function is currently in the following state: {fn.state.value}"
            )
        fn.last_activity = now
        status = INVOCATION_STATUS[invocation_type]
        log(status, "Success")
        return status

    # -- control -----------------------------------------------------------------------------------

    def _function(self, region: str, name: str, account: str) -> tuple[RegionState, FunctionRecord]:
        r = self.region(account, region)
        fn = self.record(r, name)
        if fn is None:
            raise ControlError(f"No function {name} in {account}/{region}.", 404)
        return r, fn

    def set_delays(self, **delays: float | None) -> dict[str, Any]:
        for key, value in delays.items():
            if value is not None:
                setattr(self.config, f"{key}_delay", float(value))
        return self.config.to_dict()

    def set_rate_limits(self, enabled: bool, **rates: float | None) -> dict[str, Any]:
        """``rates``: control_per_s, get_function_per_s, ec2_non_mutating_per_s, ec2_unfiltered_per_s."""
        self.config.rate_limits_enabled = enabled
        for key, value in rates.items():
            if key not in RATE_KEYS:
                raise ControlError(f"Unknown rate {key!r}; known: {', '.join(RATE_KEYS)}.", 400)
            if value is not None:
                setattr(self.config, key, float(value))
        self.budgets.configure(budgets.Limits.from_config(self.config))
        return self.config.to_dict()

    def inject_update_failure(
        self, function: str, reason_code: str, reason: str, count: int, region: str, account: str
    ) -> None:
        queue = self.region(account, region).injected.setdefault(function, deque())
        queue.extend(Failure(reason_code, reason) for _ in range(count))

    def inject_subnet_failure(self, subnet_id: str, reason_code: str | None, reason: str) -> None:
        if reason_code is None:
            self.subnet_failures.pop(subnet_id, None)
        else:
            self.subnet_failures[subnet_id] = Failure(reason_code, reason)

    def set_subnet_free_addresses(self, subnet_id: str, n: int | None) -> None:
        if n is None:
            self.free_addresses.pop(subnet_id, None)
        else:
            self.free_addresses[subnet_id] = int(n)
        # DescribeSubnets tells the same story (AvailableIpAddressCount), in every region holding it.
        for r in self.regions.values():
            if networking.find_subnet(r.ec2, subnet_id) is not None:
                networking.set_subnet_available_addresses(r.ec2, subnet_id, n, self.address_bases)

    def move_free_addresses(self, account: str, region: str) -> None:
        """Before a DescribeSubnets: with ``free_address_jitter``, every subnet's free count moves, as
        pods (VPC CNI) take and give back addresses in a shared subnet (aws-facts "Subnet free addresses")."""
        jitter = self.config.free_address_jitter
        if jitter <= 0:
            return
        ec2 = self.region(account, region).ec2
        for subnets in ec2.subnets.values():
            for subnet_id, subnet in subnets.items():
                if subnet_id in self.free_addresses:
                    continue  # set exactly by set_subnet_free_addresses
                base = self.jitter_bases.setdefault(subnet_id, int(subnet._available_ip_addresses))
                subnet._available_ip_addresses = max(0, base - self.jitter_random.randint(0, jitter))

    def set_free_address_jitter(self, n: int) -> dict[str, Any]:
        self.config.free_address_jitter = max(0, int(n))
        return self.config.to_dict()

    def set_state(self, function: str, state: str, reason_code: str | None, reason: str | None,
                  region: str, account: str) -> None:  # fmt: skip
        """Put a function in a State the simulator never reaches by itself (botocore lambda model,
        State: Deactivating, Deactivated, ActiveNonInvocable, ...); Active brings it back."""
        r, fn = self._function(region, function, account)
        if fn.operation is not None:
            raise ControlError(f"{function} has a change in flight; advance the clock first.", 409)
        fn.state, fn.state_reason, fn.state_reason_code = State(state), reason, reason_code
        fn.last_activity = self.clock.now()
        self._hold(r, fn)
        self._function_timer(r, fn)
        self._release_unused(r, self.clock.now())

    def set_combination_delay(self, subnet_id: str, group_ids: list[str], seconds: float | None) -> None:
        """eni_create_delay for one (subnet, security-group set); None: back to the default."""
        combo = Combo(subnet_id, frozenset(group_ids))
        if seconds is None:
            self.combo_delays.pop(combo, None)
        else:
            self.combo_delays[combo] = float(seconds)

    def set_role_checks(self, at_call: bool | None, propagation_delay: float | None) -> dict[str, Any]:
        """Whether roles are refused at the call (else Failed later), and IAM's propagation delay."""
        if at_call is not None:
            self.config.role_refused_at_call = bool(at_call)
        if propagation_delay is not None:
            self.config.iam_propagation_delay = float(propagation_delay)
        return self.config.to_dict()

    def set_eni_quota(self, vpc_id: str, n: int) -> None:
        self.eni_quotas[vpc_id] = int(n)

    def make_idle(self, function: str, region: str, account: str) -> None:
        r, fn = self._function(region, function, account)
        if fn.operation is not None:
            raise ControlError(f"{function} has a change in flight; advance the clock first.", 409)
        self._idle(r, fn, self.clock.now())

    def fail_next_rebuild(
        self, function: str, reason_code: str, reason: str, region: str, account: str
    ) -> None:
        r, _ = self._function(region, function, account)
        r.rebuild_failures[function] = Failure(reason_code, reason)

    def replace_eni(self, subnet_id: str, group_ids: list[str], delay: float = 0.0) -> dict[str, Any]:
        """AWS may replace a Hyperplane ENI (aws-facts "Hyperplane ENIs": Lambda manages them and may
        delete and recreate them): the old id goes at once, the new one is ``attaching`` for
        ``delay`` seconds, then ``in-use``; the functions using it stay Active throughout."""
        combo = Combo(subnet_id, frozenset(group_ids))
        for r in self.regions.values():
            eni = r.enis.get(combo)
            if eni is not None and eni.status in (EniStatus.READY, EniStatus.DELETING) and eni.eni_id:
                old = eni.eni_id
                networking.delete_eni(r.ec2, old)
                if delay > 0:
                    eni.eni_id = networking.create_lambda_eni(r.ec2, combo, eni.requested_by, networking.ATTACHING)
                    eni.status, eni.delete_at, eni.ready_at = EniStatus.CREATING, None, self.clock.now() + delay
                    self._eni_timer(r, eni)
                else:
                    eni.eni_id = networking.create_lambda_eni(r.ec2, combo, eni.requested_by)
                return {"old_eni_id": old, "new_eni_id": eni.eni_id}
        raise ControlError(f"No Hyperplane ENI for {combo.describe()}.", 404)

    def enis(self) -> list[dict[str, Any]]:
        return [
            {"account": r.account, "region": r.region, **eni.to_dict()}
            for r in self.regions.values()
            for eni in r.enis.values()
        ]

    def functions(self) -> list[dict[str, Any]]:
        return [
            {"account": r.account, "region": r.region, **fn.to_dict()}
            for r in self.regions.values()
            for fn in r.functions.values()
        ]
