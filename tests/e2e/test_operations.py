"""Issue 13, operations: metrics that move, Events from our component, the annotations that steer one
attachment (paused, reconcile-requested-at), JSON logs without secrets, and the `plan` and `status`
commands, all against the emulators over real HTTP.

The session operator serves /metrics (conftest: --metrics-port). The steering and logging tests use
an operator of their own (namespace ``ops-*``, outside the session operator's glob) with a long
resync interval, so that "the look happened now" cannot be a resync; it logs JSON at debug level
(botocore's request headers, the session token among them) with distinctive secrets, and serves the
webhook with a private key of its own: none of them may appear in a log line or an Event.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.certificates import certificate

from harness import Namespace, Target, condition, free_port, wait_for, watch_log
from lambda_vpc_operator.models.attachments import GROUP, KIND, PLURAL, VERSION
from lambda_vpc_sandbox.aws.control import SimulatorControl
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = pytest.mark.e2e

COMPONENT = "lambda-vpc-operator"
PAUSED = "lambdavpc.dev/paused"
RECONCILE = "lambdavpc.dev/reconcile-requested-at"
OWN_RESYNC = 120.0  # longer than any wait below: a look within it was asked for, not scheduled
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# -- metrics -------------------------------------------------------------------------------------


def scrape(target: Target, url: str | None = None) -> Samples:
    url = url or target.metrics_url
    if url is None:
        pytest.skip("the operator runs elsewhere: no /metrics to scrape")
    endpoint = url

    def read() -> str:
        try:
            return str(urllib.request.urlopen(endpoint, timeout=10).read().decode())
        except urllib.error.URLError as exc:  # the operator is still starting
            raise AssertionError(f"{endpoint}: {exc}") from None

    text = wait_for(read, target.timeout(30), 0.2, what=f"{url} to answer")
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def moved(target: Target, before: Samples, name: str, by: float = 1, url: str | None = None, **labels: str) -> Samples:
    """Wait until ``name{labels}`` has grown by ``by`` since ``before``."""

    def probe() -> Samples | None:
        now = scrape(target, url)
        grown = value(now, name, **labels) - value(before, name, **labels)
        assert grown >= by, f"{name}{labels} grew by {grown}, expected {by}"
        return now

    return wait_for(probe, target.timeout(30), 0.3, what=f"{name}{labels} to grow")


def test_metrics_move_with_the_attachments(target: Target, ns: Namespace) -> None:
    net = target.network
    before = scrape(target)
    function = target.make_function("metrics")
    ns.create("fn", function, net.subnets[:2], [net.app_sg])
    ns.create("broken", target.make_function("metrics-broken"), ["subnet-00000000000000000"], [net.app_sg])
    ns.wait_ready("fn")
    ns.wait_stalled("broken", "SubnetNotFound")
    ns.wait("fn", lambda o: condition(o, "NetworkReady").get("status") == "True", "NetworkReady")

    after = moved(target, before, "lambda_vpc_operator_reconcile_duration_seconds_count", action="reconcile")
    after = moved(target, before, "lambda_vpc_operator_aws_requests_total",
                  operation="UpdateFunctionConfiguration", outcome="Success")  # fmt: skip
    after = moved(target, before, "lambda_vpc_operator_network_ready_seconds_count")
    # The gauge is the live attachments' conditions: "how many are Stalled and why" is one query.
    ready = value(after, "lambda_vpc_operator_attachments", condition="Ready", status="True", reason="Attached")
    assert ready >= 1
    stalled = value(after, "lambda_vpc_operator_attachments", condition="Stalled", status="True",
                    reason="SubnetNotFound")  # fmt: skip
    assert stalled >= 1
    assert value(after, "lambda_vpc_operator_reconcile_errors_total") == value(
        before, "lambda_vpc_operator_reconcile_errors_total"
    )

    target.set_vpc_out_of_band(function, [net.subnets[2]], [net.db_sg])
    ns.wait_event("fn", "DriftCorrected", timeout=5 * target.resync_interval + 10)
    after = moved(target, after, "lambda_vpc_operator_drift_total", outcome="detected")
    after = moved(target, before, "lambda_vpc_operator_drift_total", outcome="corrected")

    ns.delete("broken")
    ns.wait_gone("broken")

    def gone() -> bool:
        now = scrape(target)
        left = value(now, "lambda_vpc_operator_attachments", condition="Stalled", reason="SubnetNotFound")
        assert left == stalled - 1, f"{left} SubnetNotFound attachments still counted"
        return True

    wait_for(gone, target.timeout(20), 0.3, what="the deleted attachment to leave the gauge")


@pytest.mark.simulator
def test_throttles_and_budget_waits_are_counted(target: Target, ns: Namespace, sim: SimulatorControl) -> None:
    net = target.network
    functions = target.make_functions("throttled", 6)
    before = scrape(target)
    sim.set_rate_limits(True, control_per_s=1.0)  # a busy account: one control-plane request a second left
    for i, function in enumerate(functions):
        ns.create(f"fn-{i}", function, net.subnets[:2], [net.app_sg])
    after = moved(target, before, "lambda_vpc_operator_aws_throttles_total", budget="control")
    # A throttle pauses the whole budget: the requests behind it waited.
    moved(target, before, "lambda_vpc_operator_budget_wait_seconds_total", by=0.1, budget="control")
    assert value(after, "lambda_vpc_operator_aws_requests_total", outcome="Throttled") > value(
        before, "lambda_vpc_operator_aws_requests_total", outcome="Throttled"
    )
    for i in range(len(functions)):
        ns.wait_ready(f"fn-{i}", timeout=60)


@pytest.mark.simulator
def test_reactivations_are_counted_by_outcome(target: Target, ns: Namespace, sim: SimulatorControl) -> None:
    net = target.network
    function = target.make_function("metrics-idle")
    ns.create("fn", function, net.subnets[:2], [net.app_sg])  # reactivation: Auto, the default
    ns.wait_ready("fn")
    before = scrape(target)
    sim.make_idle(function)
    ns.wait("fn", lambda o: ((o.get("status") or {}).get("reactivation") or {}).get("lastResult") == "Reactivated",
            "lastResult Reactivated", timeout=30)  # fmt: skip
    after = moved(target, before, "lambda_vpc_operator_reactivations_total", outcome="Started")
    assert value(after, "lambda_vpc_operator_reactivations_total", outcome="Reactivated") == value(
        before, "lambda_vpc_operator_reactivations_total", outcome="Reactivated") + 1  # fmt: skip


# -- Events --------------------------------------------------------------------------------------


def test_events_name_the_operator_not_kopf(target: Target, ns: Namespace) -> None:
    net = target.network
    ns.create("fn", target.make_function("events"), net.subnets[:1], [net.app_sg])
    ns.wait_ready("fn")
    ns.wait_event("fn", "Updated")
    events = target.core.list_namespaced_event(ns.name, field_selector="involvedObject.name=fn").items
    assert events
    for event in events:
        assert event.source.component == COMPONENT, event
        assert event.reporting_component == COMPONENT, event


# -- paused --------------------------------------------------------------------------------------


def annotate(target: Target, ns: Namespace, name: str, **annotations: str | None) -> None:
    target.custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns.name, PLURAL, name, {"metadata": {"annotations": annotations}}
    )


@pytest.mark.simulator
def test_a_paused_attachment_is_left_alone_and_released_without_aws(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("paused")
    ns.create("paused", function, net.subnets[:2], [net.app_sg])
    # A companion keeps resyncing: its reads prove time passed for the paused one too.
    ns.create("companion", target.make_function("companion"), net.subnets[:1], [net.app_sg])
    ns.wait_ready("paused")
    ns.wait_ready("companion")

    annotate(target, ns, "paused", **{PAUSED: "true"})
    obj = ns.wait("paused", lambda o: condition(o, "Paused").get("status") == "True", "Paused=True")
    assert PAUSED in condition(obj, "Paused")["message"]
    target.reset_calls()
    target.set_vpc_out_of_band(function, [net.subnets[2]], [net.db_sg])
    ns.patch_spec("paused", subnetIds=list(net.subnets[:1]))  # a new generation, not acted on either
    target.wait_reads(3, timeout=5 * target.resync_interval + 10)
    still = ns.get("paused")
    assert still is not None
    assert still["status"] == obj["status"], "a paused attachment's status changed"
    assert target.updates() == 0, target.calls()
    assert target.vpc(function).subnet_ids == {net.subnets[2]}

    # The annotation goes: the next look happens (the spec change and the drift are handled).
    annotate(target, ns, "paused", **{PAUSED: None})
    obj = ns.wait("paused", lambda o: o["status"].get("observedGeneration") == 2 and condition(o, "Ready").get(
        "status") == "True" and not condition(o, "Paused"), "resumed and Ready", timeout=30)  # fmt: skip
    assert target.vpc(function).subnet_ids == {net.subnets[0]}

    # Deleted while paused: released with no AWS call at all (the function keeps what it has).
    ns.delete("companion")
    ns.wait_gone("companion")
    annotate(target, ns, "paused", **{PAUSED: "true"})
    ns.wait("paused", lambda o: condition(o, "Paused").get("status") == "True", "Paused=True again")
    target.reset_calls()
    ns.patch_spec("paused", deletionPolicy="Detach")
    ns.delete("paused")
    ns.wait_gone("paused")
    assert not [c for c in target.calls() if c.startswith("lambda:")], target.calls()
    assert target.vpc(function).subnet_ids == {net.subnets[0]}
    assert "ReleasedWhilePaused" in {e.reason for e in ns.events("paused")}


# -- an operator of our own: reconcile-requested-at, JSON logs, no secrets -------------------------


class Own:
    def __init__(self, target: Target, namespace: Namespace, operator: OperatorProcess, log: Path,
                 metrics_url: str, secrets: list[str]) -> None:  # fmt: skip
        self.target, self.ns, self.operator, self.log = target, namespace, operator, log
        self.metrics_url, self.secrets = metrics_url, secrets


@pytest.fixture(scope="module")
def own(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Own]:
    if target.operator is None or target.sim is None:
        pytest.skip("needs the emulators and an operator started by the tests")
    tmp = tmp_path_factory.mktemp("ops")
    cert, key = certificate(tmp, ["localhost"])
    # Distinctive secrets: the simulator accepts any secret for the operator's access key.
    env = {
        "AWS_SECRET_ACCESS_KEY": f"lvo-secret-{uuid.uuid4().hex}",
        "AWS_SESSION_TOKEN": f"lvo-token-{uuid.uuid4().hex}",
    }
    key_lines = [line for line in key.read_text().splitlines() if line and not line.startswith("-----")]
    metrics_port, webhook_port = free_port(), free_port()
    args = [
        "--log-format", "json", "--verbose", "--metrics-port", str(metrics_port), "--policy-mode", "allow-all",
        "--webhook-host", "127.0.0.1", "--webhook-port", str(webhook_port), "--webhook-cert", str(cert),
        "--webhook-key", str(key),
    ]  # fmt: skip
    log = tmp / "operator.log"
    with target.operator_alone("ops", log, OWN_RESYNC, args, env=env) as (ns, operator):
        yield Own(target, ns, operator, log, f"http://127.0.0.1:{metrics_port}/metrics",
                  [*env.values(), *key_lines])  # fmt: skip


@pytest.mark.simulator
def test_reconcile_requested_at_looks_now_with_fresh_reads(
    target: Target, own: Own, request: pytest.FixtureRequest
) -> None:
    watch_log(request.node, own.log)
    ns, net = own.ns, target.network
    ns.create("fn", target.make_function("poke"), net.subnets[:2], [net.app_sg])
    ns.wait_ready("fn")
    ns.wait("fn", lambda o: condition(o, "NetworkReady").get("status") == "True", "NetworkReady")
    target.reset_calls()

    annotate(target, ns, "fn", **{RECONCILE: "2026-12-04T10:00:00Z"})
    obj = ns.wait("fn", lambda o: o["status"].get("lastHandledReconcileAt") == "2026-12-04T10:00:00Z",
                  "lastHandledReconcileAt", timeout=15)  # fmt: skip
    calls = target.calls()
    assert calls["lambda:GetFunction"] >= 1, calls
    assert calls["ec2:DescribeSubnets"] >= 1, calls  # the preflight read again, not from its cache
    assert condition(obj, "Ready")["status"] == "True"

    # The same value again is not a new request; a new value is.
    target.reset_calls()
    annotate(target, ns, "fn", **{RECONCILE: "2026-12-04T10:05:00Z"})
    ns.wait("fn", lambda o: o["status"].get("lastHandledReconcileAt") == "2026-12-04T10:05:00Z",
            "the second request handled", timeout=15)  # fmt: skip
    assert target.calls()["lambda:GetFunction"] >= 1


@pytest.mark.simulator
def test_json_logs_carry_our_fields_and_no_secret(target: Target, own: Own, request: pytest.FixtureRequest) -> None:
    watch_log(request.node, own.log)
    ns, net = own.ns, target.network
    function = target.make_function("logs")
    ns.create("logged", function, net.subnets[:2], [net.app_sg])
    ns.wait_ready("logged")
    # The webhook answers too, and counts its decisions.
    before = scrape(target, own.metrics_url)
    from test_admission import Webhook, review_request

    cert = Path(own.operator.args[own.operator.args.index("--webhook-cert") + 1])
    webhook_port = own.operator.args[own.operator.args.index("--webhook-port") + 1]
    hook = Webhook(f"https://127.0.0.1:{webhook_port}/validate-attachment", cert)
    other = ns.body("other", target.make_function("logs-other"), net.subnets[:1], [net.app_sg])
    assert hook.review(review_request("CREATE", other))["allowed"] is True
    moved(target, before, "lambda_vpc_operator_webhook_decisions_total", url=own.metrics_url, outcome="allowed")
    # The same function as "logged": an ownership conflict, denied.
    rival = ns.body("rival", function, net.subnets[:1], [net.app_sg])
    assert hook.review(review_request("CREATE", rival))["allowed"] is False
    moved(target, before, "lambda_vpc_operator_webhook_decisions_total", url=own.metrics_url, outcome="denied")

    def logged() -> list[dict[str, Any]]:
        lines = [line for line in own.log.read_text().splitlines() if line.strip()]
        parsed = [json.loads(line) for line in lines]
        ours = [r for r in parsed if r.get("name") == "logged" and r.get("namespace") == ns.name]
        assert any(r.get("outcome") == "Attached" for r in ours), "no line with outcome Attached"
        return parsed

    records = wait_for(logged, target.timeout(15), 0.5, what="JSON log lines about the attachment")
    for record in records:
        assert {"namespace", "name", "function", "action", "outcome", "message", "severity"} <= set(record), record
    looks = [r for r in records if r["name"] == "logged" and r["action"] == "reconcile"]
    assert looks and all(r["function"] == function for r in looks)
    # botocore's debug lines inside a look carry the look's fields (contextvars follow to_thread).
    assert any(r["logger"].startswith("botocore") for r in looks)
    text = own.log.read_text()
    events = target.core.list_namespaced_event(ns.name).items
    for secret in own.secrets:
        assert secret not in text, "a secret appears in the operator's log"
        assert all(secret not in (e.message or "") for e in events), "a secret appears in an Event"
    assert "[redacted]" in text  # botocore logged the session token header, and it was caught


# -- the commands --------------------------------------------------------------------------------


def cli(target: Target, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **target.operator_env, "KUBECONFIG": str(target.kubeconfig)}
    return subprocess.run([sys.executable, "-m", "lambda_vpc_operator", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=target.timeout(60))  # fmt: skip


def test_status_lists_every_attachment(target: Target, ns: Namespace) -> None:
    net = target.network
    ns.create("one", target.make_function("status-one"), net.subnets[:2], [net.app_sg])
    ns.create("two", target.make_function("status-two"), ["subnet-00000000000000000"], [net.app_sg])
    ns.wait("one", lambda o: condition(o, "NetworkReady").get("status") == "True", "NetworkReady")
    ns.wait_stalled("two", "SubnetNotFound")

    table = cli(target, "status", "-n", ns.name)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:4] == ["NAMESPACE", "NAME", "FUNCTION", "VPC"]
    one = next(r for r in rows if r.split()[1] == "one")
    assert net.vpc_id in one and "Active" in one and " 2/2 " in one and "Ready=True(Attached)" in one
    two = next(r for r in rows if r.split()[1] == "two")
    assert "Stalled=True(SubnetNotFound)" in two

    listing = json.loads(cli(target, "status", "-A", "-o", "json").stdout)["attachments"]
    mine = {(a["namespace"], a["name"]): a for a in listing}
    assert mine[ns.name, "one"]["enisReady"] == 2
    assert mine[ns.name, "one"]["conditions"]["Ready"]["reason"] == "Attached"
    assert mine[ns.name, "two"]["conditions"]["Stalled"]["reason"] == "SubnetNotFound"


def manifest(ns: Namespace, name: str, function: str, subnets: list[str], groups: list[str]) -> str:
    return yaml.safe_dump(ns.body(name, function, subnets, groups))


@pytest.mark.simulator
def test_plan_says_what_would_change_and_writes_nothing(target: Target, ns: Namespace, tmp_path: Path) -> None:
    net = target.network
    function = target.make_function("plan")
    before = target.configuration(function)
    target.reset_calls()

    changes = cli(target, "plan", "-f", "-", "--cluster-name", target.cluster_name,
                  stdin=manifest(ns, "fn", function, list(net.subnets[:2]), [net.app_sg]))  # fmt: skip
    assert changes.returncode == 2, changes.stdout + changes.stderr
    assert "would send  UpdateFunctionConfiguration" in changes.stdout
    assert "would send  TagResource" in changes.stdout  # the claim, as the operator would tag it
    assert f"+ {net.subnets[0]}, {net.subnets[1]}" in changes.stdout or f"+ {', '.join(sorted(net.subnets[:2]))}" in (
        changes.stdout
    )
    calls = target.calls()
    assert not [c for c in calls if c in ("lambda:UpdateFunctionConfiguration", "lambda:TagResource")], calls
    assert calls["lambda:GetFunction"] >= 1 and calls["ec2:DescribeSubnets"] >= 1
    assert target.configuration(function)["RevisionId"] == before["RevisionId"]

    as_json = cli(target, "plan", "-f", "-", "-o", "json", "--cluster-name", target.cluster_name,
                  stdin=manifest(ns, "fn", function, list(net.subnets[:2]), [net.app_sg]))  # fmt: skip
    document = json.loads(as_json.stdout)
    assert as_json.returncode == document["exitCode"] == 2
    (planned,) = document["attachments"]
    assert planned["subnets"]["add"] == sorted(net.subnets[:2])
    assert {e["subnetId"] for e in planned["enis"]} == set(net.subnets[:2])
    assert {e["action"] for e in planned["enis"]} <= {"create", "reuse"}

    missing = cli(target, "plan", "-f", "-", "--cluster-name", target.cluster_name,
                  stdin=manifest(ns, "bad", function, ["subnet-00000000000000000"], [net.app_sg]))  # fmt: skip
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert "SubnetNotFound" in missing.stdout

    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({
        "apiVersion": f"{GROUP}/v1alpha1", "kind": "LambdaVpcPolicy", "metadata": {"name": "elsewhere"},
        "spec": {"namespaceSelector": {"matchLabels": {"team": "nobody"}}},
    }))  # fmt: skip
    denied = cli(target, "plan", "-f", "-", "--policy", str(policy), "--cluster-name", target.cluster_name,
                 stdin=manifest(ns, "fn", function, list(net.subnets[:2]), [net.app_sg]))  # fmt: skip
    assert denied.returncode == 1, denied.stdout + denied.stderr
    assert "policy:     denied" in denied.stdout
    policy.write_text(yaml.safe_dump({
        "apiVersion": f"{GROUP}/v1alpha1", "kind": "LambdaVpcPolicy", "metadata": {"name": "payments"},
        "spec": {"namespaceSelector": {"matchLabels": {"team": "payments"}}},
    }))  # fmt: skip
    allowed = cli(target, "plan", "-f", "-", "--policy", str(policy), "--namespace-label", "team=payments",
                  "--cluster-name", target.cluster_name,
                  stdin=manifest(ns, "fn", function, list(net.subnets[:2]), [net.app_sg]))  # fmt: skip
    assert allowed.returncode == 2, allowed.stdout + allowed.stderr
    assert "policy:     allowed" in allowed.stdout

    # Once the operator has done it, the plan of the same object is empty.
    ns.create("fn", function, net.subnets[:2], [net.app_sg])
    ns.wait("fn", lambda o: condition(o, "NetworkReady").get("status") == "True", "NetworkReady")
    obj = ns.get("fn")
    assert obj is not None
    settled = cli(target, "plan", "-f", "-", "--cluster-name", target.cluster_name, stdin=yaml.safe_dump(obj))
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert "no change" in settled.stdout
    assert KIND in settled.stdout
