"""aws.sharing.SingleFlight: one request per key for concurrent callers, forgotten when done."""

from __future__ import annotations

import asyncio

import pytest

from lambda_vpc_operator.aws import sharing


class _Request:
    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def __call__(self) -> int:
        self.started += 1
        await self.release.wait()
        return self.started


async def test_concurrent_callers_share_one_request_and_the_next_starts_another() -> None:
    flight: sharing.SingleFlight[str, int] = sharing.SingleFlight()
    request = _Request()
    callers = [asyncio.create_task(flight.run("k", request, "test")) for _ in range(3)]
    while not request.started:
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert request.started == 1 and len(flight.tasks()) == 1
    request.release.set()
    assert await asyncio.gather(*callers) == [1, 1, 1]
    assert flight.tasks() == []  # forgotten when done
    assert await flight.run("k", request, "test") == 2


async def test_one_callers_cancellation_leaves_the_request_to_the_others() -> None:
    flight: sharing.SingleFlight[str, int] = sharing.SingleFlight()
    request = _Request()
    impatient = asyncio.create_task(flight.run("k", request, "test"))
    patient = asyncio.create_task(flight.run("k", request, "test"))
    while not request.started:
        await asyncio.sleep(0)
    impatient.cancel()
    await asyncio.sleep(0)
    request.release.set()
    assert await patient == 1


async def test_a_failed_request_is_held_as_the_tasks_value_and_raised_to_each_caller() -> None:
    flight: sharing.SingleFlight[str, int] = sharing.SingleFlight()

    async def failing() -> int:
        await asyncio.sleep(0)
        raise ValueError("boom")

    caller = asyncio.create_task(flight.run("k", failing, "test"))
    while not flight.tasks():
        await asyncio.sleep(0)
    shared = flight.tasks()
    caller.cancel()
    await asyncio.wait(shared)
    assert [task.exception() for task in shared] == [None]  # what kopf's reraise reads
    with pytest.raises(ValueError, match="boom"):
        await flight.run("k", failing, "test")
