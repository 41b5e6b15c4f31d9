"""What "Ready" means, defined once as data (ACK declares "Synced" the same way)."""

from __future__ import annotations

from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings

# The last update must have succeeded (or there never was one) ...
READY_UPDATE_STATUSES = frozenset({UpdateStatus.SUCCESSFUL, None})
# ... and the function must be able to take invocations in its VPC. Inactive is NOT ready: the
# next invoke fails while Lambda rebuilds the ENIs (aws-facts "Inactive functions").
READY_STATES = frozenset({FunctionState.ACTIVE})


def config_applied(desired: VpcSettings, observed: FunctionObservation) -> bool:
    """AWS holds exactly the desired VpcConfig (as sets, empties normalised)."""
    return observed.vpc == desired


def is_ready(desired: VpcSettings, observed: FunctionObservation) -> bool:
    return (
        config_applied(desired, observed)
        and observed.last_update_status in READY_UPDATE_STATUSES
        and observed.state in READY_STATES
    )
