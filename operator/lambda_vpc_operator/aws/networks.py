"""What EC2 knows about an attachment's subnets, security groups and their VPCs.

Lambda checks few of these itself, and late (aws-facts "VPC constraints", "Errors"), so the planner
validates them first from the ``models.networks.NetworkFacts`` built here.

Every Describe* call is filtered (``subnet-id``, ``group-id``, ``vpc-id``), never by ids: asked by
id, EC2 fails the whole call on one unknown id (InvalidSubnetID.NotFound), while with a filter the
missing id is simply absent from the answer, which is what the planner needs to report it. Filters
also keep us in EC2's larger request bucket: unfiltered DescribeSecurityGroups has a smaller one
(50, refill 10/s).

Facts are cached per id for ``FACTS_TTL``: a thousand attachments usually share a handful of
subnets, and re-validating each at every resync would otherwise cost three EC2 calls apiece. A new
generation asks with ``refresh=True``, so a user who just created the missing subnet is not told
it is missing; facts read in the last ``REFRESH_WINDOW`` still count then, so that a hundred
attachments applied together share one read instead of making three calls each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from lambda_vpc_operator.aws import calling, clients, metrics
from lambda_vpc_operator.aws.budgets import RequestBudgets
from lambda_vpc_operator.aws.sharing import SingleFlight
from lambda_vpc_operator.models import networks

# The state of an IPv6 CIDR association that is usable (others: associating, disassociating, ...).
IPV6_ASSOCIATED = "associated"
# Subnets, groups and VPCs rarely change; free-address counts only feed a warning.
FACTS_TTL = 300.0
# How long a describe that needs EC2 waits for the one in flight in its region (to find its answer in
# the cache) before asking EC2 itself: a hung request (30 s read timeout, 3 attempts) must not hold
# the region for ever. The waiters of one describe all wake together when it ends (``SingleFlight``):
# a lock handed from waiter to waiter, one event-loop turn each, made 5,000 new attachments queue for
# longer than this, and every look that gave up sent its own describes (4,504 to converge 5,000).
LOCK_WAIT = 30.0
# A describe joins at most this many others in flight for its ids (one that failed in part leaves
# them unread) before asking EC2 itself.
JOINS = 3
REFRESH_WINDOW = 10.0
# A describe in flight: its region, subnet ids and security group ids (sorted).
_Flight = tuple[str, tuple[str, ...], tuple[str, ...]]
# Why a round of describes was sent, most telling first (aws.metrics.NetworkDescribeMeter).
_WHYS = ("new", "expired", "refresh")


class _FactCache:
    """id -> (expiry, facts or None for "does not exist"), for one kind of resource in one region."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.entries: dict[tuple[str, str], tuple[float, float, Any]] = {}  # (read at, expiry, facts)

    def why_stale(self, region: str, ids: Iterable[str]) -> str:
        """Why stale ids must be read (aws.metrics.NetworkDescribeMeter): new, expired, else refresh."""
        entries = [self.entries.get((region, i)) for i in ids]
        if any(entry is None for entry in entries):
            return "new"
        now = self.clock()
        return "expired" if any(entry is not None and entry[1] <= now for entry in entries) else "refresh"

    def stale(self, region: str, ids: Iterable[str], since: float | None) -> set[str]:
        """The ids not cached, expired, or (with ``since``) read before that time."""
        now = self.clock()
        oldest = since if since is not None else float("-inf")
        stale = set()
        for i in ids:
            read_at, expiry, _ = self.entries.get((region, i), (float("-inf"), 0.0, None))
            if expiry <= now or read_at < oldest:
                stale.add(i)
        return stale

    def store(self, region: str, asked: Iterable[str], found: Mapping[str, Any], ttl: float) -> None:
        now = self.clock()
        for i in asked:
            self.entries[(region, i)] = (now, now + ttl, found.get(i))

    def forget(self, region: str, ids: Iterable[str]) -> None:
        for i in ids:
            self.entries.pop((region, i), None)

    def get(self, region: str, ids: Iterable[str]) -> dict[str, Any]:
        found = {i: self.entries.get((region, i), (0.0, 0.0, None))[2] for i in ids}
        return {i: facts for i, facts in found.items() if facts is not None}


class Networks:
    def __init__(
        self,
        clients: clients.AwsClients,
        ttl: float = FACTS_TTL,
        clock: Callable[[], float] = time.monotonic,
        lock_wait: float = LOCK_WAIT,
        budgets: RequestBudgets | None = None,
    ) -> None:
        self.clients = clients
        # EC2's Describe* budget (aws-facts "EC2 request buckets and paging"), shared with the other readers.
        self.budgets = budgets or RequestBudgets()
        self.ttl = ttl
        self.lock_wait = lock_wait
        self._clock = clock
        self._subnets = _FactCache(clock)
        self._groups = _FactCache(clock)
        self._vpcs = _FactCache(clock)
        # One describe in flight per region and set of ids: concurrent looks at the same network (a
        # hundred new attachments) wait for it and find what it read in the cache instead of all
        # asking EC2 at once; for at most ``lock_wait``, then they ask EC2 themselves. Per set of ids,
        # not per region: a look joining a describe of other ids found its own still unread after
        # it, joined the next one, and after JOINS sent its own (5,000 new attachments over three
        # subnet sets: 844 rounds where 42 would do, then a cascade of looks giving up).
        self._flights: SingleFlight[_Flight, networks.NetworkFacts] = SingleFlight()

    def forget(self, region: str | None, subnet_ids: Iterable[str], security_group_ids: Iterable[str]) -> None:
        """Drop what is cached about these ids and their VPCs: the next describe asks EC2 (a human asked
        for a fresh look: lambdavpc.dev/reconcile-requested-at)."""
        key = region or self.clients.default_region
        vpc_ids = {s.vpc_id for s in self._subnets.get(key, subnet_ids).values()}
        vpc_ids |= {g.vpc_id for g in self._groups.get(key, security_group_ids).values()}
        self._subnets.forget(key, subnet_ids)
        self._groups.forget(key, security_group_ids)
        self._vpcs.forget(key, vpc_ids)

    async def describe(
        self,
        region: str | None,
        subnet_ids: Collection[str],
        security_group_ids: Collection[str],
        *,
        refresh: bool = False,
    ) -> networks.NetworkFacts:
        """The named subnets and groups and their VPCs (unknown ids left out), cached for ``ttl``."""
        key = region or self.clients.default_region
        # A refresh wants facts read since shortly before it asked, however long it then waits: a
        # describe in flight that took longer than REFRESH_WINDOW (EC2's budget, busy threads) still
        # answers the looks that joined it, instead of each starting another.
        since = self._clock() - REFRESH_WINDOW if refresh else None
        cached = self._cached(key, subnet_ids, security_group_ids, since)
        if cached is not None:
            return cached  # nothing to ask EC2: no need to wait for the region's describe in flight

        def request() -> Awaitable[networks.NetworkFacts]:
            return self._describe(region, key, subnet_ids, security_group_ids, since)

        name = f"describe networks in {key}"
        flight = (key, tuple(sorted(subnet_ids)), tuple(sorted(security_group_ids)))
        for _ in range(JOINS):
            if not self._flights.in_flight(flight):
                return await self._flights.run(flight, request, name=name)  # ours: its answer is ours
            try:
                await asyncio.wait_for(self._flights.run(flight, request, name=name), self.lock_wait)
            except TimeoutError:
                metrics.network_describes.describe("gave-up-waiting")
                return await self._describe(region, key, subnet_ids, security_group_ids, since, counted=True)
            cached = self._cached(key, subnet_ids, security_group_ids, since)
            if cached is not None:
                return cached
        return await self._describe(region, key, subnet_ids, security_group_ids, since)

    def _cached(
        self, key: str, subnet_ids: Collection[str], security_group_ids: Collection[str], since: float | None
    ) -> networks.NetworkFacts | None:
        """The answer from the cache alone, or None when an id (or its VPC) must be read again."""
        if self._subnets.stale(key, subnet_ids, since) or self._groups.stale(key, security_group_ids, since):
            return None
        subnets: dict[str, networks.SubnetFacts] = self._subnets.get(key, subnet_ids)
        groups: dict[str, networks.SecurityGroupFacts] = self._groups.get(key, security_group_ids)
        vpc_ids = ({s.vpc_id for s in subnets.values()} | {g.vpc_id for g in groups.values()}) - {""}
        if self._vpcs.stale(key, vpc_ids, since):
            return None
        return networks.NetworkFacts(subnets=subnets, security_groups=groups, vpcs=self._vpcs.get(key, vpc_ids))

    async def _describe(
        self,
        region: str | None,
        key: str,
        subnet_ids: Collection[str],
        security_group_ids: Collection[str],
        since: float | None,
        *,
        counted: bool = False,
    ) -> networks.NetworkFacts:
        ec2 = self.clients.ec2(region)
        budget = self.budgets.ec2(key)
        # An empty filter would not mean "nothing": only stale ids are asked for, never none.
        missing = self._subnets.stale(key, subnet_ids, since)
        stale_groups = self._groups.stale(key, security_group_ids, since)
        whys = {c.why_stale(key, ids) for c, ids in ((self._subnets, missing), (self._groups, stale_groups)) if ids}
        if whys and not counted:
            metrics.network_describes.describe(next(w for w in _WHYS if w in whys))
            counted = True
        if missing:
            fetched: dict[str, networks.SubnetFacts] = {}
            for page in await calling.call_pages(
                ec2, "DescribeSubnets", budget=budget, Filters=_filter("subnet-id", missing)
            ):
                fetched.update((s.subnet_id, s) for s in map(_subnet, page.get("Subnets") or ()))
            self._subnets.store(key, missing, fetched, self.ttl)
        missing = stale_groups
        if missing:
            found_groups: dict[str, networks.SecurityGroupFacts] = {}
            pages = await calling.call_pages(
                ec2, "DescribeSecurityGroups", budget=budget, Filters=_filter("group-id", missing)
            )
            for page in pages:
                found_groups.update((g.group_id, g) for g in map(_group, page.get("SecurityGroups") or ()))
            self._groups.store(key, missing, found_groups, self.ttl)
        subnets: dict[str, networks.SubnetFacts] = self._subnets.get(key, subnet_ids)
        groups: dict[str, networks.SecurityGroupFacts] = self._groups.get(key, security_group_ids)
        vpc_ids = {s.vpc_id for s in subnets.values()} | {g.vpc_id for g in groups.values()}
        vpc_ids.discard("")
        missing = self._vpcs.stale(key, vpc_ids, since)
        if missing and not counted:
            metrics.network_describes.describe(self._vpcs.why_stale(key, missing))
        if missing:
            found_vpcs: dict[str, networks.VpcFacts] = {}
            for page in await calling.call_pages(
                ec2, "DescribeVpcs", budget=budget, Filters=_filter("vpc-id", missing)
            ):
                found_vpcs.update((v.vpc_id, v) for v in map(_vpc, page.get("Vpcs") or ()))
            self._vpcs.store(key, missing, found_vpcs, self.ttl)
        vpcs: dict[str, networks.VpcFacts] = self._vpcs.get(key, vpc_ids)
        return networks.NetworkFacts(subnets=subnets, security_groups=groups, vpcs=vpcs)

    def remember(
        self,
        region: str | None,
        subnets: Iterable[networks.SubnetFacts] = (),
        groups: Iterable[networks.SecurityGroupFacts] = (),
    ) -> None:
        """Facts read elsewhere (``aws.selections``): the preflight of the ids they resolved to asks nothing."""
        key = region or self.clients.default_region
        found_subnets = {s.subnet_id: s for s in subnets}
        self._subnets.store(key, found_subnets, found_subnets, self.ttl)
        found_groups = {g.group_id: g for g in groups}
        self._groups.store(key, found_groups, found_groups, self.ttl)


def _filter(name: str, values: Iterable[str]) -> list[dict[str, Any]]:
    return [{"Name": name, "Values": sorted(set(values))}]


def _subnet(item: Mapping[str, Any]) -> networks.SubnetFacts:
    ipv6 = tuple(
        association["Ipv6CidrBlock"]
        for association in item.get("Ipv6CidrBlockAssociationSet") or ()
        if (association.get("Ipv6CidrBlockState") or {}).get("State") == IPV6_ASSOCIATED
        and association.get("Ipv6CidrBlock")
    )
    return networks.SubnetFacts(
        subnet_id=item["SubnetId"],
        vpc_id=item.get("VpcId") or "",
        availability_zone=item.get("AvailabilityZone") or "",
        available_ip_addresses=int(item.get("AvailableIpAddressCount") or 0),
        # An IPv6-only subnet has no CidrBlock.
        ipv4_cidr=item.get("CidrBlock") or None,
        ipv6_cidrs=ipv6,
    )


def _group(item: Mapping[str, Any]) -> networks.SecurityGroupFacts:
    return networks.SecurityGroupFacts(
        group_id=item["GroupId"],
        vpc_id=item.get("VpcId") or "",
        group_name=item.get("GroupName") or "",
    )


subnet_facts, group_facts = _subnet, _group  # for aws.selections, which reads the same shapes


def _vpc(item: Mapping[str, Any]) -> networks.VpcFacts:
    return networks.VpcFacts(
        vpc_id=item["VpcId"],
        tenancy=networks.Tenancy(item.get("InstanceTenancy") or networks.Tenancy.DEFAULT),
    )
