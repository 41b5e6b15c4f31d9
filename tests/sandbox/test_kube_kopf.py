"""kopf 1.45 against the Kubernetes API emulator: a tiny operator's full lifecycle of one object.

Finds everything kopf needs from a server: discovery, namespaces and CRD watches, JSON patches with a
resourceVersion test for finalizers, merge patches of the status subresource, events posted with
generateName, deletion with a finalizer and the single DELETED at the end.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import kopf
import kubernetes
import pytest

GROUP = "lambdavpc.example.com"
VERSION = "v1alpha1"
PLURAL = "lambdavpcattachments"
FINALIZER = "lambdavpc.example.com/test-finalizer"


class TinyOperator:
    """kopf in its own thread and loop, with handlers in a private registry."""

    def __init__(self, url: str) -> None:
        self.registry = kopf.OperatorRegistry()
        self.settings = kopf.OperatorSettings()
        self.settings.persistence.finalizer = FINALIZER
        self.settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        self.settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
        self.settings.posting.level = 0
        self.deleted = threading.Event()
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

        @kopf.on.login(registry=self.registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=url, default_namespace="default")

        @kopf.on.create(GROUP, VERSION, PLURAL, registry=self.registry)
        def created(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
            patch.status["phase"] = "Attached"
            kopf.info(body, reason="Attached", message="attached by the tiny operator")

        @kopf.on.delete(GROUP, VERSION, PLURAL, registry=self.registry)
        def deleted(**_: Any) -> None:
            self.deleted.set()

        self.thread = threading.Thread(target=self._run, name="tiny-kopf", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=self.registry,
                    settings=self.settings,
                    standalone=True,
                    namespaces=["default"],
                    ready_flag=self.ready,
                    stop_flag=self.stop,
                )
            )
        except BaseException as e:  # reported by the test, not lost in the thread
            self.errors.append(e)


@pytest.fixture
def tiny_operator(kube_with_crd: Any) -> Iterator[TinyOperator]:
    operator = TinyOperator(kube_with_crd.url)
    operator.thread.start()
    assert operator.ready.wait(30), "kopf did not get ready"
    try:
        yield operator
    finally:
        operator.stop.set()
        operator.thread.join(30)
    assert not operator.errors, operator.errors


def test_kopf_handles_the_whole_lifecycle(
    tiny_operator: TinyOperator, kube_api: kubernetes.client.ApiClient, kube_wait: Callable[..., Any]
) -> None:
    custom = kubernetes.client.CustomObjectsApi(kube_api)
    core = kubernetes.client.CoreV1Api(kube_api)
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LambdaVpcAttachment",
        "metadata": {"name": "via-kopf"},
        "spec": {"functionName": "fn"},
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)

    def get() -> dict[str, Any]:
        obj: dict[str, Any] = custom.get_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "via-kopf"
        )
        return obj

    handled = kube_wait(
        lambda: (obj := get()).get("status", {}).get("phase") == "Attached" and obj,
        what="the status patched by kopf",
    )
    assert handled["metadata"]["finalizers"] == [FINALIZER]
    assert handled["metadata"]["generation"] == 1  # status and metadata writes never bump it

    events = kube_wait(
        lambda: core.list_namespaced_event("default", field_selector="involvedObject.name=via-kopf").items,
        what="the event posted by kopf",
    )
    assert [(event.reason, event.message) for event in events] == [
        ("Attached", "attached by the tiny operator")
    ]

    custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "via-kopf")
    assert tiny_operator.deleted.wait(10), "kopf's deletion handler did not run"

    def gone() -> bool:
        try:
            get()
        except kubernetes.client.ApiException as e:
            return e.status == 404
        return False

    kube_wait(gone, what="the object to be gone after kopf removed its finalizer")
