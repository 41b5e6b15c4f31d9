"""The LambdaVpcPolicy custom resource: which namespaces may attach which functions to which networks.

A cluster-scoped object an administrator writes; tenants write attachments. Its fields mirror the
IAM condition keys Lambda itself offers (lambda:VpcIds, lambda:SubnetIds, lambda:SecurityGroupIds,
aws-facts "IAM") so that ``lambda-vpc-operator policy iam`` can print the same rule for AWS.

A list that is absent does not constrain its dimension (like a condition key a statement does not
name); a list that is present must allow every id of an attachment (IAM's ForAllValues). Lists have
at least one item, so an empty list can never be mistaken for "anything" or for "nothing".
``planner.policies`` evaluates these models; the CRD in crds/ is generated from them.
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from lambda_vpc_operator.models import attachments
from lambda_vpc_operator.models.attachments import LIST_SET, ROLE_ARN_PATTERN, SecurityGroupId, SubnetId
from lambda_vpc_operator.models.camel import CamelModel

GROUP = attachments.GROUP  # one API group, one version for both kinds
VERSION = attachments.VERSION
KIND = "LambdaVpcPolicy"
PLURAL = "lambdavpcpolicies"
SINGULAR = "lambdavpcpolicy"
SHORT_NAMES = ("lvp",)

# The label every namespace carries since Kubernetes 1.22 (NamespaceDefaultLabelName): selecting a
# namespace by name is `matchLabels: {kubernetes.io/metadata.name: team-a}`.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

VpcId = Annotated[str, Field(pattern=r"^vpc-[0-9a-z]+$", max_length=1024)]
# A function name or ARN pattern: the characters of both forms plus the glob's * ? [ ] !.
FunctionPattern = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[a-zA-Z0-9_:*?\[\]!.-]+$")]
# A role ARN pattern: the characters of a role ARN plus the glob's * ? [ ] !.
RolePattern = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^arn:[\w+=,.@/:*?\[\]!-]+$")]


class PolicyMode(enum.StrEnum):
    """What the operator does with an attachment in a namespace that no policy selects."""

    ENFORCE = "enforce"  # deny it (the chart's default)
    ALLOW_ALL = "allow-all"  # allow it: policies then restrict only the namespaces they select


class SelectorOperator(enum.StrEnum):
    """metav1.LabelSelectorRequirement operators."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(CamelModel):
    key: str = Field(min_length=1, max_length=317)
    operator: SelectorOperator
    values: list[str] | None = Field(
        default=None, description="Values for In and NotIn (at least one); none for Exists and DoesNotExist."
    )


class LabelSelector(CamelModel):
    """metav1.LabelSelector: every matchLabels pair and every requirement must hold; {} selects all."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class PolicySpec(CamelModel):
    """Who may attach what: the namespaces selected, the functions and the network ids allowed."""

    namespace_selector: LabelSelector = Field(
        description=(
            "Namespaces this policy applies to, by label ({} selects every namespace). "
            f"{NAMESPACE_NAME_LABEL} selects by name."
        ),
    )
    functions: list[FunctionPattern] | None = Field(
        default=None,
        min_length=1,
        json_schema_extra=LIST_SET,
        description=(
            "Glob patterns (* ? [...]) of the functions allowed, matched against the function name, or "
            "against its full ARN when the pattern contains ':'. Absent: any function."
        ),
    )
    vpc_ids: list[VpcId] | None = Field(
        default=None,
        min_length=1,
        json_schema_extra=LIST_SET,
        description="VPCs allowed (lambda:VpcIds). Absent: any VPC.",
    )
    subnet_ids: list[SubnetId] | None = Field(
        default=None,
        min_length=1,
        json_schema_extra=LIST_SET,
        description="Subnets allowed; every subnet of an attachment must be listed (lambda:SubnetIds). Absent: any.",
    )
    security_group_ids: list[SecurityGroupId] | None = Field(
        default=None,
        min_length=1,
        json_schema_extra=LIST_SET,
        description=(
            "Security groups allowed; every group of an attachment must be listed (lambda:SecurityGroupIds). "
            "Absent: any."
        ),
    )


    role_arns: list[RolePattern] | None = Field(
        default=None,
        min_length=1,
        json_schema_extra=LIST_SET,
        description=(
            "Glob patterns (* ? [...]) of the IAM roles an attachment may name in spec.roleArn (the operator "
            "assumes them). Absent: no role may be named (a confused deputy otherwise)."
        ),
    )
    default_role_arn: str | None = Field(
        default=None,
        pattern=ROLE_ARN_PATTERN,
        max_length=2048,
        description=(
            "The role the operator assumes for an attachment of a selected namespace that names none, so "
            "tenants need not write role ARNs. Needs no roleArns entry."
        ),
    )


class LambdaVpcPolicy(CamelModel):
    """The whole object, for the CRD generator (no status: a policy is only read)."""

    spec: PolicySpec
