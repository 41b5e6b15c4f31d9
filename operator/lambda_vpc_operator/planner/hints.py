"""What to tell a human for each failure reason AWS reports asynchronously.

LastUpdateStatusReasonCode / StateReasonCode values from the botocore lambda model. AWS' own reason
text is always shown too; these hints add the field to change or the permission to grant, and name
the subnet, security group, VPC or role when the caller knows it (``planner.network_readiness.culprits``
finds them in the ENI and subnet facts when AWS' text does not say).
"""

from __future__ import annotations

# Failures AWS reports for a VPC update that a later retry can clear by itself.
TRANSIENT_REASON_CODES = frozenset({"EC2RequestLimitExceeded", "InternalError"})

VPC_ACCESS_ACTIONS = "ec2:CreateNetworkInterface, ec2:DescribeNetworkInterfaces, ec2:DeleteNetworkInterface"

_HINTS = {
    "SubnetOutOfIPAddresses": (
        "{subnet} has no free IPv4 addresses for a new network interface; free addresses there or add "
        "subnets with room to spec.subnetIds"
    ),
    "EniLimitExceeded": (
        "{vpc} reached its quota of Lambda Hyperplane ENIs (500 per VPC by default); reuse subnet and "
        "security-group combinations other functions already use, or request a quota increase"
    ),
    "InsufficientRolePermissions": (
        "the function's execution role {role} may not manage network interfaces; grant it "
        + VPC_ACCESS_ACTIONS
        + " (the managed policy AWSLambdaVPCAccessExecutionRole)"
    ),
    "InvalidSubnet": "{subnet} does not exist or cannot be used; fix spec.subnetIds",
    "InvalidSecurityGroup": (
        "{group} does not exist or cannot be used; fix spec.securityGroupIds"
    ),
    "EC2RequestLimitExceeded": "EC2 throttled Lambda while it created network interfaces; retrying",
    "DisallowedByVpcEncryptionControl": (
        "the VPC's encryption controls refuse this function; change the VPC's encryption control mode "
        "or use another VPC in spec.subnetIds"
    ),
}


# What a hint says when nothing more precise is known.
_SOMEWHERE = {
    "subnet": "a subnet in spec.subnetIds",
    "group": "a security group in spec.securityGroupIds",
    "vpc": "the VPC",
}


def hint(reason_code: str | None, role: str | None = None, **names: str) -> str:
    """The advice for ``reason_code``; ``names`` (subnet, group, vpc) replace the vague defaults."""
    text = _HINTS.get(reason_code or "", "")
    return text.format(role=role or "(unknown role)", **{**_SOMEWHERE, **names})
