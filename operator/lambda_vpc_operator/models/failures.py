"""Why an AWS call failed, in the terms the planner decides on.

The aws layer is the only place that knows AWS error codes; it turns each into a ``Failure`` with
one of a few kinds. The planner maps kinds to "wait and retry" (Reconciling) or "needs a human"
(Stalled) without ever seeing botocore.
"""

from __future__ import annotations

import dataclasses
import enum


class FailureKind(enum.StrEnum):
    NOT_FOUND = "NotFound"  # ResourceNotFoundException: the function does not exist
    CONFLICT = "Conflict"  # ResourceConflictException: an update is in progress, try later
    STALE_REVISION = "StaleRevision"  # PreconditionFailedException: someone changed it since we read it
    THROTTLED = "Throttled"  # TooManyRequestsException, EC2 RequestLimitExceeded: wait Retry-After
    INVALID_PARAMETER = "InvalidParameter"  # InvalidParameterValueException: AWS refuses this config
    ACCESS_DENIED = "AccessDenied"  # the operator's own credentials lack a permission
    SERVICE_ERROR = "ServiceError"  # 5xx after botocore's retries, network errors: transient
    # InvalidParameterValueException because the function's execution role may not create ENIs: the
    # role is fixed outside the spec, and IAM propagation makes the refusal pass by itself (retried).
    ROLE_PERMISSIONS = "RolePermissions"
    # sts:AssumeRole of spec.roleArn (or the policy's defaultRoleArn) refused: the role is missing, or
    # its trust policy does not name the operator (or wants another ExternalId). Fixed on AWS' side.
    ASSUME_ROLE = "AssumeRole"


@dataclasses.dataclass(frozen=True)
class Failure:
    kind: FailureKind
    code: str  # the AWS error code, for messages
    message: str  # AWS' own message, shown to the user (never matched on)
    retry_after: float | None = None  # seconds, from Retry-After when AWS gave one

    @property
    def transient(self) -> bool:
        return self.kind in {
            FailureKind.CONFLICT,
            FailureKind.STALE_REVISION,
            FailureKind.THROTTLED,
            FailureKind.SERVICE_ERROR,
            FailureKind.ROLE_PERMISSIONS,
        }
