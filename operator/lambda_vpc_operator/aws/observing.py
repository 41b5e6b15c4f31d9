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
        self._in_flight: sharing.SingleFlight[_Key, FunctionObservation | None] = sharing.SingleFlight()

    async def observe(self, ref: FunctionRef, *, fresh: bool = True) -> FunctionObservation | None:
        key = (self.functions.region_of(ref), ref.name)
        return await self._in_flight.run(key, lambda: self._read(ref), f"observing {key[0]}/{key[1]}")

    async def _read(self, ref: FunctionRef) -> FunctionObservation | None:
        try:
            return await self.functions.get(ref)
        except errors.FunctionNotFound:
            return None
