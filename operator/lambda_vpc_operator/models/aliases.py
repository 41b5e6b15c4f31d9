"""Aliases and published versions: where a function's live traffic may really go.

The operator configures $LATEST only. Published versions keep the VpcConfig they were published
with (versions are immutable) and aliases point at versions (aws-facts "Lambda function
configuration"), so with SAM ``AutoPublishAlias`` or CDK ``currentVersion`` the traffic goes through
an alias to a version that may sit in another VPC, or none. These are the facts ``aws.aliases``
reads (ListAliases, GetFunctionConfiguration per version), and the rows ``planner.aliases`` puts in
``status.aliases``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pydantic import Field

from lambda_vpc_operator.models.camel import CamelModel
from lambda_vpc_operator.models.functions import VpcSettings

# An alias may point at the unpublished version (botocore model, AliasConfiguration.FunctionVersion).
LATEST = "$LATEST"


@dataclasses.dataclass(frozen=True)
class AliasFacts:
    """One alias as ListAliases reports it."""

    name: str
    function_version: str
    # RoutingConfig.AdditionalVersionWeights: a second version and its share of the traffic (0..1).
    additional_versions: Mapping[str, float] = dataclasses.field(default_factory=dict)

    @property
    def versions(self) -> tuple[str, ...]:
        """Every version the alias sends traffic to, its main version first."""
        return (self.function_version, *sorted(v for v in self.additional_versions if v != self.function_version))


@dataclasses.dataclass(frozen=True)
class VersionFacts:
    """A published version's VpcConfig (GetFunctionConfiguration with Qualifier=version)."""

    version: str
    vpc: VpcSettings
    vpc_id: str | None


class AliasStatus(CamelModel):
    """One row of status.aliases: an alias and one version it sends traffic to."""

    name: str = Field(description="The alias.")
    function_version: str = Field(description="A version the alias invokes ($LATEST or a number).")
    weight: float | None = Field(
        default=None,
        description="Share of the alias' traffic (0 to 1), only on a weighted alias (RoutingConfig).",
    )
    vpc_config_current: bool | None = Field(
        default=None,
        description="The version's VpcConfig equals the spec's; absent when it could not be read.",
    )
    vpc_id: str | None = Field(default=None, description="The version's VPC; absent outside any VPC.")
    message: str | None = Field(default=None, description="What differs, or why it could not be read.")
