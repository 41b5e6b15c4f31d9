"""Our exceptions for AWS failures, one class per family, keyed on the AWS error code.

botocore raises one ``ClientError`` for every service error and a zoo of ``BotoCoreError``s for
transport problems. Everything above this package decides on a ``models.failures.Failure`` instead,
so this module is the single place that reads error codes. It does not match on message text: AWS
rewords messages freely, codes are part of the API (botocore service models). The one exception,
``role_refusal``, is a refusal AWS gives no code of its own (see there).

Call sites stay one line: ``with errors.translating(): ...`` (also usable as a decorator on a
synchronous function) re-raises the botocore exception as an ``AwsError`` chained to the original.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import http
import re
from collections.abc import Iterator, Mapping
from typing import Any

from botocore import exceptions as botocore_exceptions
from botocore import parsers as botocore_parsers

from lambda_vpc_operator.models import failures

# A Retry-After beyond this is treated as this: a malformed or absurd value must not stall every
# caller of a budget for hours. Lambda's own throttles ask for seconds.
MAX_RETRY_AFTER = 300.0
# The STS operation behind an attachment's spec.roleArn (aws.accounts).
ASSUME_ROLE = "AssumeRole"
# How much of an unparsable answer a message quotes.
MAX_PARSER_TEXT = 200


class AwsError(Exception):
    """An AWS call failed; ``failure`` says why in the planner's terms."""

    failure: failures.Failure

    def __init__(self, failure: failures.Failure) -> None:
        super().__init__(f"{failure.code}: {failure.message}" if failure.message else failure.code)
        self.failure = failure

    @property
    def code(self) -> str:
        return self.failure.code


class FunctionNotFound(AwsError):
    """ResourceNotFoundException: the function (or the tagged resource) does not exist."""


class UpdateConflict(AwsError):
    """ResourceConflictException: an update is in progress (LastUpdateStatus=InProgress); try later."""


class StaleRevision(AwsError):
    """PreconditionFailedException: the RevisionId we sent is no longer the function's latest."""


class Throttled(AwsError):
    """A request-rate limit was hit (after botocore's own retries); wait ``retry_after`` if given."""

    @property
    def retry_after(self) -> float | None:
        return self.failure.retry_after


class InvalidParameter(AwsError):
    """AWS refuses the request as sent; retrying it unchanged cannot help."""


class AccessDenied(AwsError):
    """The operator's own credentials are missing, expired or lack a permission."""


class ServiceError(AwsError):
    """5xx after botocore's retries, or no answer at all (connection refused, timeouts): transient."""


class UnexpectedAnswer(ServiceError):
    """AWS answered (HTTP 200, parsable) but without what its API promises: a missing key, a value of
    the wrong type or outside its enum. Raised by ``reading`` around our parsing of an answer: a
    garbage body must not escape as a KeyError. Not a passing outage: the reconciler reports it as
    ReconcileError (planner.errors), which stalls if it persists."""


class RolePermissionsRefused(AwsError):
    """InvalidParameterValueException: the function's execution role may not create its ENIs.

    Fixed on the role, not in the spec; right after a role was created or changed, IAM propagation
    makes the refusal pass by itself (aws-facts "Refusals"). ``role_refusal`` recognises it.
    """


class FunctionNotReady(AwsError):
    """Invoke on an Inactive function: AWS has started re-creating its VPC resources (aws-facts).

    ResourceNotReadyException (502) is the documented answer, CodeArtifactUserPendingException (409)
    the one reported in the wild; both mean "reactivation started, poll GetFunction".
    """


class AssumeRoleFailed(AwsError):
    """sts:AssumeRole of the attachment's role was refused (AccessDenied: the role does not exist or
    its trust policy does not name the operator, or wants another ExternalId; AWS does not say which),
    or STS refused the request as sent. Needs a human on the role's side: retried slowly."""


_CLASSES: dict[str, type[AwsError]] = {
    # Lambda.
    "ResourceNotFoundException": FunctionNotFound,
    "ResourceConflictException": UpdateConflict,
    "PreconditionFailedException": StaleRevision,
    "ResourceNotReadyException": FunctionNotReady,
    "CodeArtifactUserPendingException": FunctionNotReady,
    "InvalidParameterValueException": InvalidParameter,
    "InvalidRequestContentException": InvalidParameter,
    "ServiceException": ServiceError,
    # Throttles: Lambda (TooManyRequestsException; EC2ThrottledException when Lambda was throttled
    # by EC2 on our behalf), EC2 (RequestLimitExceeded), IAM/STS (Throttling), JSON services.
    "TooManyRequestsException": Throttled,
    "ThrottlingException": Throttled,
    "RequestLimitExceeded": Throttled,
    "EC2ThrottledException": Throttled,
    "Throttling": Throttled,
    # EC2 and query-protocol spellings of "bad parameter".
    "InvalidParameterValue": InvalidParameter,
    "InvalidParameterCombination": InvalidParameter,
    "InvalidParameter": InvalidParameter,
    "MissingParameter": InvalidParameter,
    "ValidationException": InvalidParameter,
    # Our credentials: no permission, unknown or expired key (AuthFailure is EC2's spelling).
    "AccessDeniedException": AccessDenied,
    "UnauthorizedOperation": AccessDenied,
    "AccessDenied": AccessDenied,
    "UnrecognizedClientException": AccessDenied,
    "InvalidClientTokenId": AccessDenied,
    "ExpiredToken": AccessDenied,
    "ExpiredTokenException": AccessDenied,
    "AuthFailure": AccessDenied,
    # EC2 and generic server-side failures.
    "InternalError": ServiceError,
    "InternalFailure": ServiceError,
    "ServiceUnavailable": ServiceError,
    "ServiceUnavailableException": ServiceError,
    "Unavailable": ServiceError,
}

_KINDS: dict[type[AwsError], failures.FailureKind] = {
    FunctionNotFound: failures.FailureKind.NOT_FOUND,
    UpdateConflict: failures.FailureKind.CONFLICT,
    StaleRevision: failures.FailureKind.STALE_REVISION,
    Throttled: failures.FailureKind.THROTTLED,
    InvalidParameter: failures.FailureKind.INVALID_PARAMETER,
    AccessDenied: failures.FailureKind.ACCESS_DENIED,
    ServiceError: failures.FailureKind.SERVICE_ERROR,
    UnexpectedAnswer: failures.FailureKind.SERVICE_ERROR,
    RolePermissionsRefused: failures.FailureKind.ROLE_PERMISSIONS,
    AssumeRoleFailed: failures.FailureKind.ASSUME_ROLE,
    # No kind of its own in models.failures: "busy, try later" is what CONFLICT means to the planner.
    FunctionNotReady: failures.FailureKind.CONFLICT,
}

# botocore exceptions that are about AWS or the way to it, not about our code. Anything else
# (StubAssertionError, configuration mistakes, bugs) propagates untranslated, so it is seen.
_NO_ANSWER = (
    botocore_exceptions.ConnectionError,  # EndpointConnectionError, ConnectTimeoutError, SSLError
    botocore_exceptions.HTTPClientError,  # ReadTimeoutError, ConnectionClosedError
    botocore_exceptions.IncompleteReadError,
)
_NO_CREDENTIALS = (
    botocore_exceptions.NoCredentialsError,
    botocore_exceptions.PartialCredentialsError,
    botocore_exceptions.CredentialRetrievalError,
    botocore_exceptions.TokenRetrievalError,
)
_BAD_REQUEST = (botocore_exceptions.ParamValidationError,)
# Every other BotoCoreError is translated too, and so is an answer botocore cannot parse
# (botocore.parsers.ResponseParserError, a plain Exception: e.g. the HTML 500 of an endpoint that
# does not implement the operation, as plain moto does for iam:SimulatePrincipalPolicy): it must
# become a failure the planner can report, never escape a look (the daemon would restart forever).
# Only botocore's Stubber assertions (AssertionError too) stay untranslated: they are test failures.
TRANSLATABLE: tuple[type[Exception], ...] = (
    botocore_exceptions.ClientError,
    botocore_exceptions.BotoCoreError,
    botocore_parsers.ResponseParserError,
)

# aws-facts "Refusals": Lambda refuses a VpcConfig whose execution role may not create network
# interfaces at the call, as InvalidParameterValueException ("The provided execution role does not
# have permissions to call CreateNetworkInterface on EC2"), with no error code of its own. The message
# is the only thing telling it from a bad VpcConfig, so this one pattern, scoped to that code, is the
# only message text the operator reads.
_ROLE_REFUSAL = re.compile(r"execution role does not have permissions to call \w*NetworkInterface\w* on EC2")


def role_refusal(code: str, message: str) -> bool:
    """Whether an error is Lambda refusing the execution role (not the VpcConfig itself)."""
    return code == "InvalidParameterValueException" and _ROLE_REFUSAL.search(message) is not None


def translate(exc: Exception) -> AwsError:
    """Turn a botocore exception into ours. An ``AwsError`` is returned as it is."""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, botocore_exceptions.ClientError):
        return _translate_client_error(exc)
    if isinstance(exc, botocore_parsers.ResponseParserError):
        # The service answered, but not in its protocol (an HTML error page): like a 5xx.
        # Its text quotes the whole body: keep the start, enough to recognise the page.
        text = str(exc)
        text = text if len(text) <= MAX_PARSER_TEXT else text[:MAX_PARSER_TEXT] + "..."
        return _build(ServiceError, type(exc).__name__, f"AWS answered something botocore cannot parse: {text}")
    if isinstance(exc, _NO_CREDENTIALS):
        return _build(AccessDenied, type(exc).__name__, str(exc))
    if isinstance(exc, _BAD_REQUEST):
        return _build(InvalidParameter, type(exc).__name__, str(exc))
    # No answer from AWS (or an exception nobody classified): transient by assumption.
    return _build(ServiceError, type(exc).__name__, str(exc))


@contextlib.contextmanager
def translating() -> Iterator[None]:
    """Re-raise botocore's exceptions as ``AwsError`` (chained), leave every other exception alone."""
    try:
        yield
    except TRANSLATABLE as exc:
        if isinstance(exc, AssertionError):
            raise  # botocore.stub.StubAssertionError: a test's expectation, not AWS
        raise translate(exc) from exc


# What our parsing of a well-formed but unexpected answer raises (dict lookups, enums, int()).
_PARSING = (KeyError, IndexError, TypeError, ValueError, AttributeError)


@contextlib.contextmanager
def reading(operation: str) -> Iterator[None]:
    """Around the parsing of ``operation``'s answer: a missing or ill-typed field is an UnexpectedAnswer."""
    try:
        yield
    except _PARSING as exc:
        detail = f"{type(exc).__name__}: {exc}"
        detail = detail if len(detail) <= MAX_PARSER_TEXT else detail[:MAX_PARSER_TEXT] + "..."
        message = f"{operation} answered without the fields its API promises ({detail})"
        raise _build(UnexpectedAnswer, "UnexpectedAnswer", message) from exc


def _translate_client_error(exc: botocore_exceptions.ClientError) -> AwsError:
    response: Mapping[str, Any] = exc.response or {}
    error: Mapping[str, Any] = response.get("Error") or {}
    metadata: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    status = _int_or_none(metadata.get("HTTPStatusCode"))
    cls = RolePermissionsRefused if role_refusal(code, message) else _CLASSES.get(code) or _class_for_status(status)
    if exc.operation_name == ASSUME_ROLE and cls in (AccessDenied, InvalidParameter):
        # The refreshable credentials of a role raise STS' own error from inside any call (a Lambda
        # GetFunction, an EC2 Describe*): it is about the role, not about that call's permission.
        cls = AssumeRoleFailed
    retry_after = _retry_after(response) if cls is Throttled else None
    return _build(cls, code or (str(status) if status else "Unknown"), message, retry_after)


def _class_for_status(status: int | None) -> type[AwsError]:
    """For a code we do not know, the HTTP status is the only safe hint."""
    if status == http.HTTPStatus.TOO_MANY_REQUESTS:
        return Throttled
    if status in (http.HTTPStatus.UNAUTHORIZED, http.HTTPStatus.FORBIDDEN):
        return AccessDenied
    if status is None or status >= 500:
        return ServiceError
    # Any other 4xx: AWS refused the request as sent; the same request will be refused again.
    return InvalidParameter


def _build(cls: type[AwsError], code: str, message: str, retry_after: float | None = None) -> AwsError:
    return cls(failures.Failure(kind=_KINDS[cls], code=code, message=message, retry_after=retry_after))


def _retry_after(response: Mapping[str, Any]) -> float | None:
    """Seconds to wait, from Lambda's modeled ``retryAfterSeconds`` or the raw Retry-After header.

    botocore copies the header into ``retryAfterSeconds`` for Lambda's TooManyRequestsException;
    other services only have the header. Either holds delay-seconds or an HTTP-date (RFC 9110).
    """
    metadata: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    headers: Mapping[str, Any] = metadata.get("HTTPHeaders") or {}
    header = next((value for key, value in headers.items() if key.lower() == "retry-after"), None)
    for raw in (response.get("retryAfterSeconds"), header):
        if (seconds := parse_retry_after(raw)) is not None:
            return seconds
    return None


def parse_retry_after(raw: object, now: datetime.datetime | None = None) -> float | None:
    """Parse a Retry-After value (delay-seconds or HTTP-date) into seconds, capped; None if unusable."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        seconds = (when - (now or datetime.datetime.now(datetime.UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None
