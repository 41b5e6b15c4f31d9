"""What "Ready" means, defined once as data (ACK declares "Synced" the same way).

Ready is ``lambda_ready`` (Lambda's own view) and no ``unready_subnets`` (NetworkReady, when the
ENIs were read): ``planning`` decides the first, ``network_readiness.overlay`` the second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lambda_vpc_operator.models.enis import USABLE_STATUSES, EniFacts, interfaces_by_subnet
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings

# The last update must have succeeded (or there never was one) ...
READY_UPDATE_STATUSES = frozenset({UpdateStatus.SUCCESSFUL, None})
# ... and the function must be able to take invocations in its VPC. Inactive is NOT ready: the
# next invoke fails while Lambda rebuilds the ENIs (aws-facts "Inactive functions").
READY_STATES = frozenset({FunctionState.ACTIVE})
# ... and (NetworkReady) every desired subnet has the Hyperplane ENI of the combination (subnet,
# exact security-group set) in one of these EC2 states (aws-facts "Hyperplane ENIs").
READY_INTERFACE_STATUSES = USABLE_STATUSES


def config_applied(desired: VpcSettings, observed: FunctionObservation) -> bool:
    """AWS holds exactly the desired VpcConfig (as sets, empties normalised)."""
    return observed.vpc == desired


def lambda_ready(desired: VpcSettings, observed: FunctionObservation) -> bool:
    """What Lambda itself says: our configuration, Active, last update Successful."""
    return (
        config_applied(desired, observed)
        and observed.last_update_status in READY_UPDATE_STATUSES
        and observed.state in READY_STATES
    )


def subnets_without_interface(desired: VpcSettings, enis: Iterable[EniFacts]) -> list[str]:
    """Desired subnets whose ENI is missing or not (yet) usable, sorted."""
    return unready_subnets(desired, interfaces_by_subnet(enis, desired.subnet_ids, desired.security_group_ids))


def unready_subnets(desired: VpcSettings, found: Mapping[str, EniFacts]) -> list[str]:
    """Desired subnets without a usable ENI among ``found`` (the ENI of each subnet), sorted."""
    return sorted(s for s in desired.subnet_ids if s not in found or found[s].status not in READY_INTERFACE_STATUSES)
