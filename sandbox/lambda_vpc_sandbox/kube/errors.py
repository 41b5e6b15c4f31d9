"""Kubernetes API errors as exceptions that know their own wire format.

Clients tell API failures apart by the ``Status`` object only (``code`` and ``reason``; kopf and the
`kubernetes` client raise on the code, kubectl prints the message), so every failure the emulator can
answer has one exception class here carrying the HTTP code, the reason and a message worded like the
real API server's. The server turns any of them into a ``Status`` body in one place.
"""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """A failure answered as a ``v1 Status`` object."""

    code: int = 500  # subclasses set theirs; a webhook's denial sets its own per instance
    reason: str = "InternalError"

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = dict(headers or {})  # HTTP headers of the answer besides Content-Type (Retry-After)

    def as_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        # The real server always sends `details` for object errors and `{}` for path errors.
        status["details"] = dict(self.details) if self.details is not None else {}
        return status


def object_details(group: str, kind_or_plural: str, name: str) -> dict[str, Any]:
    """The ``details`` of object errors: the real server omits empty group and name."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind_or_plural
    return details


class BadRequest(StatusError):
    code = 400
    reason = "BadRequest"


class Unauthorized(StatusError):
    code = 401
    reason = "Unauthorized"


class Forbidden(StatusError):
    code = 403
    reason = "Forbidden"


class NotFound(StatusError):
    code = 404
    reason = "NotFound"


class MethodNotAllowed(StatusError):
    code = 405
    reason = "MethodNotAllowed"


class NotAcceptable(StatusError):
    code = 406
    reason = "NotAcceptable"


class AlreadyExists(StatusError):
    code = 409
    reason = "AlreadyExists"


class Conflict(StatusError):
    code = 409
    reason = "Conflict"


class Expired(StatusError):
    """410 for a watch or a continue token older than the kept history (real servers say "Expired")."""

    code = 410
    reason = "Expired"


class TooManyRequests(StatusError):
    """429 from API Priority and Fairness: ``Retry-After`` header and ``details.retryAfterSeconds``."""

    code = 429
    reason = "TooManyRequests"

    def __init__(self, retry_after: int | None) -> None:
        super().__init__(
            "Too many requests, please try again later.",
            details={} if retry_after is None else {"retryAfterSeconds": retry_after},
            headers={} if retry_after is None else {"Retry-After": str(retry_after)},
        )


# The reasons real servers give with each 5xx code (metav1.StatusReason).
SERVER_ERROR_REASONS = {500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


class ServerError(StatusError):
    """A 5xx Status: 500 InternalError, 503 ServiceUnavailable, 504 Timeout."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = SERVER_ERROR_REASONS.get(code, "InternalError")


class UnsupportedMediaType(StatusError):
    code = 415
    reason = "UnsupportedMediaType"


class Invalid(StatusError):
    code = 422
    reason = "Invalid"


def path_not_found() -> NotFound:
    """Any URL the server does not serve at all (unknown path, group, version or resource)."""
    return NotFound("the server could not find the requested resource")


def method_not_allowed() -> MethodNotAllowed:
    return MethodNotAllowed("the server does not allow this method on the requested resource")
