"""The real kubectl 1.32 against the Kubernetes API emulator (skipped where kubectl is not installed)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from lambda_vpc_sandbox.kube.running import kubeconfig

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
ROOT = pathlib.Path(__file__).resolve().parents[2]
PROJECT_CRDS = ROOT / "crds"
KUBECTL = ROOT / ".tools" / "bin" / "kubectl"

ATTACHMENT = """
apiVersion: lambdavpc.example.com/v1alpha1
kind: LambdaVpcAttachment
metadata:
  name: orders
  namespace: default
spec:
  functionName: orders-api
  subnetIds: [subnet-abc]
"""


@pytest.fixture
def kubectl_with_crd(kube_kubectl: Kubectl, kube_crd: dict[str, Any]) -> Kubectl:
    applied = kube_kubectl("apply", "-f", "-", input=yaml.safe_dump(kube_crd))
    assert (
        "customresourcedefinition.apiextensions.k8s.io/lambdavpcattachments.lambdavpc.example.com created"
        in (applied.stdout)
    )
    return kube_kubectl


def test_crd_apply_then_short_names_resolve(kubectl_with_crd: Kubectl) -> None:
    kubectl = kubectl_with_crd
    kubectl("wait", "--for=condition=Established", "crd/lambdavpcattachments.lambdavpc.example.com")
    kubectl("apply", "-f", "-", input=ATTACHMENT)
    lines = kubectl("get", "lva").stdout.splitlines()
    assert lines[0].split() == ["NAME", "FUNCTION", "AGE"]
    assert lines[1].split()[:2] == ["orders", "orders-api"]
    namespaces = kubectl("get", "ns").stdout
    assert namespaces.splitlines()[0].split()[0] == "NAME"
    assert "kube-system" in namespaces
    assert "orders" in kubectl("get", "lambdavpc").stdout  # by category
    assert "orders" in kubectl("get", "lambdavpcattachments.lambdavpc.example.com", "-A").stdout


def test_apply_get_describe_delete(kubectl_with_crd: Kubectl) -> None:
    kubectl = kubectl_with_crd
    assert (
        "lambdavpcattachment.lambdavpc.example.com/orders created"
        in kubectl("apply", "-f", "-", input=ATTACHMENT).stdout
    )
    assert "unchanged" in kubectl("apply", "-f", "-", input=ATTACHMENT).stdout
    changed = ATTACHMENT.replace("orders-api", "orders-v2")
    assert "configured" in kubectl("apply", "-f", "-", input=changed).stdout

    obj = json.loads(kubectl("get", "lva", "orders", "-o", "json").stdout)
    assert obj["spec"]["functionName"] == "orders-v2"
    assert obj["metadata"]["generation"] == 2

    described = kubectl("describe", "lva", "orders").stdout
    assert "Name:         orders" in described
    assert "Function Name:  orders-v2" in described

    kubectl("label", "lva", "orders", "team=payments")
    kubectl("patch", "lva", "orders", "--type=merge", "-p", '{"spec":{"mode":"attach"}}')
    kubectl(
        "patch", "lva", "orders", "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Ready"}}'
    )
    selected = kubectl("get", "lva", "-l", "team=payments", "-o", "jsonpath={.items[*].status.phase}")
    assert selected.stdout == "Ready"

    assert (
        'lambdavpcattachment.lambdavpc.example.com "orders" deleted'
        in kubectl("delete", "-f", "-", input=ATTACHMENT).stdout
    )
    assert "No resources found" in kubectl("get", "lva").stderr


def test_validation_errors_reach_kubectl(kubectl_with_crd: Kubectl) -> None:
    bad = ATTACHMENT.replace("subnet-abc", "nope") + "  mode: sideways\n"
    result = kubectl_with_crd("apply", "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    assert 'The LambdaVpcAttachment "orders" is invalid' in result.stderr
    assert 'spec.mode: Unsupported value: "sideways"' in result.stderr
    assert 'spec.subnetIds[0]: Invalid value: "nope"' in result.stderr

    unknown = ATTACHMENT + "  extra: 1\n"
    strict = kubectl_with_crd("apply", "-f", "-", input=unknown, check=False)
    assert strict.returncode != 0
    assert 'unknown field "spec.extra"' in strict.stderr


def test_namespaces_by_apply_and_by_create(kube_kubectl: Kubectl) -> None:
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n"
    assert "namespace/team-a created" in kube_kubectl("apply", "-f", "-", input=namespace).stdout
    assert "team-a" in kube_kubectl("get", "ns").stdout
    # `kubectl create namespace` sends protobuf, which the emulator decodes for namespaces.
    assert "namespace/team-b created" in kube_kubectl("create", "namespace", "team-b").stdout
    created = json.loads(kube_kubectl("get", "ns", "team-b", "-o", "json").stdout)
    assert created["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-b"}  # as real servers label
    assert 'namespace "team-a" deleted' in kube_kubectl("delete", "ns", "team-a").stdout
    assert "team-a" not in kube_kubectl("get", "ns").stdout


def test_get_watch_streams_changes(kubectl_with_crd: Kubectl, kube_emulator: Any) -> None:
    kubectl_with_crd("apply", "-f", "-", input=ATTACHMENT)
    env = {**os.environ, "KUBECONFIG": str(kube_emulator.kubeconfig_path)}
    watcher = subprocess.Popen(
        [str(KUBECTL), "get", "lva", "-w", "--output-watch-events", "--request-timeout=20s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline().split()
        assert first[:3] == ["EVENT", "NAME", "FUNCTION"]
        assert watcher.stdout.readline().split()[:3] == ["ADDED", "orders", "orders-api"]
        kubectl_with_crd("apply", "-f", "-", input=ATTACHMENT.replace("orders-api", "orders-v2"))
        assert watcher.stdout.readline().split()[:3] == ["MODIFIED", "orders", "orders-v2"]
        kubectl_with_crd("delete", "lva", "orders")
        assert watcher.stdout.readline().split()[:2] == ["DELETED", "orders"]
    finally:
        watcher.kill()
        watcher.wait()


def test_project_crds_apply_cleanly(kube_kubectl: Kubectl) -> None:
    files = sorted(PROJECT_CRDS.glob("*.yaml"))
    if not files:
        pytest.skip("the project has no CRDs in crds/ yet")
    for path in files:
        kube_kubectl("apply", "-f", str(path))
    for path in files:
        for document in yaml.safe_load_all(path.read_text()):
            kube_kubectl("wait", "--for=condition=Established", f"crd/{document['metadata']['name']}")
            for name in document["spec"]["names"].get("shortNames", []):
                kube_kubectl("get", name)


def test_kubeconfig_shape(kube_emulator: Any) -> None:
    config = yaml.safe_load(kube_emulator.kubeconfig_path.read_text())
    assert config == kubeconfig(kube_emulator.url)
    assert config["current-context"] == "lambda-vpc-sandbox"
    assert config["clusters"][0]["cluster"]["server"].startswith("http://127.0.0.1:")


def test_set_image_merges_containers_by_name(kube_kubectl: Kubectl) -> None:
    """kubectl set image sends a strategic merge patch: the other container and fields stay."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "app:1", "ports": [{"containerPort": 8080}]},
                        {"name": "proxy", "image": "proxy:1"},
                    ]
                },
            },
        },
    }
    kube_kubectl("apply", "-f", "-", input=json.dumps(deployment))
    kube_kubectl("set", "image", "deployment/web", "app=app:2")
    stored = json.loads(kube_kubectl("get", "deployment", "web", "-o", "json").stdout)
    assert stored["spec"]["template"]["spec"]["containers"] == [
        {"name": "app", "image": "app:2", "ports": [{"containerPort": 8080}]},
        {"name": "proxy", "image": "proxy:1"},
    ]
