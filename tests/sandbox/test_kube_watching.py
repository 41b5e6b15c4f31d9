"""Watch streams of the Kubernetes API emulator: resumption, 410, bookmarks, and no spurious events.

Runs the emulator in the test's own event loop (`KubeEmulator.serving`) and reads the streams with
aiohttp, line by line, as kopf does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from lambda_vpc_sandbox.kube import KubeEmulator

GROUP = "lambdavpc.example.com"
PLURAL = "lambdavpcattachments"
BASE = f"/apis/{GROUP}/v1alpha1"
COLLECTION = f"{BASE}/namespaces/default/{PLURAL}"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
EVENT_TIMEOUT = 5.0  # seconds to wait for one expected event


class Api:
    """A tiny async client of the emulator for these tests."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def request(self, method: str, path: str, body: Any = None, headers: Any = None) -> Any:
        async with self.session.request(method, self.url + path, json=body, headers=headers) as response:
            payload = await response.json(content_type=None)
            assert response.status < 300, payload
            return payload

    async def create(self, name: str, **metadata: Any) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "LambdaVpcAttachment",
            "metadata": {"name": name, **metadata},
            "spec": {"functionName": "fn"},
        }
        result: dict[str, Any] = await self.request("POST", COLLECTION, body)
        return result

    async def patch(self, name: str, patch: Any, *, json_patch: bool = False) -> dict[str, Any]:
        headers = JSON_PATCH if json_patch else MERGE
        result: dict[str, Any] = await self.request("PATCH", f"{COLLECTION}/{name}", patch, headers)
        return result


class Stream:
    """An open watch stream; `next()` returns the next event or fails after a deadline."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> dict[str, Any]:
        line = await asyncio.wait_for(self.response.content.readline(), EVENT_TIMEOUT)
        assert line, "the stream ended"
        event: dict[str, Any] = json.loads(line)
        return event

    async def rest(self) -> list[dict[str, Any]]:
        """All remaining events until the server ends the stream."""
        data = await asyncio.wait_for(self.response.content.read(), EVENT_TIMEOUT)
        return [json.loads(line) for line in data.splitlines() if line.strip()]


@pytest.fixture
async def emulator(kube_crd: dict[str, Any]) -> AsyncIterator[tuple[KubeEmulator, str]]:
    emulator = KubeEmulator(history_size=50, bookmark_interval=0.1)
    emulator.install_crd(kube_crd)
    async with emulator, emulator.serving() as url:
        yield emulator, url


@pytest.fixture
async def api(emulator: tuple[KubeEmulator, str]) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, emulator[1])


@contextlib.asynccontextmanager
async def watching(api: Api, query: str = "", path: str = COLLECTION) -> AsyncIterator[Stream]:
    async with api.session.get(f"{api.url}{path}?watch=true&{query}") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        yield Stream(response)


def _summary(event: dict[str, Any]) -> tuple[str, str]:
    return event["type"], event["object"]["metadata"].get("name", "")


async def test_watch_without_resource_version_starts_with_current_objects(api: Api) -> None:
    await api.create("a")
    await api.create("b")
    async with watching(api) as stream:
        assert [_summary(await stream.next()) for _ in range(2)] == [("ADDED", "a"), ("ADDED", "b")]
        await api.create("c")
        assert _summary(await stream.next()) == ("ADDED", "c")


async def test_watch_from_zero_is_the_same_as_none(api: Api) -> None:
    await api.create("a")
    async with watching(api, "resourceVersion=0") as stream:
        assert _summary(await stream.next()) == ("ADDED", "a")


async def test_watch_resumes_from_a_list_without_losing_events(api: Api) -> None:
    await api.create("before")
    listed = await api.request("GET", COLLECTION)
    list_rv = listed["metadata"]["resourceVersion"]
    # Changes that happen between the list and the watch must not be lost (nor repeated).
    await api.create("between")
    await api.patch("before", {"spec": {"functionName": "changed"}})
    async with watching(api, f"resourceVersion={list_rv}") as stream:
        first, second = await stream.next(), await stream.next()
        assert [_summary(first), _summary(second)] == [("ADDED", "between"), ("MODIFIED", "before")]
        assert first["object"]["apiVersion"] == f"{GROUP}/v1alpha1"
        await api.create("after")
        assert _summary(await stream.next()) == ("ADDED", "after")


async def test_watch_from_an_expired_resource_version_is_410(api: Api) -> None:
    created = await api.create("old")
    old_rv = int(created["metadata"]["resourceVersion"])
    for index in range(60):  # more than the history of 50 events
        await api.patch("old", {"metadata": {"labels": {"n": str(index)}}})
    async with watching(api, f"resourceVersion={old_rv - 1}") as stream:
        event = await stream.next()
        assert event["type"] == "ERROR"
        status = event["object"]
        assert status["kind"] == "Status"
        assert status["code"] == 410
        assert status["reason"] == "Expired"
        assert status["message"].startswith(f"too old resource version: {old_rv - 1} (")
        assert await stream.rest() == []  # and the stream ends


async def test_timeout_seconds_ends_the_stream(api: Api) -> None:
    await api.create("a")
    async with watching(api, "timeoutSeconds=1") as stream:
        events = await stream.rest()
    assert [_summary(event) for event in events] == [("ADDED", "a")]


async def test_bookmarks_when_allowed(api: Api) -> None:
    created = await api.create("a")
    async with watching(api, "allowWatchBookmarks=true") as stream:
        assert _summary(await stream.next()) == ("ADDED", "a")
        bookmark = await stream.next()
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["kind"] == "LambdaVpcAttachment"
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(
        created["metadata"]["resourceVersion"]
    )


async def test_send_initial_events_ends_with_a_marked_bookmark(api: Api) -> None:
    await api.create("a")
    query = "sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
    async with watching(api, query) as stream:
        assert _summary(await stream.next()) == ("ADDED", "a")
        bookmark = await stream.next()
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_no_op_writes_emit_no_events(api: Api) -> None:
    created = await api.create("noop", labels={"a": "b"})
    rv = created["metadata"]["resourceVersion"]
    async with watching(api, f"resourceVersion={rv}") as stream:
        same = await api.patch("noop", {"metadata": {"labels": {"a": "b"}}})
        ignored = await api.patch("noop", {"status": {"phase": "ignored-on-main-resource"}})
        assert same["metadata"]["resourceVersion"] == rv
        assert ignored["metadata"]["resourceVersion"] == rv
        await api.create("marker")
        assert _summary(await stream.next()) == ("ADDED", "marker")  # nothing came before it


async def test_finalizer_removal_emits_exactly_one_deleted(api: Api) -> None:
    created = await api.create("fin", finalizers=["example.com/f"])
    async with watching(api, f"resourceVersion={created['metadata']['resourceVersion']}") as stream:
        await api.request("DELETE", f"{COLLECTION}/fin")
        marked = await stream.next()
        assert _summary(marked) == ("MODIFIED", "fin")
        assert marked["object"]["metadata"]["deletionTimestamp"]

        # As kopf does it: a JSON patch guarded by a test of the resourceVersion.
        rv = marked["object"]["metadata"]["resourceVersion"]
        ops = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "remove", "path": "/metadata/finalizers"},
        ]
        await api.patch("fin", ops, json_patch=True)
        deleted = await stream.next()
        assert _summary(deleted) == ("DELETED", "fin")
        assert int(deleted["object"]["metadata"]["resourceVersion"]) > int(rv)

        await api.create("marker")
        assert _summary(await stream.next()) == ("ADDED", "marker")  # no second DELETED, no MODIFIED
    assert (await api.session.get(f"{api.url}{COLLECTION}/fin")).status == 404


async def test_label_selector_watch_follows_objects_in_and_out(api: Api) -> None:
    await api.create("x", labels={"watched": "yes"})
    async with watching(api, "labelSelector=watched%3Dyes") as stream:
        assert _summary(await stream.next()) == ("ADDED", "x")
        await api.create("ignored", labels={"watched": "no"})
        await api.patch("x", {"metadata": {"labels": {"watched": "no"}}})
        assert _summary(await stream.next()) == ("DELETED", "x")
        await api.patch("ignored", {"metadata": {"labels": {"watched": "yes"}}})
        assert _summary(await stream.next()) == ("ADDED", "ignored")


async def test_watch_of_a_namespace_and_across_namespaces(api: Api) -> None:
    await api.request("POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
    async with watching(api, "", f"{BASE}/{PLURAL}") as everywhere, watching(api) as default_only:
        body = {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "LambdaVpcAttachment",
            "metadata": {"name": "o"},
            "spec": {"functionName": "fn"},
        }
        await api.request("POST", f"{BASE}/namespaces/other/{PLURAL}", body)
        await api.create("d")
        assert _summary(await everywhere.next()) == ("ADDED", "o")
        assert _summary(await everywhere.next()) == ("ADDED", "d")
        assert _summary(await default_only.next()) == ("ADDED", "d")


async def test_watch_ends_when_its_crd_is_deleted(api: Api) -> None:
    await api.create("a")
    async with watching(api, "resourceVersion=0") as stream:
        assert _summary(await stream.next()) == ("ADDED", "a")
        await api.request(
            "DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{PLURAL}.{GROUP}"
        )
        assert [_summary(event) for event in await stream.rest()] == [("DELETED", "a")]


async def test_watch_of_tables_for_kubectl(api: Api) -> None:
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    await api.create("t")
    async with api.session.get(f"{api.url}{COLLECTION}?watch=true", headers=accept) as response:
        event = json.loads(await asyncio.wait_for(response.content.readline(), EVENT_TIMEOUT))
    assert event["type"] == "ADDED"
    assert event["object"]["kind"] == "Table"
    assert event["object"]["rows"][0]["cells"][:2] == ["t", "fn"]


async def test_many_watchers_and_writers(emulator: tuple[KubeEmulator, str], api: Api) -> None:
    """Concurrent writes reach every watcher in resourceVersion order."""
    async with contextlib.AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(watching(api, "resourceVersion=0")) for _ in range(5)]
        await asyncio.gather(*(api.create(f"obj-{i}") for i in range(20)))
        for stream in streams:
            events = [await stream.next() for _ in range(20)]
            versions = [int(event["object"]["metadata"]["resourceVersion"]) for event in events]
            assert versions == sorted(versions)
            assert {_summary(event)[1] for event in events} == {f"obj-{i}" for i in range(20)}
        emulator[0].close_watches()  # ends the streams at once, as a shutdown does


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"{COLLECTION}?watch=1", id="watch=1"),
        pytest.param(f"{BASE}/watch/namespaces/default/{PLURAL}", id="legacy-watch-prefix"),
        pytest.param(f"{BASE}/watch/namespaces/default/{PLURAL}/a", id="legacy-watch-one-object"),
    ],
)
async def test_other_ways_to_ask_for_a_watch(api: Api, url: str) -> None:
    await api.create("a")
    await api.create("b")
    async with api.session.get(f"{api.url}{url}") as response:
        assert response.headers["Content-Type"] == "application/json"
        line = await asyncio.wait_for(response.content.readline(), EVENT_TIMEOUT)
    assert _summary(json.loads(line)) == ("ADDED", "a")
