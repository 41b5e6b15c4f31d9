"""Prometheus metrics on their own port (kopf has none built in).

What the operator spends is what matters most here: every AWS request, by service, operation and
outcome, straight from the counter each call site records into (``aws.metrics.calls``), so the
share of the account's 15 requests/s the operator uses can be watched and alerted on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kopf
import prometheus_client
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from lambda_vpc_operator.aws import metrics
from lambda_vpc_operator.reconciliation import failing

PREFIX = "lambda_vpc_operator"


class AwsRequestsCollector(Collector):
    """Exposes aws.metrics.calls as lambda_vpc_operator_aws_requests_total."""

    def __init__(self, counter: metrics.CallCounter) -> None:
        self.counter = counter

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            f"{PREFIX}_aws_requests",
            "AWS requests sent by the operator, by service, operation and outcome.",
            labels=["service", "operation", "outcome"],
        )
        for (service, operation, outcome), n in sorted(self.counter.snapshot().items()):
            family.add_metric([service, operation, outcome], n)
        yield family


class ReconcileErrorsCollector(Collector):
    """Exposes reconciliation.failing.errors as lambda_vpc_operator_reconcile_errors_total: looks
    that raised (status ReconcileError), by handler and exception class. Alert on its rate."""

    def __init__(self, counter: failing.ErrorCounter) -> None:
        self.counter = counter

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            f"{PREFIX}_reconcile_errors",
            "Looks at an attachment that raised (status reason ReconcileError), by handler and exception class.",
            labels=["handler", "error"],
        )
        for (handler, error), n in sorted(self.counter.snapshot().items()):
            family.add_metric([handler, error], n)
        yield family


def registry(
    counter: metrics.CallCounter = metrics.calls, errors: failing.ErrorCounter = failing.errors
) -> prometheus_client.CollectorRegistry:
    reg = prometheus_client.CollectorRegistry()
    reg.register(AwsRequestsCollector(counter))
    reg.register(ReconcileErrorsCollector(errors))
    return reg


def register(kopf_registry: kopf.OperatorRegistry, port: int | None, host: str = "0.0.0.0") -> None:
    if port is None:
        return

    @kopf.on.startup(id="metrics", registry=kopf_registry)
    def serve_metrics(**_: Any) -> None:
        prometheus_client.start_http_server(port, addr=host, registry=registry())
