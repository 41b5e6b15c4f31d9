"""Apply manifests and read attachments through the Kubernetes API, as kubectl would.

Used by the sandbox and by the end-to-end tests; plain HTTP through the official client, so it
works the same against the emulator and a real cluster. The client's APIs are typed for its model
classes; we pass and receive plain dicts (which it accepts), hence the ``Any``-typed handles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes
import yaml

from lambda_vpc_operator.models import attachments, crds, policies

EXPECT_ANNOTATION = "sandbox.lambdavpc.dev/expect"


def api_client(kubeconfig: str | Path) -> kubernetes.client.ApiClient:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=configuration
    )
    return kubernetes.client.ApiClient(configuration)


def load_documents(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield document


def install_crds(client: kubernetes.client.ApiClient) -> None:
    """Create or replace our CRDs (the generated ones, identical to crds/)."""
    api: Any = kubernetes.client.ApiextensionsV1Api(client)
    for crd in crds.all_crds().values():
        try:
            api.create_custom_resource_definition(crd)
        except kubernetes.client.ApiException as exc:
            if exc.status != 409:
                raise
            current = api.read_custom_resource_definition(crd["metadata"]["name"])
            body = {**crd, "metadata": {**crd["metadata"], "resourceVersion": current.metadata.resource_version}}
            api.replace_custom_resource_definition(crd["metadata"]["name"], body)


def ensure_namespace(client: kubernetes.client.ApiClient, name: str) -> None:
    api: Any = kubernetes.client.CoreV1Api(client)
    try:
        api.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise


def apply_policy(client: kubernetes.client.ApiClient, document: Mapping[str, Any]) -> dict[str, Any]:
    """Create the (cluster-scoped) LambdaVpcPolicy, or replace its spec if it exists."""
    api: Any = kubernetes.client.CustomObjectsApi(client)
    try:
        created: dict[str, Any] = api.create_cluster_custom_object(
            policies.GROUP, policies.VERSION, policies.PLURAL, dict(document)
        )
        return created
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise
    # A merge patch of the whole spec would keep lists the new document dropped: send null for them.
    name = document["metadata"]["name"]
    current = api.get_cluster_custom_object(policies.GROUP, policies.VERSION, policies.PLURAL, name)
    spec = {key: None for key in current.get("spec") or {}}
    spec.update(document["spec"])
    patched: dict[str, Any] = api.patch_cluster_custom_object(
        policies.GROUP, policies.VERSION, policies.PLURAL, name, {"spec": spec}
    )
    return patched


def apply_attachment(client: kubernetes.client.ApiClient, document: Mapping[str, Any]) -> dict[str, Any]:
    """Create the attachment, or merge-patch its spec and metadata if it exists (like kubectl apply).

    A LambdaVpcPolicy document (examples/ ship one) is applied as a policy instead.
    """
    if document.get("kind") == policies.KIND:
        return apply_policy(client, document)
    api: Any = kubernetes.client.CustomObjectsApi(client)
    namespace = document["metadata"].get("namespace", "default")
    ensure_namespace(client, namespace)
    try:
        created: dict[str, Any] = api.create_namespaced_custom_object(
            attachments.GROUP, attachments.VERSION, namespace, attachments.PLURAL, dict(document)
        )
        return created
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise
    patch = {"metadata": {k: v for k, v in document["metadata"].items() if k in ("labels", "annotations")},
             "spec": document["spec"]}  # fmt: skip
    patched: dict[str, Any] = api.patch_namespaced_custom_object(
        attachments.GROUP, attachments.VERSION, namespace, attachments.PLURAL, document["metadata"]["name"], patch
    )
    return patched


def list_attachments(client: kubernetes.client.ApiClient) -> list[dict[str, Any]]:
    api: Any = kubernetes.client.CustomObjectsApi(client)
    listing = api.list_cluster_custom_object(attachments.GROUP, attachments.VERSION, attachments.PLURAL)
    items: list[dict[str, Any]] = listing.get("items", [])
    return items


def condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return {}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Where one attachment stands, for the sandbox's table and its exit code."""

    name: str
    function: str
    vpc: str
    state: str
    ready: str
    reason: str
    expected: str | None

    @property
    def settled(self) -> bool:
        """Ready, or stalled for exactly the reason the manifest expects."""
        if self.expected:
            return self.reason == self.expected
        return self.ready == "True"

    @property
    def failed(self) -> bool:
        return self.reason != self.expected and self.ready != "True" and self.stalled

    stalled: bool = False


def verdict(obj: Mapping[str, Any]) -> Verdict:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    ready = condition(obj, "Ready")
    stalled = condition(obj, "Stalled")
    observed_current = status.get("observedGeneration") == meta.get("generation")
    return Verdict(
        name=f"{meta.get('namespace')}/{meta.get('name')}",
        function=str((obj.get("spec") or {}).get("functionName", "")),
        vpc=str(status.get("vpcId") or "-"),
        state=str(status.get("state") or "-"),
        ready=str(ready.get("status", "-")) if observed_current else "-",
        reason=str((stalled or ready).get("reason", "-")) if observed_current else "-",
        expected=(meta.get("annotations") or {}).get(EXPECT_ANNOTATION),
        stalled=stalled.get("status") == "True" and observed_current,
    )
