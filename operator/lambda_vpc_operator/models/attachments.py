"""The LambdaVpcAttachment custom resource: spec (what the user wants) and status (what we report).

Field names are camelCase on the wire (Kubernetes convention) and snake_case in Python. Constraints
written here (patterns, item limits, enums, defaults) become the CRD's openAPIV3Schema, so the API
server rejects bad input before the operator ever sees it.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from lambda_vpc_operator.models.aliases import AliasStatus
from lambda_vpc_operator.models.camel import CamelModel
from lambda_vpc_operator.models.enis import NetworkInterfaceStatus
from lambda_vpc_operator.models.functions import FUNCTION_NAME_PATTERN
from lambda_vpc_operator.models.reactivations import DURATION_PATTERN, ReactivationSpec, ReactivationStatus

GROUP = "lambdavpc.dev"
VERSION = "v1alpha1"
KIND = "LambdaVpcAttachment"
PLURAL = "lambdavpcattachments"
SINGULAR = "lambdavpcattachment"
SHORT_NAMES = ("lva",)

# Lambda's limits for VpcConfig (botocore lambda 2015-03-31: SubnetIds max 16, SecurityGroupIds max 5);
# at least one of each is needed to attach (aws-facts "VPC constraints").
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5

SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-z]+$", max_length=1024)]
SecurityGroupId = Annotated[str, Field(pattern=r"^sg-[0-9a-zA-Z]+$", max_length=1024)]
# Kubernetes' own spelling of "a set": uniqueness enforced by the API server (uniqueItems is not allowed).
LIST_SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}


class DeletionPolicy(enum.StrEnum):
    """What deleting the attachment does to the function."""

    DETACH = "Detach"  # remove the function from the VPC, then release the resource
    RETAIN = "Retain"  # leave the function as it is
    RESTORE = "Restore"  # put back the VpcConfig an adopted function had (status.ownership); else Detach


class Adoption(enum.StrEnum):
    """What to do with a function that already sits in a VPC or carries an owner tag."""

    REFUSE = "Refuse"  # Stalled NotAdopted, naming what AWS holds: nothing is written
    ADOPT = "Adopt"  # record what AWS holds (status.ownership), tag the function, then manage it


class DriftPolicy(enum.StrEnum):
    """What to do when the function's VpcConfig was changed behind our back."""

    CORRECT = "Correct"  # put the desired configuration back
    REPORT = "Report"  # only say so, in a condition and an Event


# The function an attachment manages never changes under it: a changed name would leave the old
# function attached with nobody to release it. CEL transition rules (the API server evaluates them
# on updates only); the admission webhook says the same with the fix.
IMMUTABLE_FUNCTION_RULE: dict[str, Any] = {
    "rule": "self == oldSelf",
    "message": "functionName is immutable: create a new LambdaVpcAttachment for another function",
}
IMMUTABLE_REGION_RULE: dict[str, Any] = {
    "rule": "has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)",
    "message": "region is immutable once set: create a new LambdaVpcAttachment for a function in another region",
}


# A full ARN fixes the region: spec.region may only repeat it (the reconciler stalls on the same
# contradiction when an API server without the rule let it through).
ARN_REGION_RULE: dict[str, Any] = {
    "rule": "!has(self.region) || !self.functionName.startsWith('arn:') || "
    "self.functionName.matches('^arn:[^:]+:lambda:' + self.region + ':')",
    "message": "spec.region contradicts the region of the ARN in spec.functionName: drop spec.region or fix the ARN",
}
# Exactly one of each pair (ids or selector): the API server refuses the rest with these messages.
ONE_SUBNET_SOURCE_RULE: dict[str, Any] = {
    "rule": "has(self.subnetIds) != has(self.subnetSelector)",
    "message": "set exactly one of spec.subnetIds and spec.subnetSelector",
}
ONE_GROUP_SOURCE_RULE: dict[str, Any] = {
    "rule": "has(self.securityGroupIds) != has(self.securityGroupSelector)",
    "message": "set exactly one of spec.securityGroupIds and spec.securityGroupSelector",
}
# A tag value meaning "the key is present, whatever its value" (EC2's tag-key filter).
ANY_VALUE = "*"
VpcId = Annotated[str, Field(pattern=r"^vpc-[0-9a-z]+$", max_length=1024)]
# EC2 tag keys: 1 to 128 characters; values up to 256 (aws-facts "Tags").
TAGS_FIELD: dict[str, Any] = {"min_length": 1, "max_length": 50}
TagValue = Annotated[str, Field(max_length=256)]
# An IAM role's ARN (arn:PARTITION:iam::ACCOUNT:role/PATH/NAME): its account is where the operator acts.
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
# botocore sts model, AssumeRole.ExternalId (externalIdType): 2 to 1224 of [\w+=,.@:/-].
EXTERNAL_ID_PATTERN = r"^[\w+=,.@:/-]+$"


class SecurityGroupSelector(CamelModel):
    """Security groups chosen by their EC2 tags, resolved again at each resync."""

    vpc_id: VpcId | None = Field(default=None, description="Only groups of this VPC.")
    tags: dict[str, TagValue] = Field(
        **TAGS_FIELD,
        description='Tags every selected group carries (all of them); the value "*" means the key is present.',
    )


class SubnetSelector(CamelModel):
    """Subnets chosen by their EC2 tags, resolved again at each resync."""

    vpc_id: VpcId | None = Field(default=None, description="Only subnets of this VPC.")
    tags: dict[str, TagValue] = Field(
        **TAGS_FIELD,
        description='Tags every selected subnet carries (all of them); the value "*" means the key is present.',
    )
    one_per_availability_zone: bool = Field(
        default=False,
        description="Keep one subnet per Availability Zone: the one with the most free addresses.",
    )


class AttachmentSpec(CamelModel):
    """Which function sits in which subnets and security groups."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        dict(IMMUTABLE_REGION_RULE), dict(ARN_REGION_RULE), dict(ONE_SUBNET_SOURCE_RULE), dict(ONE_GROUP_SOURCE_RULE),
    ]})  # fmt: skip

    function_name: str = Field(
        min_length=1,
        max_length=140,
        pattern=FUNCTION_NAME_PATTERN,
        description="Function name, partial ARN (ACCOUNT:function:NAME) or full ARN, without a version. Immutable.",
        json_schema_extra={"x-kubernetes-validations": [IMMUTABLE_FUNCTION_RULE]},
    )
    subnet_ids: list[SubnetId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SUBNETS,
        json_schema_extra=LIST_SET,
        description="Subnets for the function's Hyperplane ENIs, all in one VPC (1 to 16). "
        "Exactly one of subnetIds and subnetSelector.",
    )
    subnet_selector: SubnetSelector | None = Field(
        default=None,
        description="Subnets chosen by EC2 tags instead of subnetIds (status.resolvedSubnetIds), "
        "re-resolved at each resync.",
    )
    security_group_ids: list[SecurityGroupId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SECURITY_GROUPS,
        json_schema_extra=LIST_SET,
        description="Security groups of the function's ENIs, in the subnets' VPC (1 to 5). "
        "Exactly one of securityGroupIds and securityGroupSelector.",
    )
    security_group_selector: SecurityGroupSelector | None = Field(
        default=None,
        description="Security groups chosen by EC2 tags instead of securityGroupIds "
        "(status.resolvedSecurityGroupIds), re-resolved at each resync.",
    )
    ipv6_allowed_for_dual_stack: bool = Field(
        default=False,
        description="Allow outbound IPv6 traffic; every subnet must be dual-stack.",
    )
    require_internet_access: bool = Field(
        default=False,
        description="Refuse to attach unless every subnet's 0.0.0.0/0 route reaches the internet through a NAT "
        "(a NAT gateway or instance, a transit gateway, a Gateway Load Balancer endpoint), not an internet "
        "gateway: a function in a VPC has no public IP, even in a public subnet.",
    )
    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$",
        description="AWS region of the function; defaults to the operator's region (or the ARN's). Immutable.",
    )
    role_arn: str | None = Field(
        default=None,
        pattern=ROLE_ARN_PATTERN,
        max_length=2048,
        description="An IAM role in the function's account the operator assumes (sts:AssumeRole) to act on it; "
        "the namespace's LambdaVpcPolicy must allow it (spec.roleArns). Absent: the policy's defaultRoleArn, "
        "else the operator's own identity.",
    )
    external_id: str | None = Field(
        default=None,
        pattern=EXTERNAL_ID_PATTERN,
        min_length=2,
        max_length=1224,
        description="The sts:ExternalId the role's trust policy requires, if any (with roleArn or the policy's "
        "defaultRoleArn).",
    )
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.DETACH,
        description="Detach: remove the function from the VPC on delete. Retain: leave it attached. "
        "Restore: put back the VpcConfig an adopted function had before (Detach if it had none).",
    )
    adoption: Adoption = Field(
        default=Adoption.REFUSE,
        description="A function already in a VPC, or carrying an owner tag no live attachment of this cluster "
        "holds: Refuse (Stalled NotAdopted, nothing written) or Adopt (its configuration is recorded in "
        "status.ownership first). A function tagged by another cluster is never taken over.",
    )
    reactivation: ReactivationSpec = Field(
        default_factory=ReactivationSpec,
        description="How an idle (Inactive) function is brought back.",
        # The API server applies nested defaults only inside an object that exists.
        json_schema_extra={"default": {}},
    )
    drift_policy: DriftPolicy = Field(
        default=DriftPolicy.CORRECT,
        description="Correct: restore a VpcConfig changed outside Kubernetes. Report: condition and Event only.",
    )
    readiness_timeout: str = Field(
        default="15m",
        pattern=DURATION_PATTERN,
        description="How long the network may take to become ready (e.g. 15m) before a SlowProvisioning "
        "warning; slow is not a failure, the wait goes on.",
    )
    wait_for_network_cleanup: bool = Field(
        default=False,
        description="deletionPolicy Detach: hold the deletion until Lambda has deleted the function's network "
        "interfaces (for pipelines that delete the subnets or security groups next), at most deletionTimeout.",
    )
    deletion_timeout: str = Field(
        default="30m",
        pattern=DURATION_PATTERN,
        description="The longest a deletion waits: for Lambda to finish an update before the detach, for a role "
        "STS refuses, for a write AWS refuses (from the deletion), and with waitForNetworkCleanup for the network "
        "interfaces to go (from the detach; AWS takes up to 20 minutes). The attachment is then released anyway, "
        "with a Warning Event saying what was left on AWS.",
    )

    @model_validator(mode="after")
    def _one_source_each(self) -> AttachmentSpec:
        # The CRD's CEL rules say the same; this catches an API server without them.
        for rule, ids, selector in (
            (ONE_SUBNET_SOURCE_RULE, self.subnet_ids, self.subnet_selector),
            (ONE_GROUP_SOURCE_RULE, self.security_group_ids, self.security_group_selector),
        ):
            if (ids is None) == (selector is None):
                raise ValueError(rule["message"])
        parts = self.function_name.split(":")
        if self.region and self.function_name.startswith("arn:") and len(parts) > 3 and parts[3] != self.region:
            raise ValueError(ARN_REGION_RULE["message"])
        return self

    @property
    def selects(self) -> bool:
        """Subnets or groups come from tags: the reconciler resolves them before anything else."""
        return self.subnet_selector is not None or self.security_group_selector is not None


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(CamelModel):
    """metav1.Condition, as kstatus, kubectl wait, Argo CD and Flux read it."""

    type: str
    status: ConditionStatus
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)
    message: str = Field(default="", max_length=32768)
    observed_generation: int | None = Field(default=None, ge=0)
    last_transition_time: str = Field(description="RFC 3339 time of the last change of status.")


class PreviousVpcConfig(CamelModel):
    """The VpcConfig an adopted function had before this attachment took it over."""

    subnet_ids: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    ipv6_allowed_for_dual_stack: bool = False
    vpc_id: str | None = None


class OwnershipStatus(CamelModel):
    """Which function this attachment took, written before its first write to AWS (the durable claim).

    A deletion releases this function, whatever the spec says by then.
    """

    function_arn: str = Field(description="The function this attachment tagged and manages.")
    owner_tag: str = Field(description="The value of the lambdavpc.dev/owner tag it wrote.")
    claimed_time: str = Field(description="RFC 3339 time of the claim.")
    adopted: bool = Field(default=False, description="The function sat in a VPC or carried an owner tag before.")
    previous_vpc_config: PreviousVpcConfig | None = Field(
        default=None, description="Adopted: the VpcConfig it had (absent: no VPC). deletionPolicy Restore puts it back."
    )
    previous_owner: str | None = Field(default=None, description="Adopted: the owner tag it carried before.")


class NetworkCleanupStatus(CamelModel):
    """The wait for Lambda to delete the function's ENIs after a detach (spec.waitForNetworkCleanup)."""

    started_time: str = Field(description="RFC 3339 time the detach was seen done; deletionTimeout runs from here.")
    remaining_network_interfaces: list[NetworkInterfaceStatus] = Field(
        default_factory=list, description="The ENIs that serve only this function and still exist."
    )


class AttachmentStatus(CamelModel):
    """What the operator observed on AWS and concluded; kstatus-compatible."""

    observed_generation: int | None = Field(default=None, description="The generation last acted on.")
    applied_generation: int | None = Field(
        default=None,
        description="The generation last seen fully applied on AWS; a difference found after that is drift.",
    )
    sent_generation: int | None = Field(
        default=None,
        description="The generation whose VpcConfig the operator sent and has not yet seen in place: a failed "
        "update then is the operator's; any other failed update is someone else's.",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    function_arn: str | None = None
    vpc_id: str | None = None
    subnet_ids: list[str] | None = Field(default=None, description="Subnets as observed on AWS.")
    security_group_ids: list[str] | None = Field(default=None, description="Security groups as observed on AWS.")
    ipv6_allowed_for_dual_stack: bool | None = None
    state: str | None = Field(default=None, description="Lambda State (Pending, Active, Inactive, Failed, ...).")
    state_reason: str | None = None
    state_reason_code: str | None = None
    last_update_status: str | None = Field(default=None, description="Lambda LastUpdateStatus.")
    last_update_status_reason_code: str | None = None
    last_sync_time: str | None = Field(
        default=None, description="When AWS was last found holding the spec's configuration (last convergence)."
    )
    reactivation: ReactivationStatus | None = Field(default=None, description="Invokes of an idle function.")
    network_interfaces: list[NetworkInterfaceStatus] | None = Field(
        default=None, description="One row per desired subnet: the function's Hyperplane ENI there."
    )
    previous_network_interfaces: list[NetworkInterfaceStatus] | None = Field(
        default=None, description="During a VPC switch: the previous VPC's ENIs, until AWS has deleted them."
    )
    network_ready_time: str | None = Field(default=None, description="When NetworkReady last became True.")
    network_ready_seconds: float | None = Field(
        default=None, description="Seconds from the spec change to NetworkReady, for the last change."
    )
    ownership: OwnershipStatus | None = Field(
        default=None, description="The function this attachment claimed (tagged), and what it held before."
    )
    network_cleanup: NetworkCleanupStatus | None = Field(
        default=None, description="Deletion with waitForNetworkCleanup: the network interfaces AWS has yet to delete."
    )
    resolved_subnet_ids: list[str] | None = Field(
        default=None, description="spec.subnetSelector: the subnets it selected at the last resolution."
    )
    resolved_security_group_ids: list[str] | None = Field(
        default=None, description="spec.securityGroupSelector: the groups it selected at the last resolution."
    )
    aliases: list[AliasStatus] | None = Field(
        default=None,
        description="Each alias and the versions it invokes, with whether their VpcConfig is the spec's "
        "(the operator configures $LATEST only; published versions keep theirs).",
    )
    last_handled_reconcile_at: str | None = Field(
        default=None,
        description="The lambdavpc.dev/reconcile-requested-at annotation value last handled (a look with fresh "
        "AWS reads).",
    )


class LambdaVpcAttachment(CamelModel):
    """The whole object, for the CRD generator."""

    spec: AttachmentSpec
    status: AttachmentStatus | None = None
