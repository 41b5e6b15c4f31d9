"""What EC2 says about the subnets, security groups and VPCs an attachment names.

Gathered by ``aws.networks`` with filtered Describe* calls and judged by ``planner.validation``:
Lambda refuses some configurations only after the update has started (or not at all, as with a
public subnet), so we check them before touching the function.
"""

from __future__ import annotations

import dataclasses
import enum


class Tenancy(enum.StrEnum):
    """DescribeVpcs InstanceTenancy. Lambda cannot attach to a dedicated-tenancy VPC."""

    DEFAULT = "default"
    DEDICATED = "dedicated"
    HOST = "host"


@dataclasses.dataclass(frozen=True)
class SubnetFacts:
    subnet_id: str
    vpc_id: str
    availability_zone: str
    available_ip_addresses: int
    ipv4_cidr: str | None = None
    ipv6_cidrs: tuple[str, ...] = ()

    @property
    def dual_stack(self) -> bool:
        """IPv4 and IPv6 both present: what Ipv6AllowedForDualStack requires of every subnet."""
        return bool(self.ipv4_cidr) and bool(self.ipv6_cidrs)


@dataclasses.dataclass(frozen=True)
class SecurityGroupFacts:
    group_id: str
    vpc_id: str
    group_name: str = ""


@dataclasses.dataclass(frozen=True)
class VpcFacts:
    vpc_id: str
    tenancy: Tenancy


@dataclasses.dataclass(frozen=True)
class NetworkFacts:
    """Everything found for one attachment's ids; an id missing from a map does not exist."""

    subnets: dict[str, SubnetFacts] = dataclasses.field(default_factory=dict)
    security_groups: dict[str, SecurityGroupFacts] = dataclasses.field(default_factory=dict)
    vpcs: dict[str, VpcFacts] = dataclasses.field(default_factory=dict)
