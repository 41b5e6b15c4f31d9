"""What to tell a human for each failure reason AWS reports asynchronously.

LastUpdateStatusReasonCode / StateReasonCode values from the botocore lambda model. AWS' own reason
text is always shown too; these hints add the field to change or the permission to grant.
"""

from __future__ import annotations

# Failures AWS reports for a VPC update that a later retry can clear by itself.
TRANSIENT_REASON_CODES = frozenset({"EC2RequestLimitExceeded", "InternalError"})

VPC_ACCESS_ACTIONS = "ec2:CreateNetworkInterface, ec2:DescribeNetworkInterfaces, ec2:DeleteNetworkInterface"

_HINTS = {
    "SubnetOutOfIPAddresses": (
        "a subnet in spec.subnetIds has no free IPv4 addresses; free addresses there or add subnets "
        "with room to spec.subnetIds"
    ),
    "EniLimitExceeded": (
        "the VPC reached its quota of Lambda Hyperplane ENIs (500 per VPC by default); reuse subnet and "
        "security-group combinations other functions already use, or request a quota increase"
    ),
    "InsufficientRolePermissions": (
        "the function's execution role {role} may not manage network interfaces; grant it "
        + VPC_ACCESS_ACTIONS
        + " (the managed policy AWSLambdaVPCAccessExecutionRole)"
    ),
    "InvalidSubnet": "a subnet in spec.subnetIds does not exist or cannot be used; fix spec.subnetIds",
    "InvalidSecurityGroup": (
        "a security group in spec.securityGroupIds does not exist or cannot be used; fix spec.securityGroupIds"
    ),
    "EC2RequestLimitExceeded": "EC2 throttled Lambda while it created network interfaces; retrying",
    "DisallowedByVpcEncryptionControl": (
        "the VPC's encryption controls refuse this function; change the VPC's encryption control mode "
        "or use another VPC in spec.subnetIds"
    ),
}


def hint(reason_code: str | None, role: str | None = None) -> str:
    text = _HINTS.get(reason_code or "", "")
    return text.format(role=role or "(unknown role)")
