"""Sending one AWS request: the budget, the worker thread, error translation and the count.

boto3 blocks, so every request runs in a worker thread (``asyncio.to_thread``) and the event loop
keeps serving other attachments. Every call site goes through here so that each request is metered
by its budget, counted in ``metrics.calls``, and fails only with ``errors.AwsError``; a throttle
pauses the budget for Retry-After, for every caller at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from typing import Any

from botocore import xform_name

from lambda_vpc_operator.aws import budgets, errors, metrics

# Invokes in RequestResponse mode (keep-warm, reactivation) hold their thread while the function
# runs, up to its timeout of 15 minutes: they get these threads of their own, never the loop's
# default executor that every look's GetFunction and every status write use.
INVOKE_THREADS = 8
INVOKES = concurrent.futures.ThreadPoolExecutor(max_workers=INVOKE_THREADS, thread_name_prefix="invoke")


async def call(
    client: Any,
    operation: str,
    budget: budgets.RequestBudget | None = None,
    executor: concurrent.futures.Executor | None = None,
    /,
    **params: Any,
) -> dict[str, Any]:
    """Send ``operation`` (its AWS name, e.g. "GetFunction") with ``params``; return the response.

    ``executor``: the threads to block (None: the loop's default executor).
    """
    service = _service(client)
    method = getattr(client, xform_name(operation))
    if budget is not None:
        await budget.acquire()
    try:
        with errors.translating():
            if executor is None:
                response: dict[str, Any] = await asyncio.to_thread(method, **params)
            else:
                response = await asyncio.get_running_loop().run_in_executor(
                    executor, functools.partial(method, **params)
                )
    except errors.AwsError as exc:
        _record_failure(service, operation, exc, budget)
        raise
    metrics.calls.count(service, operation)
    return response


async def call_pages(client: Any, operation: str, /, **params: Any) -> list[dict[str, Any]]:
    """Send a paginated ``operation`` through botocore's paginator; return every page.

    The pages are read in one worker thread, so no budget meters them: use this for services whose
    limits we do not meter (EC2), with filters that keep the result to a page or two.
    """
    service = _service(client)

    def reading() -> list[dict[str, Any]]:
        # In the translated block: the paginator raises botocore's errors too (e.g. a bad token).
        paginator = client.get_paginator(xform_name(operation))
        pages: list[dict[str, Any]] = []
        for page in paginator.paginate(**params):
            metrics.calls.count(service, operation)
            pages.append(page)
        return pages

    try:
        with errors.translating():
            return await asyncio.to_thread(reading)
    except errors.AwsError as exc:
        _record_failure(service, operation, exc, None)
        raise


def _service(client: Any) -> str:
    return str(client.meta.service_model.service_name)


def _record_failure(
    service: str, operation: str, exc: errors.AwsError, budget: budgets.RequestBudget | None
) -> None:
    metrics.calls.count(service, operation, exc.failure.kind.value)
    if isinstance(exc, errors.Throttled):
        # Per budget; requests no budget meters (EC2) are counted under their service.
        metrics.budgets.throttled(budget.name if budget is not None and budget.name else service, _region(budget))
    if budget is not None and isinstance(exc, errors.Throttled):
        budget.pause(exc.retry_after)


def _region(budget: budgets.RequestBudget | None) -> str:
    return budget.region if budget is not None else ""
