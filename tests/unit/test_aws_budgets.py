"""RequestBudget: a token bucket on a virtual clock; a throttle pauses every caller at once."""

from __future__ import annotations

import asyncio

import pytest
from clocks import VirtualClock

from lambda_vpc_operator.aws import budgets


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


def test_a_throttle_is_remembered_after_its_pause(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    assert not bucket.throttled_within(60)
    bucket.pause(2.0)
    clock.now += 30
    assert bucket.throttled_within(60) and not bucket.throttled_within(29)


def test_information_reads_get_a_small_share_of_the_control_rate(clock: VirtualClock) -> None:
    request_budgets = budgets.RequestBudgets(control_rate=10, clock=clock, sleep=clock.sleep)
    share = request_budgets.information("eu-west-1")
    assert share.rate == 10 * budgets.INFORMATION_SHARE < request_budgets.control("eu-west-1").rate
    assert request_budgets.information("eu-west-1") is share
    assert request_budgets.information("us-east-1") is not share


# -- priorities: a heap of waiters, not first come, first served ------------------------------------


async def served_in_order(
    clock: VirtualClock, bucket: budgets.RequestBudget, *asks: tuple[str, budgets.Priority, float]
) -> list[str]:
    """Start each (name, priority, arrival second) caller; return the names in the order they got a token."""
    order: list[str] = []

    async def caller(name: str, priority: budgets.Priority, arrival: float) -> None:
        while clock.now - 1000.0 < arrival:
            await asyncio.sleep(0)
        await bucket.acquire(priority)
        order.append(name)

    await asyncio.gather(*(caller(*ask) for ask in asks))
    return order


async def test_a_spec_change_goes_before_a_queue_of_lower_priority_writes(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()  # empty: everyone below waits
    served: list[tuple[str, float]] = []

    async def caller(name: str, priority: budgets.Priority) -> None:
        await bucket.acquire(priority)
        served.append((name, clock.now - 1000.0))

    # A restart woke forty attachments: twenty owner tags and twenty drift corrections queue up.
    waiting = [asyncio.create_task(caller("tag", budgets.Priority.OWNERSHIP)) for _ in range(20)]
    waiting += [asyncio.create_task(caller("drift", budgets.Priority.DRIFT)) for _ in range(20)]
    await asyncio.sleep(0)
    await caller("spec", budgets.Priority.SPEC_CHANGE)
    await asyncio.gather(*waiting)
    # The user's change waits for one token, not forty; drift corrections go before owner tags.
    assert served[0] == ("spec", pytest.approx(1.0))
    assert [name for name, _ in served] == ["spec"] + ["drift"] * 20 + ["tag"] * 20


async def test_equal_priorities_are_first_come_first_served(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10, burst=1)
    await bucket.acquire()
    order = await served_in_order(clock, bucket, *((f"w{i}", budgets.Priority.DRIFT, 0.0) for i in range(5)))
    assert order == [f"w{i}" for i in range(5)]


async def test_nothing_starves_a_low_priority_waiter_ages(clock: VirtualClock) -> None:
    # A steady stream of spec changes asks for every token there is; an owner tag still gets one,
    # once it has waited AGING seconds per level.
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()
    tag = asyncio.create_task(bucket.acquire(budgets.Priority.OWNERSHIP))
    await asyncio.sleep(0)
    started = clock.now
    while not tag.done():
        await bucket.acquire(budgets.Priority.SPEC_CHANGE)
        assert clock.now - started < 3 * budgets.AGING
    waited = clock.now - started
    assert 2 * budgets.AGING - 2 <= waited <= 2 * budgets.AGING + 2


async def test_a_cancelled_waiter_leaves_the_queue(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()
    first = asyncio.create_task(bucket.acquire(budgets.Priority.SPEC_CHANGE))
    second = asyncio.create_task(bucket.acquire(budgets.Priority.DRIFT))
    await asyncio.sleep(0)
    assert bucket.waiting == 2
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await second
    assert bucket.waiting == 0
    # The cancelled waiter took no token: the next caller waits one interval, not two.
    started = clock.now
    await bucket.acquire()
    assert clock.now - started == pytest.approx(1.0)


async def test_try_acquire_never_takes_a_token_a_waiter_waits_for(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()
    waiting = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    clock.now += 5.0  # a token is there, but it is the waiter's
    assert not bucket.try_acquire()
    await waiting


# -- throttles without Retry-After: an adaptive pause ---------------------------------------------


def test_throttles_in_a_row_double_the_pause_up_to_a_max(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    pauses = []
    for _ in range(8):
        bucket.pause(None)
        pauses.append(bucket.paused_for)
        clock.now += bucket.paused_for + 0.5  # the pause ends, the next request is throttled again
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert pauses[-1] == budgets.MAX_THROTTLE_PAUSE


def test_a_throttle_during_a_pause_does_not_lengthen_it(clock: VirtualClock) -> None:
    # Requests sent before the pause began come back throttled while it runs: one throttle, one pause.
    bucket = budget(clock, rate=10)
    bucket.pause(None)
    for _ in range(5):
        bucket.pause(None)
    assert bucket.paused_for == budgets.DEFAULT_THROTTLE_PAUSE


def test_the_pause_starts_over_after_a_quiet_while(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    bucket.pause(None)
    clock.now += 1.5
    bucket.pause(None)
    assert bucket.paused_for == 2.0
    clock.now += 2.0 + budgets.THROTTLE_MEMORY + 1
    bucket.pause(None)
    assert bucket.paused_for == budgets.DEFAULT_THROTTLE_PAUSE


def test_retry_after_is_honoured_as_given(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=10)
    bucket.pause(None)
    clock.now += 1.5
    bucket.pause(7.0)
    assert bucket.paused_for == 7.0


# -- EC2 ---------------------------------------------------------------------------------------------


async def test_ec2_describes_have_a_budget_with_a_burst(clock: VirtualClock) -> None:
    request_budgets = budgets.RequestBudgets(clock=clock, sleep=clock.sleep)
    ec2 = request_budgets.ec2("eu-west-1")
    assert ec2 is request_budgets.ec2("eu-west-1") is not request_budgets.control("eu-west-1")
    assert ec2.rate == budgets.DEFAULT_EC2_RATE < budgets.EC2_DESCRIBE_LIMIT
    # Half of EC2's refill, and the same half of its bucket as burst: never beyond what AWS allows.
    assert ec2.burst == 50 < budgets.EC2_DESCRIBE_BURST
    for _ in range(50):
        await ec2.acquire()
    assert clock.now == 1000.0
    await ec2.acquire()
    assert clock.now == pytest.approx(1000.1)
    assert budgets.RequestBudgets(ec2_rate=4).ec2("r").rate == 4


def test_the_send_pacer_lets_a_burst_go_then_spaces_requests_at_the_rate(clock: VirtualClock) -> None:
    # Tokens taken a while ago, requests released together (every worker thread was busy): the ones
    # beyond the burst wait for their place at the rate, as AWS' bucket counts arrivals.
    pacer = budgets.SendPacer(rate=5.0, burst=3.0, clock=clock)
    assert [round(pacer.reserve(), 6) for _ in range(6)] == [0.0, 0.0, 0.0, 0.2, 0.4, 0.6]


def test_the_send_pacer_refills_while_idle_and_never_saves_more_than_the_burst(clock: VirtualClock) -> None:
    pacer = budgets.SendPacer(rate=5.0, burst=3.0, clock=clock)
    for _ in range(6):
        pacer.reserve()
    clock.now += 0.8 + 10.0  # the schedule's last place has passed, then a long idle while
    assert [round(pacer.reserve(), 6) for _ in range(4)] == [0.0, 0.0, 0.0, 0.2]


def test_any_window_of_paced_sends_stays_within_the_bucket(clock: VirtualClock) -> None:
    # The property AWS checks: in any span of t seconds at most burst + rate * t requests arrive.
    rate, burst = 10.0, 10.0
    pacer = budgets.SendPacer(rate, burst, clock=clock)
    sends = []
    for i in range(200):
        clock.now += 0.013 if i % 40 else 3.0  # bunches faster than the rate, and idle gaps
        sends.append(clock.now + pacer.reserve())
    for i, start in enumerate(sends):
        for j in range(i, len(sends)):
            assert j - i + 1 <= burst + rate * (sends[j] - start) + 1e-6


# -- tickets: a place in the queue kept for a look that is not running ------------------------------


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_ticket_is_granted_in_its_turn_and_wakes_its_holder(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()
    woken: list[float] = []
    ticket = bucket.reserve(budgets.Priority.DRIFT, lambda: woken.append(clock.now - 1000.0))
    assert not ticket.granted
    while not woken:
        await settle()
    assert ticket.usable and woken == [pytest.approx(1.0)]  # the next token, one second later
    assert bucket.waiting == 0


async def test_a_granted_ticket_pays_for_one_request_without_waiting(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()
    ticket = bucket.reserve(budgets.Priority.SPEC_CHANGE, lambda: None)
    while not ticket.granted:
        await settle()
    granted_at = clock.now
    # Others queue meanwhile; the holder's request goes at once, on the token taken for it.
    others = [asyncio.create_task(bucket.acquire()) for _ in range(3)]
    await bucket.acquire(budgets.Priority.DRIFT, ticket)
    assert clock.now == granted_at and ticket.spent
    # Spent: a second request with it waits in the queue like anyone.
    await bucket.acquire(budgets.Priority.SPEC_CHANGE, ticket)
    assert clock.now > granted_at
    await asyncio.gather(*others)


async def test_tickets_keep_priority_order_among_waiters(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()
    order: list[str] = []

    async def caller(name: str, priority: budgets.Priority) -> None:
        await bucket.acquire(priority)
        order.append(name)

    # All arrive before the next token: a ticket and a waiting caller are served alike.
    bucket.reserve(budgets.Priority.OWNERSHIP, lambda: order.append("tag ticket"))
    drift = asyncio.create_task(caller("drift", budgets.Priority.DRIFT))
    bucket.reserve(budgets.Priority.SPEC_CHANGE, lambda: order.append("spec ticket"))
    await drift
    while len(order) < 3:
        await settle()
    assert order == ["spec ticket", "drift", "tag ticket"]


async def test_a_cancelled_ticket_leaves_the_queue_and_a_granted_one_gives_its_token_back(
    clock: VirtualClock,
) -> None:
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()
    woken: list[bool] = []
    waiting = bucket.reserve(budgets.Priority.SPEC_CHANGE, lambda: woken.append(True))
    await asyncio.sleep(0)  # in the queue, its token not there yet
    assert bucket.waiting == 1
    waiting.cancel()
    await settle()
    assert bucket.waiting == 0 and not woken  # cancelled: never granted
    granted = bucket.reserve(budgets.Priority.SPEC_CHANGE, lambda: None)
    while not granted.granted:
        await settle()
    started = clock.now
    granted.cancel()  # granted to a look that no longer writes
    await bucket.acquire()
    assert clock.now == started  # the refunded token served the next request at once
    granted.cancel()  # twice: no second token
    assert bucket.would_wait()


def test_would_wait_says_whether_acquire_would(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=1)
    assert not bucket.would_wait()
    assert bucket.try_acquire()
    assert bucket.would_wait()
    clock.now += 1.0
    assert not bucket.would_wait()
    bucket.pause(5.0)
    assert bucket.would_wait()


def test_a_ticket_with_a_token_there_and_nobody_waiting_is_granted_at_once(clock: VirtualClock) -> None:
    bucket = budget(clock, rate=1, burst=1)
    woken: list[bool] = []
    ticket = bucket.reserve(budgets.Priority.DRIFT, lambda: woken.append(True))
    assert ticket.usable and woken == [True] and bucket.waiting == 0
    assert bucket.would_wait()  # its token is taken


async def test_a_paid_look_goes_first_in_every_budget(clock: VirtualClock) -> None:
    """A look woken by its granted ticket reads before the queue: its write's token is already taken."""
    bucket = budget(clock, rate=1, burst=1)
    await bucket.acquire()
    order: list[str] = []

    async def caller(name: str, paid: bool) -> None:
        with budgets.paid_look(paid):
            await bucket.acquire(budgets.Priority.SPEC_CHANGE)
        order.append(name)

    waiting = [asyncio.create_task(caller(f"first look {i}", False)) for i in range(3)]
    waiting.append(asyncio.create_task(caller("woken look", True)))
    await asyncio.gather(*waiting)
    assert order[0] == "woken look"
    assert order[1:] == [f"first look {i}" for i in range(3)]
