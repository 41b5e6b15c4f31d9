"""The status writer against an API server that answers 409, 429 and 5xx (kube.statuses).

Real HTTP to the Kubernetes API emulator with injected faults: a transient answer is retried
(Retry-After honoured) and the status lands; one that persists fails the write after a bounded
number of attempts, for the look's own backoff to take over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from lambda_vpc_operator.kube import status_writer as statuses
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
    client = manifests.api_client(kube.kubeconfig_path)
    client.user_agent = "lambda-vpc-operator/test"
    custom: Any = kubernetes.client.CustomObjectsApi(client)
    custom.create_namespaced_custom_object(
        attachments.GROUP, attachments.VERSION, "default", attachments.PLURAL,
        {"apiVersion": f"{attachments.GROUP}/{attachments.VERSION}", "kind": attachments.KIND,
         "metadata": {"name": "a"}, "spec": {"functionName": "fn", "subnetIds": ["subnet-1"],
                                             "securityGroupIds": ["sg-1"]}},
    )  # fmt: skip
    yield statuses.StatusWriter(client, first_backoff=0.05)
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
    with pytest.raises(kubernetes.client.ApiException) as raised:
        _write(writer)
    assert raised.value.status == 500
    assert kube.control.injected() == {"server_error": {f"patch:{STATUS}": statuses.ATTEMPTS}}


def test_other_refusals_are_not_retried(kube: EmulatorThread, writer: statuses.StatusWriter) -> None:
    with pytest.raises(kubernetes.client.ApiException) as raised:
        asyncio.run(writer.patch("default", "a", {"conditions": "not a list"}))
    assert raised.value.status == 422


def test_a_gone_object_is_an_empty_status(writer: statuses.StatusWriter) -> None:
    assert asyncio.run(writer.patch("default", "absent", {"observedGeneration": 1})) == {}



def test_the_status_writers_connections_are_as_many_as_its_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A burst of looks writes from every I/O thread at once: a smaller pool makes urllib3 discard
    # and reopen connections ("Connection pool is full", seen in the 5,000-attachment benchmark).
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    # The kubernetes client reads $KUBECONFIG once, at import: point its default there.
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    client = statuses.load_kube_config()
    assert client.configuration.connection_pool_maxsize == IO_THREADS
