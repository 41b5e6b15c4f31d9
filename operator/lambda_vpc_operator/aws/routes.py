"""The route tables of a VPC, for ``spec.requireInternetAccess``.

One DescribeRouteTables filtered by ``vpc-id`` answers for every subnet of a VPC at once (each
table lists its explicit subnet associations and whether it is the main table), so the operator
asks per VPC, never per subnet or per attachment, and caches the answer for ``ROUTES_TTL``; a new
generation asks again (``refresh``), so a route added to fix a NoInternetRoute is seen when the
user re-applies. Filtered, as every EC2 Describe* we send (aws-facts "Rate limits").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from lambda_vpc_operator.aws import calling, clients
from lambda_vpc_operator.aws.budgets import RequestBudgets
from lambda_vpc_operator.models import routes

# Route tables change rarely; the same as the other network facts (aws.networks.FACTS_TTL).
ROUTES_TTL = 300.0
ACTIVE = "active"


class RouteTables:
    def __init__(
        self,
        clients: clients.AwsClients,
        ttl: float = ROUTES_TTL,
        clock: Callable[[], float] = time.monotonic,
        budgets: RequestBudgets | None = None,
    ) -> None:
        self.clients = clients
        self.ttl = ttl
        self.clock = clock
        self.budgets = budgets or RequestBudgets()  # EC2's Describe* budget, shared with the other readers
        self._cache: dict[tuple[str, str], tuple[float, routes.VpcRoutes]] = {}

    async def of_vpcs(
        self, region: str | None, vpc_ids: Collection[str], *, refresh: bool = False
    ) -> dict[str, routes.VpcRoutes]:
        """Every route table of each VPC, by VPC id (one request for all the stale VPCs)."""
        key = region or self.clients.default_region
        now = self.clock()
        stale = sorted(v for v in set(vpc_ids) if refresh or self._cache.get((key, v), (0.0, None))[0] <= now)
        if stale:
            tables: dict[str, list[routes.RouteTableFacts]] = {v: [] for v in stale}
            pages = await calling.call_pages(
                self.clients.ec2(region),
                "DescribeRouteTables",
                budget=self.budgets.ec2(key),
                Filters=[{"Name": "vpc-id", "Values": stale}],
            )
            for page in pages:
                for item in page.get("RouteTables") or ():
                    table = _table(item)
                    tables.setdefault(table.vpc_id, []).append(table)
            expiry = self.clock() + self.ttl
            for vpc_id in stale:
                found = tuple(sorted(tables[vpc_id], key=lambda t: t.route_table_id))
                self._cache[(key, vpc_id)] = (expiry, routes.VpcRoutes(vpc_id, found))
        return {v: self._cache[(key, v)][1] for v in vpc_ids}


def _table(item: Mapping[str, Any]) -> routes.RouteTableFacts:
    associations = item.get("Associations") or ()
    return routes.RouteTableFacts(
        route_table_id=item["RouteTableId"],
        vpc_id=item.get("VpcId") or "",
        main=any(a.get("Main") for a in associations),
        subnet_ids=frozenset(a["SubnetId"] for a in associations if a.get("SubnetId")),
        routes=tuple(_route(r) for r in item.get("Routes") or ()),
    )


def _route(item: Mapping[str, Any]) -> routes.RouteFacts:
    destination = (
        item.get("DestinationCidrBlock") or item.get("DestinationIpv6CidrBlock") or item.get("DestinationPrefixListId")
    )
    target = next(
        (
            str(item[k])
            # InstanceId before NetworkInterfaceId: a NAT instance's route carries both.
            for k in ("NatGatewayId", "GatewayId", "TransitGatewayId", "InstanceId", "NetworkInterfaceId",
                      "VpcPeeringConnectionId", "EgressOnlyInternetGatewayId", "LocalGatewayId",
                      "CarrierGatewayId", "CoreNetworkArn")
            if item.get(k)
        ),
        "",
    )  # fmt: skip
    return routes.RouteFacts(destination or "", target, (item.get("State") or ACTIVE) == ACTIVE)
