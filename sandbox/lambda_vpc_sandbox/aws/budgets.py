"""Request budgets (token buckets) and call counters.

Why: aws-facts "Rate limits" — the Lambda control plane allows 15 requests/s shared by every call
but GetFunction (100/s, its own bucket), account and region wide, and the operator must spend
little of it. A simulator without these limits hides the cost of a chatty reconcile loop, so the
buckets are on by default in the sandbox; calls over budget get TooManyRequestsException (429).
Buckets run on real (monotonic) time, not the simulated clock: a rate is about how fast the
operator really calls. The counters are how tests and benchmarks measure what the operator spends.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from . import config

#: Lambda operations outside the shared control-plane bucket (aws-facts "Rate limits": GetFunction
#: has its own bucket; Invoke is data plane, not control plane).
GET_FUNCTION_BUCKET = "GetFunction"
CONTROL_BUCKET = "control"
UNLIMITED_OPERATIONS = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})


class TokenBucket:
    """``rate`` tokens a second, at most ``capacity`` saved up (the burst)."""

    def __init__(self, rate: float, capacity: float, now: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = capacity
        self._now = now
        self._tokens = capacity
        self._updated = now()

    def take(self) -> float:
        """Take one token: 0.0 if granted, else the seconds until one will be there."""
        current = self._now()
        self._tokens = min(self.capacity, self._tokens + (current - self._updated) * self.rate)
        self._updated = current
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate if self.rate > 0 else 1.0


#: aws-facts "EC2 request buckets and paging": the unfiltered and unpaginated describes that have
#: the smaller bucket (50, 10/s) when called without Filter and without MaxResults/NextToken.
EC2_UNFILTERED_ACTIONS = frozenset(
    {
        "DescribeInstances",
        "DescribeInstanceStatus",
        "DescribeNetworkInterfaces",
        "DescribeSecurityGroups",
        "DescribeSnapshots",
        "DescribeSpotInstanceRequests",
        "DescribeVolumes",
    }
)
#: aws-facts "EC2 request buckets and paging": non-mutating actions are Describe*, Get*, List*, Search*.
EC2_NON_MUTATING_PREFIXES = ("Describe", "Get", "List", "Search")


@dataclass(frozen=True)
class Limits:
    enabled: bool
    control_per_s: float
    get_function_per_s: float
    ec2_non_mutating: tuple[float, float] = (config.EC2_NON_MUTATING_BURST, config.EC2_NON_MUTATING_RATE)
    ec2_unfiltered: tuple[float, float] = (config.EC2_UNFILTERED_BURST, config.EC2_UNFILTERED_RATE)

    @classmethod
    def from_config(cls, cfg: config.SimConfig) -> Limits:
        return cls(
            cfg.rate_limits_enabled,
            cfg.control_per_s,
            cfg.get_function_per_s,
            (cfg.ec2_non_mutating_burst, cfg.ec2_non_mutating_per_s),
            (cfg.ec2_unfiltered_burst, cfg.ec2_unfiltered_per_s),
        )


def ec2_bucket(action: str, form: dict[str, list[str]]) -> str | None:
    """Which EC2 bucket a request spends from: "unfiltered", "non-mutating", or None (mutating
    calls, whose buckets are not simulated). Every non-mutating API has buckets of its own."""
    if not action.startswith(EC2_NON_MUTATING_PREFIXES):
        return None
    if action in EC2_UNFILTERED_ACTIONS:
        narrowed = any(key.startswith("Filter.") for key in form) or "MaxResults" in form or "NextToken" in form
        if not narrowed:
            return "unfiltered"
    return "non-mutating"


class Budgets:
    """The Lambda request budgets, one set of buckets per account and region (aws-facts)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}

    def configure(self, limits: Limits) -> None:
        self.limits = limits
        self._buckets.clear()

    def take(self, account: str, region: str, operation: str) -> float:
        """Spend one Lambda request: 0.0 if within budget, else the seconds to wait (Retry-After)."""
        if not self.limits.enabled or operation in UNLIMITED_OPERATIONS:
            return 0.0
        if operation == GET_FUNCTION_BUCKET:
            name, rate = GET_FUNCTION_BUCKET, self.limits.get_function_per_s
        else:
            name, rate = CONTROL_BUCKET, self.limits.control_per_s
        key = (account, region, name)
        bucket = self._buckets.get(key)
        if bucket is None:
            # aws-facts "Rate limits": 15/s with a burst of 15; GetFunction 100/s.
            bucket = self._buckets[key] = TokenBucket(rate, max(1.0, rate))
        return bucket.take()

    def take_ec2(self, account: str, region: str, action: str, form: dict[str, list[str]]) -> float:
        """Spend one EC2 request from its API's bucket: 0.0 if granted, else the seconds to wait."""
        kind = ec2_bucket(action, form)
        if not self.limits.enabled or kind is None:
            return 0.0
        key = (account, region, f"ec2:{action}:{kind}")
        bucket = self._buckets.get(key)
        if bucket is None:
            burst, rate = self.limits.ec2_unfiltered if kind == "unfiltered" else self.limits.ec2_non_mutating
            bucket = self._buckets[key] = TokenBucket(rate, burst)
        return bucket.take()


class CallCounter:
    """Calls per ``service:Operation``; served and throttled calls are counted apart."""

    def __init__(self) -> None:
        self.served: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    def record(self, key: str, *, throttled: bool = False) -> None:
        (self.throttled if throttled else self.served)[key] += 1

    def reset(self) -> None:
        self.served.clear()
        self.throttled.clear()
