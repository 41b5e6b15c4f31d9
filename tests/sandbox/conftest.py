"""Fixtures of the sandbox tests.

kube_*: the Kubernetes API emulator in its own thread, reached over real HTTP by the `kubernetes`
client, by plain HTTP requests and by the kubectl binary.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import pathlib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest

from lambda_vpc_sandbox.kube import EmulatorThread

KUBECTL = pathlib.Path(__file__).resolve().parents[2] / ".tools" / "bin" / "kubectl"

# A small CRD of the tests' own: a pattern, an enum, a required field, printer columns, status.
KUBE_TEST_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "lambdavpcattachments.lambdavpc.example.com"},
    "spec": {
        "group": "lambdavpc.example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "lambdavpcattachments",
            "singular": "lambdavpcattachment",
            "kind": "LambdaVpcAttachment",
            "shortNames": ["lva"],
            "categories": ["lambdavpc"],
        },
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Function", "type": "string", "jsonPath": ".spec.functionName"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["functionName"],
                                "properties": {
                                    "functionName": {"type": "string"},
                                    "mode": {"type": "string", "enum": ["attach", "detach"]},
                                    "subnetIds": {
                                        "type": "array",
                                        "items": {"type": "string", "pattern": "^subnet-[0-9a-z]+$"},
                                    },
                                },
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}
KUBE_GROUP = "lambdavpc.example.com"
KUBE_VERSION = "v1alpha1"
KUBE_PLURAL = "lambdavpcattachments"
KUBE_BASE = f"/apis/{KUBE_GROUP}/{KUBE_VERSION}"


@dataclasses.dataclass
class KubeResponse:
    status: int
    headers: Any
    body: Any

    def header(self, name: str) -> str:
        return str(self.headers.get(name, ""))


class KubeHttp:
    """Plain HTTP requests to the emulator, for what the client libraries hide (codes, headers)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> KubeResponse:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, response_headers, payload = response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            status, response_headers, payload = e.code, e.headers, e.read()
        try:
            decoded = json.loads(payload) if payload else None
        except ValueError:
            decoded = payload.decode()
        return KubeResponse(status, response_headers, decoded)

    def create(self, name: str, spec: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
        """Create a test custom resource in `default`; fail the test if it is not 201."""
        body = {
            "apiVersion": f"{KUBE_GROUP}/{KUBE_VERSION}",
            "kind": "LambdaVpcAttachment",
            "metadata": {"name": name, **metadata},
            "spec": spec if spec is not None else {"functionName": "fn"},
        }
        response = self("POST", f"{KUBE_BASE}/namespaces/default/{KUBE_PLURAL}", body)
        assert response.status == 201, response.body
        result: dict[str, Any] = response.body
        return result


@pytest.fixture
def kube_crd() -> dict[str, Any]:
    return copy.deepcopy(KUBE_TEST_CRD)


@pytest.fixture
def kube_emulator(tmp_path: pathlib.Path) -> Iterator[EmulatorThread]:
    with EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as kube:
        yield kube


@pytest.fixture
def kube_with_crd(kube_emulator: EmulatorThread, kube_crd: dict[str, Any]) -> EmulatorThread:
    kube_emulator.install_crd(kube_crd)
    return kube_emulator


@pytest.fixture
def kube_http(kube_emulator: EmulatorThread) -> KubeHttp:
    return KubeHttp(kube_emulator.url)


@pytest.fixture
def kube_api(kube_emulator: EmulatorThread) -> Iterator[kubernetes.client.ApiClient]:
    client = kubernetes.config.new_client_from_config(config_file=str(kube_emulator.kubeconfig_path))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def kube_kubectl(kube_emulator: EmulatorThread) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real kubectl against the emulator: ``kube_kubectl("get", "ns")``."""
    if not KUBECTL.exists():
        pytest.skip(f"kubectl is not installed at {KUBECTL} (`make tools` installs it)")
    env = {**os.environ, "KUBECONFIG": str(kube_emulator.kubeconfig_path)}
    cache = kube_emulator.kubeconfig_path.parent / "kube-cache"

    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(KUBECTL), f"--cache-dir={cache}", *args],
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    return run


@pytest.fixture
def kube_wait() -> Callable[..., Any]:
    """Poll until a function returns something truthy (and return it), or fail after a deadline."""

    def wait(fn: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = fn()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"Timed out after {timeout}s waiting for {what or fn}")
            time.sleep(interval)

    return wait
