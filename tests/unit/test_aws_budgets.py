"""RequestBudget: a token bucket on a virtual clock; a throttle pauses every caller at once."""

from __future__ import annotations

import asyncio

import pytest

from lambda_vpc_operator.aws import budgets


class VirtualClock:
    """monotonic() and sleep() for a budget: sleeping advances time instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def budget(clock: VirtualClock, rate: float, burst: float | None = None) -> budgets.RequestBudget:
    return budgets.RequestBudget(rate, burst, clock=clock, sleep=clock.sleep)


async def test_burst_is_free(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    for _ in range(10):
        await bucket.acquire()
    assert clock.now == 1000.0


async def test_rate_is_kept_after_the_burst(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    for _ in range(30):
        await bucket.acquire()
    # 10 from the burst, 20 more at 10 a second.
    assert clock.now - 1000.0 == pytest.approx(2.0)


async def test_concurrent_callers_share_the_rate(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=5, burst=1)
    finished: list[float] = []

    async def caller() -> None:
        await bucket.acquire()
        finished.append(clock.now - 1000.0)

    await asyncio.gather(*(caller() for _ in range(5)))
    assert finished == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])


async def test_tokens_refill_while_idle(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    for _ in range(10):
        await bucket.acquire()
    clock.now += 0.5
    for _ in range(5):
        await bucket.acquire()
    assert clock.now == 1000.5


async def test_pause_holds_every_caller(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    bucket.pause(5.0)
    finished: list[float] = []

    async def caller() -> None:
        await bucket.acquire()
        finished.append(clock.now - 1000.0)

    await asyncio.gather(*(caller() for _ in range(3)))
    # Nobody before the pause ends; then the bucket starts empty and refills at the rate.
    assert finished == pytest.approx([5.1, 5.2, 5.3])


async def test_pause_without_retry_after_uses_the_default(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    bucket.pause(None)
    assert bucket.paused_for == budgets.DEFAULT_THROTTLE_PAUSE


async def test_pause_never_shortens_a_longer_one(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    bucket.pause(10.0)
    bucket.pause(2.0)
    assert bucket.paused_for == 10.0


async def test_pause_reaches_a_caller_already_waiting(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()  # the bucket is empty now: the next caller waits 1 s
    waiting = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)  # the caller computed its wait and sleeps
    bucket.pause(3.0)
    await waiting
    assert clock.now - 1000.0 >= 3.0


def test_budgets_are_kept_per_region() -> None:
    request_budgets = budgets.RequestBudgets()
    assert request_budgets.control("eu-west-1") is request_budgets.control("eu-west-1")
    assert request_budgets.control("eu-west-1") is not request_budgets.control("us-east-1")


def test_get_function_has_a_budget_of_its_own() -> None:
    request_budgets = budgets.RequestBudgets()
    assert request_budgets.get_function("eu-west-1") is not request_budgets.control("eu-west-1")


def test_default_rates_stay_under_the_aws_limits() -> None:
    request_budgets = budgets.RequestBudgets()
    assert (
        request_budgets.control("r").rate == budgets.DEFAULT_CONTROL_RATE < budgets.LAMBDA_CONTROL_PLANE_LIMIT
    )
    assert request_budgets.get_function("r").rate == budgets.DEFAULT_GET_FUNCTION_RATE
    assert budgets.DEFAULT_GET_FUNCTION_RATE < budgets.GET_FUNCTION_LIMIT


def test_rates_are_configurable() -> None:
    request_budgets = budgets.RequestBudgets(control_rate=2, get_function_rate=20)
    assert (request_budgets.control("r").rate, request_budgets.get_function("r").rate) == (2, 20)


def test_try_acquire_takes_a_token_without_waiting(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=2)
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]
    assert clock.now == 1000.0  # never slept
    clock.now += 1.0
    assert bucket.try_acquire()


def test_try_acquire_refuses_while_paused(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    bucket.pause(3.0)
    assert not bucket.try_acquire()
    clock.now += 3.1
    assert bucket.try_acquire()


def test_information_reads_get_a_small_share_of_the_control_rate(clock: VirtualClock) -> None:
    request_budgets = budgets.RequestBudgets(control_rate=10, clock=clock, sleep=clock.sleep)
    share = request_budgets.information("eu-west-1")
    assert share.rate == 10 * budgets.INFORMATION_SHARE < request_budgets.control("eu-west-1").rate
    assert request_budgets.information("eu-west-1") is share
    assert request_budgets.information("us-east-1") is not share
