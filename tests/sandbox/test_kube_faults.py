"""Fault injection in the Kubernetes API emulator (`lambda_vpc_sandbox.kube.faults`, docs/reliability.md).

Each kind is checked on the wire as a client sees it: a watch cut mid-stream ends without its final
chunk, a stalled watch sends nothing (not even BOOKMARKs) while a healthy one beside it does, 410s
come as an ERROR event on watches and as a Status on lists (and genuinely after a compaction),
409/429/5xx carry the Status and headers a real API server sends, and rules match only the
verbs, resources, namespaces and clients they name. The control API is driven over HTTP
(`KubeControl`), as a test in another process or ``make chaos`` does.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from lambda_vpc_sandbox.kube import EmulatorThread, KubeEmulator
from lambda_vpc_sandbox.kube.control import KubeControl, KubeControlError

GROUP = "lambdavpc.example.com"
PLURAL = "lambdavpcattachments"
COLLECTION = f"/apis/{GROUP}/v1alpha1/namespaces/default/{PLURAL}"
MERGE = "application/merge-patch+json"
SHORT = 2.0  # seconds: longer than the emulator's bookmark interval below, by far


@pytest.fixture
async def served(kube_crd: dict[str, Any]) -> AsyncIterator[tuple[KubeEmulator, str, aiohttp.ClientSession]]:
    emulator = KubeEmulator(history_size=50, bookmark_interval=0.1)
    emulator.install_crd(kube_crd)
    async with emulator, emulator.serving() as url, aiohttp.ClientSession() as session:
        yield emulator, url, session


async def _create(session: aiohttp.ClientSession, url: str, name: str) -> dict[str, Any]:
    body = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "LambdaVpcAttachment", "metadata": {"name": name},
            "spec": {"functionName": "fn"}}  # fmt: skip
    async with session.post(url + COLLECTION, json=body) as response:
        assert response.status == 201
        created: dict[str, Any] = await response.json()
        return created


async def _control(session: aiohttp.ClientSession, url: str, name: str, **args: Any) -> Any:
    async with session.post(f"{url}/_kube/{name}", json=args) as response:
        answer = await response.json()
        assert response.status == 200, answer
        return answer["result"]


async def test_a_dropped_watch_ends_without_its_final_chunk(served: Any) -> None:
    _, url, session = served
    await _create(session, url, "a")
    await _control(session, url, "inject_faults", rules=[{"kind": "drop", "verbs": "watch", "params": {"after": 0.3}}])
    started = time.monotonic()
    async with session.get(f"{url}{COLLECTION}?watch=true") as response:
        assert response.status == 200
        first = json.loads(await asyncio.wait_for(response.content.readline(), SHORT))
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "a")
        with pytest.raises(aiohttp.ClientPayloadError):  # what kopf catches and re-watches after
            await asyncio.wait_for(response.content.read(), SHORT)
    assert time.monotonic() - started < SHORT
    assert await _control(session, url, "injected") == {"drop": {"watch:lambdavpcattachments": 1}}


async def test_a_stalled_watch_says_nothing_while_a_healthy_one_gets_events_and_bookmarks(served: Any) -> None:
    emulator, url, session = served
    emulator.faults.inject([{"kind": "stall", "clients": "zombie"}])
    async with (
        session.get(f"{url}{COLLECTION}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1",
                    headers={"User-Agent": "zombie/1.0"}) as stalled,
        session.get(f"{url}{COLLECTION}?watch=true&allowWatchBookmarks=true") as healthy,
    ):  # fmt: skip
        assert stalled.status == healthy.status == 200
        await _create(session, url, "b")
        seen = json.loads(await asyncio.wait_for(healthy.content.readline(), SHORT))
        assert seen["type"] in ("ADDED", "BOOKMARK")
        # No event, no bookmark, and no clean end at timeoutSeconds=1 either: a zombie.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stalled.content.readline(), SHORT)
    assert emulator.faults.injected() == {"stall": {"watch:lambdavpcattachments": 1}}


async def test_a_stall_with_seconds_is_cut_after_them(served: Any) -> None:
    emulator, url, session = served
    emulator.faults.inject([{"kind": "stall", "params": {"seconds": 0.3}}])
    async with session.get(f"{url}{COLLECTION}?watch=true") as response:
        with pytest.raises(aiohttp.ClientPayloadError):
            await asyncio.wait_for(response.content.read(), SHORT)


async def test_an_injected_410_is_an_error_event_on_watches_and_a_status_on_lists(served: Any) -> None:
    emulator, url, session = served
    emulator.faults.inject([{"kind": "expired"}])
    async with session.get(f"{url}{COLLECTION}?watch=true&resourceVersion=1") as response:
        assert response.status == 200  # as a real server: the 410 is inside the stream
        events = [json.loads(line) for line in (await response.content.read()).splitlines()]
    assert [e["type"] for e in events] == ["ERROR"]
    assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")
    assert events[0]["object"]["message"].startswith("too old resource version: 1 (")
    async with session.get(f"{url}{COLLECTION}") as response:
        status = await response.json()
    assert (response.status, status["kind"], status["reason"]) == (410, "Status", "Expired")
    # Writes are never answered 410.
    await _create(session, url, "c")


async def test_a_compaction_makes_old_resource_versions_genuinely_410(served: Any) -> None:
    emulator, url, session = served
    old = await _create(session, url, "d")
    await _create(session, url, "e")
    async with session.get(f"{url}{COLLECTION}?limit=1") as response:
        token = (await response.json())["metadata"]["continue"]
    await _create(session, url, "f")  # the token's revision is now older than the compaction's
    current = await _control(session, url, "compact")
    async with session.get(f"{url}{COLLECTION}?watch=true&resourceVersion={old['metadata']['resourceVersion']}") as r:
        events = [json.loads(line) for line in (await r.content.read()).splitlines()]
    assert [(e["type"], e["object"]["code"]) for e in events] == [("ERROR", 410)]
    async with session.get(f"{url}{COLLECTION}?limit=1&continue={token}") as response:
        status = await response.json()
    assert (response.status, status["reason"]) == (410, "Expired")
    assert status["message"].startswith("The provided continue parameter is too old")
    # A watch from the current resourceVersion is fine: nothing it needs was forgotten.
    async with session.get(f"{url}{COLLECTION}?watch=true&resourceVersion={current}&timeoutSeconds=1") as r:
        assert [json.loads(line)["type"] for line in (await r.content.read()).splitlines()] == []
    assert emulator.faults.injected() == {}  # genuine, not injected


def test_conflicts_throttles_and_server_errors_as_a_real_server_answers(
    kube_with_crd: EmulatorThread, kube_http: Any
) -> None:
    http, control = kube_http, kube_with_crd.control
    http.create("x")
    control.inject_faults([
        {"kind": "conflict", "resources": f"{PLURAL}/status"},
        {"kind": "throttle", "verbs": "get", "params": {"retry_after": 3}},
        {"kind": "server_error", "verbs": "list", "params": {"status": 503}},
    ])  # fmt: skip
    patched = http("PATCH", f"{COLLECTION}/x/status", {"status": {"a": 1}}, content_type=MERGE)
    assert (patched.status, patched.body["reason"]) == (409, "Conflict")
    assert patched.body["message"] == (
        f'Operation cannot be fulfilled on {PLURAL}.{GROUP} "x": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert http("PATCH", f"{COLLECTION}/x", {"metadata": {"labels": {"a": "b"}}}, content_type=MERGE).status == 200
    got = http("GET", f"{COLLECTION}/x")
    assert (got.status, got.body["reason"], got.header("Retry-After")) == (429, "TooManyRequests", "3")
    assert got.body["details"] == {"retryAfterSeconds": 3}
    listed = http("GET", COLLECTION)
    assert (listed.status, listed.body["reason"]) == (503, "ServiceUnavailable")
    assert control.injected() == {
        "conflict": {f"patch:{PLURAL}/status": 1},
        "throttle": {f"get:{PLURAL}": 1},
        "server_error": {f"list:{PLURAL}": 1},
    }
    control.clear_faults()
    assert http("GET", f"{COLLECTION}/x").status == 200
    assert control.injected() == {} and control.faults() == []


def test_rules_match_by_namespace_and_rate_with_a_seed(kube_with_crd: EmulatorThread, kube_http: Any) -> None:
    http, control = kube_http, kube_with_crd.control
    http.create("y")
    control.inject_faults([{"kind": "server_error", "namespaces": "other-*", "verbs": "get"}])
    assert http("GET", f"{COLLECTION}/y").status == 200  # namespace default: not matched

    def draws(seed: int) -> list[int]:
        control.inject_faults([{"kind": "server_error", "verbs": "get", "rate": 0.5}], seed=seed)
        return [http("GET", f"{COLLECTION}/y").status for _ in range(20)]

    first = draws(7)
    assert draws(7) == first  # replayable
    assert 0 < first.count(500) < 20
    control.clear_faults()


def test_latency_delays_the_answer(kube_with_crd: EmulatorThread, kube_http: Any) -> None:
    http, control = kube_http, kube_with_crd.control
    control.inject_faults([{"kind": "latency", "verbs": "list", "params": {"seconds": 0.5}}])
    started = time.monotonic()
    assert http("GET", COLLECTION).status == 200
    assert time.monotonic() - started >= 0.5
    control.clear_faults()


def test_bad_rules_are_refused_with_the_reason(kube_with_crd: EmulatorThread) -> None:
    control = kube_with_crd.control
    for rule, words in [
        ({"kind": "flood"}, "Unknown fault kind"),
        ({"kind": "drop", "rate": 2}, "rate must be"),
        ({"kind": "latency", "params": {"ms": 1}}, "Unknown params"),
        ({"kind": "server_error", "params": {"status": 418}}, "status must be one of"),
        ({"kind": "drop", "verb": "watch"}, "Unknown rule keys"),
    ]:
        with pytest.raises(KubeControlError, match=words):
            control.inject_faults([rule])
    assert control.faults() == []


def test_cli_injects_the_faults_of_a_file(tmp_path: pathlib.Path, kube_crd: dict[str, Any]) -> None:
    faults_file = tmp_path / "faults.json"
    faults_file.write_text(json.dumps({"rules": [{"kind": "throttle", "verbs": "list"}], "seed": 1}))
    process = subprocess.Popen(
        [sys.executable, "-m", "lambda_vpc_sandbox", "kube", "--faults", str(faults_file),
         "--kubeconfig", str(tmp_path / "kubeconfig")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        control = KubeControl(url)
        assert [rule["kind"] for rule in control.faults()] == ["throttle"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/api/v1/namespaces", timeout=10)
        assert refused.value.code == 429
    finally:
        process.terminate()
        process.wait(10)


def test_a_limit_ends_a_rule_after_that_many_injections(kube_with_crd: EmulatorThread, kube_http: Any) -> None:
    http, control = kube_http, kube_with_crd.control
    control.inject_faults([{"kind": "server_error", "verbs": "list", "limit": 2}])
    assert [http("GET", COLLECTION).status for _ in range(4)] == [500, 500, 200, 200]
    assert control.injected() == {"server_error": {f"list:{PLURAL}": 2}}
    control.clear_faults()
