"""Lambda errors as they travel on the wire, one class per AWS error code (as moto does).

Why: the operator tells errors apart by the code and HTTP status botocore gives it
(``client.exceptions.ResourceConflictException``...), so each simulated error must carry exactly
the code, the status and the body members of the botocore lambda model (service-2.json):
rest-json errors are read from the ``x-amzn-ErrorType`` header and a body ``{"Type", "message"}``;
ResourceNotFoundException spells its member ``Message``; TooManyRequestsException adds
``retryAfterSeconds`` (from the ``Retry-After`` header) and ``Reason``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from . import wire


class LambdaError(Exception):
    """An error the simulated Lambda API answers with (aws-facts "Errors")."""

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "User"
    message_member: ClassVar[str] = "message"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extra_body(self) -> dict[str, Any]:
        return {}

    def extra_headers(self) -> list[tuple[str, str]]:
        return []

    def to_response(self) -> wire.Response:
        body = {"Type": self.error_type, self.message_member: self.message, **self.extra_body()}
        headers = [("x-amzn-ErrorType", self.code), *self.extra_headers()]
        return wire.json_response(self.status, body, headers)


class InvalidParameterValue(LambdaError):
    code = "InvalidParameterValueException"
    status = 400


class ResourceNotFound(LambdaError):
    code = "ResourceNotFoundException"
    status = 404
    message_member = "Message"  # the model's member name for this one error


class ResourceConflict(LambdaError):
    code = "ResourceConflictException"
    status = 409


class PreconditionFailed(LambdaError):
    code = "PreconditionFailedException"
    status = 412


class ResourceNotReady(LambdaError):
    code = "ResourceNotReadyException"
    status = 502
    error_type = "Service"


class TooManyRequests(LambdaError):
    """aws-facts "Errors": 429; members retryAfterSeconds (from Retry-After, a string) and Reason."""

    code = "TooManyRequestsException"
    status = 429

    def __init__(self, retry_after: float | None, reason: str = "CallerRateLimitExceeded") -> None:
        super().__init__("Rate exceeded")
        # None: no Retry-After at all (fault injection: botocore then gives no retryAfterSeconds).
        self.retry_after = None if retry_after is None else str(max(1, math.ceil(retry_after)))
        self.reason = reason

    def extra_body(self) -> dict[str, Any]:
        if self.retry_after is None:
            return {"Reason": self.reason}
        return {"retryAfterSeconds": self.retry_after, "Reason": self.reason}

    def extra_headers(self) -> list[tuple[str, str]]:
        return [] if self.retry_after is None else [("Retry-After", self.retry_after)]


class ServiceError(LambdaError):
    """aws-facts "Fault kinds on the wire": ServiceException, a 5xx of Lambda's own (Type Service)."""

    code = "ServiceException"
    error_type = "Service"

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.http_status = status

    def to_response(self) -> wire.Response:
        response = super().to_response()
        response.status = self.http_status
        return response


def update_in_progress(arn: str) -> ResourceConflict:
    """aws-facts "Errors": the exact message of a 409 while LastUpdateStatus=InProgress."""
    return ResourceConflict(f"An update is in progress for resource: {arn}")


def not_found(arn: str) -> ResourceNotFound:
    return ResourceNotFound(f"Function not found: {arn}")
