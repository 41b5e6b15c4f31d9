"""The status block: observed facts plus conditions, and the smallest patch that gets us there.

Status is written only when something in it changed, so a steady attachment costs no API writes
and emits no watch events (a status write that changes nothing still wakes every watcher).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.models.functions import FunctionObservation

# Fields this module owns; anything else in status (written by others) is left alone.
OBSERVED_FIELDS = (
    "functionArn", "vpcId", "subnetIds", "securityGroupIds", "ipv6AllowedForDualStack",
    "state", "stateReason", "stateReasonCode", "lastUpdateStatus", "lastUpdateStatusReasonCode",
)  # fmt: skip


def observed_fields(observed: FunctionObservation | None) -> dict[str, Any]:
    """What AWS reports, in the status' camelCase; None for everything when the function is gone."""
    if observed is None:
        return dict.fromkeys(OBSERVED_FIELDS)
    return {
        "functionArn": observed.arn,
        "vpcId": observed.vpc_id,
        "subnetIds": sorted(observed.vpc.subnet_ids) or None,
        "securityGroupIds": sorted(observed.vpc.security_group_ids) or None,
        "ipv6AllowedForDualStack": observed.vpc.ipv6_allowed_for_dual_stack if observed.vpc.attached else None,
        "state": observed.state.value if observed.state else None,
        "stateReason": observed.state_reason,
        "stateReasonCode": observed.state_reason_code,
        "lastUpdateStatus": observed.last_update_status.value if observed.last_update_status else None,
        "lastUpdateStatusReasonCode": observed.last_update_status_reason_code,
    }


def status_patch(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning ``current`` into ``wanted`` for the keys of ``wanted``.

    None in ``wanted`` deletes the key. Empty when nothing differs: then nothing is written.
    """
    patch: dict[str, Any] = {}
    for key, value in wanted.items():
        if value is None:
            if current.get(key) is not None:
                patch[key] = None
        elif current.get(key) != value:
            patch[key] = value
    return patch
