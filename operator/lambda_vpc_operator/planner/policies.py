"""Tenant policy: may this namespace attach this function to these subnets and security groups?

A purely computational module: the admission webhook and the reconciler gather the policies (a
kopf index), the namespace's labels (another index) and what is known of the attachment into a
``Request``, and ``evaluate`` answers with a ``Verdict`` naming the rule that decided.

Rules:

- A policy applies to an attachment when its ``namespaceSelector`` selects the attachment's
  namespace. The namespace's labels always include ``kubernetes.io/metadata.name: <name>``, as the
  API server sets it since Kubernetes 1.22 (added here too, so emulators and old clusters agree).
- A policy allows an attachment when every list it has allows it: the function matches one of the
  ``functions`` globs (the name, or the full ARN for a pattern with ':'), and every subnet, every
  security group and the VPC are listed (IAM's ForAllValues:StringEquals). An absent list does not
  constrain.
- An attachment is allowed when at least one applicable policy allows it. When no policy applies,
  the operator's ``PolicyMode`` decides: ``enforce`` denies, ``allow-all`` allows.
- A role the operator would assume (``spec.roleArn``, else the first applicable policy's
  ``defaultRoleArn`` by name: ``role_for``) must be allowed by the same policy that allows the rest:
  it matches one of its ``roleArns`` globs, or is its ``defaultRoleArn``. A policy without either
  allows no role (unlike the id lists, absent means none: naming any role a tenant can reach would
  make the operator a confused deputy). ``allow-all`` mode never allows a role: it opens the
  operator's own account to namespaces no policy selects, not every role a tenant can name.
- The VPC is known only after EC2 was asked (the spec names subnets, not the VPC). Without it, a
  policy that lists VPCs and allows everything else gives ``UNDECIDED``; the caller asks EC2 and
  evaluates again (the reconciler), or lets it pass with a warning (the admission webhook).
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
from collections.abc import Iterable, Mapping

from lambda_vpc_operator.models.policies import (
    NAMESPACE_NAME_LABEL,
    LabelSelector,
    PolicyMode,
    PolicySpec,
    SelectorOperator,
)


@dataclasses.dataclass(frozen=True)
class Policy:
    """One LambdaVpcPolicy as the index holds it: its name and its parsed spec."""

    name: str
    spec: PolicySpec


@dataclasses.dataclass(frozen=True)
class Request:
    """What is known of one attachment when it is judged."""

    namespace: str
    function_name: str  # the bare name
    function_arn: str | None  # the full ARN, None when the account is not known
    subnet_ids: frozenset[str]
    security_group_ids: frozenset[str]
    vpc_ids: frozenset[str] | None = None  # None: not known yet (EC2 not asked)
    role_arn: str | None = None  # the role the operator would assume (None: its own identity)
    role_field: str = "spec.roleArn"  # where that role comes from, for messages

    @property
    def function(self) -> str:
        return self.function_arn or self.function_name


class Decision(enum.StrEnum):
    ALLOWED = "Allowed"
    DENIED = "Denied"
    UNDECIDED = "Undecided"  # allowed but for the VPC, which is not known yet


@dataclasses.dataclass(frozen=True)
class Verdict:
    outcome: Decision
    message: str  # names the deciding rule: the allowing policy, or why each applicable one refused
    policy: str | None = None  # the allowing policy (None in allow-all mode or when denied)

    @property
    def allowed(self) -> bool:
        return self.outcome == Decision.ALLOWED

    @property
    def denied(self) -> bool:
        return self.outcome == Decision.DENIED


@dataclasses.dataclass(frozen=True)
class PolicySet:
    """Everything ``evaluate`` needs besides the request: the policies, the labels, the mode."""

    policies: tuple[Policy, ...] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    mode: PolicyMode = PolicyMode.ENFORCE

    def labels_of(self, namespace: str) -> dict[str, str]:
        return {**self.namespace_labels.get(namespace, {}), NAMESPACE_NAME_LABEL: namespace}


# -- label selectors -----------------------------------------------------------------------------


def selects(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: every matchLabels pair and every expression must hold."""
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    for requirement in selector.match_expressions or ():
        values = set(requirement.values or ())
        present = requirement.key in labels
        if requirement.operator == SelectorOperator.IN:
            # An In without values can match nothing (the API server would refuse it).
            ok = present and labels[requirement.key] in values
        elif requirement.operator == SelectorOperator.NOT_IN:
            # Kubernetes: NotIn also matches objects without the key.
            ok = not present or labels[requirement.key] not in values
        elif requirement.operator == SelectorOperator.EXISTS:
            ok = present
        else:
            ok = not present
        if not ok:
            return False
    return True


# -- one policy ----------------------------------------------------------------------------------


def function_matches(patterns: Iterable[str], name: str, arn: str | None) -> bool:
    """A glob with ':' is matched against the full ARN, any other against the name (case-sensitive)."""
    for pattern in patterns:
        if ":" in pattern:
            if arn is not None and fnmatch.fnmatchcase(arn, pattern):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def role_matches(patterns: Iterable[str], arn: str) -> bool:
    """A roleArns glob (* ? [...], case-sensitive: IAM role names are matched as written) against a role ARN."""
    return any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns)


@dataclasses.dataclass(frozen=True)
class RoleChoice:
    """The role an attachment is acted on through, and the field it comes from (None: the operator's own)."""

    arn: str | None
    field: str = "spec.roleArn"


def role_for(spec_role: str | None, namespace: str, policies: PolicySet) -> RoleChoice:
    """spec.roleArn, else the defaultRoleArn of the first applicable policy (by name) that has one."""
    if spec_role:
        return RoleChoice(spec_role)
    for policy in applicable(policies, namespace):
        if policy.spec.default_role_arn:
            return RoleChoice(policy.spec.default_role_arn, f"spec.defaultRoleArn of LambdaVpcPolicy {policy.name}")
    return RoleChoice(None)


def _ids(ids: Iterable[str]) -> str:
    return ", ".join(sorted(ids))


def judge(policy: Policy, request: Request) -> tuple[Decision, str]:
    """ALLOWED, DENIED with the first rule that refuses, or UNDECIDED (only the VPC is unknown)."""
    spec = policy.spec
    where = f"LambdaVpcPolicy {policy.name}"
    if spec.functions is not None and not function_matches(spec.functions, request.function_name, request.function_arn):
        arn_patterns = any(":" in p for p in spec.functions)
        unknown_arn = " (its ARN is not known: name it by ARN)" if arn_patterns and not request.function_arn else ""
        return Decision.DENIED, (
            f"{where}: function {request.function} matches none of spec.functions [{_ids(spec.functions)}]{unknown_arn}"
        )
    if request.role_arn is not None and not (
        role_matches(spec.role_arns or (), request.role_arn) or request.role_arn == spec.default_role_arn
    ):
        allowed = f"matches none of spec.roleArns [{_ids(spec.role_arns)}]" if spec.role_arns else (
            "is not allowed: the policy has no spec.roleArns (nor this defaultRoleArn)"
        )
        return Decision.DENIED, f"{where}: role {request.role_arn} ({request.role_field}) {allowed}"
    if spec.subnet_ids is not None and (extra := request.subnet_ids - set(spec.subnet_ids)):
        return Decision.DENIED, f"{where}: subnet(s) {_ids(extra)} not in spec.subnetIds"
    if spec.security_group_ids is not None and (extra := request.security_group_ids - set(spec.security_group_ids)):
        return Decision.DENIED, f"{where}: security group(s) {_ids(extra)} not in spec.securityGroupIds"
    if spec.vpc_ids is not None:
        if request.vpc_ids is None:
            return Decision.UNDECIDED, f"{where}: the VPC is not known yet (spec.vpcIds [{_ids(spec.vpc_ids)}])"
        if extra := request.vpc_ids - set(spec.vpc_ids):
            return Decision.DENIED, f"{where}: VPC {_ids(extra)} not in spec.vpcIds"
    return Decision.ALLOWED, f"allowed by {where}"


# -- all of them ---------------------------------------------------------------------------------


def applicable(policies: PolicySet, namespace: str) -> list[Policy]:
    labels = policies.labels_of(namespace)
    return [p for p in sorted(policies.policies, key=lambda p: p.name) if selects(p.spec.namespace_selector, labels)]


def evaluate(request: Request, policies: PolicySet) -> Verdict:
    """The verdict on one attachment (see the module docstring for the rules)."""
    selecting = applicable(policies, request.namespace)
    # No policy speaks about this namespace: the operator's mode is the only rule.
    if not selecting:
        if policies.mode == PolicyMode.ALLOW_ALL and request.role_arn is not None:
            return Verdict(
                Decision.DENIED,
                f"no LambdaVpcPolicy selects namespace {request.namespace}: role {request.role_arn} "
                f"({request.role_field}) needs a policy that allows it (spec.roleArns or spec.defaultRoleArn); "
                "--policy-mode allow-all covers the operator's own account only (docs/policy.md)",
            )
        if policies.mode == PolicyMode.ALLOW_ALL:
            return Verdict(Decision.ALLOWED, f"no LambdaVpcPolicy selects namespace {request.namespace} "
                           "and the operator runs with --policy-mode allow-all")  # fmt: skip
        return Verdict(
            Decision.DENIED,
            f"no LambdaVpcPolicy selects namespace {request.namespace} and the operator runs with "
            "--policy-mode enforce; ask a cluster administrator for a policy (docs/policy.md)",
        )
    judged = [(p, *judge(p, request)) for p in selecting]
    # One allowing policy is enough; the first by name is reported.
    for policy, outcome, message in judged:
        if outcome == Decision.ALLOWED:
            return Verdict(Decision.ALLOWED, message, policy.name)
    # Only the VPC is missing for some policy: the caller must find it before deciding.
    undecided = [message for _, outcome, message in judged if outcome == Decision.UNDECIDED]
    if undecided:
        return Verdict(Decision.UNDECIDED, "; ".join(undecided))
    reasons = "; ".join(message for _, _, message in judged)
    return Verdict(Decision.DENIED, f"no LambdaVpcPolicy allows this attachment: {reasons}")


def needs_vpc(policies: PolicySet, namespace: str) -> bool:
    """Whether some applicable policy lists VPCs (so the VPC must be known to decide)."""
    return any(p.spec.vpc_ids is not None for p in applicable(policies, namespace))
