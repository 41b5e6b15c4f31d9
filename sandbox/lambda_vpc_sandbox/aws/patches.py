"""Fixes to moto's own answers that the operator's checks depend on (applied once per process).

- DescribeSubnets/CreateSubnet: moto 5.2 nests the IPv6 association state twice and prints it as a
  dict (``Ipv6CidrBlockState: {State: "{'State': 'associated'}"}``), so no client can tell that a
  subnet is dual-stack or IPv6-only. The operator's NotDualStack preflight reads exactly that
  field (aws-facts "VPC constraints": Ipv6AllowedForDualStack needs every subnet dual-stack, no
  IPv6-only subnet), so the simulator answers ``State: associated`` as EC2 does.
- CreateTags/DeleteTags: moto accepts only ids with 8 hex digits, which refuses the demo's chosen
  ids (``custom_ids``: ``subnet-0demoprivatea``) with InvalidID. EC2 tags any resource that exists,
  and selecting subnets by tag (spec.subnetSelector) is tested by tagging the demo's subnets, so a
  chosen id that names a subnet, security group or VPC is accepted too
  (moto checks the shape of an id here, never its existence).
"""

from __future__ import annotations

from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.ec2.models.subnets import Subnet

    def ipv6_cidr_block_association_set(self: Any) -> list[dict[str, Any]]:
        return [
            {
                "ipv6CidrBlock": association["ipv6CidrBlock"],
                "associationId": association["associationId"],
                "ipv6CidrBlockState": {"state": association["ipv6CidrBlockState"]["State"]},
            }
            for association in self.ipv6_cidr_block_associations.values()
            if association["ipv6CidrBlockState"]["State"] == "associated"
        ]

    Subnet.ipv6_cidr_block_association_set = property(ipv6_cidr_block_association_set)  # type: ignore[method-assign,assignment]
    _accept_chosen_ids_in_tags()
    _applied = True


def _accept_chosen_ids_in_tags() -> None:
    import moto.ec2.responses.tags as tag_responses
    from moto.ec2.models import validate_resource_ids

    def chosen(resource_id: str) -> bool:
        prefix, _, rest = resource_id.partition("-")
        return prefix in ("subnet", "sg", "vpc") and rest.startswith("0") and rest.isalnum()

    def validate(resource_ids: list[str]) -> bool:
        theirs = [r for r in resource_ids if not chosen(r)]
        return bool(validate_resource_ids(theirs)) if theirs or not resource_ids else True

    tag_responses.validate_resource_ids = validate  # type: ignore[attr-defined]
