"""GetFunctionObserver: one GetFunction per observation, shared by concurrent callers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from lambda_vpc_operator.aws import budgets, clients, errors, functions, metrics, observing
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionRef, VpcSettings

REGION = "eu-west-1"
REF = FunctionRef.parse("payments", default_region=REGION)


@pytest.fixture
def stub(aws_clients: clients.AwsClients) -> Iterator[Stubber]:
    with Stubber(aws_clients.lambda_()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def observer(aws_clients: clients.AwsClients) -> observing.GetFunctionObserver:
    return observing.GetFunctionObserver(functions.LambdaFunctions(aws_clients, budgets.RequestBudgets()))


def configuration(name: str = "payments") -> dict[str, Any]:
    return {
        "FunctionName": name,
        "FunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
        "State": "Active",
        "LastUpdateStatus": "Successful",
    }


async def test_concurrent_observations_share_one_request(
    observer: observing.GetFunctionObserver, stub: Stubber, calls: metrics.CallCounter
) -> None:
    stub.add_response("get_function", {"Configuration": configuration()})  # one answer only
    results = await asyncio.gather(*(observer.observe(REF) for _ in range(5)))
    assert len({id(result) for result in results}) == 1
    assert calls.total("lambda", "GetFunction") == 1


async def test_names_of_one_function_share_one_request(
    observer: observing.GetFunctionObserver, stub: Stubber, calls: metrics.CallCounter
) -> None:
    stub.add_response("get_function", {"Configuration": configuration()})
    await asyncio.gather(observer.observe(REF), observer.observe(FunctionRef("payments")))
    assert calls.total("lambda", "GetFunction") == 1


async def test_different_functions_are_read_separately(
    observer: observing.GetFunctionObserver, stub: Stubber, calls: metrics.CallCounter
) -> None:
    stub.add_response("get_function", {"Configuration": configuration("a")}, {"FunctionName": "a"})
    stub.add_response("get_function", {"Configuration": configuration("b")}, {"FunctionName": "b"})
    a, b = await asyncio.gather(
        observer.observe(FunctionRef("a", REGION)), observer.observe(FunctionRef("b", REGION))
    )
    assert (a and a.name, b and b.name) == ("a", "b")
    assert calls.total("lambda", "GetFunction") == 2


async def test_later_observations_read_again(
    observer: observing.GetFunctionObserver, stub: Stubber, calls: metrics.CallCounter
) -> None:
    stub.add_response("get_function", {"Configuration": configuration()})
    stub.add_response("get_function", {"Configuration": configuration()})
    await observer.observe(REF)
    await observer.observe(REF)
    assert calls.total("lambda", "GetFunction") == 2


async def test_missing_function_is_none(observer: observing.GetFunctionObserver, stub: Stubber) -> None:
    stub.add_client_error("get_function", "ResourceNotFoundException", "Function not found", 404)
    assert await observer.observe(REF) is None


async def test_other_failures_reach_every_caller(
    observer: observing.GetFunctionObserver, stub: Stubber
) -> None:
    stub.add_client_error("get_function", "AccessDeniedException", "not allowed", 403)
    results = await asyncio.gather(observer.observe(REF), observer.observe(REF), return_exceptions=True)
    assert all(isinstance(result, errors.AccessDenied) for result in results)


class SlowFunctions:
    """Stands in for LambdaFunctions: get() waits until the test releases it."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.requests = 0

    def region_of(self, ref: FunctionRef) -> str:
        return ref.region or REGION

    async def get(self, ref: FunctionRef) -> FunctionObservation:
        self.requests += 1
        await self.released.wait()
        return FunctionObservation(
            ref.name, "arn", VpcSettings(), None, None, None, None, None, None, None, None
        )


async def test_one_caller_giving_up_does_not_cancel_the_others() -> None:
    slow = SlowFunctions()
    observer = observing.GetFunctionObserver(slow)  # type: ignore[arg-type]
    impatient = asyncio.create_task(observer.observe(REF))
    patient = asyncio.create_task(observer.observe(REF))
    await asyncio.sleep(0)
    impatient.cancel()
    await asyncio.sleep(0)
    slow.released.set()
    observation = await patient
    assert observation is not None and observation.name == "payments"
    assert slow.requests == 1


async def test_a_shared_request_never_leaves_a_failed_task(
    observer: observing.GetFunctionObserver, stub: Stubber
) -> None:
    """kopf re-raises the exception of every task left when it stops (run_tasks' "hung" tasks): a
    shared read that failed while its caller was being cancelled made a graceful stop crash. The
    task holds the error as its value; callers still get it raised."""
    stub.add_client_error("get_function", "ServiceException", "Internal error", 500)
    stub.add_client_error("get_function", "ServiceException", "Internal error", 500)
    caller = asyncio.create_task(observer.observe(REF))
    while not observer._in_flight.tasks():
        await asyncio.sleep(0)
    shared = observer._in_flight.tasks()[0]
    caller.cancel()
    await asyncio.wait([shared])
    assert shared.exception() is None  # what kopf's reraise reads
    assert isinstance(shared.result().error, errors.AwsError)
    with pytest.raises(errors.AwsError):
        await observer.observe(REF)  # a caller that waits gets the error itself
