"""A function's aliases and the VpcConfig of the versions they invoke.

Why: live traffic often goes through an alias to a published version, whose VpcConfig is the one it
was published with (aws-facts "Lambda function configuration"), not $LATEST's. Both requests here
(ListAliases, GetFunctionConfiguration with Qualifier=version) are control-plane calls under the
account's shared 15/s (aws-facts "Rate limits"), so they are spent sparingly: the reconciler asks
once per generation and at resync, ListAliases only within a small share of that budget
(``budgets.INFORMATION_SHARE``, never waiting for it), and a version is read once: versions are
immutable, so its answer is kept by (function ARN, version) for the life of the process, in a
bounded LRU.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.aws import budgets, calling, clients
from lambda_vpc_operator.models import aliases, functions

# Versions remembered (a few hundred bytes each): far more than the aliased versions of the
# functions one operator serves; the least recently used goes first.
VERSION_CACHE_SIZE = 4096


class Aliases:
    def __init__(
        self, clients: clients.AwsClients, budgets: budgets.RequestBudgets, cache_size: int = VERSION_CACHE_SIZE
    ) -> None:
        self.clients = clients
        self.budgets = budgets
        self.cache_size = cache_size
        self._versions: collections.OrderedDict[tuple[str, str], aliases.VersionFacts] = collections.OrderedDict()

    def _region(self, ref: functions.FunctionRef) -> str:
        return ref.region or self.clients.default_region

    async def of_function(self, ref: functions.FunctionRef) -> tuple[aliases.AliasFacts, ...] | None:
        """ListAliases, every page (Marker/NextMarker), each page under the control-plane budget.

        None, without a request, when the control plane's budget has a queue or no token now (the
        look would wait behind every write in it, holding its state: 15 minutes at this priority
        while 5,000 attachments converge), when the information share of the budget has no token
        now (``budgets.INFORMATION_SHARE``) or AWS throttled the account lately
        (``budgets.INFORMATION_QUIET_AFTER_THROTTLE``): the caller asks again at a later look.
        """
        region = self._region(ref)
        control = self.budgets.control(region)
        if control.would_wait() or control.throttled_within(budgets.INFORMATION_QUIET_AFTER_THROTTLE):
            return None
        if not self.budgets.information(region).try_acquire():
            return None
        client = self.clients.lambda_(region)
        found: list[aliases.AliasFacts] = []
        marker: str | None = None
        while True:
            params: dict[str, Any] = {"FunctionName": ref.api_name}
            if marker:
                params["Marker"] = marker
            page = await calling.call(
                client, "ListAliases", self.budgets.control(region), priority=budgets.Priority.BACKGROUND, **params
            )
            found.extend(a for a in (_alias(item) for item in page.get("Aliases") or ()) if a is not None)
            marker = page.get("NextMarker")
            if not marker:
                return tuple(sorted(found, key=lambda a: a.name))

    async def version(self, ref: functions.FunctionRef, function_arn: str, version: str) -> aliases.VersionFacts:
        """A published version's VpcConfig: GetFunctionConfiguration(Qualifier=version), once per version."""
        key = (function_arn, version)
        cached = self._versions.get(key)
        if cached is not None:
            self._versions.move_to_end(key)
            return cached
        region = self._region(ref)
        response = await calling.call(
            self.clients.lambda_(region),
            "GetFunctionConfiguration",
            self.budgets.control(region),
            priority=budgets.Priority.BACKGROUND,
            FunctionName=ref.api_name,
            Qualifier=version,
        )
        vpc_config = response.get("VpcConfig") or {}
        vpc = functions.VpcSettings.from_aws(vpc_config)
        facts = aliases.VersionFacts(version, vpc, vpc_config.get("VpcId") or None)
        if not version.isdigit():
            return facts  # $LATEST, $LATEST.PUBLISHED: names that move, never cached
        self._versions[key] = facts
        while len(self._versions) > self.cache_size:
            self._versions.popitem(last=False)
        return facts

    def forget(self, function_arn: str) -> None:
        """Drop a deleted function's versions: a function created again under its name numbers from 1."""
        for key in [k for k in self._versions if k[0] == function_arn]:
            del self._versions[key]


def _alias(item: Mapping[str, Any]) -> aliases.AliasFacts | None:
    """An AliasConfiguration; None for one without a name or version (never seen, never fatal)."""
    name, version = item.get("Name"), item.get("FunctionVersion")
    if not name or not version:
        return None
    weights = (item.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return aliases.AliasFacts(
        name=str(name),
        function_version=str(version),
        additional_versions={str(v): float(w) for v, w in weights.items() if isinstance(w, int | float)},
    )
