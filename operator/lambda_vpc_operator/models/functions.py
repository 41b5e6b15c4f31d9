"""What we know about one Lambda function: how it is named, and what AWS reports about it.

Names come in three forms (name, partial ARN, full ARN; botocore's FunctionName pattern). Two
attachments that name the same function in different forms must still collide, so every name is
reduced to a ``FunctionRef`` with a stable ``key``.

``VpcSettings`` is the comparable form of a VpcConfig: sets instead of lists, and every "empty"
AWS spelling (absent VpcConfig, empty lists, empty VpcId, null Ipv6AllowedForDualStack) folded into
one value, so that comparing desired and observed never produces a perpetual diff
(terraform-provider-aws #443, cloud-custodian #9559).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Mapping
from typing import Any

# The three FunctionName forms the botocore lambda 2015-03-31 model documents (name, partial ARN
# ACCOUNT:function:NAME, full ARN), without the version/alias qualifier: an attachment configures the
# function itself ($LATEST); qualified versions have an immutable VpcConfig. botocore's own pattern
# (UnqualifiedFunctionName) also lets "function:NAME", "ACCOUNT:NAME" or "REGION:ACCOUNT:function:NAME"
# through, which ``FunctionRef.parse`` cannot resolve: the CRD must not accept them either. A name is
# 1 to 64 characters (CreateFunction); [0-9], not \d, which is Unicode-aware in Python and Rust regexes.
FUNCTION_NAME_PATTERN = (
    r"^((arn:aws[a-zA-Z-]*:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-[0-9]:)?[0-9]{12}:function:)?"
    r"[a-zA-Z0-9_-]{1,64}$"
)
_FUNCTION_NAME_RE = re.compile(FUNCTION_NAME_PATTERN)
_FULL_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9-_]+)$"
)
_PARTIAL_ARN_RE = re.compile(r"^(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9-_]+)$")
# A partial ARN names no partition; its region does (botocore endpoints.json, regionRegex of each partition).
_PARTITION_BY_REGION_PREFIX = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-iso-", "aws-iso"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("eu-isoe-", "aws-iso-e"),
    ("eusc-", "aws-eusc"),
)


def _partition_of(region: str | None) -> str:
    for prefix, partition in _PARTITION_BY_REGION_PREFIX:
        if region is not None and region.startswith(prefix):
            return partition
    return "aws"


class FunctionState(enum.StrEnum):
    """Lambda ``State`` (botocore model), the function's lifecycle."""

    PENDING = "Pending"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    FAILED = "Failed"
    DEACTIVATING = "Deactivating"
    DEACTIVATED = "Deactivated"
    ACTIVE_NON_INVOCABLE = "ActiveNonInvocable"
    DELETING = "Deleting"


class UpdateStatus(enum.StrEnum):
    """Lambda ``LastUpdateStatus``: the outcome of the most recent configuration update."""

    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    IN_PROGRESS = "InProgress"


@dataclasses.dataclass(frozen=True)
class FunctionRef:
    """A function named by an attachment, resolved as far as the name allows."""

    name: str
    region: str | None = None
    account: str | None = None
    partition: str = "aws"

    @classmethod
    def parse(cls, text: str, default_region: str | None = None) -> FunctionRef:
        """Parse a function name, partial ARN or full ARN; raise ValueError for anything else."""
        if match := _FULL_ARN_RE.match(text):
            return cls(
                name=match["name"],
                region=match["region"],
                account=match["account"],
                partition=match["partition"],
            )
        if match := _PARTIAL_ARN_RE.match(text):
            return cls(
                name=match["name"],
                region=default_region,
                account=match["account"],
                partition=_partition_of(default_region),
            )
        if _FUNCTION_NAME_RE.match(text) and ":" not in text:
            # The region's partition until STS says (reconciliation.guarding prefers the caller's).
            return cls(name=text, region=default_region, partition=_partition_of(default_region))
        raise ValueError(
            f"{text!r} is not a Lambda function name, partial ARN (123456789012:function:NAME) "
            "or full ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME) without a version qualifier"
        )

    @property
    def key(self) -> str:
        """Identity for conflict detection: region and name (one operator serves one account)."""
        return f"{self.region or '-'}/{self.name}"

    @property
    def api_name(self) -> str:
        """What to pass as FunctionName: the full ARN when we know it (it pins the account)."""
        if self.region and self.account:
            return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{self.name}"
        return self.name


def claim_key(function_name: str, region: str | None, role_arn: str | None = None) -> str:
    """Identity for conflict detection (the claims index): ``FunctionRef.key``, prefixed with the
    account of ``spec.roleArn`` when the attachment acts through a role in another account, so two
    functions of one name in two accounts are two functions. ValueError for a bad function name."""
    key = FunctionRef.parse(function_name, region).key
    parts = (role_arn or "").split(":")
    return f"{parts[4]}/{key}" if len(parts) > 5 and parts[4] else key


def spec_claim_key(spec: Mapping[str, Any], default_region: str) -> str | None:
    """``claim_key`` of an attachment's spec (functionName, region, roleArn), None when the function
    name is invalid (validation reports it; the claims index and admission just skip it)."""
    try:
        return claim_key(str(spec.get("functionName", "")), spec.get("region") or default_region, spec.get("roleArn"))
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class VpcSettings:
    """A VpcConfig in comparable form: order-free, with every empty spelling normalised."""

    subnet_ids: frozenset[str] = frozenset()
    security_group_ids: frozenset[str] = frozenset()
    ipv6_allowed_for_dual_stack: bool = False

    @classmethod
    def of(
        cls,
        subnet_ids: Iterable[str] = (),
        security_group_ids: Iterable[str] = (),
        ipv6_allowed_for_dual_stack: bool | None = False,
    ) -> VpcSettings:
        subnets = frozenset(subnet_ids)
        groups = frozenset(security_group_ids)
        # Lambda ignores the IPv6 flag of a function outside any VPC: do not let it make a diff.
        ipv6 = bool(ipv6_allowed_for_dual_stack) and bool(subnets)
        return cls(subnets, groups, ipv6)

    @classmethod
    def from_aws(cls, vpc_config: Mapping[str, Any] | None) -> VpcSettings:
        """Read Lambda's VpcConfig (absent, empty or full) into the normal form."""
        config = vpc_config or {}
        return cls.of(
            config.get("SubnetIds") or (),
            config.get("SecurityGroupIds") or (),
            config.get("Ipv6AllowedForDualStack"),
        )

    def to_aws(self) -> dict[str, Any]:
        """The VpcConfig argument of UpdateFunctionConfiguration (sorted, for stable requests)."""
        # The flag is always sent, false when detaching: a VpcConfig that omits it keeps the
        # function's current value, and AWS refuses a detach whose flag stays true
        # (aws-facts "Refusals": "Ipv6AllowedForDualStack cannot be true without subnet or security groups").
        return {
            "SubnetIds": sorted(self.subnet_ids),
            "SecurityGroupIds": sorted(self.security_group_ids),
            "Ipv6AllowedForDualStack": self.ipv6_allowed_for_dual_stack,
        }

    @property
    def attached(self) -> bool:
        return bool(self.subnet_ids or self.security_group_ids)


DETACHED = VpcSettings()


@dataclasses.dataclass(frozen=True)
class FunctionObservation:
    """One reading of a function's configuration from AWS (GetFunction's Configuration)."""

    name: str
    arn: str
    vpc: VpcSettings
    vpc_id: str | None
    state: FunctionState | None
    state_reason: str | None
    state_reason_code: str | None
    last_update_status: UpdateStatus | None
    last_update_status_reason: str | None
    last_update_status_reason_code: str | None
    revision_id: str | None
    role: str | None = None
    # The function's tags (GetFunction's top-level Tags); None when the answer had none to give
    # (UpdateFunctionConfiguration, ListFunctions), which is not the same as "no tags".
    tags: Mapping[str, str] | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def from_aws(
        cls, configuration: Mapping[str, Any], tags: Mapping[str, str] | None = None
    ) -> FunctionObservation:
        """Build from GetFunction()['Configuration'] (with its top-level Tags) or GetFunctionConfiguration()."""
        state = configuration.get("State")
        update = configuration.get("LastUpdateStatus")
        vpc_config = configuration.get("VpcConfig") or {}
        return cls(
            name=configuration["FunctionName"],
            arn=configuration["FunctionArn"],
            vpc=VpcSettings.from_aws(vpc_config),
            vpc_id=vpc_config.get("VpcId") or None,
            state=FunctionState(state) if state else None,
            state_reason=configuration.get("StateReason") or None,
            state_reason_code=configuration.get("StateReasonCode") or None,
            last_update_status=UpdateStatus(update) if update else None,
            last_update_status_reason=configuration.get("LastUpdateStatusReason") or None,
            last_update_status_reason_code=configuration.get("LastUpdateStatusReasonCode") or None,
            revision_id=configuration.get("RevisionId"),
            role=configuration.get("Role"),
            tags=dict(tags) if tags is not None else None,
        )

    @property
    def busy(self) -> bool:
        """AWS refuses configuration updates now (ResourceConflictException): wait instead."""
        return self.last_update_status == UpdateStatus.IN_PROGRESS or self.state == FunctionState.PENDING
