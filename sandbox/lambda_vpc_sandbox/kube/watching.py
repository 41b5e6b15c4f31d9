"""Streaming watch events: one JSON object per line, as kopf, kubectl -w and the client expect.

A watch subscribes to its resource and takes its starting point in the same synchronous step, so no
event can fall between a list and the watch that continues from the list's resourceVersion:

- ``resourceVersion`` absent or ``"0"`` (or ``sendInitialEvents=true``): a synthetic ADDED per
  current object, then live events;
- any other resourceVersion: the kept events after it, then live ones; if those events are no
  longer kept, a single ERROR event with a 410 ``Expired`` Status, as real servers send it.

Label selectors follow the object across changes: an object that starts matching arrives as ADDED,
one that stops matching as DELETED. ``timeoutSeconds`` ends the stream; ``allowWatchBookmarks``
adds BOOKMARK events while idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp.web

from lambda_vpc_sandbox.kube import errors, resources, store

Obj = dict[str, Any]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
_STALL_POLL = 0.2  # seconds between checks whether a stalled watch's client is gone


@dataclasses.dataclass(frozen=True)
class WatchRequest:
    resource: resources.Resource
    namespace: str | None
    predicate: Callable[[Obj], bool]
    resource_version: str | None
    send_initial_events: bool
    allow_bookmarks: bool
    timeout: float | None  # seconds, from timeoutSeconds
    bookmark_interval: float
    present: Callable[[Obj], Obj]  # the object as this client asked to see it (version, Table)
    # Injected faults (`faults`): an ERROR 410 at once; the connection cut ``drop_after`` seconds
    # in; or silence (for ``stall_seconds``, else until the client goes away).
    expire: bool = False
    drop_after: float | None = None
    stall: bool = False
    stall_seconds: float | None = None


def _matches(watch: WatchRequest, obj: Obj | None) -> bool:
    if obj is None:
        return False
    if watch.namespace is not None and obj["metadata"].get("namespace") != watch.namespace:
        return False
    return watch.predicate(obj)


def _as_seen(watch: WatchRequest, event: store.Event) -> tuple[str, Obj] | None:
    """The event as this watch sees it through its filters (ADDED/DELETED at selector boundaries)."""
    now = _matches(watch, event.obj)
    if event.type is store.EventType.DELETED:
        return ("DELETED", event.obj) if now else None
    before = _matches(watch, event.old)
    if now and before:
        return ("MODIFIED", event.obj)
    if now:
        return ("ADDED", event.obj)
    if before:
        return ("DELETED", event.obj)
    return None


def _bookmark(watch: WatchRequest, rv: int, *, initial_end: bool = False) -> Obj:
    metadata: Obj = {"resourceVersion": str(rv)}
    if initial_end:
        metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {
        "type": "BOOKMARK",
        "object": {
            "kind": watch.resource.kind,
            "apiVersion": watch.resource.api_version,
            "metadata": metadata,
        },
    }


def _line(watch: WatchRequest, kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": watch.present(obj)}).encode() + b"\n"


async def serve(
    request: aiohttp.web.BaseRequest, data: store.Store, watch: WatchRequest
) -> aiohttp.web.StreamResponse:
    key = watch.resource.storage_key
    rv = watch.resource_version
    initial: list[bytes] = []
    expired: errors.Expired | None = None

    if watch.stall:
        return await _stall(request, data, watch)
    # No awaits from here to the subscription: nothing can change the store in between.
    if watch.expire:
        expired = errors.Expired(f"too old resource version: {rv or data.rv} ({data.rv})")
    elif rv and rv != "0" and not watch.send_initial_events:
        try:
            since = int(rv)
        except ValueError:
            raise errors.BadRequest(f'invalid resource version "{rv}"') from None
        events = data.bucket(key).events_after(since)
        if events is None:
            expired = errors.Expired(f"too old resource version: {since} ({data.bucket(key).expired_rv})")
        else:
            for event in events:
                seen = _as_seen(watch, event)
                if seen is not None:
                    initial.append(_line(watch, *seen))
    else:
        current = sorted(
            (obj for obj in data.iter_objects(key) if _matches(watch, obj)),
            key=lambda obj: (obj["metadata"].get("namespace", ""), obj["metadata"]["name"]),
        )
        initial.extend(_line(watch, "ADDED", obj) for obj in current)
        if watch.send_initial_events and watch.allow_bookmarks:
            initial.append(json.dumps(_bookmark(watch, data.rv, initial_end=True)).encode() + b"\n")
    subscription = data.subscribe(key) if expired is None else None

    response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        if expired is not None:
            await response.write(
                json.dumps({"type": "ERROR", "object": expired.as_status()}).encode() + b"\n"
            )
            await response.write_eof()
            return response
        if initial:
            await response.write(b"".join(initial))
        assert subscription is not None
        if watch.drop_after is not None:
            try:
                await asyncio.wait_for(_follow(response, data, watch, subscription), watch.drop_after)
            except TimeoutError:
                _cut(request)
                return response
        else:
            await _follow(response, data, watch, subscription)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away: nothing more to send (cancellation propagates as usual)
    finally:
        if subscription is not None:
            data.unsubscribe(key, subscription)
    return response


def _cut(request: aiohttp.web.BaseRequest) -> None:
    """Close the connection mid-stream, no final chunk: the client sees the body end too early."""
    if request.transport is not None:
        request.transport.close()


async def _stall(
    request: aiohttp.web.BaseRequest, data: store.Store, watch: WatchRequest
) -> aiohttp.web.StreamResponse:
    """A zombie watch: headers, then nothing (not even BOOKMARKs or the end at timeoutSeconds).
    Nothing is subscribed, so nothing piles up; the stream ends when the client goes away, the
    server stops, or ``stall_seconds`` pass (then cut, as a dead connection finally reset)."""
    response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
    except ConnectionResetError:
        return response
    deadline = None if watch.stall_seconds is None else time.monotonic() + watch.stall_seconds
    while request.transport is not None and not request.transport.is_closing() and not data.closed:
        if deadline is not None and time.monotonic() >= deadline:
            _cut(request)
            break
        await asyncio.sleep(_STALL_POLL)
    return response


async def _follow(
    response: aiohttp.web.StreamResponse,
    data: store.Store,
    watch: WatchRequest,
    subscription: store.Subscription,
) -> None:
    """Stream the subscription's events until the watch ends or the client goes away. Under a drop
    fault this runs as the task of ``asyncio.wait_for``: a write to the cut connection must end it
    quietly, not leave a task whose exception nobody retrieves."""
    # aiohttp's ClientConnectionResetError is a ConnectionResetError: the transport is closing.
    with contextlib.suppress(ConnectionResetError):
        await _stream(response, data, watch, subscription)


async def _stream(
    response: aiohttp.web.StreamResponse,
    data: store.Store,
    watch: WatchRequest,
    subscription: store.Subscription,
) -> None:
    deadline = None if watch.timeout is None else time.monotonic() + watch.timeout
    while True:
        wait = watch.bookmark_interval if watch.allow_bookmarks else None
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            wait = remaining if wait is None else min(wait, remaining)
        try:
            event = await asyncio.wait_for(subscription.queue.get(), timeout=wait)
        except TimeoutError:
            if watch.allow_bookmarks and subscription.queue.empty():
                await response.write(json.dumps(_bookmark(watch, data.rv)).encode() + b"\n")
            continue
        if event is None:  # the resource is gone or the server stops
            return
        lines = []
        seen = _as_seen(watch, event)
        if seen is not None:
            lines.append(_line(watch, *seen))
        # Drain what else is queued already: fewer writes under bursts.
        while not subscription.queue.empty():
            more = subscription.queue.get_nowait()
            if more is None:
                if lines:
                    await response.write(b"".join(lines))
                return
            seen = _as_seen(watch, more)
            if seen is not None:
                lines.append(_line(watch, *seen))
        if lines:
            await response.write(b"".join(lines))
