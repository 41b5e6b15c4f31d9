"""Guardrails: the checks that stop an attachment before any AWS write, as ``validation.Problem``s.

Purely computational, like ``validation``: the reconciler and the admission webhook gather the
facts (route tables, the role's simulated permissions, the function's owner tag, the policy
verdict) and these functions judge them. Every error is a ``Problem`` with severity ERROR, so the
planner stalls on it exactly as on a missing subnet: Stalled with the reason, no write.

- ``internet_access``: ``spec.requireInternetAccess`` needs each subnet's route table (explicit
  association, else the VPC's main table) to send 0.0.0.0/0 somewhere that translates addresses:
  a NAT gateway or instance, a transit gateway, a Gateway Load Balancer endpoint... (aws-facts "VPC
  constraints": a function in a public subnet gets no internet access and no public IP, so an
  internet gateway does not count); what was found is an INFO problem (a Normal Event).
- ``role_permissions``: the execution role must allow ec2:CreateNetworkInterface,
  DescribeNetworkInterfaces and DeleteNetworkInterface (aws-facts "IAM"). IAM's simulation has no
  resource ARNs or context, so a role scoped to resources or conditions looks denied although Lambda
  accepts it: with ``--role-check auto`` (the default) a missing permission is a warning and AWS'
  own refusal at the call decides (aws-facts "Refusals"); ``require`` makes it an error. When the
  operator may not ask IAM, or IAM answers garbage, a warning (the check is unknown).
- ``ownership``: the function's ``lambdavpc.dev/owner`` tag names the installation and attachment
  that owns it; a function in a VPC or tagged before is adopted only on request (``spec.adoption``).
- ``policy_problem`` and ``admission``: a tenant-policy verdict as a Problem, and as the answer of
  the admission webhook.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Mapping, Sequence

from lambda_vpc_operator.models import owners
from lambda_vpc_operator.models.attachments import Adoption
from lambda_vpc_operator.models.failures import Failure
from lambda_vpc_operator.models.functions import VpcSettings
from lambda_vpc_operator.models.networks import NetworkFacts
from lambda_vpc_operator.models.permissions import ENI_ACTIONS, EvalDecision, RolePermissions
from lambda_vpc_operator.models.routes import DEFAULT_ROUTE, VpcRoutes
from lambda_vpc_operator.planner.conditions import Reason
from lambda_vpc_operator.planner.policies import Decision, Verdict
from lambda_vpc_operator.planner.validation import Problem, Severity

# The tag the operator puts on every function it manages (models.owners: "<cluster>/<namespace>/<name>").
OWNER_TAG = owners.TAG
# Warning reasons (Events only).
CANNOT_CHECK_ROLE = "CannotCheckRole"
ROLE_MAY_LACK_PERMISSIONS = "RoleMayLackPermissions"  # --role-check auto: the simulation's doubt
CANNOT_CHECK_ROUTES = "CannotCheckRoutes"
# Normal Event: the route each subnet reaches the internet through.
INTERNET_ROUTE = "InternetRoute"


# -- requireInternetAccess -----------------------------------------------------------------------


def internet_access(desired: VpcSettings, facts: NetworkFacts, routes: Mapping[str, VpcRoutes]) -> list[Problem]:
    """One NoInternetRoute error naming every subnet whose table has no default route to the internet
    (none, a blackhole, an internet gateway...); else one INFO naming the route of each subnet.

    Subnets that do not exist are left to ``validation`` (SubnetNotFound); a VPC whose tables are
    not in ``routes`` is not judged (the caller could not read them and warns instead).
    """
    failing: list[str] = []
    found: list[str] = []
    for subnet_id in sorted(desired.subnet_ids):
        subnet = facts.subnets.get(subnet_id)
        if subnet is None or subnet.vpc_id not in routes:
            continue
        table = routes[subnet.vpc_id].table_of(subnet_id)
        if table is None:
            failing.append(f"{subnet_id} (no route table)")
            continue
        if (route := table.internet_route) is not None:
            found.append(f"{subnet_id} reaches the internet via {route.describe()} (route table "
                         f"{table.route_table_id})")  # fmt: skip
            continue
        which = "the VPC's main route table" if table.main and subnet_id not in table.subnet_ids else "route table"
        default = table.default_route
        if default is None:
            goes = f"has no {DEFAULT_ROUTE} route"
        else:
            dead = "" if default.active else " (blackhole)"
            goes = f"sends {DEFAULT_ROUTE} to {default.describe()}{dead}"
        failing.append(f"{subnet_id} ({which} {table.route_table_id} {goes})")
    if failing:
        return [Problem(
            Severity.ERROR, Reason.NO_INTERNET_ROUTE, "spec.requireInternetAccess",
            f"spec.requireInternetAccess: subnet(s) {'; '.join(failing)} do not route {DEFAULT_ROUTE} to the "
            "internet, and a Lambda function gets no public IP even in a public subnet (an internet gateway alone "
            "does not do); use private subnets whose route table sends 0.0.0.0/0 to a NAT gateway (or a NAT "
            "instance, a transit gateway, a Gateway Load Balancer endpoint), add that route, or set "
            "requireInternetAccess: false",
        )]  # fmt: skip
    if not found:
        return []
    return [Problem(Severity.INFO, INTERNET_ROUTE, "spec.requireInternetAccess", "; ".join(found))]


def routes_unknown(error: str) -> Problem:
    return Problem(
        Severity.WARNING, CANNOT_CHECK_ROUTES, "spec.requireInternetAccess",
        f"Could not read the route tables ({error}); requireInternetAccess is not checked. Grant the operator "
        "ec2:DescribeRouteTables",
    )  # fmt: skip


# -- the execution role --------------------------------------------------------------------------


def role_permissions(permissions: RolePermissions, *, require: bool = True) -> list[Problem]:
    """The ENI actions the role is not allowed: RoleMissingPermissions when ``require``, else a warning
    (the update goes on and AWS judges the role); a warning when IAM could not be asked."""
    role = permissions.role_arn
    if not permissions.checked:
        return [role_unknown(role, permissions.error)]
    missing = permissions.missing()
    if not missing:
        return []
    listing = ", ".join(f"{action} ({decision})" for action, decision in sorted(missing.items()))
    fix = "attach AWSLambdaVPCAccessExecutionRole (or a policy with these actions) to the role"
    if any(d == EvalDecision.EXPLICIT_DENY for d in missing.values()):
        fix = "remove the statement that denies them and " + fix
    if not require:
        return [Problem(
            Severity.WARNING, ROLE_MAY_LACK_PERMISSIONS, "spec.functionName",
            f"iam:SimulatePrincipalPolicy says the execution role {role} is missing {listing} (simulated without "
            f"resource ARNs or conditions, so a role scoped to resources or conditions shows this too); the update "
            f"goes on and AWS decides. If AWS refuses, {fix}",
        )]  # fmt: skip
    return [Problem(
        Severity.ERROR, Reason.ROLE_MISSING_PERMISSIONS, "spec.functionName",
        f"The execution role {role} of the function is missing {listing}; Lambda needs them to create and "
        f"delete the function's network interfaces: {fix}",
    )]  # fmt: skip


def role_unknown(role: str, error: str) -> Problem:
    """The role could not be checked (no permission, IAM unavailable or answering garbage): a warning."""
    return Problem(
        Severity.WARNING, CANNOT_CHECK_ROLE, "spec.functionName",
        f"Could not check the execution role {role} ({error}); the update goes on and AWS decides. Grant the "
        "operator iam:SimulatePrincipalPolicy on it, or make sure it allows " + ", ".join(ENI_ACTIONS),
    )  # fmt: skip


# -- ownership -----------------------------------------------------------------------------------


class Ownership(enum.StrEnum):
    OWNED = "Owned"  # the tag names this attachment of this cluster
    CLAIM = "Claim"  # a function nobody holds and no VPC: record the claim, tag it, then manage it
    ADOPT = "Adopt"  # in a VPC or tagged before, and spec.adoption Adopt: record what it held, tag, manage
    NOT_ADOPTED = "NotAdopted"  # the same with spec.adoption Refuse: hands off
    OWNED_ELSEWHERE = "OwnedElsewhere"  # the tag names another cluster, or another live attachment here
    CONFLICT = "Conflict"  # untagged, and an older attachment claims it first


@dataclasses.dataclass(frozen=True)
class OwnershipDecision:
    kind: Ownership
    other: str | None = None  # who holds it: the other attachment ("namespace/name") or an owner's description
    previous_owner: str | None = None  # the tag value an adoption replaces


@dataclasses.dataclass(frozen=True)
class History:
    """What this attachment's status says about the function (``status.ownership``, ``status.functionArn``)."""

    recorded_tag: str | None = None  # status.ownership.ownerTag, when status.ownership names this function
    managed_before: bool = False  # status names this function: our claim, or an older release managing it

    @property
    def claimed(self) -> bool:
        return self.recorded_tag is not None


def ownership(
    me: owners.Owner,
    tags: Mapping[str, str],
    claimants: Collection[str],
    older_claim: str | None,
    *,
    attached: bool,
    adoption: Adoption,
    history: History = History(),
) -> OwnershipDecision:
    """Who owns the function: the tag first (durable, on AWS), the claims index only to break ties.

    ``claimants`` are the attachments (``namespace/name``) of this cluster that name this function
    now; ``attached``: the function sits in a VPC; ``history``: what our own status recorded.
    """
    tag = tags.get(owners.TAG)
    holder = owners.parse(tag) if tag else None
    # Ours already: an older claim, if any, is the one that must give way.
    if owners.tag_holds(tag, me):
        return OwnershipDecision(Ownership.OWNED)
    # The tag we recorded writing (the cluster was renamed since): ours, to be re-tagged.
    if tag is not None and tag == history.recorded_tag:
        return OwnershipDecision(Ownership.CLAIM)
    # Another installation's: never taken over, whatever spec.adoption says.
    if holder is not None and holder.cluster is not None and holder.cluster != me.cluster:
        return OwnershipDecision(Ownership.OWNED_ELSEWHERE, holder.describe())
    # Owned by an attachment of this cluster that still exists and still names this function.
    live = [c for c in claimants if c != me.key and tag in _tag_values(c, me.cluster)]
    if live:
        return OwnershipDecision(Ownership.OWNED_ELSEWHERE, live[0])
    # Untagged (or stale): the oldest claim gets to take it; the others wait.
    if older_claim is not None and older_claim != me.key:
        return OwnershipDecision(Ownership.CONFLICT, older_claim)
    # Our own tag as an older release wrote it (our status shows we managed this function), or our
    # recorded claim with the tag gone: ours. An older-release tag without that evidence may be
    # another cluster's (it did not name the cluster): only on request.
    legacy_mine = holder is not None and holder.cluster is None and holder.key == me.key
    if (legacy_mine and history.managed_before) or (history.claimed and not tag):
        return OwnershipDecision(Ownership.CLAIM, previous_owner=tag)
    # Someone's function: in a VPC already, or tagged by a stale attachment. Only on request.
    if attached or tag:
        kind = Ownership.ADOPT if adoption == Adoption.ADOPT else Ownership.NOT_ADOPTED
        return OwnershipDecision(kind, previous_owner=tag)
    return OwnershipDecision(Ownership.CLAIM)


def releasable(me: owners.Owner, tags: Mapping[str, str], claimants: Collection[str], history: History) -> str | None:
    """None when deleting the attachment may change the function, else why not.

    Only a function this attachment took may be detached or restored: one whose tag is ours (or the
    one we recorded writing), or that our status claimed and nobody has tagged since. A function it
    never claimed (NotAdopted, a lost conflict, a tag of another cluster) is left exactly as it is.
    """
    tag = tags.get(owners.TAG)
    holder = owners.parse(tag) if tag else None
    if owners.tag_holds(tag, me) or (tag is not None and tag == history.recorded_tag):
        return None
    if holder is not None and holder.cluster is not None and holder.cluster != me.cluster:
        return f"it is owned by {holder.describe()}"
    live = [c for c in claimants if c != me.key and tag in _tag_values(c, me.cluster)]
    if live:
        return f"it is owned by LambdaVpcAttachment {live[0]}"
    legacy_mine = holder is not None and holder.cluster is None and holder.key == me.key
    if (legacy_mine and history.managed_before) or (history.claimed and not tag):
        return None
    return "this attachment never claimed it (no status.ownership for it, and its owner tag is not ours)"


def _tag_values(key: str, cluster: str | None) -> tuple[str, ...]:
    """The tag values attachment ``key`` of this cluster may have written (this release's, an older one's)."""
    namespace, _, name = key.partition("/")
    return owners.Owner(cluster, namespace, name).tag_value, key


def owned_elsewhere(function: str, owner: str) -> Problem:
    who = owner if owner.startswith("LambdaVpcAttachment ") else f"LambdaVpcAttachment {owner}"
    return Problem(
        Severity.ERROR, Reason.OWNED_ELSEWHERE, "spec.functionName",
        f"spec.functionName: Lambda function {function} is owned by {who} (tag {owners.TAG} on the function); "
        "it is never taken over: delete that attachment (or remove the tag on AWS if that owner is gone), "
        "or name another function",
    )  # fmt: skip


def tags_unreadable(failure: Failure) -> Problem:
    """The operator may not read tags: it cannot tell whose the function is, so it takes nothing."""
    return Problem(
        Severity.ERROR, Reason.ACCESS_DENIED, "spec.functionName",
        f"The operator may not read the function's tags ({failure.code}: {failure.message}), so it cannot tell "
        f"whether another attachment or cluster owns it ({owners.TAG}); nothing was changed. Grant the operator "
        "lambda:ListTags (docs/iam-policy.json)",
    )  # fmt: skip


# Warning Event: a fresh claim's owner tag was refused after the update (the claim is in status).
OWNER_TAG_REFUSED = "OwnerTagRefused"


def owner_tag_refused(failure: Failure) -> Problem:
    """The tag of a claim recorded in status.ownership was refused: other installations cannot see it."""
    return Problem(
        Severity.WARNING, OWNER_TAG_REFUSED, "spec.functionName",
        f"The operator may not tag the function ({failure.code}: {failure.message}): its claim is in "
        f"status.ownership, but other clusters cannot see it without the {owners.TAG} tag. Grant the operator "
        "lambda:TagResource (docs/iam-policy.json)",
    )  # fmt: skip


def not_adopted(function: str, vpc: str, previous_owner: str | None) -> Problem:
    """What AWS holds now, and how to take the function over."""
    holds = [f"sits in {vpc}"] if vpc else []
    if previous_owner:
        holds.append(f"carries {owners.TAG}={previous_owner}")
    return Problem(
        Severity.ERROR, Reason.NOT_ADOPTED, "spec.adoption",
        f"Lambda function {function} already {' and '.join(holds)}; nothing was changed. Set spec.adoption: Adopt "
        "to take it over (its current configuration is recorded in status.ownership, and deletionPolicy: "
        "Restore puts it back on delete), or name another function",
    )  # fmt: skip


# -- tenant policy -------------------------------------------------------------------------------


def policy_problem(verdict: Verdict) -> Problem | None:
    """PolicyDenied for a denial; None when allowed or not decided yet."""
    if verdict.outcome != Decision.DENIED:
        return None
    return Problem(
        Severity.ERROR, Reason.POLICY_DENIED, "spec",
        f"{verdict.message}. The function is left as it is on AWS; change the spec to what a policy allows, "
        "or ask a cluster administrator to change the LambdaVpcPolicy",
    )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Admission:
    """The admission webhook's answer."""

    allowed: bool
    reason: str = ""  # the Stalled reason the same attachment would get at reconcile
    message: str = ""
    warnings: tuple[str, ...] = ()


# What names the function (models.attachments: CEL rules say the same to every client).
IMMUTABLE_FIELDS = ("functionName", "region")


def immutable_changes(old_spec: Mapping[str, object], spec: Mapping[str, object]) -> list[str]:
    return [f for f in IMMUTABLE_FIELDS if old_spec.get(f) != spec.get(f)]


def immutable(fields: Sequence[str]) -> Admission:
    listed = " and ".join(f"spec.{f}" for f in fields)
    return Admission(
        False, Reason.INVALID_SPEC,
        f"{Reason.INVALID_SPEC}: {listed} cannot change: an attachment manages one function for its whole life. "
        "Put the old value back, or create a new LambdaVpcAttachment (and delete this one to release the function)",
    )  # fmt: skip


def admission(
    verdict: Verdict,
    function: str,
    others: Sequence[str] = (),
    *,
    vpc_error: str | None = None,
) -> Admission:
    """Admit or refuse a create (or a spec change): the policy first, then ownership.

    ``others`` are the other attachments naming the same function; ``vpc_error`` says why the VPC
    could not be found when the verdict is still undecided (then the reconciler decides, and the
    user is warned).
    """
    if verdict.outcome == Decision.DENIED:
        return Admission(False, Reason.POLICY_DENIED, f"{Reason.POLICY_DENIED}: {verdict.message}")
    if others:
        owner = sorted(others)[0]
        return Admission(
            False, Reason.OWNED_ELSEWHERE,
            f"{Reason.OWNED_ELSEWHERE}: Lambda function {function} is already managed by LambdaVpcAttachment "
            f"{owner}; one function has one attachment: delete that one first or name another function",
        )  # fmt: skip
    warnings: tuple[str, ...] = ()
    if verdict.outcome == Decision.UNDECIDED:
        why = f" ({vpc_error})" if vpc_error else ""
        warnings = (
            f"The VPC rule could not be checked at admission{why}; the operator checks it before attaching "
            f"({verdict.message})",
        )
    return Admission(True, message=verdict.message, warnings=warnings)
