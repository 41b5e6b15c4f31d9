"""planner.guards: internet routes, the execution role, ownership, policy problems and admission."""

from __future__ import annotations

import pytest

from lambda_vpc_operator.models import owners
from lambda_vpc_operator.models.attachments import Adoption, AttachmentSpec
from lambda_vpc_operator.models.functions import VpcSettings
from lambda_vpc_operator.models.networks import NetworkFacts, SecurityGroupFacts, SubnetFacts
from lambda_vpc_operator.models.permissions import ENI_ACTIONS, EvalDecision, RolePermissions
from lambda_vpc_operator.models.routes import RouteFacts, RouteTableFacts, VpcRoutes
from lambda_vpc_operator.planner import guards, planning
from lambda_vpc_operator.planner.conditions import ConditionType, Reason
from lambda_vpc_operator.planner.plans import Outcome
from lambda_vpc_operator.planner.policies import Decision, Verdict
from lambda_vpc_operator.planner.validation import Problem, Severity

ROLE = "arn:aws:iam::123456789012:role/orders-exec"
NAT = RouteFacts("0.0.0.0/0", "nat-0abc")
IGW = RouteFacts("0.0.0.0/0", "igw-0abc")
LOCAL = RouteFacts("10.0.0.0/16", "local")


def subnets(*ids: str, vpc: str = "vpc-1") -> NetworkFacts:
    return NetworkFacts(
        subnets={s: SubnetFacts(s, vpc, "us-east-1a", 250, "10.0.0.0/24") for s in ids},
        security_groups={"sg-1": SecurityGroupFacts("sg-1", vpc)},
    )


def table(rtb: str, *routes: RouteFacts, main: bool = False, associated: tuple[str, ...] = ()) -> RouteTableFacts:
    return RouteTableFacts(rtb, "vpc-1", main, frozenset(associated), (LOCAL, *routes))


def desired(*ids: str) -> VpcSettings:
    return VpcSettings.of(ids, ["sg-1"])


# --- requireInternetAccess ----------------------------------------------------------------------


def passes(problems: list[Problem]) -> str:
    """The INFO of a passing check: what route was found."""
    (problem,) = problems
    assert problem.severity == Severity.INFO and problem.reason == guards.INTERNET_ROUTE
    return problem.message


def test_explicit_association_to_a_nat_table_passes() -> None:
    tables = (table("rtb-main", main=True), table("rtb-nat", NAT, associated=("subnet-a",)))
    routes = {"vpc-1": VpcRoutes("vpc-1", tables)}
    message = passes(guards.internet_access(desired("subnet-a"), subnets("subnet-a"), routes))
    assert message == "subnet-a reaches the internet via NAT gateway nat-0abc (route table rtb-nat)"


def test_main_table_is_used_without_an_explicit_association() -> None:
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", NAT, main=True),))}
    assert "rtb-main" in passes(guards.internet_access(desired("subnet-a"), subnets("subnet-a"), routes))


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        pytest.param("tgw-0central", "transit gateway", id="transit-gateway"),
        pytest.param("vpce-0firewall", "Gateway Load Balancer endpoint", id="gwlb-endpoint"),
        pytest.param("i-0natinstance", "NAT instance", id="nat-instance"),
        pytest.param("eni-0appliance", "network interface", id="appliance-interface"),
        pytest.param("arn:aws:networkmanager::123456789012:core-network/core-network-0", "Cloud WAN core network",
                     id="cloud-wan"),
        pytest.param("vgw-0corporate", "virtual private gateway", id="vpn-gateway"),
    ],
)  # fmt: skip
def test_other_ways_to_the_internet_pass_and_are_named(target: str, kind: str) -> None:
    """A central egress VPC or firewall, or a NAT instance, translate the function's address too."""
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", RouteFacts("0.0.0.0/0", target), main=True),))}
    message = passes(guards.internet_access(desired("subnet-a"), subnets("subnet-a"), routes))
    assert f"subnet-a reaches the internet via {kind}" in message and target in message


@pytest.mark.parametrize(
    "route",
    [
        pytest.param(RouteFacts("0.0.0.0/0", "igw-0abc"), id="internet-gateway"),
        pytest.param(RouteFacts("0.0.0.0/0", "tgw-0dead", active=False), id="blackhole-transit-gateway"),
        pytest.param(RouteFacts("0.0.0.0/0", "pcx-0peer"), id="peering"),
        pytest.param(RouteFacts("10.1.0.0/16", "tgw-0central"), id="transit-gateway-not-default"),
    ],
)
def test_routes_that_do_not_reach_the_internet_fail(route: RouteFacts) -> None:
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", route, main=True),))}
    (problem,) = guards.internet_access(desired("subnet-a"), subnets("subnet-a"), routes)
    assert problem.severity == Severity.ERROR and problem.reason == Reason.NO_INTERNET_ROUTE


def test_explicit_association_wins_over_the_main_table() -> None:
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", NAT, main=True),
                                           table("rtb-private", associated=("subnet-a",))))}  # fmt: skip
    (problem,) = guards.internet_access(desired("subnet-a"), subnets("subnet-a"), routes)
    assert problem.reason == Reason.NO_INTERNET_ROUTE and "rtb-private" in problem.message


def test_public_subnet_is_refused_and_named() -> None:
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", NAT, main=True),
                                           table("rtb-public", IGW, associated=("subnet-pub",))))}  # fmt: skip
    (problem,) = guards.internet_access(desired("subnet-a", "subnet-pub"), subnets("subnet-a", "subnet-pub"), routes)
    assert problem.severity == Severity.ERROR and problem.field == "spec.requireInternetAccess"
    assert "subnet-pub" in problem.message and "igw-0abc" in problem.message and "subnet-a " not in problem.message
    assert "no public IP" in problem.message


def test_no_default_route_and_main_table_named() -> None:
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", main=True),))}
    (problem,) = guards.internet_access(desired("subnet-c"), subnets("subnet-c"), routes)
    assert "subnet-c" in problem.message and "main route table rtb-main" in problem.message
    assert "has no 0.0.0.0/0 route" in problem.message


def test_blackhole_nat_route_does_not_count() -> None:
    dead = RouteFacts("0.0.0.0/0", "nat-0dead", active=False)
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", dead, main=True),))}
    assert [p.reason for p in guards.internet_access(desired("subnet-a"), subnets("subnet-a"), routes)] == [
        Reason.NO_INTERNET_ROUTE
    ]


def test_prefix_list_routes_are_not_internet() -> None:
    endpoint = RouteFacts("pl-63a5400a", "vpce-0s3")
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", endpoint, main=True),))}
    assert guards.internet_access(desired("subnet-a"), subnets("subnet-a"), routes) != []


def test_every_failing_subnet_in_one_problem() -> None:
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", main=True),))}
    (problem,) = guards.internet_access(desired("subnet-a", "subnet-b"), subnets("subnet-a", "subnet-b"), routes)
    assert "subnet-a" in problem.message and "subnet-b" in problem.message


def test_unknown_subnets_and_unread_vpcs_are_left_to_others() -> None:
    routes = {"vpc-1": VpcRoutes("vpc-1", (table("rtb-main", main=True),))}
    # subnet-x does not exist (validation says SubnetNotFound); vpc-2's tables were not read.
    facts = NetworkFacts(subnets={"subnet-y": SubnetFacts("subnet-y", "vpc-2", "us-east-1a", 250, "10.1.0.0/24")})
    assert guards.internet_access(desired("subnet-x", "subnet-y"), facts, routes) == []


def test_a_vpc_without_tables_refuses() -> None:
    routes = {"vpc-1": VpcRoutes("vpc-1", ())}
    (problem,) = guards.internet_access(desired("subnet-a"), subnets("subnet-a"), routes)
    assert "no route table" in problem.message


def test_routes_unknown_is_a_warning() -> None:
    problem = guards.routes_unknown("UnauthorizedOperation: no")
    assert problem.severity == Severity.WARNING and "ec2:DescribeRouteTables" in problem.message


# --- the execution role -------------------------------------------------------------------------


def test_a_role_with_every_action_passes() -> None:
    permissions = RolePermissions(ROLE, dict.fromkeys(ENI_ACTIONS, EvalDecision.ALLOWED))
    assert guards.role_permissions(permissions) == []


def test_missing_actions_are_named_with_their_decision() -> None:
    decisions = {
        "ec2:CreateNetworkInterface": EvalDecision.ALLOWED,
        "ec2:DescribeNetworkInterfaces": EvalDecision.IMPLICIT_DENY,
    }  # DeleteNetworkInterface has no answer at all: implicitDeny
    (problem,) = guards.role_permissions(RolePermissions(ROLE, decisions))
    assert problem.reason == Reason.ROLE_MISSING_PERMISSIONS and problem.severity == Severity.ERROR
    assert ROLE in problem.message
    assert "ec2:DescribeNetworkInterfaces (implicitDeny)" in problem.message
    assert "ec2:DeleteNetworkInterface (implicitDeny)" in problem.message
    assert "ec2:CreateNetworkInterface" not in problem.message
    assert "AWSLambdaVPCAccessExecutionRole" in problem.message and "remove the statement" not in problem.message


def test_missing_actions_are_a_warning_unless_required() -> None:
    """--role-check auto: the simulation (no resources, no context) is advice; AWS' refusal decides."""
    decisions = {"ec2:CreateNetworkInterface": EvalDecision.IMPLICIT_DENY}
    (problem,) = guards.role_permissions(RolePermissions(ROLE, decisions), require=False)
    assert problem.severity == Severity.WARNING and problem.reason == guards.ROLE_MAY_LACK_PERMISSIONS
    assert ROLE in problem.message and "ec2:CreateNetworkInterface (implicitDeny)" in problem.message


def test_an_explicit_deny_says_to_remove_it() -> None:
    decisions = dict.fromkeys(ENI_ACTIONS, EvalDecision.EXPLICIT_DENY)
    (problem,) = guards.role_permissions(RolePermissions(ROLE, decisions))
    assert "explicitDeny" in problem.message and "remove the statement that denies them" in problem.message


def test_when_iam_cannot_be_asked_it_is_a_warning() -> None:
    permissions = RolePermissions(ROLE, checked=False, error="AccessDenied: not authorized")
    (problem,) = guards.role_permissions(permissions)
    assert problem.severity == Severity.WARNING and problem.reason == guards.CANNOT_CHECK_ROLE
    assert "iam:SimulatePrincipalPolicy" in problem.message and "AccessDenied" in problem.message


# --- ownership ----------------------------------------------------------------------------------

ME_KEY = "team-a/orders"
OTHER = "team-b/orders"
ME = owners.Owner("prod", "team-a", "orders")
MINE = ME.tag_value  # "prod/team-a/orders"
THEIRS = owners.Owner("prod", "team-b", "orders").tag_value
Own = guards.Ownership


CLAIMED = guards.History(recorded_tag=MINE, managed_before=True)
RENAMED = guards.History(recorded_tag="old-name/team-a/orders", managed_before=True)
MANAGED = guards.History(managed_before=True)  # an older release's status named this function
NEW = guards.History()


@pytest.mark.parametrize(
    ("tags", "claimants", "older", "attached", "adoption", "history", "kind", "other"),
    [
        pytest.param({}, {ME_KEY}, None, False, "Refuse", NEW, Own.CLAIM, None, id="untagged-no-vpc-alone"),
        pytest.param({owners.TAG: MINE}, {ME_KEY}, None, True, "Refuse", NEW, Own.OWNED, None, id="ours"),
        pytest.param({owners.TAG: MINE}, {ME_KEY, OTHER}, OTHER, True, "Refuse", NEW, Own.OWNED, None,
                     id="ours-despite-an-older-claim"),
        pytest.param({owners.TAG: THEIRS}, {ME_KEY, OTHER}, None, True, "Adopt", NEW, Own.OWNED_ELSEWHERE, OTHER,
                     id="owned-by-a-live-attachment-even-with-adopt"),
        pytest.param({owners.TAG: OTHER}, {ME_KEY, OTHER}, None, True, "Adopt", NEW, Own.OWNED_ELSEWHERE, OTHER,
                     id="owned-by-a-live-attachment-older-release-tag"),
        pytest.param({owners.TAG: "staging/team-a/orders"}, {ME_KEY}, None, True, "Adopt", NEW,
                     Own.OWNED_ELSEWHERE, "LambdaVpcAttachment team-a/orders of cluster staging",
                     id="another-cluster-is-never-taken-over"),
        pytest.param({owners.TAG: "staging/team-a/orders"}, {ME_KEY}, None, False, "Adopt", CLAIMED,
                     Own.OWNED_ELSEWHERE, "LambdaVpcAttachment team-a/orders of cluster staging",
                     id="another-cluster-took-our-claimed-function"),
        pytest.param({owners.TAG: THEIRS}, {ME_KEY}, None, True, "Refuse", NEW, Own.NOT_ADOPTED, None,
                     id="stale-tag-refused"),
        pytest.param({owners.TAG: THEIRS}, {ME_KEY}, None, True, "Adopt", NEW, Own.ADOPT, None,
                     id="stale-tag-adopted"),
        pytest.param({}, {ME_KEY}, None, True, "Refuse", NEW, Own.NOT_ADOPTED, None, id="in-a-vpc-refused"),
        pytest.param({}, {ME_KEY}, None, True, "Adopt", NEW, Own.ADOPT, None, id="in-a-vpc-adopted"),
        pytest.param({}, {ME_KEY}, None, True, "Refuse", CLAIMED, Own.CLAIM, None, id="our-claim-tag-lost"),
        pytest.param({owners.TAG: ME_KEY}, {ME_KEY}, None, True, "Refuse", MANAGED, Own.CLAIM, None,
                     id="our-older-release-tag-is-upgraded"),
        pytest.param({owners.TAG: ME_KEY}, {ME_KEY}, None, True, "Refuse", NEW, Own.NOT_ADOPTED, None,
                     id="an-older-release-tag-without-evidence-may-be-another-clusters"),
        pytest.param({owners.TAG: "old-name/team-a/orders"}, {ME_KEY}, None, True, "Refuse", RENAMED, Own.CLAIM,
                     None, id="our-recorded-tag-after-a-cluster-rename"),
        pytest.param({}, {ME_KEY, OTHER}, OTHER, False, "Adopt", NEW, Own.CONFLICT, OTHER, id="untagged-older-claim"),
        pytest.param({owners.TAG: "prod/gone/x"}, {ME_KEY, OTHER}, OTHER, True, "Adopt", NEW, Own.CONFLICT, OTHER,
                     id="stale-tag-older-claim"),
        pytest.param({}, {ME_KEY}, ME_KEY, False, "Refuse", NEW, Own.CLAIM, None, id="oldest-claim-is-me"),
        pytest.param({"other": "tag"}, {ME_KEY}, None, False, "Refuse", NEW, Own.CLAIM, None,
                     id="other-tags-ignored"),
    ],
)  # fmt: skip
def test_ownership(tags: dict[str, str], claimants: set[str], older: str | None, attached: bool, adoption: str,
                   history: guards.History, kind: guards.Ownership, other: str | None) -> None:  # fmt: skip
    decision = guards.ownership(
        ME, tags, claimants, older, attached=attached, adoption=Adoption(adoption), history=history
    )
    assert (decision.kind, decision.other) == (kind, other)


@pytest.mark.parametrize(
    ("tags", "claimants", "history", "why"),
    [
        pytest.param({owners.TAG: MINE}, {ME_KEY}, NEW, None, id="our-tag"),
        pytest.param({owners.TAG: "old-name/team-a/orders"}, {ME_KEY}, RENAMED, None, id="our-recorded-tag"),
        pytest.param({}, {ME_KEY}, CLAIMED, None, id="claimed-and-untagged-since"),
        pytest.param({owners.TAG: ME_KEY}, {ME_KEY}, MANAGED, None, id="older-release-tag-with-evidence"),
        pytest.param({}, {ME_KEY}, NEW, "never claimed", id="never-claimed-not-adopted"),
        pytest.param({}, {ME_KEY}, MANAGED, "never claimed", id="observed-but-never-claimed"),
        pytest.param({owners.TAG: ME_KEY}, {ME_KEY}, NEW, "never claimed", id="older-release-tag-without-evidence"),
        pytest.param({owners.TAG: THEIRS}, {ME_KEY, OTHER}, CLAIMED, f"LambdaVpcAttachment {OTHER}", id="live-other"),
        pytest.param({owners.TAG: "staging/team-a/orders"}, {ME_KEY}, CLAIMED, "cluster staging",
                     id="another-cluster"),
    ],
)  # fmt: skip
def test_releasable(tags: dict[str, str], claimants: set[str], history: guards.History, why: str | None) -> None:
    found = guards.releasable(ME, tags, claimants, history)
    assert (found is None) if why is None else (found is not None and why in found)


def test_adoption_remembers_the_tag_it_replaces() -> None:
    decision = guards.ownership(ME, {owners.TAG: THEIRS}, {ME_KEY}, None, attached=False, adoption=Adoption.ADOPT)
    assert decision.previous_owner == THEIRS


def test_owned_elsewhere_problem_names_the_owner() -> None:
    problem = guards.owned_elsewhere("orders", OTHER)
    assert problem.reason == Reason.OWNED_ELSEWHERE and OTHER in problem.message and guards.OWNER_TAG in problem.message


def test_not_adopted_names_what_aws_holds_and_the_fix() -> None:
    problem = guards.not_adopted("orders", "VPC vpc-1 (subnets subnet-a)", THEIRS)
    assert problem.reason == Reason.NOT_ADOPTED and problem.field == "spec.adoption"
    assert "vpc-1" in problem.message and THEIRS in problem.message and "spec.adoption: Adopt" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "refused"),
    [
        pytest.param({"functionName": "a"}, {"functionName": "b"}, ["functionName"], id="name"),
        pytest.param({"functionName": "a", "region": "eu-west-1"}, {"functionName": "a"}, ["region"], id="region"),
        pytest.param({"functionName": "a"}, {"functionName": "a", "subnetIds": ["subnet-1"]}, [], id="other"),
    ],
)
def test_immutable_fields(old: dict[str, str], new: dict[str, str], refused: list[str]) -> None:
    assert guards.immutable_changes(old, new) == refused
    if refused:
        answer = guards.immutable(refused)
        assert not answer.allowed and f"spec.{refused[0]}" in answer.message


# --- policy verdicts ----------------------------------------------------------------------------


def test_policy_problem_only_for_a_denial() -> None:
    assert guards.policy_problem(Verdict(Decision.ALLOWED, "allowed by x", "x")) is None
    assert guards.policy_problem(Verdict(Decision.UNDECIDED, "vpc")) is None
    problem = guards.policy_problem(Verdict(Decision.DENIED, "no LambdaVpcPolicy allows this attachment: x"))
    assert problem is not None and problem.reason == Reason.POLICY_DENIED and problem.severity == Severity.ERROR
    assert "left as it is" in problem.message


def test_a_guard_problem_stalls_the_planner_without_a_write() -> None:
    spec = AttachmentSpec.model_validate(
        {"functionName": "orders", "subnetIds": ["subnet-a"], "securityGroupIds": ["sg-1"]}
    )
    problem = guards.policy_problem(Verdict(Decision.DENIED, "denied"))
    assert problem is not None
    plan = planning.plan_attachment(spec, planning.Situation(generation=1, observed=None, problems=(problem,)))
    assert plan.outcome == Outcome.STALLED and plan.action is None
    stalled = {c.type: c for c in plan.conditions or ()}[ConditionType.STALLED]
    assert stalled.reason == Reason.POLICY_DENIED


# --- admission ----------------------------------------------------------------------------------

ALLOWED = Verdict(Decision.ALLOWED, "allowed by LambdaVpcPolicy team-a", "team-a")


def test_admission_allows() -> None:
    answer = guards.admission(ALLOWED, "orders")
    assert answer.allowed and answer.warnings == ()


def test_admission_denies_by_policy_with_the_rule() -> None:
    answer = guards.admission(Verdict(Decision.DENIED, "no LambdaVpcPolicy allows this attachment: rule"), "orders")
    assert not answer.allowed and answer.reason == Reason.POLICY_DENIED
    assert answer.message.startswith("PolicyDenied: ") and "rule" in answer.message


def test_admission_denies_a_function_managed_elsewhere() -> None:
    answer = guards.admission(ALLOWED, "orders", ["team-b/orders", "team-a/older"])
    assert not answer.allowed and answer.reason == Reason.OWNED_ELSEWHERE
    assert "team-a/older" in answer.message and "OwnedElsewhere" in answer.message


def test_policy_denial_is_reported_before_ownership() -> None:
    answer = guards.admission(Verdict(Decision.DENIED, "denied"), "orders", ["team-b/orders"])
    assert answer.reason == Reason.POLICY_DENIED


@pytest.mark.parametrize("error", [None, "UnauthorizedOperation: no"])
def test_undecided_admission_passes_with_a_warning(error: str | None) -> None:
    answer = guards.admission(Verdict(Decision.UNDECIDED, "LambdaVpcPolicy x: the VPC is not known"), "orders",
                              vpc_error=error)  # fmt: skip
    assert answer.allowed
    (warning,) = answer.warnings
    assert "VPC rule" in warning and (error is None or error in warning)


