"""Preflight: judge the subnets, security groups and VPC an attachment names, before any write.

Lambda accepts some bad configurations and fails later (a missing subnet ends the update Failed
with InvalidSubnet), refuses others at once, and a few it never complains about. Catching them
here means no AWS write for a configuration that cannot work, and a message naming the field.
"""

from __future__ import annotations

import dataclasses
import enum

from lambda_vpc_operator.models.functions import VpcSettings
from lambda_vpc_operator.models.networks import NetworkFacts, SubnetFacts, Tenancy
from lambda_vpc_operator.planner.conditions import Reason

# Below this many free IPv4 addresses a subnet may not fit new ENIs (Lambda needs one per
# subnet/security-group combination, and more when it scales or replaces ENIs).
LOW_FREE_ADDRESSES = 16


class Severity(enum.StrEnum):
    ERROR = "Error"  # Stalled, no AWS write
    WARNING = "Warning"  # an Event, the work goes on
    INFO = "Info"  # a Normal Event (what a guardrail found), the work goes on


@dataclasses.dataclass(frozen=True)
class Problem:
    severity: Severity
    reason: str
    field: str
    message: str


def _ids(ids: frozenset[str] | set[str] | list[str]) -> str:
    return ", ".join(sorted(ids))


def validate_network(desired: VpcSettings, facts: NetworkFacts) -> list[Problem]:
    """Every problem with the desired network, errors first; empty when all is well."""
    if not desired.attached:
        return []
    errors: list[Problem] = []
    warnings: list[Problem] = []

    missing_subnets = desired.subnet_ids - facts.subnets.keys()
    if missing_subnets:
        errors.append(Problem(
            Severity.ERROR, Reason.SUBNET_NOT_FOUND, "spec.subnetIds",
            f"spec.subnetIds: subnet(s) {_ids(missing_subnets)} do not exist in this account and region; "
            "fix the ids or create the subnets",
        ))  # fmt: skip
    missing_groups = desired.security_group_ids - facts.security_groups.keys()
    if missing_groups:
        errors.append(Problem(
            Severity.ERROR, Reason.SECURITY_GROUP_NOT_FOUND, "spec.securityGroupIds",
            f"spec.securityGroupIds: security group(s) {_ids(missing_groups)} do not exist in this account "
            "and region; fix the ids or create the groups",
        ))  # fmt: skip

    subnet_vpcs = {facts.subnets[s].vpc_id for s in desired.subnet_ids if s in facts.subnets}
    group_vpcs = {facts.security_groups[g].vpc_id for g in desired.security_group_ids if g in facts.security_groups}
    vpcs = subnet_vpcs | group_vpcs
    if len(vpcs) > 1:
        by_vpc = {
            vpc: sorted(
                [s for s in desired.subnet_ids if s in facts.subnets and facts.subnets[s].vpc_id == vpc]
                + [g for g in desired.security_group_ids
                   if g in facts.security_groups and facts.security_groups[g].vpc_id == vpc]
            )
            for vpc in sorted(vpcs)
        }  # fmt: skip
        listing = "; ".join(f"{vpc}: {', '.join(ids)}" for vpc, ids in by_vpc.items())
        errors.append(Problem(
            Severity.ERROR, Reason.MIXED_VPCS, "spec.subnetIds",
            f"spec.subnetIds and spec.securityGroupIds must all belong to one VPC, found {listing}; "
            "pick subnets and security groups of the same VPC",
        ))  # fmt: skip

    for vpc_id in sorted(vpcs):
        vpc = facts.vpcs.get(vpc_id)
        if vpc is not None and vpc.tenancy == Tenancy.DEDICATED:
            errors.append(Problem(
                Severity.ERROR, Reason.DEDICATED_TENANCY, "spec.subnetIds",
                f"spec.subnetIds: VPC {vpc_id} has dedicated instance tenancy, which Lambda does not "
                "support; use subnets of a VPC with default tenancy",
            ))  # fmt: skip

    if desired.ipv6_allowed_for_dual_stack:
        single_stack = sorted(s for s in desired.subnet_ids if s in facts.subnets and not facts.subnets[s].dual_stack)
        if single_stack:
            errors.append(Problem(
                Severity.ERROR, Reason.NOT_DUAL_STACK, "spec.ipv6AllowedForDualStack",
                f"spec.ipv6AllowedForDualStack needs dual-stack subnets (IPv4 and IPv6), but "
                f"{', '.join(single_stack)} are not; add IPv6 CIDRs to them or set it to false",
            ))  # fmt: skip

    found = [facts.subnets[s] for s in sorted(desired.subnet_ids) if s in facts.subnets]
    zones = {s.availability_zone for s in found}
    if found and len(zones) == 1:
        warnings.append(Problem(
            Severity.WARNING, "SingleAvailabilityZone", "spec.subnetIds",
            f"spec.subnetIds: every subnet is in {', '.join(sorted(zones))}; an outage of that zone "
            "takes the function's network down; add a subnet in another zone",
        ))  # fmt: skip
    for subnet in found:
        if low_on_addresses(subnet):
            # No count in the text: it is repeated in NetworkReady's message, and a count that moves
            # (subnets shared with pods) would rewrite status at every resync.
            warnings.append(Problem(
                Severity.WARNING, "LowFreeAddresses", "spec.subnetIds",
                f"spec.subnetIds: subnet {subnet.subnet_id} has fewer than {LOW_FREE_ADDRESSES} free "
                "IPv4 addresses; Lambda may fail with SubnetOutOfIPAddresses",
            ))  # fmt: skip
    return errors + warnings


def low_on_addresses(subnet: SubnetFacts | None) -> bool:
    """Few free IPv4 addresses: what status says about a subnet's room, rather than the moving count."""
    return subnet is not None and subnet.available_ip_addresses < LOW_FREE_ADDRESSES


def errors_of(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == Severity.ERROR]
