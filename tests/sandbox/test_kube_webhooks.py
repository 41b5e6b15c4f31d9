"""The emulator calls validating admission webhooks over HTTPS as kube-apiserver does.

The webhook here is a small HTTPS server of the test's own (a thread) with a self-signed
certificate made by ``cryptography``; what it answers is set per test.
"""

from __future__ import annotations

import base64
import json
import pathlib
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from tests.certificates import certificate
from tests.sandbox.conftest import KUBE_BASE, KUBE_GROUP, KUBE_PLURAL, KubeHttp

from lambda_vpc_sandbox.kube import EmulatorThread

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
COLLECTION = f"{KUBE_BASE}/namespaces/default/{KUBE_PLURAL}"
HOOK = "attachments.lambdavpc.example.com"
CONFIGS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"

Answer = Callable[[dict[str, Any]], dict[str, Any]]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client refusing our certificate is what some tests want


class WebhookServer:
    """An HTTPS AdmissionReview endpoint that records each review and answers with ``answer``."""

    def __init__(self, cert: pathlib.Path, key: pathlib.Path) -> None:
        self.reviews: list[dict[str, Any]] = []
        self.answer: Answer = lambda request: {"allowed": True}
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                review["path"] = self.path
                server.reviews.append(review)
                time.sleep(server.delay)
                response = {"uid": review["request"]["uid"], **server.answer(review["request"])}
                body = json.dumps(
                    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.ca_bundle = base64.b64encode(cert.read_bytes()).decode()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def webhook(tmp_path: pathlib.Path) -> Iterator[WebhookServer]:
    cert, key = certificate(tmp_path, ["localhost", "hooks.team.svc"])
    server = WebhookServer(cert, key)
    try:
        yield server
    finally:
        server.close()


def configuration(client: dict[str, Any], **hook: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "attachments"},
        "webhooks": [
            {
                "name": HOOK,
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "clientConfig": client,
                "rules": [
                    {
                        "apiGroups": [KUBE_GROUP],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [KUBE_PLURAL],
                        "scope": "Namespaced",
                    }
                ],
                **hook,
            }
        ],
    }


def register(http: KubeHttp, config: dict[str, Any]) -> dict[str, Any]:
    response = http("POST", CONFIGS, config)
    assert response.status == 201, response.body
    result: dict[str, Any] = response.body
    return result


def attachment(name: str = "orders", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{KUBE_GROUP}/v1alpha1",
        "kind": "LambdaVpcAttachment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"functionName": "orders-api", **spec},
    }


def deny(message: str, code: int = 403) -> Answer:
    return lambda request: {"allowed": False, "status": {"code": code, "message": message, "reason": "Forbidden"}}


def test_configuration_is_stored_with_defaults_and_validated(kube_http: KubeHttp, webhook: WebhookServer) -> None:
    stored = register(kube_http, configuration({"url": webhook.url, "caBundle": webhook.ca_bundle}))
    (hook,) = stored["webhooks"]
    assert (hook["failurePolicy"], hook["matchPolicy"], hook["timeoutSeconds"]) == ("Fail", "Equivalent", 10)
    assert hook["namespaceSelector"] == {} and hook["objectSelector"] == {}
    bad = configuration({"url": "http://127.0.0.1:1/x"}, sideEffects="Some", timeoutSeconds=60)
    bad["metadata"]["name"] = "bad"
    response = kube_http("POST", CONFIGS, bad)
    assert response.status == 422
    fields = {cause["field"] for cause in response.body["details"]["causes"]}
    assert fields == {"webhooks[0].sideEffects", "webhooks[0].timeoutSeconds", "webhooks[0].clientConfig.url"}


def test_a_denial_is_the_webhooks_status(kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer) -> None:
    register(kube_http, configuration({"url": webhook.url + "/validate", "caBundle": webhook.ca_bundle}))
    webhook.answer = deny("PolicyDenied: no policy selects default")
    response = kube_http("POST", COLLECTION, attachment())
    assert response.status == 403
    assert response.body["reason"] == "Forbidden"
    assert response.body["message"] == (
        f'admission webhook "{HOOK}" denied the request: PolicyDenied: no policy selects default'
    )
    assert kube_http("GET", f"{COLLECTION}/orders").status == 404
    (review,) = webhook.reviews
    assert review["path"] == "/validate?timeout=10s"
    request = review["request"]
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    assert request["operation"] == "CREATE" and request["oldObject"] is None and request["dryRun"] is False
    assert request["resource"] == {"group": KUBE_GROUP, "version": "v1alpha1", "resource": KUBE_PLURAL}
    assert (request["namespace"], request["name"]) == ("default", "orders")
    assert request["object"]["metadata"]["uid"]  # the object as it would be stored
    assert request["options"]["kind"] == "CreateOptions"


def test_a_denial_without_a_code_is_400(kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer) -> None:
    register(kube_http, configuration({"url": webhook.url, "caBundle": webhook.ca_bundle}))
    webhook.answer = lambda request: {"allowed": False}
    response = kube_http("POST", COLLECTION, attachment())
    assert response.status == 400
    assert response.body["message"] == f'admission webhook "{HOOK}" denied the request without explanation'


def test_allowed_with_warnings_and_updates_carry_the_old_object(
    kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer
) -> None:
    register(kube_http, configuration({"url": webhook.url, "caBundle": webhook.ca_bundle}))
    webhook.answer = lambda request: {"allowed": True, "warnings": ["VPC rule could not be checked"]}
    created = kube_http("POST", COLLECTION, attachment())
    assert created.status == 201
    assert created.header("Warning") == '299 - "VPC rule could not be checked"'
    webhook.answer = lambda request: {"allowed": True}
    patched = kube_http(
        "PATCH",
        f"{COLLECTION}/orders",
        {"spec": {"mode": "attach"}},
        content_type="application/merge-patch+json",
    )
    assert patched.status == 200
    update = webhook.reviews[-1]["request"]
    assert update["operation"] == "UPDATE"
    assert update["oldObject"]["spec"] == {"functionName": "orders-api"}
    assert update["object"]["spec"] == {"functionName": "orders-api", "mode": "attach"}
    # DELETE is not in the rules: no call.
    calls = len(webhook.reviews)
    assert kube_http("DELETE", f"{COLLECTION}/orders").status == 200
    assert len(webhook.reviews) == calls


def test_schema_errors_come_before_the_webhook(kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer) -> None:
    register(kube_http, configuration({"url": webhook.url, "caBundle": webhook.ca_bundle}))
    response = kube_http("POST", COLLECTION, attachment(mode="sideways"))
    assert response.status == 422
    assert webhook.reviews == []


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_unreachable_webhook_follows_the_failure_policy(kube_with_crd: Any, kube_http: KubeHttp, policy: str) -> None:
    register(kube_http, configuration({"url": "https://127.0.0.1:1/validate"}, failurePolicy=policy))
    response = kube_http("POST", COLLECTION, attachment())
    if policy == "Ignore":
        assert response.status == 201
        return
    assert response.status == 500
    assert response.body["reason"] == "InternalError"
    assert response.body["message"] == (
        f'Internal error occurred: failed calling webhook "{HOOK}": failed to call webhook: '
        'Post "https://127.0.0.1:1/validate?timeout=10s": dial tcp 127.0.0.1:1: connect: connection refused'
    )


def test_a_certificate_the_ca_bundle_does_not_sign_fails(
    kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer, tmp_path: pathlib.Path
) -> None:
    other, _ = certificate(tmp_path, ["localhost"])
    register(kube_http, configuration({"url": webhook.url, "caBundle": base64.b64encode(other.read_bytes()).decode()}))
    response = kube_http("POST", COLLECTION, attachment())
    assert response.status == 500
    assert "tls: failed to verify certificate" in response.body["message"]
    assert webhook.reviews == []


def test_a_slow_webhook_times_out(kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer) -> None:
    register(kube_http, configuration({"url": webhook.url, "caBundle": webhook.ca_bundle}, timeoutSeconds=1))
    webhook.delay = 2.0
    response = kube_http("POST", COLLECTION, attachment())
    assert response.status == 500
    assert response.body["message"].endswith(f'Post "{webhook.url}?timeout=1s": context deadline exceeded')


def test_namespace_selector_uses_the_namespace_name_label(
    kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer
) -> None:
    selector = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team"]}]}
    register(kube_http, configuration({"url": webhook.url, "caBundle": webhook.ca_bundle}, namespaceSelector=selector))
    webhook.answer = deny("no")
    assert kube_http("POST", COLLECTION, attachment()).status == 201  # default is not selected
    assert kube_http("POST", "/api/v1/namespaces", {"metadata": {"name": "team"}}).status == 201
    in_team = {**attachment(), "metadata": {"name": "orders", "namespace": "team"}}
    assert kube_http("POST", f"{KUBE_BASE}/namespaces/team/{KUBE_PLURAL}", in_team).status == 403


def test_a_service_reference_is_reached_through_its_mapping(
    kube_emulator: EmulatorThread, kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer
) -> None:
    service = {"namespace": "team", "name": "hooks", "path": "/validate"}
    register(kube_http, configuration({"service": service, "caBundle": webhook.ca_bundle}))
    webhook.answer = deny("from the service")
    unmapped = kube_http("POST", COLLECTION, attachment())
    assert unmapped.status == 500
    assert (
        'Post "https://hooks.team.svc:443/validate?timeout=10s": service "hooks" not found' in unmapped.body["message"]
    )
    # Reached at 127.0.0.1, the certificate is still checked for hooks.team.svc.
    kube_emulator.emulator.webhooks.services["team/hooks"] = webhook.url
    mapped = kube_http("POST", COLLECTION, attachment())
    assert mapped.status == 403 and mapped.body["message"].endswith("denied the request: from the service")


def test_status_and_delete_rules(kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer) -> None:
    config = configuration({"url": webhook.url, "caBundle": webhook.ca_bundle})
    config["webhooks"][0]["rules"][0].update(operations=["UPDATE", "DELETE"], resources=[f"{KUBE_PLURAL}/status"])
    register(kube_http, config)
    kube_http.create("orders")
    webhook.answer = deny("status is mine")
    main = kube_http(
        "PATCH", f"{COLLECTION}/orders", {"spec": {"mode": "attach"}}, content_type="application/merge-patch+json"
    )
    assert main.status == 200  # only the status subresource is selected
    status = kube_http(
        "PATCH",
        f"{COLLECTION}/orders/status",
        {"status": {"phase": "Ready"}},
        content_type="application/merge-patch+json",
    )
    assert status.status == 403
    assert webhook.reviews[-1]["request"]["subResource"] == "status"
    assert kube_http("DELETE", f"{COLLECTION}/orders").status == 200  # `x/status` does not select deletes


def test_kubectl_apply_shows_the_denial(
    kube_with_crd: Any, kube_http: KubeHttp, kube_kubectl: Kubectl, webhook: WebhookServer
) -> None:
    register(kube_http, configuration({"url": webhook.url, "caBundle": webhook.ca_bundle}))
    webhook.answer = deny("PolicyDenied: subnet-a is not allowed")
    for args in (("apply", "-f", "-"), ("apply", "--server-side", "-f", "-")):
        refused = kube_kubectl(*args, input=yaml.safe_dump(attachment()), check=False)
        assert refused.returncode != 0
        assert f'admission webhook "{HOOK}" denied the request: PolicyDenied: subnet-a is not allowed' in refused.stderr
    dry = kube_kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(attachment()), check=False)
    assert dry.returncode != 0 and webhook.reviews[-1]["request"]["dryRun"] is True


def test_deletes_and_the_object_selector(kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer) -> None:
    config = configuration(
        {"url": webhook.url, "caBundle": webhook.ca_bundle},
        objectSelector={"matchLabels": {"guarded": "yes"}},
    )
    config["webhooks"][0]["rules"][0]["operations"] = ["DELETE"]
    register(kube_http, config)
    webhook.answer = deny("keep it")
    kube_http.create("free")
    kube_http.create("guarded", labels={"guarded": "yes"})
    assert kube_http("DELETE", f"{COLLECTION}/free").status == 200  # not selected by its labels
    refused = kube_http("DELETE", f"{COLLECTION}/guarded")
    assert refused.status == 403
    (review,) = webhook.reviews
    request = review["request"]
    assert request["operation"] == "DELETE" and request["object"] is None
    assert request["oldObject"]["metadata"]["name"] == "guarded"
    assert request["options"]["kind"] == "DeleteOptions"
    assert kube_http("GET", f"{COLLECTION}/guarded").status == 200


def test_a_generated_name_is_the_one_judged(kube_with_crd: Any, kube_http: KubeHttp, webhook: WebhookServer) -> None:
    register(kube_http, configuration({"url": webhook.url, "caBundle": webhook.ca_bundle}))
    body = attachment()
    body["metadata"] = {"generateName": "orders-", "namespace": "default"}
    created = kube_http("POST", COLLECTION, body)
    assert created.status == 201
    assert webhook.reviews[-1]["request"]["name"] == created.body["metadata"]["name"]
