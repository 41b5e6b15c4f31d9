"""The lifecycle of a Lambda function, which moto does not simulate.

Why: moto reports every function Active and every update Successful at once (aws-facts "moto 5.2").
The operator's hard cases are exactly the others: Pending after creation, InProgress after an
update (and the ResourceConflictException it causes), Failed with a reason code, Inactive after
idling. A ``FunctionRecord`` holds that state beside moto's function; an ``Operation`` is the one
change in flight (creation, update or restore) with the deadline at which it ends. The records are
data plus the transitions of the state machine; deciding *when* a transition happens (the clock,
the ENIs) is the backend's job.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

from .networking import Combo, Failure, VpcSettings


class State(enum.StrEnum):
    """aws-facts "Lambda function configuration": State. The simulator moves functions between the
    first four itself; the others only by the control ``set_state`` (their causes are not simulated)."""

    PENDING = "Pending"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    FAILED = "Failed"
    DEACTIVATING = "Deactivating"
    DEACTIVATED = "Deactivated"
    ACTIVE_NON_INVOCABLE = "ActiveNonInvocable"


class UpdateStatus(enum.StrEnum):
    """aws-facts "Lambda function configuration": LastUpdateStatus."""

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    IN_PROGRESS = "InProgress"


class OperationKind(enum.StrEnum):
    CREATE = "create"  # CreateFunction: State Pending (Creating) until done
    UPDATE = "update"  # UpdateFunctionConfiguration/Code: LastUpdateStatus InProgress until done
    RESTORE = "restore"  # Invoke of an Inactive function: State Pending (Restoring) until done


#: StateReason texts for the reason codes the simulator sets itself.
CREATING_REASON = "The function is being created."
RESTORING_REASON = "The function is being restored."
UPDATING_REASON = "The function is being updated."
IDLE_REASON = "The function is inactive because it has not been invoked for a long time."

#: Lifecycle fields of the configuration: aws-facts "ListFunctions ... NOT State, StateReason(Code),
#: LastUpdateStatus(Reason/ReasonCode): those need GetFunction".
LIFECYCLE_FIELDS = (
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
)


def new_revision() -> str:
    return str(uuid.uuid4())


@dataclass
class Operation:
    """The one change in flight on a function, and what it waits for."""

    kind: OperationKind
    started_at: float
    not_before: float  # the Lambda-side work of the change (create_delay / update_delay)
    target: VpcSettings | None  # the VpcConfig the change leads to
    previous: VpcSettings | None  # what an UPDATE reverts to if it fails
    combos: frozenset[Combo]  # the Hyperplane ENIs it waits for
    failure: Failure | None = None  # decided when the change was accepted (injected, deferred check)


@dataclass
class FunctionRecord:
    """The simulated lifecycle state of one function ($LATEST)."""

    name: str
    arn: str
    state: State = State.ACTIVE
    state_reason: str | None = None
    state_reason_code: str | None = None
    last_update_status: UpdateStatus | None = UpdateStatus.SUCCESSFUL
    last_update_reason: str | None = None
    last_update_reason_code: str | None = None
    revision_id: str = field(default_factory=new_revision)
    vpc: VpcSettings | None = None  # the applied VpcConfig (the one invocations use)
    operation: Operation | None = None
    last_activity: float = 0.0  # last invoke or finished change: the start of idleness
    # aws-facts "Lambda function configuration": published versions keep the VpcConfig they were
    # published with (immutable), by version number; aliases point at these.
    versions: dict[str, VpcSettings | None] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        """aws-facts "Errors": while Pending or InProgress, updates and TagResource conflict."""
        return self.operation is not None or self.state is State.PENDING

    def shown_vpc(self) -> VpcSettings | None:
        """The VpcConfig Lambda reports: the new one while an update is in progress (as in the
        Lambda guide's InProgress example), the applied one otherwise."""
        if self.operation is not None and self.operation.kind is not OperationKind.RESTORE:
            return self.operation.target
        return self.vpc

    def held_combos(self) -> set[Combo]:
        """The ENI combinations this function keeps alive (aws-facts "Hyperplane ENIs": an ENI is
        deleted only if no other function or version uses it). Inactive and Failed functions hold
        none of their own (aws-facts "Inactive functions": idle functions lose their ENIs)."""
        held: set[Combo] = set()
        if self.state in (State.ACTIVE, State.PENDING):
            if self.vpc is not None:
                held |= self.vpc.combos()
            for published in self.versions.values():
                # aws-facts: a version in another VPC keeps its ENIs after $LATEST has left.
                if published is not None:
                    held |= published.combos()
        if (
            self.operation is not None
            and self.operation.target is not None
            and self.operation.failure is None
        ):
            held |= self.operation.combos
        return held

    def publish(self, version: str) -> VpcSettings | None:
        """PublishVersion: the version snapshots the applied VpcConfig (the function is not busy:
        aws-facts "Errors", PublishVersion conflicts while InProgress). Lambda returns the last
        version unchanged when nothing changed since (PublishVersion documentation), so a known
        version keeps its snapshot."""
        return self.versions.setdefault(version, self.vpc)

    def lifecycle(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "State": self.state.value,
            "StateReason": self.state_reason,
            "StateReasonCode": self.state_reason_code,
            "LastUpdateStatus": None if self.last_update_status is None else self.last_update_status.value,
            "LastUpdateStatusReason": self.last_update_reason,
            "LastUpdateStatusReasonCode": self.last_update_reason_code,
        }
        return {key: value for key, value in fields.items() if value is not None}

    # -- transitions -------------------------------------------------------------------------------

    def begin(self, operation: Operation) -> None:
        self.operation = operation
        if operation.kind is OperationKind.CREATE:
            # aws-facts "Lambda function configuration": Pending with StateReasonCode Creating.
            self._set_state(State.PENDING, CREATING_REASON, "Creating")
            self._set_update(UpdateStatus.IN_PROGRESS, CREATING_REASON, None)
        elif operation.kind is OperationKind.RESTORE:
            # aws-facts "Inactive functions": Invoke sets the function Pending until restored.
            self._set_state(State.PENDING, RESTORING_REASON, "Restoring")
        else:
            # aws-facts "Errors": while InProgress, State stays what it was (Active).
            self._set_update(UpdateStatus.IN_PROGRESS, UPDATING_REASON, None)
        if operation.kind is not OperationKind.RESTORE:
            self.revision_id = new_revision()

    def succeed(self, at: float) -> None:
        operation = self._finish(at)
        if operation.kind is not OperationKind.RESTORE:
            self.vpc = operation.target
            self._set_update(UpdateStatus.SUCCESSFUL, None, None)
        self._set_state(State.ACTIVE, None, None)

    def fail(self, at: float, failure: Failure) -> None:
        operation = self._finish(at)
        if operation.kind is OperationKind.CREATE:
            # Lambda guide "function states": a failed creation leaves the function Failed.
            self.vpc = operation.target
            self._set_state(State.FAILED, failure.reason, failure.reason_code)
            self._set_update(UpdateStatus.FAILED, failure.reason, failure.reason_code)
        elif operation.kind is OperationKind.RESTORE:
            # aws-facts "Inactive functions": if Lambda fails to recreate the resources, the
            # function returns to the inactive state.
            self._set_state(State.INACTIVE, failure.reason, failure.reason_code)
        else:
            # Lambda guide "function states": a failed update is aborted, the previous code and
            # configuration stay; aws-facts "Errors": LastUpdateStatus=Failed with a reason code.
            self.vpc = operation.previous
            self.revision_id = new_revision()
            self._set_update(UpdateStatus.FAILED, failure.reason, failure.reason_code)

    def go_idle(self) -> None:
        """aws-facts "Inactive functions": State=Inactive, StateReasonCode=Idle."""
        self._set_state(State.INACTIVE, IDLE_REASON, "Idle")

    def _finish(self, at: float) -> Operation:
        operation = self.operation
        if operation is None:
            raise RuntimeError(f"No change in flight on {self.name}.")
        self.operation = None
        self.last_activity = at
        return operation

    def _set_state(self, state: State, reason: str | None, code: str | None) -> None:
        self.state, self.state_reason, self.state_reason_code = state, reason, code

    def _set_update(self, status: UpdateStatus, reason: str | None, code: str | None) -> None:
        self.last_update_status, self.last_update_reason, self.last_update_reason_code = status, reason, code

    def to_dict(self) -> dict[str, Any]:
        shown = self.shown_vpc()
        return {
            "name": self.name,
            "arn": self.arn,
            **self.lifecycle(),
            "RevisionId": self.revision_id,
            "VpcConfig": None if shown is None else shown.to_wire(),
            "operation": None if self.operation is None else self.operation.kind.value,
            "versions": {v: None if c is None else c.to_wire() for v, c in self.versions.items()},
            "last_activity": self.last_activity,
        }
