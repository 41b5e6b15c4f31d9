"""What EC2 knows about an attachment's subnets, security groups and their VPCs.

Lambda checks few of these itself, and late (aws-facts "VPC constraints", "Errors"), so the planner
validates them first from the ``models.networks.NetworkFacts`` built here.

Every Describe* call is filtered (``subnet-id``, ``group-id``, ``vpc-id``), never by ids: asked by
id, EC2 fails the whole call on one unknown id (InvalidSubnetID.NotFound), while with a filter the
missing id is simply absent from the answer, which is what the planner needs to report it. Filters
also keep us in EC2's larger request bucket: unfiltered DescribeSecurityGroups has a smaller one
(50, refill 10/s).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from lambda_vpc_operator.aws import calling, clients
from lambda_vpc_operator.models import networks

# The state of an IPv6 CIDR association that is usable (others: associating, disassociating, ...).
IPV6_ASSOCIATED = "associated"


class Networks:
    def __init__(self, clients: clients.AwsClients) -> None:
        self.clients = clients

    async def describe(
        self,
        region: str | None,
        subnet_ids: Collection[str],
        security_group_ids: Collection[str],
    ) -> networks.NetworkFacts:
        """Read the named subnets and groups, then the VPCs they are in. Unknown ids are left out."""
        ec2 = self.clients.ec2(region)
        subnets: dict[str, networks.SubnetFacts] = {}
        groups: dict[str, networks.SecurityGroupFacts] = {}
        vpcs: dict[str, networks.VpcFacts] = {}
        # An empty filter would not mean "nothing": skip the call instead.
        if subnet_ids:
            for page in await calling.call_pages(
                ec2, "DescribeSubnets", Filters=_filter("subnet-id", subnet_ids)
            ):
                subnets.update((s.subnet_id, s) for s in map(_subnet, page.get("Subnets") or ()))
        if security_group_ids:
            pages = await calling.call_pages(
                ec2, "DescribeSecurityGroups", Filters=_filter("group-id", security_group_ids)
            )
            for page in pages:
                groups.update((g.group_id, g) for g in map(_group, page.get("SecurityGroups") or ()))
        vpc_ids = {s.vpc_id for s in subnets.values()} | {g.vpc_id for g in groups.values()}
        vpc_ids.discard("")
        if vpc_ids:
            for page in await calling.call_pages(ec2, "DescribeVpcs", Filters=_filter("vpc-id", vpc_ids)):
                vpcs.update((v.vpc_id, v) for v in map(_vpc, page.get("Vpcs") or ()))
        return networks.NetworkFacts(subnets=subnets, security_groups=groups, vpcs=vpcs)


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


def _vpc(item: Mapping[str, Any]) -> networks.VpcFacts:
    return networks.VpcFacts(
        vpc_id=item["VpcId"],
        tenancy=networks.Tenancy(item.get("InstanceTenancy") or networks.Tenancy.DEFAULT),
    )
