"""The status writer against an API server that answers 409, 429 and 5xx (kube.statuses).

Real HTTP to the Kubernetes API emulator with injected faults: a transient answer is retried
(Retry-After honoured) and the status lands; one that persists fails the write after a bounded
number of attempts, for the look's own backoff to take over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kubernetes
import pytest

from lambda_vpc_operator.kube import logins
from lambda_vpc_operator.kube import status_writer as statuses
from lambda_vpc_operator.kube.rest import KubeApi, KubeApiError
from lambda_vpc_operator.models import attachments
from lambda_vpc_operator.models.settings import IO_THREADS
from lambda_vpc_sandbox import manifests
from lambda_vpc_sandbox.kube import EmulatorThread

STATUS = f"{attachments.PLURAL}/status"


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorThread]:
    with EmulatorThread(kubeconfig_path=tmp_path_factory.mktemp("kube") / "kubeconfig") as kube:
        manifests.install_crds(manifests.api_client(kube.kubeconfig_path))
        yield kube


@pytest.fixture
def writer(kube: EmulatorThread) -> Iterator[statuses.StatusWriter]:
    custom: Any = kubernetes.client.CustomObjectsApi(manifests.api_client(kube.kubeconfig_path))
    custom.create_namespaced_custom_object(
        attachments.GROUP, attachments.VERSION, "default", attachments.PLURAL,
        {"apiVersion": f"{attachments.GROUP}/{attachments.VERSION}", "kind": attachments.KIND,
         "metadata": {"name": "a"}, "spec": {"functionName": "fn", "subnetIds": ["subnet-1"],
                                             "securityGroupIds": ["sg-1"]}},
    )  # fmt: skip
    api = KubeApi(lambda: logins.login(kubeconfig=kube.kubeconfig_path), user_agent="lambda-vpc-operator/test")
    yield statuses.StatusWriter(api, first_backoff=0.05)
    kube.control.clear_faults()
    custom.delete_namespaced_custom_object(attachments.GROUP, attachments.VERSION, "default", attachments.PLURAL, "a")


def _write(writer: statuses.StatusWriter) -> Any:
    return asyncio.run(writer.patch("default", "a", {"observedGeneration": 1}))


def test_conflicts_and_server_errors_are_retried(kube: EmulatorThread, writer: statuses.StatusWriter) -> None:
    kube.control.inject_faults([
        {"kind": "conflict", "resources": STATUS, "limit": 1},
        {"kind": "server_error", "resources": STATUS, "limit": 1, "params": {"status": 503}},
    ])  # fmt: skip
    assert _write(writer)["observedGeneration"] == 1
    assert kube.control.injected() == {"conflict": {f"patch:{STATUS}": 1}, "server_error": {f"patch:{STATUS}": 1}}


def test_a_throttle_waits_its_retry_after(kube: EmulatorThread, writer: statuses.StatusWriter) -> None:
    kube.control.inject_faults([{"kind": "throttle", "resources": STATUS, "limit": 1, "params": {"retry_after": 2}}])
    started = time.monotonic()
    assert _write(writer)["observedGeneration"] == 1
    assert time.monotonic() - started >= 2.0  # not the first backoff (0.05 s here): the server's word


def test_a_persistent_error_fails_the_write_after_bounded_attempts(
    kube: EmulatorThread, writer: statuses.StatusWriter
) -> None:
    kube.control.inject_faults([{"kind": "server_error", "resources": STATUS}])
    with pytest.raises(KubeApiError) as raised:
        _write(writer)
    assert raised.value.status == 500
    assert kube.control.injected() == {"server_error": {f"patch:{STATUS}": statuses.ATTEMPTS}}


def test_other_refusals_are_not_retried(kube: EmulatorThread, writer: statuses.StatusWriter) -> None:
    with pytest.raises(KubeApiError) as raised:
        asyncio.run(writer.patch("default", "a", {"conditions": "not a list"}))
    assert raised.value.status == 422


def test_a_gone_object_is_an_empty_status(writer: statuses.StatusWriter) -> None:
    assert asyncio.run(writer.patch("default", "absent", {"observedGeneration": 1})) == {}


def test_the_status_writers_connections_are_as_many_as_its_threads(
    writer: statuses.StatusWriter, caplog: pytest.LogCaptureFixture
) -> None:
    # A burst of looks writes from every I/O thread at once: a smaller pool makes urllib3 discard
    # and reopen connections ("Connection pool is full", seen in the 5,000-attachment benchmark).
    async def burst() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(IO_THREADS))  # as the operator's
        await asyncio.gather(*(writer.patch("default", "a", {"observedGeneration": i}) for i in range(IO_THREADS)))

    with caplog.at_level(logging.WARNING, logger="urllib3"):
        asyncio.run(burst())
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
