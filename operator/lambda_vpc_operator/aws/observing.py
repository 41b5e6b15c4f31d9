"""Reading a function's current state for the reconciler, as frugally as the rate limits ask.

GetFunction has a bucket of 100 requests/s of its own, while every other Lambda control-plane call
shares 15/s with the whole account (aws-facts "Rate limits"). ListFunctions would be cheaper per
function but lacks State and LastUpdateStatus, which the planner needs; so one GetFunction per
attachment, spent from the larger bucket, is the frugal way to observe.

Concurrent observations of the same function (several handlers or timers waking together) are
coalesced into one request: every caller that asks while a request is in flight gets its answer,
which is no older than the moment that caller asked.

The operator runs the batched observer, ``aws.observer.SweepingObserver`` (ListFunctions pages,
GetFunction only where a function moved); this one reads every time (tests, and the model of
per-object polling).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from lambda_vpc_operator.aws import errors, sharing
from lambda_vpc_operator.aws import functions as aws_functions
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionRef

# (region, function name): one operator serves one account, so this names one function.
_Key = tuple[str, str]


class Observer(Protocol):
    async def observe(self, ref: FunctionRef, *, fresh: bool = True) -> FunctionObservation | None:
        """The function as AWS reports it; None if it does not exist.

        ``fresh``: read it now; False lets a batched observer (aws.observer) answer from its last
        sweep when nothing says the function moved (a steady look at resync).
        """
        ...


class GetFunctionObserver:
    """One GetFunction per observation, shared by every concurrent caller for the same function."""

    def __init__(self, functions: aws_functions.LambdaFunctions) -> None:
        self.functions = functions
        self._in_flight: dict[_Key, asyncio.Task[sharing.Outcome[FunctionObservation | None]]] = {}

    async def observe(self, ref: FunctionRef, *, fresh: bool = True) -> FunctionObservation | None:
        key = (self.functions.region_of(ref), ref.name)
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.create_task(sharing.settled(self._read(ref)), name=f"observing {key[0]}/{key[1]}")
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        # Shielded: one caller's cancellation must not cancel the request the others wait for.
        return (await asyncio.shield(task)).unwrap()

    async def _read(self, ref: FunctionRef) -> FunctionObservation | None:
        try:
            return await self.functions.get(ref)
        except errors.FunctionNotFound:
            return None

    def _forget(self, key: _Key, task: asyncio.Task[sharing.Outcome[FunctionObservation | None]]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        # Retrieve the outcome so that a request whose callers all gave up is not logged as unhandled.
        if not task.cancelled():
            task.exception()
