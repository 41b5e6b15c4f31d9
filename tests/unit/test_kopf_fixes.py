"""handlers.kopf_fixes: a kopf watcher or worker that ends releases its indexing hold; kopf reads objects
without their managedFields."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from kopf._cogs.aiokits import aiotoggles
from kopf._cogs.clients import api
from kopf._core.reactor import queueing

from lambda_vpc_operator.handlers import kopf_fixes


def test_installs_on_the_pinned_kopf_once() -> None:
    assert kopf_fixes.install()
    watcher = queueing.watcher
    assert kopf_fixes.install()
    assert queueing.watcher is watcher  # not wrapped twice


def test_a_cancelled_coroutine_releases_its_hold() -> None:
    async def main() -> tuple[bool, bool]:
        holds = aiotoggles.ToggleSet(all)
        hold = await holds.make_toggle(name="attachments@doomed")  # off until the first list is done

        async def lists_for_ever(**_: object) -> None:
            await asyncio.Event().wait()

        task = asyncio.create_task(kopf_fixes._releasing(lists_for_ever)(operator_indexed=holds, resource_indexed=hold))
        await asyncio.sleep(0)
        before = holds.is_on()
        task.cancel()  # kopf stopping the watcher of a deleted namespace
        await asyncio.gather(task, return_exceptions=True)
        return before, holds.is_on()

    assert asyncio.run(main()) == (False, True)


def test_a_coroutine_without_holds_is_left_as_it_was() -> None:
    async def main() -> str:
        async def returns(**_: object) -> None:
            return None

        await kopf_fixes._releasing(returns)(operator_indexed=None, resource_indexed=None)
        return "ok"

    assert asyncio.run(main()) == "ok"


def _object(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]}}


def test_managed_fields_are_dropped_from_watch_events_lists_and_objects() -> None:
    event = kopf_fixes.without_managed_fields({"type": "MODIFIED", "object": _object("a")})
    assert event == {"type": "MODIFIED", "object": {"metadata": {"name": "a"}}}
    listed = kopf_fixes.without_managed_fields(
        {"metadata": {"resourceVersion": "7"}, "items": [_object("a"), _object("b")]}
    )
    assert listed == {
        "metadata": {"resourceVersion": "7"},
        "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}],
    }
    assert kopf_fixes.without_managed_fields(_object("c")) == {"metadata": {"name": "c"}}
    # What is not an object passes as it came (an ERROR event's Status, a non-JSON answer).
    assert kopf_fixes.without_managed_fields({"type": "ERROR", "object": {"code": 410}}) == {
        "type": "ERROR",
        "object": {"code": 410},
    }
    assert kopf_fixes.without_managed_fields("not json") == "not json"


def test_kopf_reads_lists_and_watches_without_managed_fields_once_installed() -> None:
    assert kopf_fixes.install()
    stream, get = api.stream, api.get
    assert kopf_fixes.install()
    assert (api.stream, api.get) == (stream, get)  # wrapped once
    assert (stream.__code__.co_name, get.__code__.co_name) == ("streaming", "getting")  # ours, around kopf's

    async def events(*args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"type": "ADDED", "object": _object("a")}
        yield {"type": "DELETED", "object": _object("b")}

    async def listing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"items": [_object("a")]}

    async def read() -> tuple[list[Any], Any]:
        streamed = [e async for e in kopf_fixes._streaming_without_managed_fields(events)(url="/x")]
        return streamed, await kopf_fixes._getting_without_managed_fields(listing)(url="/x")

    streamed, listed = asyncio.run(read())
    assert [e["object"] for e in streamed] == [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]
    assert listed == {"items": [{"metadata": {"name": "a"}}]}
