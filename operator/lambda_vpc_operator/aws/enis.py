"""The Hyperplane ENIs of a VPC, read with one filtered DescribeNetworkInterfaces per VPC.

aws-facts "Hyperplane ENIs": Lambda builds one ENI of interface type ``lambda`` per (subnet,
security-group set) and shares it; they are found with DescribeNetworkInterfaces filtered by
interface-type=lambda plus vpc-id. aws-facts "Rate limits": DescribeNetworkInterfaces without a
filter has a small bucket (50, refill 10/s), so every request here is filtered.

Why per VPC, and not per attachment with subnet-id / group-id filters: a thousand attachments
usually live in a handful of VPCs. One answer for (region, VPC), kept for ``INTERFACES_TTL`` and
shared by every attachment in that VPC, costs one request per VPC per few seconds however many
functions wait; concurrent askers of the same VPC share the request in flight (as
``aws.observer`` does for functions). A VPC holds at most 500 Lambda ENIs by
default, so with ``MaxResults`` 1000 one request is one page.

Which ENI serves which function is decided by subnet plus exact security-group set
(``models.enis.interfaces_by_subnet``), never by the description text (aws-facts).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from lambda_vpc_operator.aws import calling, clients, sharing
from lambda_vpc_operator.aws.budgets import RequestBudgets
from lambda_vpc_operator.models import enis as eni_models

# Short: a waiting attachment polls every 2 s at first (planner.delays.FIRST_WAIT), and an ENI
# that turned in-use should show within one poll; long enough that N attachments polling one VPC
# together cost one request.
INTERFACES_TTL = 2.0
# DescribeNetworkInterfaces MaxResults is 5..1000 (botocore ec2 2016-11-15); the default quota of
# 500 Lambda ENIs per VPC (aws-facts) fits one page.
PAGE_SIZE = 1000

_Key = tuple[str, str]  # (region, vpc id)
Enis = tuple[eni_models.EniFacts, ...]


class Interfaces:
    """The Lambda ENIs of each VPC, cached for ``ttl`` and fetched once for concurrent askers."""

    def __init__(
        self,
        clients: clients.AwsClients,
        ttl: float = INTERFACES_TTL,
        clock: Callable[[], float] = time.monotonic,
        budgets: RequestBudgets | None = None,
    ) -> None:
        self.clients = clients
        self.ttl = ttl
        self.clock = clock
        self.budgets = budgets or RequestBudgets()  # EC2's Describe* budget, shared with the other readers
        self._cache: dict[_Key, tuple[float, Enis]] = {}
        self._in_flight: sharing.SingleFlight[_Key, Enis] = sharing.SingleFlight()

    async def in_vpc(self, region: str | None, vpc_id: str, *, max_age: float | None = None) -> Enis:
        """Every Lambda ENI of ``vpc_id``, no older than ``max_age`` seconds (default: the TTL)."""
        key = (region or self.clients.default_region, vpc_id)
        limit = self.ttl if max_age is None else max_age
        cached = self._cache.get(key)
        if cached is not None and self.clock() - cached[0] <= limit:
            return cached[1]
        # A request already in flight started after any cached answer: it is fresh enough.
        return await self._in_flight.run(key, lambda: self._fetch(key), f"describing ENIs of {key[0]}/{key[1]}")

    def age(self, region: str | None, vpc_id: str) -> float | None:
        """Seconds since the cached answer for the VPC was fetched; None if there is none."""
        cached = self._cache.get((region or self.clients.default_region, vpc_id))
        return None if cached is None else self.clock() - cached[0]

    async def _fetch(self, key: _Key) -> Enis:
        region, vpc_id = key
        started = self.clock()
        pages = await calling.call_pages(
            self.clients.ec2(region),
            "DescribeNetworkInterfaces",
            budget=self.budgets.ec2(region),
            Filters=[
                {"Name": "interface-type", "Values": [eni_models.LAMBDA_INTERFACE_TYPE]},
                {"Name": "vpc-id", "Values": [vpc_id]},
            ],
            PaginationConfig={"PageSize": PAGE_SIZE},
        )
        found = tuple(_interface(item) for page in pages for item in page.get("NetworkInterfaces") or ())
        # Stamped with the time it was asked for: the answer is at least that fresh.
        self._cache[key] = (started, found)
        return found

def _interface(item: Mapping[str, Any]) -> eni_models.EniFacts:
    return eni_models.EniFacts(
        interface_id=item["NetworkInterfaceId"],
        subnet_id=item.get("SubnetId") or "",
        vpc_id=item.get("VpcId") or "",
        availability_zone=item.get("AvailabilityZone") or "",
        status=item.get("Status") or "",
        private_ip_address=item.get("PrivateIpAddress") or None,
        group_ids=frozenset(g["GroupId"] for g in item.get("Groups") or () if g.get("GroupId")),
        interface_type=item.get("InterfaceType") or "",
    )
