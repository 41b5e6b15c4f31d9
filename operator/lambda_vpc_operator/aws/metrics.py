"""A count of every AWS request the operator sends, by service, operation and outcome.

ACK records every AWS call as a metric next to the call; so do we (``calling`` counts each request
it sends, each page of a paginated one included). The budgets keep us under the account's rate
limits; this count lets us, and the benchmarks, see what we actually spend. A Prometheus exporter
can read ``snapshot()`` later.
"""

from __future__ import annotations

import collections
import threading
import weakref
from typing import Protocol

# The outcome of a request that succeeded; failures are counted under their FailureKind value.
SUCCESS = "Success"

CallKey = tuple[str, str, str]  # (service, operation, outcome)


class CallCounter:
    """Thread-safe counts: pages of a paginator are counted from the worker thread that reads them."""

    def __init__(self) -> None:
        self._counts: collections.Counter[CallKey] = collections.Counter()
        self._lock = threading.Lock()

    def count(self, service: str, operation: str, outcome: str = SUCCESS, n: int = 1) -> None:
        with self._lock:
            self._counts[service, operation, outcome] += n

    def snapshot(self) -> dict[CallKey, int]:
        with self._lock:
            return dict(self._counts)

    def total(self, service: str | None = None, operation: str | None = None) -> int:
        """Requests sent, whatever their outcome, optionally of one service and operation."""
        return sum(
            n
            for (svc, op, _), n in self.snapshot().items()
            if (service is None or svc == service) and (operation is None or op == operation)
        )

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


# The process-wide registry every call site records into.
calls = CallCounter()


BudgetKey = tuple[str, str]  # (budget, region)


class Queue(Protocol):
    """What the meter reads of a request budget (aws.budgets.RequestBudget) for its queue gauge."""

    name: str
    region: str

    @property
    def waiting(self) -> int: ...

    @property
    def tickets_waiting(self) -> int: ...


class BudgetMeter:
    """Throttles AWS answered and seconds callers waited for a token, per request budget and region.

    A throttle means our budget is set above what the account has left (other tools spend it too);
    long waits mean the operator asks for more than its budget: both are worth an alert.
    """

    def __init__(self) -> None:
        self._throttles: collections.Counter[BudgetKey] = collections.Counter()
        self._waited: collections.defaultdict[BudgetKey, float] = collections.defaultdict(float)
        self._queues: weakref.WeakSet[Queue] = weakref.WeakSet()  # a role session's go with it
        self._lock = threading.Lock()

    def track(self, queue: Queue) -> None:
        with self._lock:
            self._queues.add(queue)

    def queues(self) -> dict[tuple[str, str, str], int]:
        """Requests waiting for a token now, by (budget, region, waiter): "ticket" for looks asleep
        with a ticket (aws.budgets.Ticket), "request" for callers waiting in person; summed over accounts."""
        with self._lock:
            tracked = list(self._queues)
        found: collections.Counter[tuple[str, str, str]] = collections.Counter()
        for queue in tracked:
            tickets = queue.tickets_waiting
            found[queue.name, queue.region, "ticket"] += tickets
            found[queue.name, queue.region, "request"] += max(queue.waiting - tickets, 0)
        return dict(found)

    def throttled(self, budget: str, region: str) -> None:
        with self._lock:
            self._throttles[budget, region] += 1

    def waited(self, budget: str, region: str, seconds: float) -> None:
        with self._lock:
            self._waited[budget, region] += seconds

    def snapshot(self) -> tuple[dict[BudgetKey, int], dict[BudgetKey, float]]:
        with self._lock:
            return dict(self._throttles), dict(self._waited)

    def reset(self) -> None:
        with self._lock:
            self._throttles.clear()
            self._waited.clear()


budgets = BudgetMeter()


class ObserverMeter:
    """What the observer (aws.observer) did: the way each place is swept, and why functions were read.

    ``way`` is per place (today a region): the metric and a log line say which way the observer
    chose, since that decides what steady observation costs. ``reads`` counts GetFunctions by
    ``planner.sweeps.ReadReason``; ``served`` the looks answered from the snapshot at no cost.
    """

    def __init__(self) -> None:
        self._ways: dict[str, str] = {}
        self._reads: collections.Counter[str] = collections.Counter()
        self._served = 0
        self._lock = threading.Lock()

    def way(self, place: str, way: str) -> None:
        with self._lock:
            self._ways[place] = way

    def read(self, reason: str) -> None:
        with self._lock:
            self._reads[reason] += 1

    def serve(self) -> None:
        with self._lock:
            self._served += 1

    def snapshot(self) -> tuple[dict[str, str], dict[str, int], int]:
        with self._lock:
            return dict(self._ways), dict(self._reads), self._served

    def reset(self) -> None:
        with self._lock:
            self._ways.clear()
            self._reads.clear()
            self._served = 0


observer = ObserverMeter()


class NetworkDescribeMeter:
    """Why each round of network describes (aws.networks: DescribeSubnets, DescribeSecurityGroups,
    DescribeVpcs, as many as were stale) went to EC2: ``new`` (an id never read), ``expired`` (older
    than the cache's TTL), ``refresh`` (a new generation wanted facts younger than the refresh
    window), ``gave-up-waiting`` (the describe in flight took longer than a look waits for it)."""

    def __init__(self) -> None:
        self._rounds: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def describe(self, why: str) -> None:
        with self._lock:
            self._rounds[why] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._rounds)

    def reset(self) -> None:
        with self._lock:
            self._rounds.clear()


network_describes = NetworkDescribeMeter()
