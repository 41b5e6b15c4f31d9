"""AwsClients: one cached client per (service, region); Invoke's client never retries."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from lambda_vpc_operator.aws import AwsGateway, clients, errors


@pytest.fixture
def aws_clients() -> clients.AwsClients:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return clients.AwsClients("eu-west-1", session=session)


def test_clients_are_cached_per_service_and_region(aws_clients: clients.AwsClients) -> None:
    assert aws_clients.lambda_() is aws_clients.lambda_("eu-west-1")
    assert aws_clients.lambda_("us-east-1") is not aws_clients.lambda_()
    assert aws_clients.ec2() is not aws_clients.lambda_()


def test_default_region_is_ours_not_the_sessions(aws_clients: clients.AwsClients) -> None:
    assert aws_clients.lambda_().meta.region_name == "eu-west-1"


def test_ec2_uses_standard_retries(aws_clients: clients.AwsClients) -> None:
    assert aws_clients.ec2().meta.config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_a_throttled_lambda_request_is_sent_once(aws_clients: clients.AwsClients) -> None:
    """Standard mode would resend a 429 twice, ignoring Retry-After; the budget waits instead."""
    sent: list[str] = []

    def answering(request: Any, **kwargs: Any) -> AWSResponse:
        sent.append(request.url)
        headers = {"x-amzn-errortype": "TooManyRequestsException", "Retry-After": "2"}
        body = b'{"message": "Rate exceeded", "Reason": "CallerRateLimitExceeded", "retryAfterSeconds": "2"}'
        return AWSResponse(request.url, 429, headers, _Raw(body))

    control = aws_clients.lambda_()
    control.meta.events.register("before-send.lambda.UpdateFunctionConfiguration", answering)
    with pytest.raises(errors.Throttled) as caught, errors.translating():
        control.update_function_configuration(FunctionName="f", Description="x")
    assert len(sent) == 1
    assert caught.value.failure.retry_after == 2.0


def test_invoke_client_has_retries_off(aws_clients: clients.AwsClients) -> None:
    invoke = aws_clients.lambda_invoke()
    assert invoke is not aws_clients.lambda_()
    assert invoke.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self.body


def test_invoke_of_an_inactive_function_is_sent_once(aws_clients: clients.AwsClients) -> None:
    """Standard mode would retry this 502 twice: three invocations for one reactivation."""
    sent: list[str] = []

    def answering(request: Any, **kwargs: Any) -> AWSResponse:
        sent.append(request.url)
        headers = {"x-amzn-errortype": "ResourceNotReadyException"}
        return AWSResponse(request.url, 502, headers, _Raw(b'{"message": "Function is inactive"}'))

    invoke = aws_clients.lambda_invoke()
    invoke.meta.events.register("before-send.lambda.Invoke", answering)
    with pytest.raises(errors.FunctionNotReady), errors.translating():
        invoke.invoke(FunctionName="f", Payload=b"{}")
    assert len(sent) == 1


def test_user_agent_names_the_operator(aws_clients: clients.AwsClients) -> None:
    user_agent_extra = aws_clients.lambda_().meta.config.user_agent_extra
    assert user_agent_extra.startswith("lambda-vpc-operator/")


def test_timeouts_and_pool_are_set(aws_clients: clients.AwsClients) -> None:
    config = aws_clients.lambda_().meta.config
    assert config.connect_timeout == clients.CONNECT_TIMEOUT
    assert config.read_timeout == clients.READ_TIMEOUT
    assert config.max_pool_connections == clients.MAX_POOL_CONNECTIONS
    assert aws_clients.lambda_invoke().meta.config.read_timeout == clients.INVOKE_READ_TIMEOUT


def test_endpoint_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:5000")
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    aws_clients = clients.AwsClients("eu-west-1", session=session)
    assert aws_clients.lambda_().meta.endpoint_url == "http://127.0.0.1:5000"
    assert aws_clients.ec2().meta.endpoint_url == "http://127.0.0.1:4566"


def test_gateway_wires_the_configured_rates() -> None:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    gateway = AwsGateway.create("eu-west-1", control_rate=3, get_function_rate=30, session=session)
    assert gateway.budgets.control("eu-west-1").rate == 3
    assert gateway.budgets.get_function("eu-west-1").rate == 30
    assert gateway.functions.clients is gateway.clients
    assert gateway.networks.clients is gateway.clients
