"""VPC side of Lambda: checking a VpcConfig against EC2, and Hyperplane ENIs in moto's EC2 backend.

Why: moto accepts any subnet and security group, even from two VPCs, reports VpcId ``vpc-123abc``
and creates no ENI (aws-facts "moto 5.2 against these facts"). The truth about subnets, security
groups and VPCs is in moto's EC2 backend, so this module reads it there, and it creates the
``lambda`` ENIs there too, through the backend objects (the EC2 API cannot set the interface type,
aws-facts), so that DescribeNetworkInterfaces shows them like AWS does.
"""

from __future__ import annotations

import contextlib
import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import exceptions

#: aws-facts "Lambda function configuration": SubnetIds 0..16, SecurityGroupIds 0..5.
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5


class Combo(NamedTuple):
    """aws-facts "Hyperplane ENIs": one ENI per (subnet, security-group set) in the account."""

    subnet_id: str
    group_ids: frozenset[str]

    def describe(self) -> str:
        return f"{self.subnet_id} with [{', '.join(sorted(self.group_ids))}]"


@dataclass(frozen=True)
class Failure:
    """Why an update, a creation or a restore ends Failed: a StateReasonCode and its text."""

    reason_code: str
    reason: str


@dataclass(frozen=True)
class VpcSettings:
    """A function's VpcConfig as Lambda reports it, with the VpcId derived from the subnets."""

    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    ipv6_allowed: bool
    vpc_id: str

    @property
    def attached(self) -> bool:
        return bool(self.subnet_ids and self.security_group_ids)

    def combos(self) -> frozenset[Combo]:
        if not self.attached:
            return frozenset()
        groups = frozenset(self.security_group_ids)
        return frozenset(Combo(subnet, groups) for subnet in self.subnet_ids)

    def same_network(self, other: VpcSettings | None) -> bool:
        return other is not None and (
            set(self.subnet_ids) == set(other.subnet_ids)
            and set(self.security_group_ids) == set(other.security_group_ids)
            and self.ipv6_allowed == other.ipv6_allowed
        )

    def to_wire(self) -> dict[str, Any]:
        # aws-facts "Lambda function configuration": VpcId is derived from the subnets/SGs
        # (empty when detached); Ipv6AllowedForDualStack is echoed, false when unset.
        return {
            "SubnetIds": list(self.subnet_ids),
            "SecurityGroupIds": list(self.security_group_ids),
            "Ipv6AllowedForDualStack": self.ipv6_allowed,
            "VpcId": self.vpc_id if self.attached else "",
        }


@dataclass(frozen=True)
class CheckedVpcConfig:
    """A VpcConfig that passed the synchronous checks; ``deferred`` fails the change later."""

    settings: VpcSettings
    deferred: Failure | None


def find_subnet(ec2: Any, subnet_id: str) -> Any | None:
    for subnets in ec2.subnets.values():
        if subnet_id in subnets:
            return subnets[subnet_id]
    return None


def find_security_group(ec2: Any, group_id: str) -> Any | None:
    return ec2.get_security_group_from_id(group_id)


def _strings(value: Any, member: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise exceptions.InvalidParameterValue(f"VpcConfig.{member} must be a list of strings.")
    return tuple(dict.fromkeys(value))


def check_vpc_config(ec2: Any, vpc_config: dict[str, Any], current_ipv6: bool = False) -> CheckedVpcConfig:
    """Validate a VpcConfig of CreateFunction/UpdateFunctionConfiguration against moto's EC2.

    Raises InvalidParameterValue for what AWS refuses at once (aws-facts "VPC constraints":
    one VPC, no dedicated tenancy, at least one of each, dual-stack subnets for IPv6); returns a
    deferred Failure for subnets/SGs that do not exist (aws-facts "Errors": subnet/SG problems
    are NOT raised by UpdateFunctionConfiguration, they arrive later as LastUpdateStatus=Failed).
    ``current_ipv6`` is the function's flag now: a VpcConfig that omits the flag keeps it.
    """
    subnet_ids = _strings(vpc_config.get("SubnetIds"), "SubnetIds")
    group_ids = _strings(vpc_config.get("SecurityGroupIds"), "SecurityGroupIds")
    # aws-facts "Refusals" (Ipv6AllowedForDualStack on detach): an omitted (or null) flag keeps
    # the function's current value rather than resetting it.
    flag = vpc_config.get("Ipv6AllowedForDualStack")
    ipv6 = current_ipv6 if flag is None else bool(flag)

    # aws-facts "Lambda function configuration": SubnetIds 0..16, SecurityGroupIds 0..5.
    if len(subnet_ids) > MAX_SUBNETS:
        raise exceptions.InvalidParameterValue(f"At most {MAX_SUBNETS} subnets are allowed in VpcConfig.")
    if len(group_ids) > MAX_SECURITY_GROUPS:
        raise exceptions.InvalidParameterValue(
            f"At most {MAX_SECURITY_GROUPS} security groups are allowed in VpcConfig."
        )
    if not subnet_ids and not group_ids:
        if ipv6:
            # aws-facts "Refusals" (cloudformation-coverage-roadmap #2061): a detach that leaves the
            # flag true, sent or kept from the function's configuration, is refused at the call.
            raise exceptions.InvalidParameterValue(
                "Ipv6AllowedForDualStack cannot be true without subnet or security groups"
            )
        # aws-facts "Lambda function configuration": both empty means detach.
        return CheckedVpcConfig(VpcSettings((), (), False, ""), None)
    if not subnet_ids or not group_ids:
        # aws-facts "VPC constraints" / "Refusals": at least one of each to attach, AWS' own words.
        raise exceptions.InvalidParameterValue(
            "SubnetIds and SecurityIds must coexist or be both empty list."
        )

    subnets = {sid: find_subnet(ec2, sid) for sid in subnet_ids}
    groups = {gid: find_security_group(ec2, gid) for gid in group_ids}
    owners = {sid: s.vpc_id for sid, s in subnets.items() if s is not None}
    owners.update({gid: g.vpc_id for gid, g in groups.items() if g is not None})
    vpc_ids = sorted(set(owners.values()))
    if len(vpc_ids) > 1:
        # aws-facts "VPC constraints": subnets and security groups must belong to one VPC.
        listing = ", ".join(f"{rid} ({vid})" for rid, vid in owners.items())
        raise exceptions.InvalidParameterValue(
            f"Subnets and security groups must belong to the same VPC, but they belong to "
            f"{' and '.join(vpc_ids)}: {listing}."
        )
    vpc_id = vpc_ids[0] if vpc_ids else ""
    vpc = ec2.vpcs.get(vpc_id) if vpc_id else None
    if vpc is not None and getattr(vpc, "instance_tenancy", "default") == "dedicated":
        # aws-facts "VPC constraints": no VPC with dedicated instance tenancy.
        raise exceptions.InvalidParameterValue(
            f"Lambda does not support VPCs with dedicated tenancy: {vpc_id} has InstanceTenancy dedicated."
        )
    if ipv6:
        # aws-facts "VPC constraints": Ipv6AllowedForDualStack needs every subnet dual-stack.
        # ... and no IPv6-only subnet (no IPv4 CIDR) either.
        single_stack = [sid for sid, s in subnets.items() if s is not None and not (_has_ipv6(s) and s.cidr_block)]
        if single_stack:
            raise exceptions.InvalidParameterValue(
                "Ipv6AllowedForDualStack needs dual-stack subnets (an IPv4 and an IPv6 CIDR block), but these "
                f"subnets are not: {', '.join(single_stack)}."
            )

    deferred = None
    missing_subnets = [sid for sid, s in subnets.items() if s is None]
    missing_groups = [gid for gid, g in groups.items() if g is None]
    if missing_subnets:
        deferred = Failure("InvalidSubnet", f"The subnet ID '{missing_subnets[0]}' does not exist.")
    elif missing_groups:
        deferred = Failure(
            "InvalidSecurityGroup", f"The security group ID '{missing_groups[0]}' does not exist."
        )
    return CheckedVpcConfig(VpcSettings(subnet_ids, group_ids, ipv6, vpc_id), deferred)


def _has_ipv6(subnet: Any) -> bool:
    associations = getattr(subnet, "ipv6_cidr_block_associations", {}) or {}
    states = [(a.get("ipv6CidrBlockState") or {}).get("State", "associated") for a in associations.values()]
    return "associated" in states


def settings_from_moto(ec2: Any, vpc_config: dict[str, Any] | None) -> VpcSettings | None:
    """Our view of a VpcConfig moto holds for a function we did not see created."""
    if not vpc_config:
        return None
    subnet_ids = tuple(vpc_config.get("SubnetIds") or ())
    group_ids = tuple(vpc_config.get("SecurityGroupIds") or ())
    subnet = next((s for s in (find_subnet(ec2, sid) for sid in subnet_ids) if s is not None), None)
    vpc_id = subnet.vpc_id if subnet is not None else ""
    return VpcSettings(subnet_ids, group_ids, bool(vpc_config.get("Ipv6AllowedForDualStack")), vpc_id)


def vpc_of_subnet(ec2: Any, subnet_id: str) -> str:
    subnet = find_subnet(ec2, subnet_id)
    return str(subnet.vpc_id) if subnet is not None else ""


#: EC2 NetworkInterface Status values the simulator uses (aws-facts "Hyperplane ENIs": status
#: filter values available, associated, attaching, in-use, detaching).
ATTACHING = "attaching"
IN_USE = "in-use"


def create_lambda_eni(ec2: Any, combo: Combo, function_name: str, status: str = IN_USE) -> str:
    """Create the Hyperplane ENI of a combination in moto's EC2 backend; returns its id.

    aws-facts "Hyperplane ENIs" / "moto 5.2": interface type ``lambda`` (settable only on the
    backend object), found with DescribeNetworkInterfaces filters interface-type, subnet-id,
    group-id, vpc-id, status. ``status`` is ``attaching`` while Lambda builds it, ``in-use`` once
    done. moto counts its address against the subnet's AvailableIpAddressCount at once. Raises
    LookupError when the subnet or a group is gone.
    """
    subnet = find_subnet(ec2, combo.subnet_id)
    if subnet is None:
        raise LookupError(combo.subnet_id)
    for group_id in combo.group_ids:
        if find_security_group(ec2, group_id) is None:
            # moto's NetworkInterface would invent a missing group: refuse instead.
            raise LookupError(group_id)
    eni = ec2.create_network_interface(
        subnet,
        None,
        group_ids=sorted(combo.group_ids),
        description=f"AWS Lambda VPC ENI-{function_name}-{uuid.uuid4()}",
    )
    eni.interface_type = "lambda"
    eni.status = status
    eni.requester_managed = True
    eni.requester_id = "AROAEXAMPLELAMBDAHYPERPLANE:lambda"
    return str(eni.id)


def set_eni_status(ec2: Any, eni_id: str, status: str) -> bool:
    """Move an ENI to another EC2 status; False if it is gone."""
    eni = ec2.enis.get(eni_id)
    if eni is None:
        return False
    eni.status = status
    return True


def set_subnet_available_addresses(ec2: Any, subnet_id: str, n: int | None, base: dict[str, int]) -> None:
    """Make DescribeSubnets' AvailableIpAddressCount of ``subnet_id`` say ``n`` now (moto then keeps
    counting ENIs against it); None restores the CIDR's own count. ``base`` remembers the original."""
    subnet = find_subnet(ec2, subnet_id)
    if subnet is None:
        return
    if subnet_id not in base:
        base[subnet_id] = int(subnet._available_ip_addresses)
    if n is None:
        subnet._available_ip_addresses = base.pop(subnet_id)
    else:
        taken = base[subnet_id] - int(subnet.available_ip_address_count)
        subnet._available_ip_addresses = int(n) + taken


#: aws-facts "IAM": Lambda creates a function's ENIs with its execution role, which needs
#: ec2:CreateNetworkInterface (AWSLambdaVPCAccessExecutionRole); the rest of that policy is not checked.
ENI_ACTION = "ec2:CreateNetworkInterface"


def delete_eni(ec2: Any, eni_id: str) -> None:
    """Delete an ENI from moto's EC2 backend (quietly: someone may have deleted it already)."""
    eni = ec2.enis.pop(eni_id, None)
    if eni is None:
        return
    for address in getattr(eni, "private_ip_addresses", []) or []:
        # moto does not always reserve the address it picked.
        with contextlib.suppress(Exception):
            eni.subnet.del_subnet_ip(address["PrivateIpAddress"])


class EniStatus(enum.StrEnum):
    """Where a Hyperplane ENI is in its life (our bookkeeping, beside moto's EC2 object)."""

    CREATING = "creating"  # not in EC2 yet; ready (or failed) at ready_at
    READY = "ready"  # in EC2, status in-use
    FAILED = "failed"  # the creation failed; the functions waiting for it fail
    DELETING = "deleting"  # unused: deleted from EC2 at delete_at unless used again first


@dataclass
class HyperplaneEni:
    combo: Combo
    vpc_id: str
    status: EniStatus
    ready_at: float
    requested_by: str
    eni_id: str | None = None
    delete_at: float | None = None
    failure: Failure | None = None
    reserved: bool = False  # took one of the subnet's free addresses (set_subnet_free_addresses)

    def to_dict(self) -> dict[str, Any]:
        return {
            "eni_id": self.eni_id,
            "subnet_id": self.combo.subnet_id,
            "group_ids": sorted(self.combo.group_ids),
            "vpc_id": self.vpc_id,
            "status": self.status.value,
            "ready_at": self.ready_at,
            "delete_at": self.delete_at,
            "requested_by": self.requested_by,
            "failure": None if self.failure is None else self.failure.reason_code,
        }


def combos_of(settings: Iterable[VpcSettings | None]) -> set[Combo]:
    found: set[Combo] = set()
    for one in settings:
        if one is not None:
            found |= one.combos()
    return found
