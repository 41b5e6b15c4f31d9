"""What EC2 says about a VPC's route tables, for the ``requireInternetAccess`` preflight.

A Lambda function in a VPC gets no public IP, even in a public subnet: it reaches the internet
only through a NAT gateway, i.e. a route 0.0.0.0/0 to ``nat-...`` in the route table of each of its
subnets (the table explicitly associated with the subnet, else the VPC's main table; aws-facts "VPC
constraints"). ``aws.routes`` reads the tables of a VPC in one filtered DescribeRouteTables call;
``planner.guards`` judges them.
"""

from __future__ import annotations

import dataclasses

# The IPv4 default route.
DEFAULT_ROUTE = "0.0.0.0/0"


@dataclasses.dataclass(frozen=True)
class RouteFacts:
    destination: str  # DestinationCidrBlock (or the prefix list id of a gateway endpoint)
    target: str  # NatGatewayId, GatewayId (igw-..., local, vpce-...), TransitGatewayId, ... or ""
    active: bool = True  # State active; a blackhole route leads nowhere

    @property
    def via_nat_gateway(self) -> bool:
        return self.target.startswith("nat-")


@dataclasses.dataclass(frozen=True)
class RouteTableFacts:
    route_table_id: str
    vpc_id: str
    main: bool  # the VPC's main table: used by every subnet without an explicit association
    subnet_ids: frozenset[str]  # subnets explicitly associated
    routes: tuple[RouteFacts, ...] = ()

    @property
    def internet_via_nat(self) -> bool:
        """An active default route to a NAT gateway."""
        return any(r.destination == DEFAULT_ROUTE and r.active and r.via_nat_gateway for r in self.routes)

    @property
    def default_target(self) -> str | None:
        """Where 0.0.0.0/0 goes (for messages), None without a default route."""
        return next((r.target for r in self.routes if r.destination == DEFAULT_ROUTE), None)


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
