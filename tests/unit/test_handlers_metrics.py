"""The Prometheus endpoint: AWS requests as counted by every call site, over real HTTP."""

from __future__ import annotations

import socket
import urllib.request

import prometheus_client

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


def test_looks_that_raised_are_exposed_by_handler_and_error() -> None:
    from lambda_vpc_operator.reconciliation import failing

    errors = failing.ErrorCounter()
    errors.count("reconcile", "UnexpectedAnswer")
    errors.count("reconcile", "UnexpectedAnswer")
    errors.count("release", "KeyError")
    text = prometheus_client.generate_latest(metrics.registry(aws_metrics.CallCounter(), errors)).decode()
    assert 'lambda_vpc_operator_reconcile_errors_total{error="UnexpectedAnswer",handler="reconcile"} 2.0' in text
    assert 'lambda_vpc_operator_reconcile_errors_total{error="KeyError",handler="release"} 1.0' in text
