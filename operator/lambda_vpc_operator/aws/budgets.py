"""How many Lambda API requests we allow ourselves per second, per region.

AWS rate-limits the Lambda control plane per account and region (aws-facts "Rate limits"):
GetFunction has a bucket of 100 requests/s of its own, and every other control-plane call
(ListFunctions, UpdateFunctionConfiguration, TagResource, ...) shares 15 requests/s with every other
tool in the account, a limit that cannot be raised. An operator that spends that share starves CI
pipelines and consoles, so we meter ourselves below it with token buckets.

botocore's standard retry mode retries throttles but ignores Retry-After (aws-facts "Errors"), so a
``Throttled`` error pauses the whole bucket: every caller of the region backs off together instead
of each discovering the throttle on its own.

One operator uses one account's credentials, so buckets are keyed by region alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from lambda_vpc_operator.aws import metrics

# AWS: the Lambda control plane, minus GetFunction, per account and region. Cannot be increased.
LAMBDA_CONTROL_PLANE_LIMIT = 15.0
# Our share of it: two thirds, leaving 5 requests/s to every other tool in the account.
DEFAULT_CONTROL_RATE = 10.0
# AWS: GetFunction's own bucket, per account and region.
GET_FUNCTION_LIMIT = 100.0
# Our share of it: half, so observing many attachments never throttles other readers.
DEFAULT_GET_FUNCTION_RATE = 50.0
# Reads that only inform (ListAliases for status.aliases) take at most this share of our control
# rate, and never wait for it: a look without a token reads at a later look. Their steady cost (one
# per attachment and resync) then stays bounded whatever the number of attachments.
INFORMATION_SHARE = 0.2
# A throttle without Retry-After: AWS buckets refill per second, so one second drains the excess.
DEFAULT_THROTTLE_PAUSE = 1.0

# Float slack when counting tokens: refills are computed from clock differences, which lose bits on a
# large monotonic clock; without slack a caller could wait for 1e-15 of a token forever.
_TOKEN_SLACK = 1e-9

Clock = Callable[[], float]
Sleeper = Callable[[float], Awaitable[None]]


class RequestBudget:
    """An asyncio token bucket: ``rate`` tokens a second, at most ``burst`` saved up.

    ``acquire()`` waits for a token; waiters are served first come, first served. ``pause()``
    empties the bucket and refuses tokens until the pause is over. ``clock`` and ``sleep`` are
    injectable so that tests can run on a virtual clock.
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
        self._lock = asyncio.Lock()
        # What the metrics call this budget (lambda_vpc_operator_budget_wait_seconds_total{budget,region}).
        self.name = name
        self.region = region

    async def acquire(self) -> None:
        """Wait until one request may be sent, then take its token."""
        started = self._clock()
        async with self._lock:
            while (delay := self._take()) > 0:
                await self._sleep(delay)
        waited = self._clock() - started
        if waited > 0 and self.name:
            metrics.budgets.waited(self.name, self.region, waited)

    def try_acquire(self) -> bool:
        """Take a token if one is there now; never wait (for requests that can be put off)."""
        return self._take() == 0.0

    def pause(self, seconds: float | None) -> None:
        """AWS throttled us: send nothing for ``seconds`` (a default if AWS gave no Retry-After)."""
        now = self._clock()
        seconds = DEFAULT_THROTTLE_PAUSE if seconds is None else max(seconds, 0.0)
        self._paused_until = max(self._paused_until, now + seconds)
        # Start empty after the pause: a full burst right after a throttle would be throttled again.
        self._tokens = 0.0
        self._updated = max(self._updated, self._paused_until)

    @property
    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        return max(self._paused_until - self._clock(), 0.0)

    def _take(self) -> float:
        """Take a token and return 0, or return how long to wait before trying again."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
        if self._tokens >= 1.0 - _TOKEN_SLACK:
            self._tokens = max(self._tokens - 1.0, 0.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


class RequestBudgets:
    """The two Lambda budgets of each region, created on first use."""

    def __init__(
        self,
        control_rate: float = DEFAULT_CONTROL_RATE,
        get_function_rate: float = DEFAULT_GET_FUNCTION_RATE,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleeper = asyncio.sleep,
    ) -> None:
        self.control_rate = control_rate
        self.get_function_rate = get_function_rate
        self._clock = clock
        self._sleep = sleep
        self._control: dict[str, RequestBudget] = {}
        self._get_function: dict[str, RequestBudget] = {}
        self._information: dict[str, RequestBudget] = {}

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
