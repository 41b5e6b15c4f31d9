"""The subnets and security groups carrying a selector's tags (spec.subnetSelector, ...).

One filtered DescribeSubnets (or DescribeSecurityGroups) per (region, VPC, tag set), cached for
``SELECTION_TTL`` and shared by every attachment with the same selector, with concurrent askers
waiting on the request in flight; a new generation or a resync accepts an answer up to
``REFRESH_WINDOW`` old: a thousand attachments selecting "the private subnets" cost at most one
request per selector per window, never one per attachment. EC2 filters are ANDed, so each ``key=value``
is a ``tag:KEY`` filter; a value ``*`` ("the key is present") is a ``tag-key`` filter, and since
one filter name may appear once (its values are ORed), further ``*`` keys are checked on the
answer's Tags. What was read also fills ``aws.networks``' cache, so the preflight that follows
asks EC2 nothing more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from lambda_vpc_operator.aws import calling, clients, networks
from lambda_vpc_operator.aws.budgets import RequestBudgets
from lambda_vpc_operator.models import networks as facts
from lambda_vpc_operator.models.attachments import ANY_VALUE

# A selection changes when someone tags a subnet: re-read at most this often (and at each new generation).
SELECTION_TTL = 60.0
REFRESH_WINDOW = networks.REFRESH_WINDOW

_Key = tuple[str, str, str, frozenset[tuple[str, str]]]  # (kind, region, vpc or "", tags)


def tag_filters(tags: Mapping[str, str], vpc_id: str | None) -> list[dict[str, Any]]:
    """EC2 filters for ``tags`` (and the VPC); the ``*`` keys after the first are left to ``has_tags``."""
    found: list[dict[str, Any]] = [{"Name": "vpc-id", "Values": [vpc_id]}] if vpc_id else []
    present = sorted(k for k, v in tags.items() if v == ANY_VALUE)
    found += [{"Name": f"tag:{k}", "Values": [v]} for k, v in sorted(tags.items()) if v != ANY_VALUE]
    if present:
        found.append({"Name": "tag-key", "Values": present[:1]})
    return found


def has_tags(item: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
    held = {t.get("Key"): t.get("Value") for t in item.get("Tags") or ()}
    return all(k in held and (v == ANY_VALUE or held[k] == v) for k, v in tags.items())


class Selections:
    def __init__(
        self,
        clients: clients.AwsClients,
        known: networks.Networks,
        ttl: float = SELECTION_TTL,
        clock: Callable[[], float] = time.monotonic,
        budgets: RequestBudgets | None = None,
    ) -> None:
        self.clients = clients
        self.known = known
        self.ttl = ttl
        self.clock = clock
        # EC2's Describe* budget: the preflight's (``known``) unless told otherwise.
        self.budgets = budgets or known.budgets
        self._cache: dict[_Key, tuple[float, tuple[Any, ...]]] = {}  # key -> (read at, facts)
        self._locks: dict[_Key, asyncio.Lock] = {}

    async def subnets(
        self, region: str | None, vpc_id: str | None, tags: Mapping[str, str], *, refresh: bool = False
    ) -> tuple[facts.SubnetFacts, ...]:
        """Every subnet carrying ``tags`` (in ``vpc_id`` when given)."""
        found = await self._read("subnets", region, vpc_id, tags, refresh)
        self.known.remember(region, subnets=found)
        return found

    async def groups(
        self, region: str | None, vpc_id: str | None, tags: Mapping[str, str], *, refresh: bool = False
    ) -> tuple[facts.SecurityGroupFacts, ...]:
        """Every security group carrying ``tags`` (in ``vpc_id`` when given)."""
        found = await self._read("groups", region, vpc_id, tags, refresh)
        self.known.remember(region, groups=found)
        return found

    async def _read(
        self, kind: str, region: str | None, vpc_id: str | None, tags: Mapping[str, str], refresh: bool
    ) -> tuple[Any, ...]:
        key: _Key = (kind, region or self.clients.default_region, vpc_id or "", frozenset(tags.items()))
        async with self._locks.setdefault(key, asyncio.Lock()):
            now = self.clock()
            read_at, cached = self._cache.get(key, (float("-inf"), ()))
            oldest = now - (REFRESH_WINDOW if refresh else self.ttl)
            if read_at >= oldest:
                return cached
            ec2 = self.clients.ec2(region)
            budget = self.budgets.ec2(key[1])
            filters = tag_filters(tags, vpc_id)
            if kind == "subnets":
                pages = await calling.call_pages(ec2, "DescribeSubnets", budget=budget, Filters=filters)
                items = [s for p in pages for s in p.get("Subnets") or () if has_tags(s, tags)]
                found: tuple[Any, ...] = tuple(networks.subnet_facts(s) for s in items)
            else:
                pages = await calling.call_pages(ec2, "DescribeSecurityGroups", budget=budget, Filters=filters)
                items = [g for p in pages for g in p.get("SecurityGroups") or () if has_tags(g, tags)]
                found = tuple(networks.group_facts(g) for g in items)
            self._cache[key] = (self.clock(), found)
            return found
