"""How many AWS requests we allow ourselves per second, per region, and in which order.

AWS rate-limits the Lambda control plane per account and region (aws-facts "Rate limits"):
GetFunction has a bucket of 100 requests/s of its own, and every other control-plane call
(ListFunctions, UpdateFunctionConfiguration, TagResource, ...) shares 15 requests/s with every other
tool in the account, a limit that cannot be raised. EC2 meters its non-mutating calls (every
Describe* we send) in buckets of 100 refilled at 20/s (aws-facts "EC2 request buckets and paging").
An operator that spends those shares starves CI pipelines and consoles, so we meter ourselves below
them with token buckets.

botocore's standard retry mode retries throttles but ignores Retry-After (aws-facts "Errors"), so a
``Throttled`` error pauses the whole bucket: every caller of the region backs off together instead
of each discovering the throttle on its own. Without a Retry-After (EC2 never sends one) the pause
grows while throttles keep coming (1 s doubling to ``MAX_THROTTLE_PAUSE``).

Waiters are served by priority, not in arrival order (``Priority``): a user's spec change before a
drift correction before an owner tag; a waiter counts as arrived ``AGING`` seconds earlier per level
above it, so a burst of low-priority writes (a restart waking every attachment) never delays a spec
change by more than that, and nothing waits for ever.

A look need not wait in the queue itself: ``reserve`` puts a ``Ticket`` there and returns at once;
once its token is taken, the ticket calls back (the look's wake-up) and the look's next request of
this budget spends it. While 5,000 new attachments wait for the control plane's 10 requests/s,
each holds a ticket of a few hundred bytes instead of a whole look's state (about 40 KB: its body,
situation, plan and a dozen coroutine frames), which was most of the operator's peak memory
(docs/benchmarks.md "Memory").

One operator uses one account's credentials, so buckets are keyed by region alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import enum
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

from lambda_vpc_operator.aws import metrics

logger = logging.getLogger(__name__)

# AWS: the Lambda control plane, minus GetFunction, per account and region. Cannot be increased.
LAMBDA_CONTROL_PLANE_LIMIT = 15.0
# Our share of it: two thirds, leaving 5 requests/s to every other tool in the account.
DEFAULT_CONTROL_RATE = 10.0
# AWS: GetFunction's own bucket, per account and region.
GET_FUNCTION_LIMIT = 100.0
# Our share of it: half, so observing many attachments never throttles other readers.
DEFAULT_GET_FUNCTION_RATE = 50.0
# AWS: EC2's non-mutating actions (Describe*), per account, region and API: refill 20/s, bucket 100
# (aws-facts "EC2 request buckets and paging"). Filtered calls only: unfiltered ones have 10/s and 50.
EC2_DESCRIBE_LIMIT = 20.0
EC2_DESCRIBE_BURST = 100.0
# Our share: half of the refill, and the same share of the bucket as burst (10/s, 50 saved up).
DEFAULT_EC2_RATE = 10.0
# Reads that only inform (ListAliases for status.aliases) take at most this share of our control
# rate, and never wait for it: a look without a token reads at a later look. Their steady cost (one
# per attachment and resync) then stays bounded whatever the number of attachments.
INFORMATION_SHARE = 0.2
# ... and none at all for this long after AWS throttled the bucket: the account's own budget (15/s,
# shared with every tool) is then the limit, not ours, and what only informs must not take what a
# waiting write needs.
INFORMATION_QUIET_AFTER_THROTTLE = 60.0
# A throttle without Retry-After: AWS buckets refill per second, so one second drains the excess;
# each throttle soon after a pause doubles the next one, up to the max.
DEFAULT_THROTTLE_PAUSE = 1.0
MAX_THROTTLE_PAUSE = 30.0
# A throttle this long after the last pause ended starts again from DEFAULT_THROTTLE_PAUSE.
THROTTLE_MEMORY = 30.0
# Seconds of waiting worth one priority level: a waiter is served as if it had arrived this much
# earlier per level above it. Half the default resync interval: a drift correction waits at most
# 5 minutes longer than first come, first served would make it, an owner tag at most 10.
AGING = 300.0

# Float slack when counting tokens: refills are computed from clock differences, which lose bits on a
# large monotonic clock; without slack a caller could wait for 1e-15 of a token forever.
_TOKEN_SLACK = 1e-9

Clock = Callable[[], float]
Sleeper = Callable[[float], Awaitable[None]]


class Priority(enum.IntEnum):
    """Why a request is sent; lower goes first (``AGING`` seconds of waiting per level)."""

    # Any request of a look whose write is paid already (a granted ``Ticket``, ``paid_look``): the
    # token it holds counts against the budget from the moment it was taken, so the reads before its
    # write (GetFunction, a describe) must not queue behind the new attachments' first looks.
    PAID = -1
    SPEC_CHANGE = 0  # a user changed the spec (or deletes the attachment): someone is waiting for it
    DRIFT = 1  # putting back what someone changed behind our back
    OWNERSHIP = 2  # the owner tag of a function already as wanted, and its removal
    BACKGROUND = 3  # reads that only inform (aliases)


_PAID: contextvars.ContextVar[bool] = contextvars.ContextVar("lambda_vpc_operator_paid_look", default=False)


@contextlib.contextmanager
def paid_look(paid: bool) -> Iterator[None]:
    """Within it (a look holding a granted ticket), every request goes first in its budget's queue."""
    token = _PAID.set(paid)
    try:
        yield
    finally:
        _PAID.reset(token)


@dataclasses.dataclass(order=True, slots=True)
class _Waiter:
    """A place in the queue: a caller waiting in person (``acquire``) or a ticket (``reserve``)."""

    due: float  # arrival, plus AGING per level below the first: the heap's order
    seq: int  # ties: first come, first served
    arrived: float = dataclasses.field(compare=False)
    grant: Callable[[], None] = dataclasses.field(compare=False)  # its token is taken: tell whoever waits
    ticket: bool = dataclasses.field(compare=False, default=False)


@dataclasses.dataclass(eq=False, slots=True)
class Ticket:
    """A place in a budget's queue kept for a look that is not running (``RequestBudget.reserve``):
    two small objects and the look's wake-up, no task."""

    budget: RequestBudget
    priority: Priority
    place: _Waiter | None = None  # in the budget's queue until granted
    granted: bool = False  # its token is taken: the look's next request of this budget goes at once
    spent: bool = False  # a request went with its token, or it was cancelled
    kept: bool = False  # its holder's last look stopped for it (parked): it is the next look's

    @property
    def usable(self) -> bool:
        return self.granted and not self.spent

    def cancel(self) -> None:
        """Leave the queue; a token taken and not spent goes back to the bucket."""
        if self.spent:
            return
        self.spent = True
        if self.granted:
            self.budget.refund()
        elif self.place is not None:
            self.budget._leave(self.place)
            self.place = None


class SendPacer:
    """The budget's rate once more, where a request leaves: in the worker thread that sends it.

    A look takes its token in the event loop, then waits for a worker thread, which status writes and
    every other blocking call share. When they are all busy (a slow AWS, thousands of status writes),
    requests that took their tokens a second or two apart leave together as the threads free up, and
    AWS, which counts arrivals, throttles them (the 5,000-attachment benchmark: hundreds throttled at a
    budget of two thirds of AWS' rate). So the sender waits, in its thread, for its place in a schedule
    of the same rate and burst (GCRA: a reserved send time per request, no tokens to refill).
    """

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self._interval = 1.0 / rate
        self._tolerance = (max(burst, 1.0) - 1.0) * self._interval  # how far ahead of the rate a burst runs
        self._next = float("-inf")  # when the rate alone would send the next request
        self._clock = clock
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next place in the schedule; the seconds to wait before sending."""
        with self._lock:
            now = self._clock()
            send_at = max(now, self._next - self._tolerance)
            self._next = max(self._next, send_at) + self._interval
            return send_at - now


class RequestBudget:
    """An asyncio token bucket: ``rate`` tokens a second, at most ``burst`` saved up.

    ``acquire(priority)`` waits for a token, ``reserve(priority, granted)`` keeps a place without
    waiting; both are served by ``Priority`` with aging (a heap), by one task that sleeps until the
    next token and hands it to whoever is first then (``_serve``). ``pause()`` empties the bucket and refuses
    tokens until the pause is over. ``clock`` and ``sleep`` are injectable so that tests can run on a
    virtual clock.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleeper = asyncio.sleep,
        name: str = "",
        region: str = "",
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self.rate = rate
        self.burst = max(burst if burst is not None else rate, 1.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()
        self._paused_until = float("-inf")
        self._throttled_at = float("-inf")
        self._backoff = DEFAULT_THROTTLE_PAUSE
        self._waiters: list[_Waiter] = []  # a heap
        self._seq = itertools.count()
        self._server: asyncio.Task[None] | None = None  # hands out tokens while anybody waits
        self._pacer = SendPacer(rate, self.burst)  # real time: it runs where requests are sent
        self._tickets_waiting = 0
        # What the metrics call this budget (lambda_vpc_operator_budget_wait_seconds_total{budget,region}).
        self.name = name
        self.region = region
        if name:
            metrics.budgets.track(self)  # its queue, as lambda_vpc_operator_budget_queue

    async def acquire(self, priority: Priority = Priority.SPEC_CHANGE, ticket: Ticket | None = None) -> None:
        """Wait until one request may be sent, then take its token (a granted ``ticket`` of this budget
        has taken it already: spent now, no wait)."""
        if ticket is not None and ticket.budget is self and ticket.usable:
            ticket.spent = True
            return
        if not self._waiters and self._take() <= 0:
            return
        if _PAID.get():
            priority = Priority.PAID
        turn = asyncio.get_running_loop().create_future()

        def grant() -> None:
            if turn.cancelled():
                self.refund()  # cancelled the moment its token was taken: nobody spends it
            else:
                turn.set_result(None)

        place = self._join(priority, grant)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.refund()  # granted, then cancelled before it could send
            else:
                self._leave(place)
            raise

    def reserve(self, priority: Priority, granted: Callable[[], None]) -> Ticket:
        """A place in the queue for a caller that will not wait here: ``granted`` is called once its
        token is taken (it arrived now, for priority and aging, like any waiter); at once if a token
        is there and nobody waits."""
        ticket = Ticket(self, priority)

        def grant() -> None:
            ticket.granted, ticket.place = True, None
            self._tickets_waiting -= 1
            granted()

        if not self._waiters and self._take() <= 0:
            ticket.granted = True
            granted()
            return ticket
        self._tickets_waiting += 1
        ticket.place = self._join(priority, grant, ticket=True)
        return ticket

    def would_wait(self) -> bool:
        """Whether ``acquire`` would wait now (somebody waits already, or no token is there)."""
        return bool(self._waiters) or self._refilled() < 1.0 - _TOKEN_SLACK

    def refund(self) -> None:
        """A token taken and not spent goes back (at most ``burst`` saved up)."""
        self._tokens = min(self.burst, self._tokens + 1.0)

    def pace(self) -> None:
        """In the worker thread, just before sending: wait for the request's place at the budget's rate
        (``SendPacer``). Immediate unless requests that waited for threads leave together."""
        delay = self._pacer.reserve()
        if delay > 0:
            time.sleep(delay)
            if self.name:
                metrics.budgets.waited(self.name, self.region, delay)

    def _join(self, priority: Priority, grant: Callable[[], None], ticket: bool = False) -> _Waiter:
        now = self._clock()
        place = _Waiter(now + AGING * priority, next(self._seq), now, grant, ticket)
        heapq.heappush(self._waiters, place)
        loop = asyncio.get_running_loop()
        if self._server is None or self._server.done() or self._server.get_loop() is not loop:
            self._server = loop.create_task(self._serve(), name=f"budget {self.name} {self.region}")
        return place

    def _leave(self, place: _Waiter) -> None:
        """A waiter cancelled before its turn: out of the queue."""
        if place in self._waiters:
            self._waiters.remove(place)
            heapq.heapify(self._waiters)
            if place.ticket:
                self._tickets_waiting -= 1

    async def _serve(self) -> None:
        """While anybody waits: sleep until a token is there, give it to the first in the queue at that
        moment (someone more urgent may have arrived meanwhile), and again."""
        while self._waiters:
            delay = self._take()
            if delay > 0:
                await self._sleep(delay)
                continue
            first = heapq.heappop(self._waiters)
            waited = self._clock() - first.arrived
            if waited > 0 and self.name:
                metrics.budgets.waited(self.name, self.region, waited)
            try:
                first.grant()
            except Exception:  # a wake-up that failed must not stop the queue for everybody else
                logger.exception("budget %s %s: handing a token out failed", self.name, self.region)
            await asyncio.sleep(0)  # the caller given a token goes first, before the next one is waited for

    @property
    def waiting(self) -> int:
        """Callers waiting for a token now (tickets included)."""
        return len(self._waiters)

    @property
    def tickets_waiting(self) -> int:
        """Of them, tickets: looks that left the queue to a ticket and sleep (``reserve``)."""
        return self._tickets_waiting

    def try_acquire(self) -> bool:
        """Take a token if one is there now and nobody waits for it; never wait (for requests that can
        be put off)."""
        return not self._waiters and self._take() == 0.0

    def pause(self, seconds: float | None) -> None:
        """AWS throttled us: send nothing for ``seconds``, or, without a Retry-After, for a pause that
        doubles while throttles keep coming."""
        now = self._clock()
        self._throttled_at = now
        if seconds is None:
            if now < self._paused_until:
                return  # a request sent before the pause began: it is already being honoured
            recent = now - self._paused_until <= THROTTLE_MEMORY
            self._backoff = min(self._backoff * 2, MAX_THROTTLE_PAUSE) if recent else DEFAULT_THROTTLE_PAUSE
            seconds = self._backoff
        self._paused_until = max(self._paused_until, now + max(seconds, 0.0))
        # Start empty after the pause: a full burst right after a throttle would be throttled again.
        self._tokens = 0.0
        self._updated = max(self._updated, self._paused_until)

    def throttled_within(self, seconds: float) -> bool:
        """Whether AWS throttled this bucket in the last ``seconds``."""
        return self._clock() - self._throttled_at <= seconds

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        return max(self._paused_until - self._clock(), 0.0)

    def _refilled(self) -> float:
        """The tokens there now (none during a pause)."""
        now = self._clock()
        if now < self._paused_until:
            return 0.0
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
        return self._tokens

    def _take(self) -> float:
        """Take a token and return 0, or return how long to wait before trying again."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        if self._refilled() >= 1.0 - _TOKEN_SLACK:
            self._tokens = max(self._tokens - 1.0, 0.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


class RequestBudgets:
    """The Lambda and EC2 budgets of each region, created on first use."""

    def __init__(
        self,
        control_rate: float = DEFAULT_CONTROL_RATE,
        get_function_rate: float = DEFAULT_GET_FUNCTION_RATE,
        ec2_rate: float = DEFAULT_EC2_RATE,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleeper = asyncio.sleep,
    ) -> None:
        self.control_rate = control_rate
        self.get_function_rate = get_function_rate
        self.ec2_rate = ec2_rate
        self._clock = clock
        self._sleep = sleep
        self._control: dict[str, RequestBudget] = {}
        self._get_function: dict[str, RequestBudget] = {}
        self._information: dict[str, RequestBudget] = {}
        self._ec2: dict[str, RequestBudget] = {}

    def control(self, region: str) -> RequestBudget:
        """The budget for every Lambda control-plane call except GetFunction (15/s shared by all)."""
        if region not in self._control:
            self._control[region] = RequestBudget(
                self.control_rate, clock=self._clock, sleep=self._sleep, name="control", region=region
            )
        return self._control[region]

    def get_function(self, region: str) -> RequestBudget:
        """The budget for GetFunction, which AWS meters in a bucket of its own (100/s)."""
        if region not in self._get_function:
            self._get_function[region] = RequestBudget(
                self.get_function_rate, clock=self._clock, sleep=self._sleep, name="get_function", region=region
            )
        return self._get_function[region]

    def information(self, region: str) -> RequestBudget:
        """A cap, within the control budget, on reads that only inform (``INFORMATION_SHARE`` of it),
        taken with ``try_acquire``: such a request needs a token from both."""
        if region not in self._information:
            self._information[region] = RequestBudget(
                self.control_rate * INFORMATION_SHARE, clock=self._clock, sleep=self._sleep, name="information",
                region=region,
            )
        return self._information[region]

    def ec2(self, region: str) -> RequestBudget:
        """The budget for every EC2 Describe* (AWS: a bucket of 100 refilled at 20/s per API); the
        burst is the same share of EC2's bucket as the rate is of its refill."""
        if region not in self._ec2:
            self._ec2[region] = RequestBudget(
                self.ec2_rate, self.ec2_rate * EC2_DESCRIBE_BURST / EC2_DESCRIBE_LIMIT, clock=self._clock,
                sleep=self._sleep, name="ec2", region=region,
            )  # fmt: skip
        return self._ec2[region]
