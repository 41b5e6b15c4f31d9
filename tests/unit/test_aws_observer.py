"""aws.observer.SweepingObserver over a fake Lambda: what a sweep and a look cost, request by request."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest
from clocks import VirtualClock

from lambda_vpc_operator.aws import budgets, errors, metrics, observer
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import (
    FunctionObservation,
    FunctionRef,
    FunctionState,
    UpdateStatus,
    VpcSettings,
)
from lambda_vpc_operator.planner.sweeps import Way

REGION = "eu-west-1"
SWEEP = 10.0
HOUR = 3600.0


class FakeLambda:
    """Just the calls the observer makes, counted; ``account`` holds every function of the region."""

    def __init__(self, account: int, control_rate: float = 10, get_function_rate: float = 50) -> None:
        self.budgets = budgets.RequestBudgets(control_rate, get_function_rate)
        self.listeners: list[observer.aws_functions.WriteListener] = []
        self.functions = {f"fn-{i:05}": self._observation(f"fn-{i:05}") for i in range(account)}
        self.gets: list[str] = []
        self.pages = 0
        self.list_attempts = 0
        self.list_failure: errors.AwsError | None = None

    @staticmethod
    def _observation(name: str) -> FunctionObservation:
        return FunctionObservation(
            name, f"arn:aws:lambda:{REGION}:123456789012:function:{name}", VpcSettings.of(["subnet-a"], ["sg-1"]),
            "vpc-1", FunctionState.ACTIVE, None, None, UpdateStatus.SUCCESSFUL, None, None, "rev-1", tags={},
        )  # fmt: skip

    def region_of(self, ref: FunctionRef) -> str:
        return ref.region or REGION

    async def get(self, ref: FunctionRef) -> FunctionObservation:
        self.gets.append(ref.name)
        if ref.name not in self.functions:
            raise errors.FunctionNotFound(Failure(FailureKind.NOT_FOUND, "ResourceNotFoundException", "gone"))
        return self.functions[ref.name]

    async def list_page(self, region: str, marker: str | None = None) -> tuple[list[FunctionObservation], str | None]:
        self.list_attempts += 1
        if self.list_failure is not None:
            raise self.list_failure
        self.pages += 1
        names = sorted(self.functions)
        start = int(marker or 0)
        page = [
            dataclasses.replace(self.functions[n], state=None, last_update_status=None, tags=None)  # aws-facts
            for n in names[start : start + 50]
        ]
        return page, str(start + 50) if start + 50 < len(names) else None

    def change(self, name: str, **changes: object) -> None:
        self.functions[name] = dataclasses.replace(self.functions[name], **changes)  # type: ignore[arg-type]


def make(account: int, **rates: float) -> tuple[observer.SweepingObserver, FakeLambda, VirtualClock]:
    fake, clock = FakeLambda(account, **rates), VirtualClock()
    seen = observer.SweepingObserver(fake, sweep_interval=SWEEP, lifecycle_interval=HOUR, clock=clock)  # type: ignore[arg-type]
    return seen, fake, clock


def ref(name: str) -> FunctionRef:
    return FunctionRef.parse(name, default_region=REGION)


async def look_at_all(seen: observer.SweepingObserver, names: list[str], fresh: bool) -> None:
    await asyncio.gather(*(seen.observe(ref(n), fresh=fresh) for n in names))


async def resync(seen: observer.SweepingObserver, names: list[str]) -> None:
    """One resync's steady looks, then the end of the sweep they started (none of them waits for it)."""
    await look_at_all(seen, names, fresh=False)
    await swept(seen)


async def swept(seen: observer.SweepingObserver) -> None:
    await asyncio.gather(*seen.sweeps_in_flight())


@pytest.fixture(autouse=True)
def _clean_meter() -> None:
    metrics.observer.reset()


async def test_steady_looks_cost_one_listing_per_sweep_and_no_get_function() -> None:
    seen, fake, clock = make(account=120)
    managed = sorted(fake.functions)[:100]
    await look_at_all(seen, managed, fresh=True)  # the first looks read each function
    assert len(fake.gets) == 100 and fake.pages == 0
    fake.gets.clear()
    for _ in range(3):  # three resyncs
        clock.now += SWEEP
        await resync(seen, managed)
    assert fake.gets == []
    assert fake.pages == 3 * 3  # ceil(120 / 50) pages per sweep, one sweep per interval
    assert seen.way(REGION) == Way.LIST
    assert metrics.observer.snapshot()[0] == {REGION: "list"}


async def test_a_steady_look_never_waits_for_the_sweep_it_starts() -> None:
    # A sweep's pages may wait minutes behind queued writes; a look waiting for them held its state.
    seen, fake, clock = make(account=120)
    managed = sorted(fake.functions)[:100]
    await look_at_all(seen, managed, fresh=True)
    gate, listing = asyncio.Event(), fake.list_page

    async def held_page(region: str, marker: str | None = None) -> tuple[list[FunctionObservation], str | None]:
        await gate.wait()  # e.g. queued in the control budget behind owner tags
        return await listing(region, marker)

    fake.list_page = held_page  # type: ignore[method-assign]
    clock.now += SWEEP
    await asyncio.wait_for(look_at_all(seen, managed, fresh=False), 5.0)
    assert len(seen.sweeps_in_flight()) == 1 and fake.pages == 0  # one sweep, still held
    gate.set()
    await swept(seen)
    assert fake.pages == 3 and seen.sweeps_in_flight() == []


async def test_a_changed_function_gets_one_read_and_the_others_none() -> None:
    seen, fake, clock = make(account=60)
    managed = sorted(fake.functions)
    await look_at_all(seen, managed, fresh=True)
    fake.gets.clear()
    fake.change("fn-00007", revision_id="rev-2", vpc=VpcSettings())
    clock.now += SWEEP
    await resync(seen, managed)
    assert fake.gets == []  # served the last sweep's word: this one, started now, had not answered
    await look_at_all(seen, managed, fresh=False)  # the next looks see it
    assert fake.gets == ["fn-00007"]
    assert (await seen.observe(ref("fn-00007"), fresh=False)).vpc == VpcSettings()  # type: ignore[union-attr]
    assert fake.gets == ["fn-00007"]  # read once: now the reading matches the listing
    assert metrics.observer.snapshot()[1] == {"asked": 60, "changed": 1}


# A handful of functions: one GetFunction each is cheaper than a page of the shared budget, unless
# GetFunction's share is small; these tests are about the listing, so they make it so.
FEW = {"get_function_rate": 1.0}


async def test_lifecycle_and_transitions_are_read_without_a_new_revision() -> None:
    seen, fake, clock = make(account=3, **FEW)
    await look_at_all(seen, ["fn-00000", "fn-00001"], fresh=True)
    fake.gets.clear()
    fake.change("fn-00000", last_update_status=UpdateStatus.IN_PROGRESS)  # read as InProgress ...
    await seen.observe(ref("fn-00000"), fresh=True)
    fake.change("fn-00000", last_update_status=UpdateStatus.SUCCESSFUL)  # ... done, same revision
    fake.change("fn-00001", state=FunctionState.INACTIVE)  # idle: no new RevisionId, and not listed
    fake.gets.clear()
    clock.now += SWEEP
    await look_at_all(seen, ["fn-00000", "fn-00001"], fresh=False)
    assert fake.gets == ["fn-00000"]  # the transition; Inactive waits for the lifecycle interval
    clock.now += HOUR
    observed = await seen.observe(ref("fn-00001"), fresh=False)
    assert observed is not None and observed.state == FunctionState.INACTIVE
    assert fake.gets == ["fn-00000", "fn-00001"]


async def test_our_write_makes_the_next_look_read() -> None:
    seen, fake, clock = make(account=2, **FEW)
    await seen.observe(ref("fn-00000"), fresh=True)
    clock.now += 1
    for listener in fake.listeners:
        listener(REGION, "fn-00000")  # e.g. TagResource: tags are not in ListFunctions
    clock.now += SWEEP
    await seen.observe(ref("fn-00000"), fresh=False)
    assert fake.gets == ["fn-00000", "fn-00000"]
    assert metrics.observer.snapshot()[1] == {"asked": 1, "written": 1}


async def test_an_account_with_many_more_functions_is_read_per_managed_function(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen, fake, clock = make(account=5000)
    managed = sorted(fake.functions)[:20]
    await look_at_all(seen, managed, fresh=True)
    fake.gets.clear()
    clock.now += SWEEP
    with caplog.at_level(logging.INFO, logger="lambda_vpc_operator.aws.observer"):
        await resync(seen, managed)  # the first sweep lists, to count the account
    assert fake.pages == 100 and seen.way(REGION) == Way.GET
    assert "GetFunction per managed function" in caplog.text and "5000 functions" in caplog.text
    assert fake.gets == []
    await look_at_all(seen, managed, fresh=False)
    assert sorted(fake.gets) == managed  # that sweep decided GET: each look reads
    fake.gets.clear()
    clock.now += SWEEP
    await look_at_all(seen, managed, fresh=False)
    assert fake.pages == 100  # no listing until the recount (each lifecycle interval)
    assert sorted(fake.gets) == managed
    assert metrics.observer.snapshot()[0] == {REGION: "get"}


async def test_a_refused_listing_falls_back_to_reading_each_function() -> None:
    seen, fake, clock = make(account=3, **FEW)
    await seen.observe(ref("fn-00000"), fresh=True)
    fake.list_failure = errors.AccessDenied(Failure(FailureKind.ACCESS_DENIED, "AccessDeniedException", "no"))
    clock.now += SWEEP
    await seen.observe(ref("fn-00000"), fresh=False)  # served; the sweep it starts is refused
    await swept(seen)
    await seen.observe(ref("fn-00000"), fresh=False)  # the same sweep interval: no second listing attempt
    assert fake.gets == ["fn-00000"] * 2
    assert seen.way(REGION) == Way.GET
    # Not tried again at each sweep (a warning each time): only at the recount, a lifecycle interval on.
    assert fake.list_attempts == 1
    for _ in range(3):
        clock.now += SWEEP
        before = len(fake.gets)
        await seen.observe(ref("fn-00000"), fresh=False)
        assert len(fake.gets) == before + 1  # read by GetFunction, the listing not asked
    assert fake.list_attempts == 1
    fake.list_failure = None
    clock.now += HOUR
    await seen.observe(ref("fn-00000"), fresh=False)
    await swept(seen)
    assert fake.pages == 1 and seen.way(REGION) == Way.LIST  # listed again at the recount


async def test_a_throttled_listing_keeps_the_way_and_lists_again_at_the_next_sweep() -> None:
    seen, fake, clock = make(account=120)
    managed = sorted(fake.functions)[:100]
    await look_at_all(seen, managed, fresh=True)
    clock.now += SWEEP
    await look_at_all(seen, managed, fresh=False)  # listed: the way is LIST
    fake.gets.clear()
    fake.list_failure = errors.Throttled(Failure(FailureKind.THROTTLED, "TooManyRequestsException", "slow", 1.0))
    clock.now += SWEEP
    await look_at_all(seen, managed, fresh=False)
    assert seen.way(REGION) == Way.LIST  # not a GetFunction per function for an hour
    assert fake.gets == []  # the last listing answered the steady looks
    attempts = fake.list_attempts
    fake.list_failure = None
    clock.now += SWEEP
    await look_at_all(seen, managed, fresh=False)
    assert fake.list_attempts == attempts + 3 and fake.gets == []  # listed again, one sweep of 3 pages


async def test_role_sessions_read_with_their_own_clients_through_one_observer() -> None:
    seen, home, clock = make(account=120)
    # GetFunction's share made small, so that listing is the cheaper way for two managed functions.
    team_a, team_b = FakeLambda(120, get_function_rate=1), FakeLambda(120, get_function_rate=1)
    a, b = seen.through(team_a), seen.through(team_b)  # type: ignore[arg-type]
    await a.observe(ref("fn-00001"), fresh=True)
    await b.observe(ref("fn-00002"), fresh=True)
    assert (home.gets, team_a.gets, team_b.gets) == ([], ["fn-00001"], ["fn-00002"])
    clock.now += SWEEP
    await asyncio.gather(a.observe(ref("fn-00001"), fresh=False), b.observe(ref("fn-00002"), fresh=False))
    # One sweep of the account for both sessions, sent by whichever asked first.
    assert home.pages + team_a.pages + team_b.pages == 3 and home.pages == 0
    for listener in team_b.listeners:  # a write through team-b's session reaches the shared observer
        listener(REGION, "fn-00002")
    await b.observe(ref("fn-00002"), fresh=False)
    assert team_b.gets == ["fn-00002", "fn-00002"]


async def test_concurrent_steady_looks_share_one_sweep() -> None:
    seen, fake, clock = make(account=200)
    managed = sorted(fake.functions)
    await look_at_all(seen, managed, fresh=True)
    clock.now += SWEEP
    await look_at_all(seen, managed, fresh=False)
    assert fake.pages == 4


async def test_a_deleted_function_is_none() -> None:
    seen, fake, clock = make(account=2, **FEW)
    assert await seen.observe(ref("fn-00000"), fresh=True) is not None
    del fake.functions["fn-00000"]
    clock.now += SWEEP
    await resync(seen, ["fn-00000"])
    assert await seen.observe(ref("fn-00000"), fresh=False) is None  # UNLISTED -> GetFunction: not found
    clock.now += SWEEP
    await resync(seen, ["fn-00000"])
    assert await seen.observe(ref("fn-00000"), fresh=False) is None
    assert fake.gets == ["fn-00000", "fn-00000"]  # still unlisted: nothing more to ask


async def test_a_function_no_look_asks_about_is_forgotten_after_the_lifecycle_interval() -> None:
    seen, fake, clock = make(account=3, **FEW)
    await look_at_all(seen, ["fn-00000", "fn-00001"], fresh=True)
    for _ in range(10):  # fn-00001's look waits (e.g. for the control budget) while sweeps go on
        clock.now += SWEEP
        await seen.observe(ref("fn-00000"), fresh=False)
    await seen.observe(ref("fn-00001"), fresh=False)
    assert fake.gets == ["fn-00000", "fn-00001"]  # still known: served from the snapshot
    clock.now += HOUR  # its attachment is gone: the next sweep forgets it
    await seen.observe(ref("fn-00000"), fresh=False)  # State read again (lifecycle): no sweep needed
    clock.now += SWEEP
    await resync(seen, ["fn-00000"])
    assert set(seen._places[REGION].listed) == {"fn-00000"}


async def test_a_shared_read_never_leaves_a_failed_task() -> None:
    """kopf re-raises the exception of every task left when it stops: a shared GetFunction that
    failed while its caller was cancelled made a graceful stop crash (found by the chaos run)."""
    seen, fake, _ = make(account=3)
    failure = errors.ServiceError(Failure(FailureKind.SERVICE_ERROR, "ServiceException", "boom"))
    started = asyncio.Event()

    async def failing(ref: FunctionRef) -> FunctionObservation:
        started.set()
        await asyncio.sleep(0.01)
        raise failure

    fake.get = failing  # type: ignore[method-assign]
    caller = asyncio.create_task(seen.observe(ref("fn-00001"), fresh=True))
    await started.wait()
    shared = seen._reading.tasks()
    caller.cancel()
    await asyncio.wait(shared)
    assert [task.exception() for task in shared] == [None]  # what kopf's reraise reads
    with pytest.raises(errors.ServiceError):
        await seen.observe(ref("fn-00001"), fresh=True)  # a caller that waits gets the error itself
