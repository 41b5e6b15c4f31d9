"""The validating admission webhook, over HTTPS with a self-signed certificate: AdmissionReview in and out.

Most tests play the API server: they POST AdmissionReview requests to the operator's webhook exactly
as an API server would (``https://HOST:PORT/validate-attachment``, trusting the certificate the
webhook serves) and read the AdmissionReview responses. The last ones register a
ValidatingWebhookConfiguration with the emulator, which calls the webhook itself
(sandbox/kube/admission.py), and show what ``kubectl apply`` users see.

The operator is the real ``run`` command
with ``--webhook-port/--webhook-cert/--webhook-key``, in the default ``--policy-mode enforce``,
against the emulator and the simulator; its indexes (policies, namespaces, claims) are fed by the
emulator like any cluster's.

The certificate is made with ``cryptography`` (a dependency of moto, so present wherever the
simulator is).
"""

from __future__ import annotations

import base64
import contextlib
import json
import pathlib
import socket
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest
import yaml
from tests.certificates import certificate

from harness import API_VERSION, GROUP, VERSION, Namespace, Target, policies_made, unique_name, wait_for, watch_log
from lambda_vpc_operator.models import attachments
from lambda_vpc_sandbox.aws.seeding import DEMO_IDS
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]

PREFIX = "e2w"  # this module's namespaces: watched by the webhook's operator, not the session's
WEBHOOK_PATH = "/validate-attachment"
TENANT_LABEL = "e2e.lambdavpc.dev/tenant"


# -- the certificate and the operator ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Webhook:
    def __init__(self, url: str, cafile: pathlib.Path) -> None:
        self.url = url
        self.cafile = cafile
        self.context = ssl.create_default_context(cafile=str(cafile))  # verifies the certificate and the IP

    def review(self, request: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
        http = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(http, context=self.context, timeout=30) as answer:
            assert answer.status == 200
            review: dict[str, Any] = json.loads(answer.read())
        assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
        assert review["response"]["uid"] == request["uid"]
        return dict(review["response"])


@pytest.fixture(scope="module")
def webhook(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Webhook, OperatorProcess]]:
    if target.operator is None:
        pytest.skip("the operator runs elsewhere (LVO_E2E_OPERATOR=external)")
    tmp = tmp_path_factory.mktemp("webhook")
    cert, pkey = certificate(tmp, ["localhost"])
    port, ready_port = free_port(), free_port()
    ready_url = f"http://127.0.0.1:{ready_port}/readyz"
    args = [
        "--namespace", f"{PREFIX}-*", "--resync-interval", f"{target.resync_interval:g}", "--region", target.region,
        "--log-format", "plain", "--webhook-host", "127.0.0.1", "--webhook-port", str(port),
        "--webhook-cert", str(cert), "--webhook-key", str(pkey), "--readiness", ready_url,
    ]  # fmt: skip
    # A namespace it watches exists before it starts, as the chart requires of watched namespaces:
    # the first namespace event is how the operator knows its indexes are loaded (handlers.readiness).
    home = unique_name(PREFIX, 30)
    target.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": home}})
    operator = OperatorProcess(target.kubeconfig, target.operator_env, args, log_path=tmp / "operator.log").start()
    hook = Webhook(f"https://127.0.0.1:{port}{WEBHOOK_PATH}", cert)

    def serving() -> bool:
        # As the chart's readiness probe gates the Service: the API server calls a ready pod only
        # (its indexes loaded; before, it would admit with a warning, never judge without policies).
        assert operator.running, "the webhook's operator exited"
        try:
            with urllib.request.urlopen(ready_url, timeout=5) as answer:
                assert json.loads(answer.read()) == {"ready": True}
            hook.review(review_request("CREATE", attachment("probe", "probe-ns", "probe")))
        except (urllib.error.URLError, ConnectionError, ssl.SSLError):
            return False
        return True

    try:
        wait_for(serving, target.timeout(30), 0.2, what="the admission webhook to serve HTTPS")
        yield hook, operator
    finally:
        operator.stop()
        target.core.delete_namespace(home)


@pytest.fixture
def hook(webhook: tuple[Webhook, OperatorProcess], request: pytest.FixtureRequest) -> Webhook:
    _, operator = webhook
    assert operator.log_path is not None
    watch_log(request.node, operator.log_path)
    return webhook[0]


@pytest.fixture
def make_policy(target: Target) -> Iterator[Callable[..., str]]:
    with policies_made(target) as make:
        yield lambda selector, **spec: make("webhook", selector, **spec)


# -- AdmissionReview -----------------------------------------------------------------------------


def attachment(name: str, namespace: str, function: str, subnets: list[str] | None = None,
               groups: list[str] | None = None, **spec: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": API_VERSION,
        "kind": attachments.KIND,
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
        "spec": {
            "functionName": function,
            "subnetIds": subnets or [DEMO_IDS["demo-private-a"], DEMO_IDS["demo-private-b"]],
            "securityGroupIds": groups or [DEMO_IDS["demo-app"]],
            **spec,
        },
    }


def review_request(operation: str, obj: dict[str, Any] | None, old: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = (obj or old or {})["metadata"]
    resource = {"group": GROUP, "version": VERSION, "resource": attachments.PLURAL}
    kind = {"group": GROUP, "version": VERSION, "kind": attachments.KIND}
    return {
        "uid": str(uuid.uuid4()),
        "kind": kind, "resource": resource, "requestKind": kind, "requestResource": resource,
        "name": meta["name"], "namespace": meta["namespace"], "operation": operation,
        "userInfo": {"username": "alice@example.com", "groups": ["system:authenticated"]},
        "object": obj, "oldObject": old, "dryRun": False,
    }  # fmt: skip


def denied(response: dict[str, Any]) -> str:
    assert response["allowed"] is False, response
    assert response["status"]["code"] == 403, response
    return str(response["status"]["message"])


def labelled(target: Target, ns: Namespace) -> dict[str, Any]:
    target.core.patch_namespace(ns.name, {"metadata": {"labels": {TENANT_LABEL: ns.name}}})
    return {"matchLabels": {TENANT_LABEL: ns.name}}


def until_allowed(target: Target, hook: Webhook, request: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The operator's indexes follow the cluster by watch: poll until a new policy is seen."""

    def probe() -> dict[str, Any] | None:
        response = hook.review(request())
        return response if response.get("allowed") else None

    return wait_for(probe, target.timeout(15), 0.2, what="the webhook to allow")


# -- tests ---------------------------------------------------------------------------------------


def test_no_policy_enforce_denies_with_the_rule(hook: Webhook, make_namespace: Callable[[str], Namespace]) -> None:
    ns = make_namespace(PREFIX)
    message = denied(hook.review(review_request("CREATE", attachment("orders", ns.name, "orders-api"))))
    assert message.startswith("PolicyDenied: ")
    assert f"no LambdaVpcPolicy selects namespace {ns.name}" in message and "--policy-mode enforce" in message


def test_a_terminating_attachment_is_never_refused(
    hook: Webhook, make_namespace: Callable[[str], Namespace]
) -> None:
    """No policy selects the namespace (enforce), yet switching a terminating attachment to Retain
    (or any change while it terminates) passes: a deletion must never be blocked at admission."""
    ns = make_namespace(PREFIX)
    old = attachment("orders", ns.name, "orders-api")
    old["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    new = {**old, "spec": {**old["spec"], "deletionPolicy": "Retain"}}
    response = hook.review(review_request("UPDATE", new, old))
    assert response["allowed"] is True, response


def test_allowed_by_a_policy(
    target: Target, hook: Webhook, make_namespace: Callable[[str], Namespace], make_policy: Callable[..., str]
) -> None:
    ns = make_namespace(PREFIX)
    make_policy(labelled(target, ns), functions=["orders-*"])
    orders = attachment("orders", ns.name, "orders-api")
    response = until_allowed(target, hook, lambda: review_request("CREATE", orders))
    assert "status" not in response or response["status"].get("code") in (None, 200)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        pytest.param({"functions": ["billing-*"]}, "spec.functions", id="function"),
        pytest.param({"subnetIds": [DEMO_IDS["demo-private-a"]]}, "spec.subnetIds", id="subnet"),
        pytest.param({"securityGroupIds": [DEMO_IDS["demo-db"]]}, "spec.securityGroupIds", id="group"),
        # The VPC is not in the spec: the webhook asks EC2 for the subnets' VPC.
        pytest.param({"vpcIds": ["vpc-0shared"]}, "spec.vpcIds", id="vpc"),
    ],
)
def test_denied_by_a_policy_naming_the_rule(
    target: Target, hook: Webhook, make_namespace: Callable[[str], Namespace], make_policy: Callable[..., str],
    spec: dict[str, Any], named: str,
) -> None:  # fmt: skip
    ns = make_namespace(PREFIX)
    selector = labelled(target, ns)
    policy = make_policy(selector, **spec)

    def has_policy() -> str | None:
        message = denied(hook.review(review_request("CREATE", attachment("orders", ns.name, "orders-api"))))
        return message if policy in message else None

    message = wait_for(has_policy, target.timeout(15), 0.2, what=f"a denial naming {policy}")
    assert message.startswith("PolicyDenied: no LambdaVpcPolicy allows this attachment") and named in message


def test_unchanged_spec_updates_pass_even_when_denied(
    hook: Webhook, make_namespace: Callable[[str], Namespace]
) -> None:
    # kopf's own finalizer and annotation updates, and the deletion of a denied attachment, must pass.
    ns = make_namespace(PREFIX)
    old = attachment("orders", ns.name, "orders-api")
    new = {**old, "metadata": {**old["metadata"], "finalizers": ["lambdavpc.dev/finalizer"]}}
    assert hook.review(review_request("UPDATE", new, old))["allowed"] is True
    changed = {**new, "spec": {**new["spec"], "subnetIds": [DEMO_IDS["demo-private-c"]]}}
    assert "PolicyDenied" in denied(hook.review(review_request("UPDATE", changed, old)))
    assert hook.review(review_request("DELETE", None, old))["allowed"] is True


def test_ownership_conflict_across_namespaces_is_denied(
    target: Target, hook: Webhook, make_namespace: Callable[[str], Namespace], make_policy: Callable[..., str]
) -> None:
    net = target.network
    owner_ns, other_ns = make_namespace(PREFIX), make_namespace(PREFIX)
    for ns in (owner_ns, other_ns):
        target.core.patch_namespace(ns.name, {"metadata": {"labels": {TENANT_LABEL: "shared-" + owner_ns.name}}})
    make_policy({"matchLabels": {TENANT_LABEL: "shared-" + owner_ns.name}})
    function = target.make_function("webhook-owned")
    owner_ns.create("owner", function, net.subnets[:2], [net.app_sg])
    owner_ns.wait_ready("owner")  # reconciled by the webhook's own operator (it watches e2w-*)

    message = denied(hook.review(review_request("CREATE", attachment("taker", other_ns.name, function))))
    assert message.startswith("OwnedElsewhere: ") and f"{owner_ns.name}/owner" in message
    # The owner's own spec changes are not an ownership question.
    old = owner_ns.get("owner")
    assert old is not None
    new = {**old, "spec": {**old["spec"], "securityGroupIds": [net.app_sg, net.db_sg]}}
    assert hook.review(review_request("UPDATE", new, old))["allowed"] is True
    # ... but the function it names never changes (the CRD's CEL rules say the same).
    renamed = {**old, "spec": {**old["spec"], "functionName": "another"}}
    message = denied(hook.review(review_request("UPDATE", renamed, old)))
    assert message.startswith("InvalidSpec: spec.functionName cannot change"), message


def test_vpc_rule_unchecked_when_ec2_refuses_passes_with_a_warning(
    target: Target, hook: Webhook, make_namespace: Callable[[str], Namespace], make_policy: Callable[..., str]
) -> None:
    assert target.sim is not None
    ns = make_namespace(PREFIX)
    make_policy(labelled(target, ns), vpcIds=["vpc-0demo"])
    # A subnet the webhook's operator has not described yet (its EC2 answers are cached).
    request = attachment("v6", ns.name, "orders-api", [DEMO_IDS["demo-dualstack-a"]])
    target.sim.deny("ec2:DescribeSubnets")
    try:
        response = until_allowed(target, hook, lambda: review_request("CREATE", request))
    finally:
        target.sim.allow("ec2:DescribeSubnets")
    (warning,) = response["warnings"]
    assert "VPC rule could not be checked" in warning and "UnauthorizedOperation" in warning


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        pytest.param({"subnetSelector": {"tags": {"tier": "private"}}}, "exactly one of spec.subnetIds and "
                     "spec.subnetSelector", id="ids-and-selector"),
        pytest.param({"functionName": "arn:aws:lambda:us-east-1:123456789012:function:orders-api",
                      "region": "eu-west-1"}, "spec.region contradicts the region of the ARN", id="arn-region"),
    ],
)  # fmt: skip
def test_rules_across_fields_are_named(
    hook: Webhook, make_namespace: Callable[[str], Namespace], spec: dict[str, Any], named: str
) -> None:
    ns = make_namespace(PREFIX)
    body = attachment("orders", ns.name, "orders-api", **spec)
    message = denied(hook.review(review_request("CREATE", body)))
    assert message.startswith("InvalidSpec: ") and named in message


# -- through the API server --------------------------------------------------------------------


@contextlib.contextmanager
def registered(target: Target, hook: Webhook, ns: Namespace) -> Iterator[None]:
    """A ValidatingWebhookConfiguration as the chart renders it, for one namespace, pointing at ``hook``."""
    name = unique_name("e2e-webhook", 60)
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "lambdavpcattachments.lambdavpc.dev",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "timeoutSeconds": 10,
                "clientConfig": {"url": hook.url, "caBundle": base64.b64encode(hook.cafile.read_bytes()).decode()},
                "rules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [attachments.PLURAL],
                        "scope": "Namespaced",
                    }
                ],
                # Only this test's namespace: the session's other tests are not sent to this webhook.
                "namespaceSelector": {
                    "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": [ns.name]}]
                },
            }
        ],
    }
    api = kubernetes.client.AdmissionregistrationV1Api(target.api)
    api.create_validating_webhook_configuration(config)
    try:
        yield
    finally:
        api.delete_validating_webhook_configuration(name)


def test_kubectl_apply_through_the_api_server_shows_the_webhooks_denial(
    target: Target, hook: Webhook, make_namespace: Callable[[str], Namespace], make_policy: Callable[..., str]
) -> None:
    if target.name != "emulators":
        pytest.skip("a real API server cannot reach a webhook listening on this machine's 127.0.0.1")
    ns = make_namespace(PREFIX)
    manifest = attachment("orders", ns.name, "orders-api")
    del manifest["metadata"]["uid"]
    with registered(target, hook, ns):
        refused = target.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))
        assert refused.returncode != 0
        assert (
            'admission webhook "lambdavpcattachments.lambdavpc.dev" denied the request: PolicyDenied: '
            in refused.stderr
        ), refused.stderr
        assert f"no LambdaVpcPolicy selects namespace {ns.name}" in refused.stderr
        assert ns.get("orders") is None  # nothing was stored

        # Once a policy allows it (the webhook's indexes follow the cluster by watch), it passes.
        make_policy(labelled(target, ns), functions=["orders-*"])

        def applied() -> bool:
            return target.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest)).returncode == 0

        wait_for(applied, target.timeout(15), 0.2, what="kubectl apply to pass the webhook")
        assert ns.get("orders") is not None


def test_a_role_the_policy_does_not_allow_is_refused(
    target: Target, hook: Webhook, make_namespace: Callable[[str], Namespace], make_policy: Callable[..., str]
) -> None:
    """spec.roleArn is judged from the indexes alone (no AWS call): a role outside spec.roleArns is refused."""
    ns = make_namespace(PREFIX)
    policy = make_policy(labelled(target, ns), roleArns=["arn:aws:iam::222222222222:role/allowed-*"])
    role = "arn:aws:iam::222222222222:role/lambda-vpc-operator-target"

    def has_policy() -> str | None:
        request = review_request("CREATE", attachment("orders", ns.name, "orders-api", roleArn=role))
        message = denied(hook.review(request))
        return message if policy in message else None

    message = wait_for(has_policy, target.timeout(15), 0.2, what=f"a denial naming {policy}")
    assert message.startswith("PolicyDenied: ") and role in message and "spec.roleArn" in message
    allowed = attachment("orders", ns.name, "orders-api", roleArn="arn:aws:iam::222222222222:role/allowed-x")
    until_allowed(target, hook, lambda: review_request("CREATE", allowed))
