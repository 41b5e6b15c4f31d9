"""Prometheus metrics on their own port (kopf has none built in).

What the operator spends is what matters most here: every AWS request, by service, operation and
outcome, straight from the counter each call site records into (``aws.metrics.calls``), so the
share of the account's 15 requests/s the operator uses can be watched and alerted on; and the
budgets' throttles and waits (``aws.metrics.budgets``). The rest is recorded by the kopf glue
(handlers.attachments, handlers.reporting, handlers.policies), never by the planner or reconciler:

- ``attachments{condition,status,reason}``: a gauge from each attachment's stored conditions, so
  "how many are Stalled and why" is one query;
- ``reconcile_duration_seconds{action}``, ``reconcile_errors_total{handler,error}``: looks, and those that raised;
- ``network_ready_seconds``: status.networkReadySeconds, each time it is written;
- ``reactivations_total{outcome}``, ``drift_total{outcome}``, ``webhook_decisions_total{outcome}``.

docs/operations.md says which metric shows which problem; deploy/grafana-dashboard.json and the
chart's PrometheusRule use exactly these names (tests/unit/test_handlers_metrics.py and
tests/chart/test_chart_render.py check).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import kopf
import prometheus_client
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from lambda_vpc_operator.aws import metrics
from lambda_vpc_operator.reconciliation import failing

PREFIX = "lambda_vpc_operator"

# Every name we export (without the _total/_bucket suffixes Prometheus adds): the dashboard and the
# alerts are checked against this list.
AWS_REQUESTS = f"{PREFIX}_aws_requests"
THROTTLES = f"{PREFIX}_aws_throttles"
BUDGET_WAIT = f"{PREFIX}_budget_wait_seconds"
BUDGET_QUEUE = f"{PREFIX}_budget_queue"
ATTACHMENTS = f"{PREFIX}_attachments"
RECONCILE_DURATION = f"{PREFIX}_reconcile_duration_seconds"
RECONCILE_ERRORS = f"{PREFIX}_reconcile_errors"
NETWORK_READY = f"{PREFIX}_network_ready_seconds"
REACTIVATIONS = f"{PREFIX}_reactivations"
DRIFT = f"{PREFIX}_drift"
WEBHOOK_DECISIONS = f"{PREFIX}_webhook_decisions"
OBSERVER_WAY = f"{PREFIX}_observer_way"
OBSERVER_READS = f"{PREFIX}_observer_reads"
OBSERVER_SERVED = f"{PREFIX}_observer_served"
NETWORK_DESCRIBES = f"{PREFIX}_network_describes"
NAMES = (
    AWS_REQUESTS, THROTTLES, BUDGET_WAIT, BUDGET_QUEUE, ATTACHMENTS, RECONCILE_DURATION, RECONCILE_ERRORS,
    NETWORK_READY, REACTIVATIONS, DRIFT, WEBHOOK_DECISIONS, OBSERVER_WAY, OBSERVER_READS, OBSERVER_SERVED,
    NETWORK_DESCRIBES,
)  # fmt: skip

# Event reasons that count as drift (planner.planning posts them on the transition).
DRIFT_REASONS = {"DriftDetected": "detected", "DriftCorrected": "corrected"}
# A spec change to NetworkReady: seconds when the ENI exists, minutes when Lambda builds one.
NETWORK_READY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)


class AwsRequestsCollector(Collector):
    """Exposes aws.metrics.calls as lambda_vpc_operator_aws_requests_total."""

    def __init__(self, counter: metrics.CallCounter) -> None:
        self.counter = counter

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            AWS_REQUESTS,
            "AWS requests sent by the operator, by service, operation and outcome.",
            labels=["service", "operation", "outcome"],
        )
        for (service, operation, outcome), n in sorted(self.counter.snapshot().items()):
            family.add_metric([service, operation, outcome], n)
        yield family


class BudgetCollector(Collector):
    """Exposes aws.metrics.budgets: throttles, seconds waited and the queues, per request budget and region."""

    def __init__(self, meter: metrics.BudgetMeter) -> None:
        self.meter = meter

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        throttles, waited = self.meter.snapshot()
        throttled = CounterMetricFamily(
            THROTTLES,
            "Requests AWS throttled, by request budget (control, get_function, information; ec2 for EC2) and region.",
            labels=["budget", "region"],
        )
        for (budget, region), n in sorted(throttles.items()):
            throttled.add_metric([budget, region], n)
        yield throttled
        wait = CounterMetricFamily(
            BUDGET_WAIT, "Seconds requests waited for a token of their budget, by budget and region.",
            labels=["budget", "region"],
        )  # fmt: skip
        for (budget, region), seconds in sorted(waited.items()):
            wait.add_metric([budget, region], seconds)
        yield wait
        queue = GaugeMetricFamily(
            BUDGET_QUEUE,
            "Requests waiting for a token now, by budget, region and waiter (ticket: a look asleep until its "
            "token is taken; request: a caller waiting in person).",
            labels=["budget", "region", "waiter"],
        )
        for (budget, region, waiter), n in sorted(self.meter.queues().items()):
            queue.add_metric([budget, region, waiter], n)
        yield queue


class Attachments(Collector):
    """The conditions of every live attachment, as last stored: a gauge per (condition, status, reason)."""

    def __init__(self) -> None:
        self._conditions: dict[str, tuple[tuple[str, str, str], ...]] = {}
        self._lock = threading.Lock()

    def record(self, key: str, status: Mapping[str, Any]) -> None:
        found = tuple(
            (str(c.get("type") or ""), str(c.get("status") or ""), str(c.get("reason") or ""))
            for c in status.get("conditions") or ()
        )
        with self._lock:
            self._conditions[key] = found

    def forget(self, key: str) -> None:
        with self._lock:
            self._conditions.pop(key, None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts: dict[tuple[str, str, str], int] = {}
        with self._lock:
            for conditions in self._conditions.values():
                for labels in conditions:
                    counts[labels] = counts.get(labels, 0) + 1
        family = GaugeMetricFamily(
            ATTACHMENTS,
            "Attachments by condition, status and reason (e.g. Stalled=True by reason).",
            labels=["condition", "status", "reason"],
        )
        for labels, n in sorted(counts.items()):
            family.add_metric(list(labels), n)
        yield family


class ReconcileErrorsCollector(Collector):
    """Exposes reconciliation.failing.errors as lambda_vpc_operator_reconcile_errors_total: looks
    that raised (status ReconcileError), by handler and exception class. Alert on its rate."""

    def __init__(self, counter: failing.ErrorCounter) -> None:
        self.counter = counter

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            RECONCILE_ERRORS,
            "Looks at an attachment that raised (status reason ReconcileError), by handler and exception class.",
            labels=["handler", "error"],
        )
        for (handler, error), n in sorted(self.counter.snapshot().items()):
            family.add_metric([handler, error], n)
        yield family


class ObserverCollector(Collector):
    """Exposes aws.metrics.observer: the way each place is swept (1 for the way in use), GetFunctions
    by reason (planner.sweeps.ReadReason), and looks served from the snapshot at no AWS cost."""

    def __init__(self, meter: metrics.ObserverMeter) -> None:
        self.meter = meter

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        ways, reads, served = self.meter.snapshot()
        way = GaugeMetricFamily(
            OBSERVER_WAY, "How the observer sweeps each region: list (ListFunctions pages) or get (GetFunction "
            "per managed function); 1 for the way in use.", labels=["region", "way"],
        )  # fmt: skip
        for place, chosen in sorted(ways.items()):
            for option in ("list", "get"):
                way.add_metric([place, option], 1.0 if option == chosen else 0.0)
        yield way
        read = CounterMetricFamily(
            OBSERVER_READS, "GetFunction requests of the observer, by why the snapshot would not do.", labels=["reason"]
        )
        for reason, n in sorted(reads.items()):
            read.add_metric([reason], n)
        yield read
        yield CounterMetricFamily(OBSERVER_SERVED, "Looks answered from the observer's snapshot, no request.", served)


class NetworkDescribesCollector(Collector):
    """Exposes aws.metrics.network_describes: rounds of network describes, by why the cache would not do."""

    def __init__(self, meter: metrics.NetworkDescribeMeter) -> None:
        self.meter = meter

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            NETWORK_DESCRIBES, "Rounds of subnet, security group and VPC describes sent to EC2, by why the "
            "cache would not do.", labels=["why"],
        )  # fmt: skip
        for why, n in sorted(self.meter.snapshot().items()):
            family.add_metric([why], n)
        yield family


REGISTRY = prometheus_client.CollectorRegistry()
REGISTRY.register(AwsRequestsCollector(metrics.calls))
REGISTRY.register(BudgetCollector(metrics.budgets))
REGISTRY.register(ReconcileErrorsCollector(failing.errors))
REGISTRY.register(ObserverCollector(metrics.observer))
REGISTRY.register(NetworkDescribesCollector(metrics.network_describes))
attachments = Attachments()
REGISTRY.register(attachments)
reconcile_duration = prometheus_client.Histogram(
    RECONCILE_DURATION, "Seconds one look (or one deletion step) at an attachment took.", ["action"],
    registry=REGISTRY,
)  # fmt: skip
network_ready = prometheus_client.Histogram(
    NETWORK_READY, "Seconds from a spec change to NetworkReady=True (status.networkReadySeconds).",
    buckets=NETWORK_READY_BUCKETS, registry=REGISTRY,
)  # fmt: skip
reactivations = prometheus_client.Counter(
    REACTIVATIONS, "Results of reactivation invokes (status.reactivation.lastResult).", ["outcome"],
    registry=REGISTRY,
)  # fmt: skip
drift = prometheus_client.Counter(
    DRIFT, "Drift of a function's VpcConfig: detected, and corrected by the operator.", ["outcome"], registry=REGISTRY
)
webhook_decisions = prometheus_client.Counter(
    WEBHOOK_DECISIONS, "Admission webhook answers: allowed, warned (allowed with warnings) or denied.", ["outcome"],
    registry=REGISTRY,
)  # fmt: skip


def status_written(key: str, patch: Mapping[str, Any], stored: Mapping[str, Any]) -> None:
    """Record what a status patch tells the metrics (called with every patch the operator writes)."""
    if stored:
        attachments.record(key, stored)
    seconds = patch.get("networkReadySeconds")
    if isinstance(seconds, int | float):
        network_ready.observe(float(seconds))
    revival = patch.get("reactivation")
    if isinstance(revival, Mapping) and revival.get("lastResult"):
        reactivations.labels(str(revival["lastResult"])).inc()


def event_posted(reason: str) -> None:
    if reason in DRIFT_REASONS:
        drift.labels(DRIFT_REASONS[reason]).inc()


def registry(
    counter: metrics.CallCounter = metrics.calls, errors: failing.ErrorCounter = failing.errors
) -> prometheus_client.CollectorRegistry:
    """The process's registry; with another counter, a registry of those counters alone (tests)."""
    if counter is metrics.calls and errors is failing.errors:
        return REGISTRY
    reg = prometheus_client.CollectorRegistry()
    reg.register(AwsRequestsCollector(counter))
    reg.register(ReconcileErrorsCollector(errors))
    return reg


def register(kopf_registry: kopf.OperatorRegistry, port: int | None, host: str = "0.0.0.0") -> None:
    if port is None:
        return

    @kopf.on.startup(id="metrics", registry=kopf_registry)
    def serve_metrics(**_: Any) -> None:
        prometheus_client.start_http_server(port, addr=host, registry=REGISTRY)
