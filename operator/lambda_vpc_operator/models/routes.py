"""What EC2 says about a VPC's route tables, for the ``requireInternetAccess`` preflight.

A Lambda function in a VPC gets no public IP, even in a public subnet: a route 0.0.0.0/0 to an
internet gateway does not take it anywhere (aws-facts "VPC constraints"). It reaches the internet
through something that translates its address: a NAT gateway, a NAT instance, or a central egress
VPC or firewall behind a transit gateway, a Gateway Load Balancer endpoint or a Cloud WAN core
network (aws-facts "Refusals": internet routes). The route that counts is in the table of each
subnet (the table explicitly associated with the subnet, else the VPC's main table).
``aws.routes`` reads the tables of a VPC in one filtered DescribeRouteTables call;
``planner.guards`` judges them.
"""

from __future__ import annotations

import dataclasses

# The IPv4 default route.
DEFAULT_ROUTE = "0.0.0.0/0"

# What a default route's target is, by its id (botocore ec2 model, Route: GatewayId holds igw-,
# vgw-, vpce- (a Gateway Load Balancer endpoint) or "local"; NatGatewayId, TransitGatewayId,
# InstanceId, NetworkInterfaceId, VpcPeeringConnectionId, LocalGatewayId, CarrierGatewayId,
# CoreNetworkArn), and whether 0.0.0.0/0 there takes a function without a public IP to the internet.
_TARGETS: tuple[tuple[str, str, bool], ...] = (
    ("nat-", "NAT gateway", True),
    ("tgw-", "transit gateway", True),  # a central egress VPC (NAT, firewall) behind it
    ("vpce-", "Gateway Load Balancer endpoint", True),  # a central firewall appliance
    ("i-", "NAT instance", True),
    ("eni-", "network interface (NAT instance or appliance)", True),
    ("arn:", "Cloud WAN core network", True),
    ("vgw-", "virtual private gateway", True),  # egress through the corporate network
    ("lgw-", "local gateway", True),
    ("igw-", "internet gateway", False),  # the function has no public IP to use it with
    ("pcx-", "VPC peering connection", False),  # no edge-to-edge routing through a peer's gateway
    ("cagw-", "carrier gateway", False),  # Wavelength carrier IPs only
    ("eigw-", "egress-only internet gateway", False),  # IPv6 only
    ("local", "the VPC itself", False),
)


@dataclasses.dataclass(frozen=True)
class RouteFacts:
    destination: str  # DestinationCidrBlock (or the prefix list id of a gateway endpoint)
    target: str  # NatGatewayId, GatewayId (igw-..., local, vpce-...), TransitGatewayId, ... or ""
    active: bool = True  # State active; a blackhole route leads nowhere

    @property
    def kind(self) -> str:
        """What the target is, for messages ("transit gateway", ...)."""
        return next((kind for prefix, kind, _ in _TARGETS if self.target.startswith(prefix)), "target")

    @property
    def reaches_internet(self) -> bool:
        """An active default route to something that can take a function without a public IP out.

        A target we do not know (AWS adds kinds) is given the benefit of the doubt: stalling a working
        network is worse than a function without internet, which its owner notices at once.
        """
        if self.destination != DEFAULT_ROUTE or not self.active or not self.target:
            return False
        return next((ok for prefix, _, ok in _TARGETS if self.target.startswith(prefix)), True)

    def describe(self) -> str:
        return f"{self.kind} {self.target}" if self.kind != "the VPC itself" else "the VPC itself (local)"


@dataclasses.dataclass(frozen=True)
class RouteTableFacts:
    route_table_id: str
    vpc_id: str
    main: bool  # the VPC's main table: used by every subnet without an explicit association
    subnet_ids: frozenset[str]  # subnets explicitly associated
    routes: tuple[RouteFacts, ...] = ()

    @property
    def internet_route(self) -> RouteFacts | None:
        """The active default route that reaches the internet, if any."""
        return next((r for r in self.routes if r.reaches_internet), None)

    @property
    def default_route(self) -> RouteFacts | None:
        """The 0.0.0.0/0 route (for messages), None without one."""
        return next((r for r in self.routes if r.destination == DEFAULT_ROUTE), None)


@dataclasses.dataclass(frozen=True)
class VpcRoutes:
    """Every route table of one VPC."""

    vpc_id: str
    tables: tuple[RouteTableFacts, ...] = ()

    def table_of(self, subnet_id: str) -> RouteTableFacts | None:
        """The table a subnet uses: its explicit association, else the main table."""
        for table in self.tables:
            if subnet_id in table.subnet_ids:
                return table
        return next((t for t in self.tables if t.main), None)
