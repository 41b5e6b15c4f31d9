"""What the reconciler remembers about one attachment between two looks (in memory only).

Everything here can be lost at a restart without harm: the durable truth is the object's status
and AWS itself. It only saves work (a preflight per generation) and keeps delays growing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.aws.budgets import Ticket
from lambda_vpc_operator.models.networks import NetworkFacts
from lambda_vpc_operator.planner.validation import Problem


# slots: one per attachment, ~1 KiB less each than an instance __dict__ (docs/benchmarks.md, memory).
@dataclasses.dataclass(slots=True)
class AttachmentMemory:
    attempt: int = 0  # consecutive waits, for growing delays
    # The status as we last wrote it (fresher than the watch), until the watch delivers the same
    # (handlers.attachments drops it then: a whole status dict per attachment at rest otherwise).
    status: Mapping[str, Any] | None = None
    preflight_generation: int | None = None  # the generation the problems below belong to
    problems: tuple[Problem, ...] = ()
    facts: NetworkFacts | None = None  # what the preflight found (zones, free addresses for the rows)
    slow_generation: int | None = None  # the generation SlowProvisioning was posted for
    resync_due: bool = False  # the next look is a scheduled re-check
    detach_sent: bool = False
    update_generation: int | None = None  # the generation we sent to AWS, until seen in sync
    seen_generation: int | None = None  # what the last look looked at: a change wakes it
    seen_request: str | None = None  # the lambdavpc.dev/reactivate annotation, likewise
    seen_reconcile_request: str | None = None  # lambdavpc.dev/reconcile-requested-at, likewise
    seen_paused: bool = False  # lambdavpc.dev/paused, likewise
    warned: dict[str, int] = dataclasses.field(default_factory=dict)  # guardrail warning -> generation posted
    policy_denied: bool | None = None  # the last look's policy verdict: a policy change that flips it wakes us
    forget_networks: bool = False  # a reconcile request: the next look drops its subnets' cached facts
    aliases_generation: int | None = None  # the generation whose aliases were read
    aliases_read_at: float | None = None  # when (monotonic): read again at a resync --alias-interval later
    failures: int = 0  # consecutive looks that raised (planner.errors), 0 after a look that did not
    owner_tag_failures: int = 0  # a fresh claim's owner tag refused in a row (throttled, busy): growing delays
    last_error: str | None = None  # the last such error as posted: the same one is not posted again
    selection_generation: int | None = None  # the generation the selectors were resolved for (again at resync)
    selection: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # (subnet ids, group ids) resolved
    # Deletion: the Released/Detached Events posted, our owner tag removed, other functions' ENI combinations.
    release_started: bool = False
    release_reported: bool = False
    untagged: bool = False
    cleanup_shared: frozenset[tuple[str, frozenset[str]]] | None = None
    # Its place in the control plane budget's queue while no look runs (reconciler, "parked").
    ticket: Ticket | None = None

    def drop_ticket(self) -> None:
        """Leave the budget's queue (a deletion, a look that no longer writes); a token taken goes back."""
        if self.ticket is not None:
            self.ticket.cancel()
            self.ticket = None
