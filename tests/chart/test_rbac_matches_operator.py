"""The chart's RBAC against the requests the operator really makes: every one allowed, no rule unused.

For each way the chart can run the operator (cluster-wide; cluster-wide with peering; namespaced
with peering), the test renders the chart, takes the operator's arguments from the rendered
Deployment, and runs the real ``lambda-vpc-operator run`` process against the Kubernetes API
emulator and the AWS simulator (a child process, so moto's process-global state stays out of this
one). It applies examples/kubectl, waits until every attachment settles, deletes one with
deletionPolicy Detach and waits until it is gone, and stops the operator.

The emulator's audit (``KubeEmulator.audit``) counts every HTTP request by RBAC verb, group,
resource, subresource and scope. The test itself never speaks HTTP to the emulator: it uses the
emulator's Python API (``Cluster``), which the audit does not see, so every audited request is the
operator's (the audit is checked empty before the operator starts).

Then: each audited request must be allowed by the rules the chart binds to its ServiceAccount
(cluster-scoped requests by ClusterRoles only), and each rule must have been used by some request,
or be listed in NOT_EXERCISED with the reason it is needed all the same.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from lambda_vpc_operator.models import attachments
from lambda_vpc_sandbox import manifests
from lambda_vpc_sandbox.kube.running import EmulatorThread
from lambda_vpc_sandbox.kube.server import AuditKey
from lambda_vpc_sandbox.processes import OperatorProcess, simulated_aws_env
from shipping import CHART, ROOT, SERVICE_ACCOUNT, Grants, Rule, grants_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

Render = Callable[..., list[dict[str, Any]]]

REGION = "us-east-1"
EXAMPLES = ROOT / "examples" / "kubectl"
DELETED = "orders-api"  # default/orders-api, examples/kubectl/01-attach.yaml: deletionPolicy Detach (default)
PEERING_NAME = "lambda-vpc-operator"  # models/settings.py, and the chart's RBAC resourceNames
SETTLE_TIMEOUT = 90.0
# kopf peering without --priority=random in the CLI yet: any fixed priority works for one operator.
FIXED_PRIORITY = "--priority=100"

# Rules the chart grants that this run cannot exercise, and why they are needed all the same.
# Every rule is exercised: the operator itself creates its kopf peering object (kube/peerings.py).
NOT_EXERCISED: dict[Rule, str] = {}

EXAMPLE_NAMESPACES = sorted(
    {doc["metadata"].get("namespace", "default") for doc in manifests.load_documents(sorted(EXAMPLES.glob("*.yaml")))
     if doc["kind"] == attachments.KIND}
)  # fmt: skip
SCENARIOS: dict[str, dict[str, Any]] = {
    "cluster-wide": {},
    "cluster-wide-peering": {"replicas": 2},
    "namespaced-peering": {"replicas": 2, "watchNamespaces": EXAMPLE_NAMESPACES},
    # One shard of several (docs/install.md "Sharding by namespace"): kopf patterns, a ClusterRole.
    "sharded": {"watchNamespaces": [f"{ns[:3]}*" for ns in EXAMPLE_NAMESPACES]},
}


@contextlib.contextmanager
def aws_simulator(log: pathlib.Path) -> Iterator[str]:
    """`lambda-vpc-operator sandbox aws` (seeded with the demo account) as a child process; its URL."""
    command = [sys.executable, "-m", "lambda_vpc_operator", "sandbox", "aws", "--port", "0", "--region", REGION]
    with log.open("wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env={**os.environ})
        try:
            assert process.stdout is not None
            lines: list[str] = []
            deadline = time.monotonic() + 60
            while not (lines and lines[-1].rstrip() == "}"):  # the seeded account, as indented JSON
                line = process.stdout.readline().decode()
                if not line or time.monotonic() > deadline:
                    pytest.fail(f"the AWS simulator did not start: {log.read_text()[-2000:]}")
                lines.append(line)
            yield str(json.loads("".join(lines))["endpoint_url"])
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def operator_args(manifests_: list[dict[str, Any]]) -> list[str]:
    """The rendered container's arguments, minus `run`, runnable here."""
    (deployment,) = [m for m in manifests_ if m["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = [str(arg) for arg in container["args"]]
    assert args[0] == "run"
    runnable = []
    for arg in args[1:]:
        if arg.startswith("--liveness="):
            continue  # a fixed port (8080) on this machine is not ours to take; it adds no API request
        if arg == "--priority=random" and not _cli_accepts(["run", "--peering", arg]):
            arg = FIXED_PRIORITY
        runnable.append(arg)
    return runnable


def _cli_accepts(args: list[str]) -> bool:
    from lambda_vpc_operator import cli

    try:
        with contextlib.redirect_stderr(None):  # type: ignore[type-var]
            cli.build_parser().parse_args(args)
    except SystemExit:
        return False
    return True


def watched_namespaces(args: list[str]) -> list[str]:
    """The exact namespaces the operator watches (a pattern's come from the examples themselves)."""
    named = [arg.split("=", 1)[1] for arg in args if arg.startswith("--namespace=")]
    return [n for n in named if not any(ch in n for ch in "*?[!,")]


class Cluster:
    """The test's own hands on the emulator: its Python API, never HTTP (so never audited)."""

    def __init__(self, kube: EmulatorThread) -> None:
        self.kube = kube
        self.cluster = kube.emulator.cluster

    def resource(self, group: str, version: str, plural: str) -> Any:
        found = self.cluster.registry.get(group, version, plural)
        assert found is not None, f"{group}/{version} {plural} is not served"
        return found

    def create(self, resource: Any, namespace: str | None, body: dict[str, Any]) -> None:
        self.kube.call(self.cluster.create, resource, namespace, body)

    def ensure_namespace(self, name: str) -> None:
        resource = self.resource("", "v1", "namespaces")
        if self.kube.call(lambda: self.cluster.store.get(resource.storage_key, "", name)) is None:
            # With the label real API servers add to every namespace (policies select by it).
            body = {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}}
            self.create(resource, None, body)

    def apply(self, document: dict[str, Any]) -> None:
        """Create a manifest of any served kind (examples/kubectl holds more than attachments)."""
        group, _, version = document["apiVersion"].rpartition("/")
        (resource,) = [r for r in self.cluster.registry.in_version(group, version) if r.kind == document["kind"]]
        namespace = document["metadata"].get("namespace", "default") if resource.namespaced else None
        if namespace:
            self.ensure_namespace(namespace)
        self.create(resource, namespace, document)

    def attachments(self) -> list[dict[str, Any]]:
        resource = self.resource(attachments.GROUP, attachments.VERSION, attachments.PLURAL)
        listed = self.kube.call(lambda: self.cluster.list_objects(resource, None, lambda _: True))
        return list(listed["items"])

    def delete_attachment(self, namespace: str, name: str) -> None:
        resource = self.resource(attachments.GROUP, attachments.VERSION, attachments.PLURAL)
        self.kube.call(lambda: self.cluster.delete(resource, namespace, name))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, log: pathlib.Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:]) if log.exists() else "(no log)"
            pytest.fail(f"{what} did not happen within {timeout:.0f}s; the operator's log ends with:\n{tail}")
        time.sleep(0.2)


def run_operator_and_audit(rendered: list[dict[str, Any]], tmp_path: pathlib.Path) -> collections.Counter[AuditKey]:
    """Run the scenario; return the audit of the operator's requests."""
    args = operator_args(rendered)
    namespaces = watched_namespaces(args)
    log = tmp_path / "operator.log"

    with (
        aws_simulator(tmp_path / "aws.log") as endpoint_url,
        EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as kube,
    ):
        cluster = Cluster(kube)
        # The chart's own CRDs: crds/ (identical to the top-level crds/) and, with peering, kopf's.
        for path in sorted((CHART / "crds").glob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                kube.install_crd(crd)
        for crd in [m for m in rendered if m["kind"] == "CustomResourceDefinition"]:
            kube.install_crd(crd)
        for namespace in namespaces:
            cluster.ensure_namespace(namespace)
        assert not kube.emulator.audit, "the test's setup went through HTTP: the audit would mix it in"

        env = simulated_aws_env(endpoint_url, REGION)
        with OperatorProcess(kube.kubeconfig_path, env, args, log_path=log):
            documents = list(manifests.load_documents(sorted(EXAMPLES.glob("*.yaml"))))
            for document in documents:
                cluster.apply(document)
            expected = sum(document["kind"] == attachments.KIND for document in documents)

            def settled() -> bool:
                verdicts = [manifests.verdict(obj) for obj in cluster.attachments()]
                return len(verdicts) == expected and all(v.settled for v in verdicts)

            wait_until(settled, SETTLE_TIMEOUT, "every example attachment settling", log)
            cluster.delete_attachment("default", DELETED)

            def gone() -> bool:
                return ("default", DELETED) not in {
                    (obj["metadata"]["namespace"], obj["metadata"]["name"]) for obj in cluster.attachments()
                }

            wait_until(gone, SETTLE_TIMEOUT, f"{DELETED} being detached and released", log)
        # The operator has stopped (its goodbyes to the peering included): nothing more to record.
        return collections.Counter(kube.emulator.audit)


def needed_rule(key: AuditKey) -> Rule:
    resource = f"{key.resource}/{key.subresource}" if key.subresource else key.resource
    return Rule(key.api_group, resource, key.verb)


def allows(rules: frozenset[Rule], needed: Rule) -> bool:
    """A rule with resourceNames allows only requests that name an object (the audit has no names:
    such a rule counts for get/patch/update/delete, which always name one)."""
    for rule in rules:
        if (rule.api_group, rule.resource, rule.verb) != (needed.api_group, needed.resource, needed.verb):
            continue
        if not rule.resource_names or rule.verb in ("get", "patch", "update", "delete"):
            return True
    return False


def forbidden(audit: collections.Counter[AuditKey], grants: Grants, namespaces: list[str]) -> list[str]:
    refused = []
    for key, count in sorted(audit.items()):
        needed = needed_rule(key)
        if allows(grants.cluster, needed):
            continue
        # A namespaced request may be allowed by the Role of every watched namespace instead.
        if key.namespaced and namespaces and all(allows(grants.namespaced.get(ns, frozenset()), needed)
                                                 for ns in namespaces):  # fmt: skip
            continue
        refused.append(f"{count}x {key.verb} {key.api_group or 'core'}/{needed.resource} "
                       f"({'namespaced' if key.namespaced else 'cluster-scoped'})")  # fmt: skip
    return refused


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_rbac_allows_every_request_and_no_more(render: Render, tmp_path: pathlib.Path, scenario: str) -> None:
    rendered = render(SCENARIOS[scenario])
    grants = grants_of(rendered, SERVICE_ACCOUNT)
    namespaces = watched_namespaces(operator_args(rendered))
    assert grants.cluster, "the chart binds no ClusterRole to its ServiceAccount"
    assert sorted(grants.namespaced) == sorted(namespaces)

    audit = run_operator_and_audit(rendered, tmp_path)
    assert audit, "the operator made no request at all"

    seen = "\n".join(f"  {n}x {k}" for k, n in sorted(audit.items()))
    refused = forbidden(audit, grants, namespaces)
    assert not refused, (
        "the chart's RBAC refuses requests the operator makes:\n"
        + "\n".join(refused)
        + (f"\nall of the operator's requests:\n{seen}")
    )

    used = {needed_rule(key) for key in audit}
    granted = {Rule(r.api_group, r.resource, r.verb) for r in grants.all_rules()}
    unused = sorted(granted - used - set(NOT_EXERCISED), key=str)
    assert not unused, (
        f"rules no request used (remove them, or say in NOT_EXERCISED why they are needed): {unused}\n"
        f"all of the operator's requests:\n{seen}"
    )
    stale = sorted((set(NOT_EXERCISED) & granted) & used, key=str)
    assert not stale, f"these rules are exercised now: remove them from NOT_EXERCISED: {stale}"


def test_not_exercised_rules_are_all_in_the_chart(render: Render) -> None:
    """NOT_EXERCISED must not outlive the rules it excuses."""
    granted: set[Rule] = set()
    for values in SCENARIOS.values():
        granted |= {
            Rule(r.api_group, r.resource, r.verb) for r in grants_of(render(values), SERVICE_ACCOUNT).all_rules()
        }
    assert set(NOT_EXERCISED) <= granted
