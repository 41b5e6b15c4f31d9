"""Hyperplane ENIs: what EC2 says about the network interfaces Lambda builds for a function.

Lambda gives every unique (subnet, security-group set) combination in the account one ENI of
interface type ``lambda``, shared by every function with that combination (aws-facts "Hyperplane
ENIs"). Which ENI serves a function is therefore decided by the subnet plus the *exact* set of
security groups, never by the description text (AWS' own support tooling maps them the same way).
``interfaces_by_subnet`` is that mapping; ``aws.enis`` reads the facts, ``planner.network_readiness``
judges them, and the status shows them as ``NetworkInterfaceStatus`` rows.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping

from pydantic import Field

from lambda_vpc_operator.models.camel import CamelModel

# DescribeNetworkInterfaces InterfaceType of a Hyperplane ENI (aws-facts "Hyperplane ENIs").
LAMBDA_INTERFACE_TYPE = "lambda"


class InterfaceStatus(enum.StrEnum):
    """EC2 NetworkInterface Status (botocore ec2 2016-11-15 NetworkInterfaceStatus)."""

    AVAILABLE = "available"
    ASSOCIATED = "associated"
    ATTACHING = "attaching"
    IN_USE = "in-use"
    DETACHING = "detaching"


# An ENI in one of these states carries the function's traffic (NetworkReady needs one per subnet).
USABLE_STATUSES = frozenset({InterfaceStatus.IN_USE, InterfaceStatus.AVAILABLE})


@dataclasses.dataclass(frozen=True)
class EniFacts:
    """One Hyperplane ENI as DescribeNetworkInterfaces reports it."""

    interface_id: str
    subnet_id: str
    vpc_id: str
    availability_zone: str
    status: str  # an InterfaceStatus value; kept as text so an unknown future status is shown as is
    private_ip_address: str | None
    group_ids: frozenset[str]
    interface_type: str = LAMBDA_INTERFACE_TYPE

    @property
    def usable(self) -> bool:
        return self.status in USABLE_STATUSES

    def serves(self, subnet_id: str, group_ids: frozenset[str]) -> bool:
        """Is this the ENI of the combination (subnet, exact security-group set)?"""
        return (
            self.interface_type == LAMBDA_INTERFACE_TYPE
            and self.subnet_id == subnet_id
            and self.group_ids == group_ids
        )


def _preference(eni: EniFacts) -> tuple[int, str]:
    # Two ENIs for one combination happen while AWS replaces one: show the usable one.
    return (0 if eni.usable else 1, eni.interface_id)


def interfaces_by_subnet(
    enis: Iterable[EniFacts], subnet_ids: Iterable[str], group_ids: Iterable[str]
) -> dict[str, EniFacts]:
    """The ENI serving each of ``subnet_ids`` with exactly ``group_ids``; subnets without one are absent."""
    groups = frozenset(group_ids)
    wanted = set(subnet_ids)
    found: dict[str, EniFacts] = {}
    for eni in sorted(enis, key=_preference):
        if eni.subnet_id in wanted and eni.subnet_id not in found and eni.serves(eni.subnet_id, groups):
            found[eni.subnet_id] = eni
    return found


def interfaces_by_id(enis: Iterable[EniFacts]) -> Mapping[str, EniFacts]:
    return {eni.interface_id: eni for eni in enis}


class NetworkInterfaceStatus(CamelModel):
    """One row of status.networkInterfaces (a desired subnet) or previousNetworkInterfaces, and its ENI."""

    subnet_id: str
    availability_zone: str | None = None
    network_interface_id: str | None = Field(default=None, description="Absent until Lambda has created the ENI.")
    status: str | None = Field(default=None, description="EC2 status: attaching, in-use, available, detaching.")
    private_ip_address: str | None = None
    # Not the count itself: in subnets shared with pods (VPC CNI) it moves all the time, and status
    # would be rewritten at every resync; the flag changes only when the count crosses the threshold.
    low_free_ip_addresses: bool | None = Field(
        default=None,
        description="True when the subnet has fewer than 16 free IPv4 addresses (Lambda may fail with "
        "SubnetOutOfIPAddresses); absent otherwise.",
    )
    vpc_id: str | None = Field(default=None, description="previousNetworkInterfaces only: the VPC left behind.")
