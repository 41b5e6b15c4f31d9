"""The emulator's request cost must not grow with the number of objects or requests served.

Stock kmock re-filters its whole request history on every request, so each request costs more than
the one before. The emulator routes each request from the request alone: 100 GETs after 2000
objects (and ~2200 requests) must cost about as much as 100 GETs after 100 objects. Asserted as a
ratio of the two timings, never as an absolute time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from lambda_vpc_sandbox.kube import KubeEmulator

GROUP = "lambdavpc.example.com"
COLLECTION = f"/apis/{GROUP}/v1alpha1/namespaces/default/lambdavpcattachments"
BATCH = 50  # concurrent creates; keeps the 2000 creations quick


async def _create(session: aiohttp.ClientSession, url: str, first: int, last: int) -> None:
    async def one(index: int) -> None:
        body = {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "LambdaVpcAttachment",
            "metadata": {"name": f"obj-{index:05d}", "labels": {"batch": str(index // BATCH)}},
            "spec": {"functionName": f"fn-{index}", "subnetIds": ["subnet-abc"]},
        }
        async with session.post(url + COLLECTION, json=body) as response:
            assert response.status == 201, await response.text()

    for start in range(first, last, BATCH):
        await asyncio.gather(*(one(index) for index in range(start, min(start + BATCH, last))))


async def _time_gets(session: aiohttp.ClientSession, url: str, count: int) -> float:
    started = time.perf_counter()
    for index in range(100):
        async with session.get(f"{url}{COLLECTION}/obj-{index * count // 100:05d}") as response:
            assert response.status == 200
            await response.read()
    return time.perf_counter() - started


async def test_request_cost_does_not_grow_with_objects(kube_crd: dict[str, Any]) -> None:
    emulator = KubeEmulator()
    emulator.install_crd(kube_crd)
    async with emulator, emulator.serving() as url, aiohttp.ClientSession() as session:
        await _create(session, url, 0, 100)
        await _time_gets(session, url, 100)  # warm-up: connection pool, caches
        early = min([await _time_gets(session, url, 100) for _ in range(3)])

        await _create(session, url, 100, 2000)
        late = min([await _time_gets(session, url, 2000) for _ in range(3)])

        async with session.get(url + COLLECTION + "?labelSelector=batch%3D7") as response:
            assert len((await response.json())["items"]) == BATCH

    assert late < 3 * early, f"100 GETs took {early:.3f}s at 100 objects but {late:.3f}s at 2000"
    assert not emulator._requests  # kmock's per-request history stays empty: nothing to re-filter
