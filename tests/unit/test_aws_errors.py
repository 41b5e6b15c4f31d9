"""errors.translate: one AwsError family per AWS error code, never decided by message text."""

from __future__ import annotations

import datetime
from typing import Any

import boto3
import pytest
from botocore import exceptions as botocore_exceptions
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.parsers import ResponseParserError

from lambda_vpc_operator.aws import errors
from lambda_vpc_operator.models.failures import FailureKind


def client_error(
    code: str,
    status: int = 400,
    message: str = "a message",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> botocore_exceptions.ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
        **extra,
    }
    return botocore_exceptions.ClientError(response, "SomeOperation")


@pytest.mark.parametrize(
    ("code", "status", "cls", "kind"),
    [
        pytest.param(
            "ResourceNotFoundException", 404, errors.FunctionNotFound, FailureKind.NOT_FOUND, id="not-found"
        ),
        pytest.param(
            "ResourceConflictException", 409, errors.UpdateConflict, FailureKind.CONFLICT, id="conflict"
        ),
        pytest.param(
            "PreconditionFailedException",
            412,
            errors.StaleRevision,
            FailureKind.STALE_REVISION,
            id="stale-revision",
        ),
        pytest.param(
            "TooManyRequestsException", 429, errors.Throttled, FailureKind.THROTTLED, id="lambda-throttle"
        ),
        pytest.param("ThrottlingException", 400, errors.Throttled, FailureKind.THROTTLED, id="json-throttle"),
        pytest.param("RequestLimitExceeded", 503, errors.Throttled, FailureKind.THROTTLED, id="ec2-throttle"),
        pytest.param(
            "EC2ThrottledException", 502, errors.Throttled, FailureKind.THROTTLED, id="lambda-ec2-throttle"
        ),
        pytest.param("Throttling", 400, errors.Throttled, FailureKind.THROTTLED, id="query-throttle"),
        pytest.param(
            "InvalidParameterValueException",
            400,
            errors.InvalidParameter,
            FailureKind.INVALID_PARAMETER,
            id="invalid-parameter",
        ),
        pytest.param(
            "InvalidRequestContentException",
            400,
            errors.InvalidParameter,
            FailureKind.INVALID_PARAMETER,
            id="invalid-content",
        ),
        pytest.param(
            "AccessDeniedException", 403, errors.AccessDenied, FailureKind.ACCESS_DENIED, id="lambda-denied"
        ),
        pytest.param(
            "UnauthorizedOperation", 403, errors.AccessDenied, FailureKind.ACCESS_DENIED, id="ec2-denied"
        ),
        pytest.param("AccessDenied", 403, errors.AccessDenied, FailureKind.ACCESS_DENIED, id="query-denied"),
        pytest.param(
            "UnrecognizedClientException",
            403,
            errors.AccessDenied,
            FailureKind.ACCESS_DENIED,
            id="unknown-key",
        ),
        pytest.param(
            "InvalidClientTokenId", 403, errors.AccessDenied, FailureKind.ACCESS_DENIED, id="bad-token"
        ),
        pytest.param("ExpiredToken", 400, errors.AccessDenied, FailureKind.ACCESS_DENIED, id="expired-token"),
        pytest.param(
            "ServiceException", 500, errors.ServiceError, FailureKind.SERVICE_ERROR, id="service-exception"
        ),
        pytest.param(
            "ResourceNotReadyException",
            502,
            errors.FunctionNotReady,
            FailureKind.CONFLICT,
            id="inactive-invoke",
        ),
        pytest.param(
            "CodeArtifactUserPendingException",
            409,
            errors.FunctionNotReady,
            FailureKind.CONFLICT,
            id="inactive-invoke-in-the-wild",
        ),
    ],
)
def test_code_decides_the_family(
    code: str, status: int, cls: type[errors.AwsError], kind: FailureKind
) -> None:
    error = errors.translate(client_error(code, status))
    assert type(error) is cls
    assert error.failure.kind == kind
    assert error.failure.code == code
    assert error.failure.message == "a message"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        pytest.param(503, errors.ServiceError, id="5xx"),
        pytest.param(429, errors.Throttled, id="429"),
        pytest.param(403, errors.AccessDenied, id="403"),
        pytest.param(400, errors.InvalidParameter, id="other-4xx"),
    ],
)
def test_unknown_code_falls_back_on_status(status: int, cls: type[errors.AwsError]) -> None:
    assert type(errors.translate(client_error("SomethingNew", status))) is cls


def test_message_text_is_never_matched() -> None:
    error = errors.translate(
        client_error("InvalidParameterValueException", message="Rate exceeded, throttled")
    )
    assert type(error) is errors.InvalidParameter


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(botocore_exceptions.EndpointConnectionError(endpoint_url="http://x"), id="no-endpoint"),
        pytest.param(botocore_exceptions.ConnectTimeoutError(endpoint_url="http://x"), id="connect-timeout"),
        pytest.param(botocore_exceptions.ReadTimeoutError(endpoint_url="http://x"), id="read-timeout"),
        pytest.param(
            botocore_exceptions.ConnectionClosedError(endpoint_url="http://x"), id="connection-closed"
        ),
    ],
)
def test_no_answer_is_a_service_error(exc: Exception) -> None:
    error = errors.translate(exc)
    assert type(error) is errors.ServiceError
    assert error.failure.transient


def test_missing_credentials_are_access_denied() -> None:
    assert type(errors.translate(botocore_exceptions.NoCredentialsError())) is errors.AccessDenied


@pytest.mark.parametrize(
    ("extra", "headers", "expected"),
    [
        pytest.param({"retryAfterSeconds": "7"}, {}, 7.0, id="lambda-member"),
        pytest.param({}, {"Retry-After": "3"}, 3.0, id="header"),
        pytest.param({}, {"retry-after": "2.5"}, 2.5, id="header-lowercase"),
        pytest.param({}, {}, None, id="absent"),
        pytest.param({}, {"retry-after": "soon"}, None, id="garbage"),
        pytest.param({}, {"retry-after": "100000"}, errors.MAX_RETRY_AFTER, id="capped"),
    ],
)
def test_throttle_carries_retry_after(
    extra: dict[str, str], headers: dict[str, str], expected: float | None
) -> None:
    error = errors.translate(client_error("TooManyRequestsException", 429, headers=headers, **extra))
    assert isinstance(error, errors.Throttled)
    assert error.retry_after == expected


def test_retry_after_as_http_date() -> None:
    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
    assert errors.parse_retry_after("Thu, 01 Jan 2026 12:00:09 GMT", now=now) == 9.0


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self.body


def test_botocore_puts_the_retry_after_header_into_retry_after_seconds() -> None:
    """A real 429 parsed by botocore (no network: the HTTP answer is given at before-send)."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )
    client = session.client("lambda", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

    def answering(**kwargs: Any) -> AWSResponse:
        headers = {"x-amzn-errortype": "TooManyRequestsException", "Retry-After": "4"}
        body = b'{"message": "Rate exceeded", "Reason": "CallerRateLimitExceeded"}'
        return AWSResponse("https://lambda", 429, headers, _Raw(body))

    client.meta.events.register("before-send.lambda.GetFunction", answering)
    with pytest.raises(errors.Throttled) as caught, errors.translating():
        client.get_function(FunctionName="f")
    assert caught.value.retry_after == 4.0
    assert isinstance(caught.value.__cause__, botocore_exceptions.ClientError)


def test_translating_leaves_other_exceptions_alone() -> None:
    with pytest.raises(KeyError), errors.translating():
        raise KeyError("a bug of ours")


def test_translating_works_as_a_decorator() -> None:
    @errors.translating()
    def failing() -> None:
        raise client_error("ResourceNotFoundException", 404)

    with pytest.raises(errors.FunctionNotFound):
        failing()


def test_unparsable_answer_is_a_service_error() -> None:
    """An HTML 500 (plain moto's answer to iam:SimulatePrincipalPolicy) must not escape raw."""
    raw = ResponseParserError("Unable to parse response, invalid XML received:\n" + "<html>" * 200)
    with pytest.raises(errors.ServiceError) as caught, errors.translating():
        raise raw
    assert caught.value.failure.code == "ResponseParserError" and caught.value.failure.transient
    assert len(caught.value.failure.message) < 300
    assert caught.value.__cause__ is raw


def test_every_botocore_error_is_translated() -> None:
    with pytest.raises(errors.ServiceError), errors.translating():
        raise botocore_exceptions.NoRegionError()


def test_stub_assertions_stay_test_failures() -> None:
    from botocore.stub import StubAssertionError

    with pytest.raises(StubAssertionError), errors.translating():
        raise StubAssertionError(operation_name="GetFunction", reason="unexpected")


ROLE_REFUSAL = "The provided execution role does not have permissions to call CreateNetworkInterface on EC2"


def test_role_refusal_is_its_own_family() -> None:
    error = errors.translate(client_error("InvalidParameterValueException", message=ROLE_REFUSAL))
    assert type(error) is errors.RolePermissionsRefused
    assert error.failure.kind == FailureKind.ROLE_PERMISSIONS and error.failure.transient


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param("InvalidParameterValueException", "SubnetIds and SecurityIds must coexist or be both empty list.",
                     id="other-refusal"),
        pytest.param("ValidationException", ROLE_REFUSAL, id="other-code"),
    ],
)  # fmt: skip
def test_role_refusal_is_recognised_narrowly(code: str, message: str) -> None:
    assert type(errors.translate(client_error(code, message=message))) is errors.InvalidParameter
