"""A fix to kopf (1.45.2) that keeps one deleted namespace from freezing the whole operator.

kopf holds every event until each watcher of an indexed resource (ours: attachments, policies,
namespaces) has finished its first list, and each object's first event has been indexed: a hold
("toggle") per watcher and per such object, released when the list, or the indexing, is done. When
a namespace matching ``--namespace`` is deleted, kopf stops that namespace's watcher and cancels its
per-object workers, but never releases their holds. A namespace deleted before the first list of its
attachments came back (a test's namespace, a preview environment, any namespace made and removed in
a second) therefore left a hold in place for ever: from then on no event anywhere was handled, and
nothing said so (tests/e2e/test_namespace_churn.py; found in CI).

The fix: a watcher or worker that ends, whatever the reason, releases its hold. Releasing is
idempotent (kopf releases it itself on the normal path), and a stopped watcher has nothing left to
wait for. ``install()`` wraps kopf's two coroutines in place; it checks their signatures first and
leaves kopf alone, with a warning, if they are not the ones this was written against.

Also here, as it reaches into kopf the same way: ``paused()``, kopf's own "this replica is paused"
(a peer with a higher priority is active), which kopf tells its daemons and no handler. Our looks
run in one scheduler (handlers.looks), not in kopf daemons, so they ask: ``install()`` wraps kopf's
daemon killer, the root task kopf hands the pause toggles to, to keep a reference to them.

And a saving: kopf reads whole objects, ``metadata.managedFields`` included (server-side apply's
record of who set which field, often the biggest part of an object), and holds each parsed event
while it waits for its object's worker: at 5,000 attachments converging, thousands at once. Neither
kopf nor a look reads it, so ``install()`` drops it from every list and watch answer as it is parsed,
what controller-runtime's ``cache.TransformStripManagedFields`` does for Go controllers.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from kopf._cogs.clients import api
from kopf._core.engines import daemons, posting
from kopf._core.reactor import queueing

logger = logging.getLogger(__name__)

_HOLDS = ("operator_indexed", "resource_indexed")
_MARK = "_lambda_vpc_operator_releases_holds"
_PAUSE: list[Any] = []  # kopf's operator_paused toggles, once kopf has started its daemon killer


_POSTING: list[tuple[Any, Any]] = []  # kopf's Event queue and its loop, as a handler sees them


def keep_event_queue() -> None:
    """From inside a kopf handler: remember where kopf.event() puts Events (kopf sets it per object)."""
    if not _POSTING:
        _POSTING.append((posting.event_queue_var.get(), posting.event_queue_loop_var.get()))


def use_event_queue() -> None:
    """In a task kopf did not start (a scheduled look): let kopf.event() reach kopf's Event poster."""
    if _POSTING:
        queue, loop = _POSTING[0]
        posting.event_queue_var.set(queue)
        posting.event_queue_loop_var.set(loop)


def paused() -> bool:
    """kopf has paused this replica (peering): no look may run. False before kopf has started."""
    return bool(_PAUSE) and bool(_PAUSE[-1].is_on())


def install() -> bool:
    """Wrap kopf's watcher and worker (once); False if kopf's shape is not the expected one."""
    if getattr(queueing.watcher, _MARK, False):
        return True
    targets: dict[str, Callable[..., Any]] = {"watcher": queueing.watcher, "worker": queueing.worker}
    for name, coroutine in targets.items():
        parameters = inspect.signature(coroutine).parameters
        if not all(hold in parameters for hold in _HOLDS):
            logger.warning("kopf's queueing.%s has changed shape: the fix for holds left by deleted namespaces "
                           "is not installed (handlers/kopf_fixes.py)", name)  # fmt: skip
            return False
    if "operator_paused" not in inspect.signature(daemons.daemon_killer).parameters:
        logger.warning("kopf's daemon_killer has changed shape: looks cannot see kopf's peering pause "
                       "(handlers/kopf_fixes.py); run one replica")  # fmt: skip
        return False
    if inspect.isasyncgenfunction(api.stream) and inspect.iscoroutinefunction(api.get):
        api.stream = _streaming_without_managed_fields(api.stream)  # type: ignore[assignment]
        api.get = _getting_without_managed_fields(api.get)  # type: ignore[assignment]
    else:
        logger.warning("kopf's api.stream or api.get has changed shape: objects are kept with their "
                       "managedFields (handlers/kopf_fixes.py), which costs memory, nothing else")  # fmt: skip
    queueing.watcher = _releasing(queueing.watcher)  # type: ignore[assignment]
    queueing.worker = _releasing(queueing.worker)  # type: ignore[assignment]
    daemons.daemon_killer = _keeping_pause(daemons.daemon_killer)  # type: ignore[assignment]
    return True


def without_managed_fields(answer: Any) -> Any:
    """A list, watch event or object answer, its objects' ``metadata.managedFields`` dropped in place."""
    if isinstance(answer, dict):
        items = answer.get("items")
        objects: list[Any] = items if isinstance(items, list) else [answer.get("object"), answer]
        for obj in objects:
            metadata = obj.get("metadata") if isinstance(obj, dict) else None
            if isinstance(metadata, dict):
                metadata.pop("managedFields", None)
    return answer


def _streaming_without_managed_fields(stream: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(stream)
    async def streaming(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for event in stream(*args, **kwargs):
            yield without_managed_fields(event)

    return streaming


def _getting_without_managed_fields(
    get: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(get)
    async def getting(*args: Any, **kwargs: Any) -> Any:
        return without_managed_fields(await get(*args, **kwargs))

    return getting


def _keeping_pause(killer: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., Coroutine[Any, Any, None]]:
    @functools.wraps(killer)
    async def keeping(*args: Any, **kwargs: Any) -> None:
        _PAUSE.append(kwargs["operator_paused"])
        try:
            await killer(*args, **kwargs)
        finally:
            _PAUSE.remove(kwargs["operator_paused"])

    return keeping


def _releasing(coroutine: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., Coroutine[Any, Any, None]]:
    @functools.wraps(coroutine)
    async def releasing(*args: Any, **kwargs: Any) -> None:
        try:
            await coroutine(*args, **kwargs)
        finally:
            holds, hold = kwargs.get("operator_indexed"), kwargs.get("resource_indexed")
            if holds is not None and hold is not None:
                # Shielded: this runs while the task is being cancelled (its namespace went away).
                await asyncio.shield(holds.drop_toggle(hold))

    setattr(releasing, _MARK, True)
    return releasing
