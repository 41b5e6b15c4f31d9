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
from collections.abc import Callable
from typing import Any, TypeVar

from botocore import xform_name

from lambda_vpc_operator.aws import budgets, errors, metrics

T = TypeVar("T")

# Invokes in RequestResponse mode (keep-warm, reactivation) hold their thread while the function
# runs, up to its timeout of 15 minutes: they get these threads of their own, never the loop's
# default executor that every look's GetFunction and every status write use.
INVOKE_THREADS = 8
INVOKES = concurrent.futures.ThreadPoolExecutor(max_workers=INVOKE_THREADS, thread_name_prefix="invoke")
# EC2's continuation token (botocore ec2 paginators: input and output "NextToken").
NEXT_TOKEN = "NextToken"


async def call(
    client: Any,
    operation: str,
    budget: budgets.RequestBudget | None = None,
    executor: concurrent.futures.Executor | None = None,
    /,
    *,
    priority: budgets.Priority = budgets.Priority.SPEC_CHANGE,
    ticket: budgets.Ticket | None = None,
    **params: Any,
) -> dict[str, Any]:
    """Send ``operation`` (its AWS name, e.g. "GetFunction") with ``params``; return the response.

    ``executor``: the threads to block (None: the loop's default executor); ``priority``: why we
    send it, which orders the waiters of the budget; ``ticket``: a place in its queue the caller
    kept while it slept (``budgets.Ticket``), spent here if granted (AWS parameter names are
    capitalised, so they never collide with these).
    """
    service = _service(client)
    method = getattr(client, xform_name(operation))
    if budget is not None:
        await budget.acquire(priority, ticket)
    send = functools.partial(_sent, budget, functools.partial(method, **params))
    try:
        with errors.translating():
            if executor is None:
                response: dict[str, Any] = await asyncio.to_thread(send)
            else:
                response = await asyncio.get_running_loop().run_in_executor(executor, send)
    except errors.AwsError as exc:
        _record_failure(service, operation, exc, budget)
        raise
    metrics.calls.count(service, operation)
    return response


async def call_pages(
    client: Any,
    operation: str,
    /,
    *,
    budget: budgets.RequestBudget | None = None,
    priority: budgets.Priority = budgets.Priority.SPEC_CHANGE,
    **params: Any,
) -> list[dict[str, Any]]:
    """Send a paginated ``operation`` through botocore's paginator; return every page.

    Each page is one request, read in a worker thread. With a ``budget`` (EC2's Describe*), each
    takes a token first, and a throttle pauses the budget, as for ``call``; a page without EC2's
    ``NextToken`` is the last one, so no token is taken for a request that is never sent.
    """
    service = _service(client)
    try:
        # In the translated block: the paginator raises botocore's errors too (e.g. a bad token).
        with errors.translating():
            pages_left = iter(client.get_paginator(xform_name(operation)).paginate(**params))
        pages: list[dict[str, Any]] = []
        while not pages or budget is None or pages[-1].get(NEXT_TOKEN):
            if budget is not None:
                await budget.acquire(priority)
            with errors.translating():
                page = await asyncio.to_thread(_sent, budget, functools.partial(next, pages_left, None))
            if page is None:
                break
            metrics.calls.count(service, operation)
            pages.append(page)
        return pages
    except errors.AwsError as exc:
        _record_failure(service, operation, exc, budget)
        raise


def _sent(budget: budgets.RequestBudget | None, send: Callable[[], T]) -> T:
    """In the worker thread: keep the budget's pace (``budgets.SendPacer``), then send."""
    if budget is not None:
        budget.pace()
    return send()


def _service(client: Any) -> str:
    return str(client.meta.service_model.service_name)


def _record_failure(
    service: str, operation: str, exc: errors.AwsError, budget: budgets.RequestBudget | None
) -> None:
    metrics.calls.count(service, operation, exc.failure.kind.value)
    if isinstance(exc, errors.Throttled):
        # Per budget; requests no budget meters (IAM, STS) are counted under their service.
        metrics.budgets.throttled(budget.name if budget is not None and budget.name else service, _region(budget))
    if budget is not None and isinstance(exc, errors.Throttled):
        budget.pause(exc.retry_after)


def _region(budget: budgets.RequestBudget | None) -> str:
    return budget.region if budget is not None else ""
