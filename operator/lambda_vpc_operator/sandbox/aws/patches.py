"""Fixes to moto's own answers that the operator's checks depend on (applied once per process).

- DescribeSubnets/CreateSubnet: moto 5.2 nests the IPv6 association state twice and prints it as a
  dict (``Ipv6CidrBlockState: {State: "{'State': 'associated'}"}``), so no client can tell that a
  subnet is dual-stack or IPv6-only. The operator's NotDualStack preflight reads exactly that
  field (aws-facts "VPC constraints": Ipv6AllowedForDualStack needs every subnet dual-stack, no
  IPv6-only subnet), so the simulator answers ``State: associated`` as EC2 does.
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
    _applied = True
