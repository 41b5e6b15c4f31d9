"""`helm install` of the chart into the Kubernetes API emulator: every rendered object is accepted.

The emulator stores what the chart creates (Deployments, RBAC, Services, a PodDisruptionBudget,
the ValidatingWebhookConfiguration, CRDs) without running anything, and decodes the protobuf
bodies helm's typed clients send (its release Secret, ``--create-namespace``). ``helm template``
with the same values says what must exist after the install (and the upgrade: helm patches with
strategic merge patches), and be gone after the uninstall.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambda_vpc_sandbox.kube import EmulatorThread
from shipping import CHART, HELM, NAMESPACE, RELEASE

KUBECTL = HELM.parent / "kubectl"
CLUSTER_KINDS = frozenset(
    {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration", "Namespace"}
)
# Every optional part of the chart that needs no CRD the emulator lacks (cert-manager, Prometheus).
VALUES: dict[str, Any] = {
    "replicas": 2,  # kopf peering CRDs and a PodDisruptionBudget
    "watchNamespaces": ["team-a", "team-b"],  # a Role and RoleBinding in each
    "webhook": {
        "enabled": True,
        "certManager": {"enabled": False},
        "tls": {"secretName": "lvo-webhook-tls", "caBundle": "Zm9v"},
    },
}


def _path(manifest: dict[str, Any]) -> str:
    """The URL of a rendered object (every kind the chart renders has the plural ``<kind>s``)."""
    api_version = manifest["apiVersion"]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    plural = manifest["kind"].lower() + "s"
    meta = manifest["metadata"]
    if manifest["kind"] in CLUSTER_KINDS:
        return f"{base}/{plural}/{meta['name']}"
    return f"{base}/namespaces/{meta.get('namespace', NAMESPACE)}/{plural}/{meta['name']}"


def _get(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in obj.items() if key not in ("metadata", "status", "apiVersion", "kind")}


@pytest.fixture
def cluster(tmp_path: pathlib.Path) -> Iterator[tuple[EmulatorThread, Callable[..., subprocess.CompletedProcess[str]]]]:
    if not HELM.exists() or not KUBECTL.exists():
        pytest.skip(f"helm and kubectl are not installed in {HELM.parent}: run `make tools`")
    with EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as kube:
        env = {
            **os.environ,
            "KUBECONFIG": str(kube.kubeconfig_path),
            **{f"HELM_{part}_HOME": str(tmp_path / part.lower()) for part in ("CACHE", "CONFIG", "DATA")},
        }

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                [str(args[0]), *args[1:]], env=env, capture_output=True, text=True, timeout=120, check=False
            )
            assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
            return done

        yield kube, run


def test_helm_install_and_uninstall_in_the_emulator(
    cluster: tuple[EmulatorThread, Callable[..., subprocess.CompletedProcess[str]]],
    render: Callable[..., list[dict[str, Any]]],
    tmp_path: pathlib.Path,
) -> None:
    kube, run = cluster
    rendered = render(values=VALUES, include_crds=True)
    kinds = {manifest["kind"] for manifest in rendered}
    assert {"Deployment", "PodDisruptionBudget", "RoleBinding", "ValidatingWebhookConfiguration"} <= kinds
    for namespace in VALUES["watchNamespaces"]:
        run(KUBECTL, "create", "namespace", namespace)  # a protobuf body
    values = tmp_path / "values.json"
    values.write_text(json.dumps(VALUES))
    run(HELM, "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--create-namespace", "--values", str(values))

    for manifest in rendered:
        stored = _get(kube.url + _path(manifest))
        assert stored is not None, f"{manifest['kind']} {manifest['metadata']['name']} was not created"
        if manifest["kind"] == "ValidatingWebhookConfiguration":
            continue  # stored with the API server's defaults (timeoutSeconds, matchPolicy, ...)
        if manifest["kind"] != "CustomResourceDefinition":
            assert _content(stored) == _content(manifest), manifest["kind"]
        assert stored["metadata"].get("labels", {}) == manifest["metadata"].get("labels", {})
    (release,) = json.loads(run(HELM, "list", "--namespace", NAMESPACE, "--output", "json").stdout)
    assert (release["name"], release["status"]) == (RELEASE, "deployed")

    # An upgrade patches with strategic merge patches: the result is what the new values render.
    upgraded_values = {**VALUES, "logFormat": "plain", "image": {"tag": "v9.9.9"}}
    values.write_text(json.dumps(upgraded_values))
    run(HELM, "upgrade", RELEASE, str(CHART), "--namespace", NAMESPACE, "--values", str(values))
    for manifest in render(values=upgraded_values):
        if manifest["kind"] in ("ValidatingWebhookConfiguration", "CustomResourceDefinition"):
            continue
        stored = _get(kube.url + _path(manifest))
        assert stored is not None and _content(stored) == _content(manifest), manifest["kind"]

    run(HELM, "uninstall", RELEASE, "--namespace", NAMESPACE)
    for manifest in rendered:
        # Helm never deletes CRDs: those of crds/ and the kopf peering ones (resource-policy: keep).
        gone = _get(kube.url + _path(manifest)) is None
        assert gone == (manifest["kind"] != "CustomResourceDefinition"), manifest["kind"]
    assert json.loads(run(HELM, "list", "--namespace", NAMESPACE, "--output", "json").stdout) == []
