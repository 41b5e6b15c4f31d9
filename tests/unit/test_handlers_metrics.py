"""The Prometheus endpoint: AWS requests as counted by every call site, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import urllib.request
import uuid
from pathlib import Path

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lambda_vpc_operator.aws import budgets
from lambda_vpc_operator.aws import metrics as aws_metrics
from lambda_vpc_operator.handlers import metrics


def test_aws_requests_are_exposed_by_service_operation_and_outcome() -> None:
    counter = aws_metrics.CallCounter()
    counter.count("lambda", "UpdateFunctionConfiguration", "Success", 2)
    counter.count("lambda", "GetFunction", "Throttled")
    text = prometheus_client.generate_latest(metrics.registry(counter)).decode()
    assert (
        'lambda_vpc_operator_aws_requests_total{operation="UpdateFunctionConfiguration",outcome="Success",'
        'service="lambda"} 2.0' in text
    )
    throttled = 'lambda_vpc_operator_aws_requests_total{operation="GetFunction",outcome="Throttled",service="lambda"}'
    assert f"{throttled} 1.0" in text


def test_the_endpoint_serves_the_counts_over_http() -> None:
    counter = aws_metrics.CallCounter()
    counter.count("ec2", "DescribeSubnets")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server, thread = prometheus_client.start_http_server(port, addr="127.0.0.1", registry=metrics.registry(counter))
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        server.shutdown()
        thread.join(5)
    series = 'lambda_vpc_operator_aws_requests_total{operation="DescribeSubnets",outcome="Success",service="ec2"}'
    assert f"{series} 1.0" in body


# -- issue 13: the operator's own metrics ------------------------------------------------------------

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"
SERIES = re.compile(r"\blambda_vpc_operator_[a-z_]+")


def exported_series() -> set[str]:
    """Every series name the registry can expose (counters end in _total, histograms in _bucket...)."""
    suffixes = ("", "_total", "_created", "_bucket", "_count", "_sum")
    return {name + suffix for name in metrics.NAMES for suffix in suffixes}


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def test_the_dashboard_uses_exactly_the_exported_names() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in expressions for name in SERIES.findall(expr)}
    assert used <= exported_series(), used - exported_series()
    # Every metric we export has a panel.
    assert {n for n in metrics.NAMES if not any(u.startswith(n) for u in used)} == set()


def test_status_writes_feed_the_gauge_the_histogram_and_reactivations() -> None:
    key = f"ns/{uuid.uuid4().hex}"
    stalled = {"conditions": [
        {"type": "Ready", "status": "False", "reason": "SubnetNotFound"},
        {"type": "Stalled", "status": "True", "reason": "SubnetNotFound"},
    ]}  # fmt: skip
    before = prometheus_client.generate_latest(metrics.REGISTRY).decode()
    metrics.status_written(key, {"reactivation": {"lastResult": "Reactivated"}, "networkReadySeconds": 42.0}, stalled)
    text = prometheus_client.generate_latest(metrics.REGISTRY).decode()
    gauge = "lambda_vpc_operator_attachments"
    labels = {"condition": "Stalled", "status": "True", "reason": "SubnetNotFound"}
    assert sample(text, gauge, **labels) == sample(before, gauge, **labels) + 1
    assert sample(text, "lambda_vpc_operator_network_ready_seconds_count") == sample(
        before, "lambda_vpc_operator_network_ready_seconds_count") + 1  # fmt: skip
    assert sample(text, "lambda_vpc_operator_reactivations_total", outcome="Reactivated") == sample(
        before, "lambda_vpc_operator_reactivations_total", outcome="Reactivated") + 1  # fmt: skip
    metrics.attachments.forget(key)
    text = prometheus_client.generate_latest(metrics.REGISTRY).decode()
    assert sample(text, gauge, **labels) == sample(before, gauge, **labels)


def test_drift_events_are_counted() -> None:
    before = sample(prometheus_client.generate_latest(metrics.REGISTRY).decode(), "lambda_vpc_operator_drift_total",
                    outcome="corrected")  # fmt: skip
    metrics.event_posted("DriftCorrected")
    metrics.event_posted("Updated")
    after = sample(prometheus_client.generate_latest(metrics.REGISTRY).decode(), "lambda_vpc_operator_drift_total",
                   outcome="corrected")  # fmt: skip
    assert after == before + 1


def test_budget_throttles_and_waits_are_exposed_per_budget() -> None:
    meter = aws_metrics.BudgetMeter()
    meter.throttled("control", "eu-west-1")
    meter.waited("control", "eu-west-1", 1.5)
    registry = prometheus_client.CollectorRegistry()
    registry.register(metrics.BudgetCollector(meter))
    text = prometheus_client.generate_latest(registry).decode()
    assert sample(text, "lambda_vpc_operator_aws_throttles_total", budget="control", region="eu-west-1") == 1
    assert sample(text, "lambda_vpc_operator_budget_wait_seconds_total", budget="control", region="eu-west-1") == 1.5


async def test_a_budget_records_the_time_its_callers_waited() -> None:
    now = [100.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    budget = budgets.RequestBudget(1.0, clock=lambda: now[0], sleep=sleep, name=f"t-{uuid.uuid4().hex}", region="r")
    await budget.acquire()  # the burst's token: no wait
    await budget.acquire()  # one second for the next token
    _, waited = aws_metrics.budgets.snapshot()
    assert waited[budget.name, "r"] == pytest.approx(1.0)
async def test_the_budget_queue_tells_sleeping_tickets_from_waiting_requests() -> None:
    now = [100.0]
    release = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the next token never comes until the test says
        await release.wait()
        now[0] += seconds

    meter = aws_metrics.BudgetMeter()
    registry = prometheus_client.CollectorRegistry()
    registry.register(metrics.BudgetCollector(meter))
    budget = budgets.RequestBudget(1.0, clock=lambda: now[0], sleep=sleep, name="control", region="r")
    meter.track(budget)
    await budget.acquire()  # the burst's token: the queue starts now
    tickets = [budget.reserve(budgets.Priority.DRIFT, lambda: None) for _ in range(3)]
    waiting = asyncio.create_task(budget.acquire())
    for _ in range(3):
        await asyncio.sleep(0)
    text = prometheus_client.generate_latest(registry).decode()
    assert sample(text, "lambda_vpc_operator_budget_queue", budget="control", region="r", waiter="ticket") == 3
    assert sample(text, "lambda_vpc_operator_budget_queue", budget="control", region="r", waiter="request") == 1
    tickets[0].cancel()
    for _ in range(3):
        await asyncio.sleep(0)
    text = prometheus_client.generate_latest(registry).decode()
    assert sample(text, "lambda_vpc_operator_budget_queue", budget="control", region="r", waiter="ticket") == 2
    release.set()
    await waiting
    for ticket in tickets:
        ticket.cancel()


def test_looks_that_raised_are_exposed_by_handler_and_error() -> None:
    from lambda_vpc_operator.reconciliation import failing

    errors = failing.ErrorCounter()
    errors.count("reconcile", "UnexpectedAnswer")
    errors.count("reconcile", "UnexpectedAnswer")
    errors.count("release", "KeyError")
    text = prometheus_client.generate_latest(metrics.registry(aws_metrics.CallCounter(), errors)).decode()
    assert 'lambda_vpc_operator_reconcile_errors_total{error="UnexpectedAnswer",handler="reconcile"} 2.0' in text
    assert 'lambda_vpc_operator_reconcile_errors_total{error="KeyError",handler="release"} 1.0' in text


def test_the_observer_says_its_way_and_why_it_read() -> None:
    from lambda_vpc_operator.aws import metrics as aws_metrics

    aws_metrics.observer.reset()
    aws_metrics.observer.way("eu-west-1", "get")
    aws_metrics.observer.read("changed")
    aws_metrics.observer.serve()
    text = prometheus_client.generate_latest(metrics.REGISTRY).decode()
    assert sample(text, "lambda_vpc_operator_observer_way", region="eu-west-1", way="get") == 1
    assert sample(text, "lambda_vpc_operator_observer_way", region="eu-west-1", way="list") == 0
    assert sample(text, "lambda_vpc_operator_observer_reads_total", reason="changed") == 1
    assert sample(text, "lambda_vpc_operator_observer_served_total") == 1
    aws_metrics.observer.reset()
