"""Guardrails end to end: preflight refusals without a write, tenant policies at reconcile, ownership, adoption.

The session operator runs with ``--policy-mode allow-all`` (harness), so its namespaces that no
policy selects behave as before; the policies here select this test's namespace by a label of its
own, so they never touch another test. The ``enforce`` cases need an operator of their own
(``enforcing``, watching ``e2g-*``).

Every refusal is checked the same way: the right Stalled reason, a message naming the field or the
rule, and no AWS write (UpdateFunctionConfiguration, TagResource) in the simulator's counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest

from harness import (
    GROUP,
    VERSION,
    Namespace,
    Target,
    condition,
    policies_made,
    unique_name,
    wait_for,
    watch_log,
)
from lambda_vpc_operator.models import policies
from lambda_vpc_sandbox.aws.seeding import DEMO_IDS, VPC_ACCESS_POLICY, client
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = pytest.mark.e2e

OWNER_TAG = "lambdavpc.dev/owner"
TENANT_LABEL = "e2e.lambdavpc.dev/tenant"
ENFORCED_PREFIX = "e2g"  # namespaces of the enforcing operator (outside the session operator's e2e-*)
ENFORCING_RESYNC = 600.0  # longer than any test: only wake-ups make that operator look again
WRITES = ("lambda:UpdateFunctionConfiguration", "lambda:TagResource")
# The demo account's roles without the ENI permissions (sandbox/aws/seeding.py).
LOGS_ONLY_ROLE = "lambda-vpc-demo-logs-only"
DENIED_ROLE = "lambda-vpc-demo-denied"
PUBLIC_SUBNET = DEMO_IDS["demo-public-a"]
DUAL_STACK_SUBNET = DEMO_IDS["demo-dualstack-a"]
IPV6_ONLY_SUBNET = DEMO_IDS["demo-ipv6only-b"]


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def make_policy(target: Target) -> Iterator[Callable[..., str]]:
    """Factory of LambdaVpcPolicy objects (cluster-scoped), deleted after the test."""
    with policies_made(target) as make:
        yield make


def replace_policy(target: Target, name: str, **spec: Any) -> None:
    """Change a policy's lists (the selector stays); None removes a list."""
    target.custom.patch_cluster_custom_object(GROUP, VERSION, policies.PLURAL, name, {"spec": spec})


def tenant(target: Target, ns: Namespace) -> dict[str, Any]:
    """Label the namespace with a value of its own; the selector that picks exactly it."""
    value = ns.name
    target.core.patch_namespace(ns.name, {"metadata": {"labels": {TENANT_LABEL: value}}})
    return {"matchLabels": {TENANT_LABEL: value}}


@pytest.fixture(scope="module")
def enforcing(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    """An operator with the default --policy-mode enforce, for namespaces ``e2g-*``.

    Its resync interval is long on purpose: what it does after a policy or a namespace label
    changes must come from the wake-up those changes cause, not from a periodic look.
    """
    if target.operator is None:
        pytest.skip("the operator runs elsewhere (LVO_E2E_OPERATOR=external)")
    log = tmp_path_factory.mktemp("enforcing") / "operator.log"
    args = ["--namespace", f"{ENFORCED_PREFIX}-*", "--resync-interval", f"{ENFORCING_RESYNC:g}",
            "--region", target.region, "--log-format", "plain"]  # fmt: skip
    operator = OperatorProcess(target.kubeconfig, target.operator_env, args, log_path=log).start()
    try:
        yield operator
    finally:
        operator.stop()


@pytest.fixture
def enforced_ns(
    enforcing: OperatorProcess, make_namespace: Callable[[str], Namespace], request: pytest.FixtureRequest
) -> Namespace:
    assert enforcing.log_path is not None
    watch_log(request.node, enforcing.log_path)
    return make_namespace(ENFORCED_PREFIX)


def writes(target: Target) -> dict[str, int]:
    calls = target.calls()
    return {op: calls[op] for op in WRITES if calls[op]}


def stalled_message(obj: dict[str, Any]) -> str:
    return str(condition(obj, "Stalled").get("message", ""))


def role_arn(target: Target, name: str) -> str:
    return f"arn:aws:iam::{target.account_id}:role/{name}"


def function_with_role(target: Target, role: str, hint: str) -> str:
    name = unique_name(f"e2e-{hint}", 64)
    target.lambda_.create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="lambda_function.handler",
        Code={"ZipFile": target.zip_file}, Tags={"project": "lambda-vpc-operator-e2e"},
    )  # fmt: skip
    target.functions.append(name)
    target.wait_active(name)
    return name


def tags_of(target: Target, function: str) -> dict[str, str]:
    return dict(target.lambda_.list_tags(Resource=target.function_arn(function))["Tags"])


# -- preflight: every validation case, no write --------------------------------------------------


def _validation_cases(target: Target) -> dict[str, dict[str, Any]]:
    net = target.network
    a, c = net.subnets[0], net.subnets[2]
    return {
        "SubnetNotFound": {"subnets": [a, "subnet-0e2enotthere"], "named": "subnet-0e2enotthere"},
        "SecurityGroupNotFound": {"groups": [net.app_sg, "sg-0e2enotthere"], "named": "sg-0e2enotthere"},
        "MixedVpcs": {"subnets": [a], "groups": [net.other_vpc_sg], "named": net.other_vpc_sg},
        "DedicatedTenancy": {"subnets": [net.dedicated_subnet], "groups": [net.dedicated_sg], "named": "dedicated"},
        "NotDualStack": {"subnets": [a], "spec": {"ipv6AllowedForDualStack": True}, "named": a},
        "NotDualStack-ipv6-only": {"subnets": [DUAL_STACK_SUBNET, IPV6_ONLY_SUBNET],
                                   "spec": {"ipv6AllowedForDualStack": True}, "named": IPV6_ONLY_SUBNET},
        "NoInternetRoute": {"subnets": [a, c], "spec": {"requireInternetAccess": True}, "named": c,
                            "not_named": f"{a} ("},
        "NoInternetRoute-public-subnet": {"subnets": [PUBLIC_SUBNET], "spec": {"requireInternetAccess": True},
                                          "named": PUBLIC_SUBNET},
    }  # fmt: skip


VALIDATION_CASES = [
    "SubnetNotFound", "SecurityGroupNotFound", "MixedVpcs", "DedicatedTenancy", "NotDualStack",
    "NotDualStack-ipv6-only", "NoInternetRoute", "NoInternetRoute-public-subnet",
]  # fmt: skip


@pytest.mark.simulator
@pytest.mark.parametrize("case", VALIDATION_CASES)
def test_every_validation_case_stalls_without_a_write(target: Target, ns: Namespace, case: str) -> None:
    spec = _validation_cases(target)[case]
    net = target.network
    reason = case.split("-", 1)[0]
    function = target.make_function("preflight")
    before = target.configuration(function)
    target.reset_calls()

    ns.create("guarded", function, spec.get("subnets", net.subnets[:2]), spec.get("groups", [net.app_sg]),
              **spec.get("spec", {}))  # fmt: skip
    obj = ns.wait_stalled("guarded", reason)

    message = stalled_message(obj)
    assert spec["named"] in message, message
    if "not_named" in spec:
        assert spec["not_named"] not in message, message
    assert (condition(obj, "Ready")["status"], condition(obj, "Ready")["reason"]) == ("False", reason)
    assert writes(target) == {}, target.calls()
    after = target.configuration(function)
    assert (after["RevisionId"], after.get("VpcConfig")) == (before["RevisionId"], before.get("VpcConfig"))
    assert OWNER_TAG not in tags_of(target, function)
    event = ns.wait_event("guarded", "Stalled")
    assert reason in event.message


@pytest.mark.simulator
def test_internet_access_through_nat_attaches(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("nat")
    ns.create("nat", function, net.subnets[:2], [net.app_sg], requireInternetAccess=True)
    ns.wait_ready("nat")
    assert target.vpc(function).subnet_ids == set(net.subnets[:2])
    event = ns.wait_event("nat", "InternetRoute")
    assert f"{net.subnets[0]} reaches the internet via NAT gateway nat-" in event.message, event.message


@pytest.mark.simulator
def test_internet_access_through_a_transit_gateway_attaches(target: Target, ns: Namespace) -> None:
    """A central egress VPC behind a transit gateway is internet access too (aws-facts "Refusals")."""
    ec2 = target.ec2
    tgw = ec2.create_transit_gateway(Description="e2e central egress")["TransitGateway"]["TransitGatewayId"]
    table = ec2.create_route_table(VpcId=target.network.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", TransitGatewayId=tgw)
    zone = f"{target.region}a"
    subnet = ec2.create_subnet(VpcId=target.network.vpc_id, CidrBlock="10.0.77.0/24", AvailabilityZone=zone)
    subnet_id = subnet["Subnet"]["SubnetId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
    function = target.make_function("tgw")
    ns.create("tgw", function, [subnet_id], [target.network.app_sg], requireInternetAccess=True)
    ns.wait_ready("tgw")
    event = ns.wait_event("tgw", "InternetRoute")
    assert f"{subnet_id} reaches the internet via transit gateway {tgw}" in event.message, event.message


@pytest.mark.simulator
def test_role_check_refused_to_the_operator_is_a_warning(target: Target, ns: Namespace) -> None:
    """iam:SimulatePrincipalPolicy denied to the operator: an Event, and the attachment goes on."""
    assert target.sim is not None
    iam = client("iam", target.sim.endpoint_url, target.region)
    role_name = unique_name("e2e-unchecked", 60)  # a role no operator has asked about (answers are cached)
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="vpc", PolicyDocument=json.dumps(VPC_ACCESS_POLICY))
    function = function_with_role(target, role, "unchecked")
    target.sim.deny("iam:SimulatePrincipalPolicy")
    try:
        ns.create("unchecked", function, target.network.subnets[:2], [target.network.app_sg])
        ns.wait_ready("unchecked")
        event = ns.wait_event("unchecked", "CannotCheckRole")
        assert role in event.message and "iam:SimulatePrincipalPolicy" in event.message
    finally:
        target.sim.allow("iam:SimulatePrincipalPolicy")


# -- the execution role: the preflight is advice, AWS' refusal at the call decides ---------------


def fresh_role(target: Target, hint: str, *, vpc_access: bool) -> tuple[str, str]:
    """A role no operator has asked about yet (answers are cached per role): (name, ARN)."""
    assert target.sim is not None
    iam = client("iam", target.sim.endpoint_url, target.region)
    name = unique_name(f"e2e-{hint}", 60)
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])
    if vpc_access:
        iam.put_role_policy(RoleName=name, PolicyName="vpc", PolicyDocument=json.dumps(VPC_ACCESS_POLICY))
    return name, arn


@pytest.mark.simulator
@pytest.mark.parametrize("role", [LOGS_ONLY_ROLE, DENIED_ROLE], ids=["implicit-deny", "explicit-deny"])
def test_a_refused_role_is_retried_not_stalled(target: Target, ns: Namespace, role: str) -> None:
    """--role-check auto (the default): the preflight warns, the update is sent, AWS refuses the role at
    the call (aws-facts "Refusals"), and the attachment waits as RoleMissingPermissions, never Stalled."""
    arn = role_arn(target, role)
    function = function_with_role(target, arn, "role")
    ns.create("role", function, target.network.subnets[:2], [target.network.app_sg])
    obj = ns.wait_condition("role", "Ready", "False", "RoleMissingPermissions")
    assert condition(obj, "Reconciling")["status"] == "True", obj["status"]
    assert condition(obj, "Stalled") == {}, obj["status"]
    message = condition(obj, "Ready")["message"]
    assert arn in message and "CreateNetworkInterface" in message and "fix spec" not in message, message
    warning = ns.wait_event("role", "RoleMayLackPermissions")
    assert arn in warning.message
    assert not target.vpc(function).subnet_ids  # refused: nothing changed on AWS


@pytest.mark.simulator
def test_a_role_fixed_later_attaches_by_itself(target: Target, ns: Namespace) -> None:
    """A role refused at the call, then fixed on IAM, with IAM's propagation delay on top: the
    attachment recovers with no change to the spec (retries back off from 10 s)."""
    assert target.sim is not None
    name, arn = fresh_role(target, "later", vpc_access=False)
    function = function_with_role(target, arn, "later")
    target.sim.set_role_checks(propagation_delay=5.0)
    try:
        ns.create("later", function, target.network.subnets[:2], [target.network.app_sg])
        ns.wait_condition("later", "Ready", "False", "RoleMissingPermissions")
        client("iam", target.sim.endpoint_url, target.region).put_role_policy(
            RoleName=name, PolicyName="vpc", PolicyDocument=json.dumps(VPC_ACCESS_POLICY)
        )
        obj = ns.wait_ready("later", timeout=120)
    finally:
        target.sim.set_role_checks(propagation_delay=0.0)
    assert condition(obj, "Stalled") == {}
    assert target.vpc(function).subnet_ids == set(target.network.subnets[:2])


@pytest.mark.simulator
def test_a_role_scoped_to_resources_attaches_with_a_warning(target: Target, ns: Namespace) -> None:
    """The simulation has no resources or context, so it says implicitDeny; Lambda accepts the role."""
    assert target.sim is not None
    name, arn = fresh_role(target, "scoped", vpc_access=False)
    scoped = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*NetworkInterface*",
              "Resource": f"arn:aws:ec2:*:{target.account_id}:*"}]}  # fmt: skip
    client("iam", target.sim.endpoint_url, target.region).put_role_policy(
        RoleName=name, PolicyName="scoped", PolicyDocument=json.dumps(scoped)
    )
    function = function_with_role(target, arn, "scoped")
    ns.create("scoped", function, target.network.subnets[:2], [target.network.app_sg])
    obj = ns.wait_ready("scoped")
    assert "iam:SimulatePrincipalPolicy says" in condition(obj, "NetworkReady")["message"]
    ns.wait_event("scoped", "RoleMayLackPermissions")


@pytest.mark.simulator
def test_iam_answering_html_leaves_the_role_unchecked(target: Target, ns: Namespace) -> None:
    """No IAM behind the endpoint (a plain moto server answers an HTML 500): the check is unknown, a
    Warning Event says so, and the attachment becomes Ready (it used to crash the look every time)."""
    assert target.sim is not None
    _, arn = fresh_role(target, "html", vpc_access=True)
    function = function_with_role(target, arn, "html")
    target.sim.break_operations("iam:SimulatePrincipalPolicy")
    try:
        ns.create("html", function, target.network.subnets[:2], [target.network.app_sg])
        obj = ns.wait_ready("html")
        event = ns.wait_event("html", "CannotCheckRole")
    finally:
        target.sim.unbreak()
    assert arn in event.message and "ResponseParserError" in event.message, event.message
    assert "Could not check the execution role" in condition(obj, "NetworkReady")["message"]


# -- tenant policy at reconcile ------------------------------------------------------------------

ALLOWED = "Ready"

# (policies as {field: value} with "{net.x}" placeholders resolved below, attachment, expected)
MATRIX: dict[str, tuple[list[dict[str, Any]], dict[str, Any], str, str]] = {
    "selected-by-labels-allows": ([{}], {}, ALLOWED, ""),
    "selected-by-expression-allows": ([{"selector": "expression"}], {}, ALLOWED, ""),
    "function-name-glob": ([{"functions": ["e2e-glob-*"]}], {"hint": "glob"}, ALLOWED, ""),
    "function-arn-glob": ([{"functions": ["arn:aws:lambda:*:{account}:function:e2e-arn-*"]}], {"hint": "arn"},
                          ALLOWED, ""),
    "function-not-matching": ([{"functions": ["e2e-other-*"]}], {"hint": "nomatch"}, "PolicyDenied", "spec.functions"),
    "subnet-not-allowed": ([{"subnetIds": ["{subnet0}"]}], {}, "PolicyDenied", "spec.subnetIds"),
    "group-not-allowed": ([{"securityGroupIds": ["{db_sg}"]}], {}, "PolicyDenied", "spec.securityGroupIds"),
    "every-id-allowed": ([{"vpcIds": ["{vpc}"], "subnetIds": ["{subnet0}", "{subnet1}"],
                           "securityGroupIds": ["{app_sg}"]}], {}, ALLOWED, ""),
    "vpc-not-allowed": ([{"vpcIds": ["{other_vpc}"]}], {}, "PolicyDenied", "spec.vpcIds"),
    "one-of-several-allows": ([{"subnetIds": ["{subnet2}"]}, {"functions": ["*"]}], {}, ALLOWED, ""),
    "several-all-refuse": ([{"subnetIds": ["{subnet2}"]}, {"functions": ["nope"]}], {}, "PolicyDenied",
                           "no LambdaVpcPolicy allows"),
}  # fmt: skip


def _resolve(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_resolve(v, values) for v in value]
    return value.format(**values) if isinstance(value, str) else value


def _placeholders(target: Target) -> dict[str, str]:
    net = target.network
    other = target.ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": [net.other_vpc_subnet]}])
    return {
        "account": target.account_id, "vpc": net.vpc_id, "subnet0": net.subnets[0], "subnet1": net.subnets[1],
        "subnet2": net.subnets[2], "app_sg": net.app_sg, "db_sg": net.db_sg,
        "other_vpc": other["Subnets"][0]["VpcId"],
    }  # fmt: skip


@pytest.mark.simulator
@pytest.mark.parametrize("case", list(MATRIX))
def test_policy_matrix_at_reconcile(
    target: Target, ns: Namespace, make_policy: Callable[..., str], case: str
) -> None:
    policy_specs, attachment, expected, named = MATRIX[case]
    net = target.network
    selector = tenant(target, ns)
    values = _placeholders(target)
    for i, fields in enumerate(policy_specs):
        fields = dict(fields)
        chosen = selector
        if fields.pop("selector", None) == "expression":
            value = selector["matchLabels"][TENANT_LABEL]
            chosen = {"matchExpressions": [{"key": TENANT_LABEL, "operator": "In", "values": [value, "other"]}]}
        make_policy(f"{case[:20]}-{i}", chosen, **{k: _resolve(v, values) for k, v in fields.items()})
    function = target.make_function(attachment.get("hint", "policy"))
    before = target.configuration(function)
    target.reset_calls()

    ns.create("tenant", function, net.subnets[:2], [net.app_sg])

    if expected == ALLOWED:
        ns.wait_ready("tenant")
        target.wait_owner_tag(function, target.owner_tag(ns, "tenant"))
        return
    obj = ns.wait_stalled("tenant", expected)
    assert named in stalled_message(obj), stalled_message(obj)
    assert writes(target) == {}, target.calls()
    assert target.configuration(function)["RevisionId"] == before["RevisionId"]
    if "vpc" not in case:
        # Decided from the spec alone: not even a read of the function or the network.
        calls = target.calls()
        assert not [op for op in calls if op.startswith(("lambda:", "ec2:"))], calls


@pytest.mark.simulator
def test_allow_all_without_a_selecting_policy(target: Target, ns: Namespace, make_policy: Callable[..., str]) -> None:
    # A policy for another namespace exists; this namespace is selected by none: allow-all decides.
    make_policy("elsewhere", {"matchLabels": {TENANT_LABEL: "somebody-else"}}, functions=["nothing-matches"])
    function = target.make_function("allowall")
    ns.create("open", function, target.network.subnets[:2], [target.network.app_sg])
    ns.wait_ready("open")


@pytest.mark.simulator
def test_policy_changed_after_admission_leaves_the_function_alone(
    target: Target, ns: Namespace, make_policy: Callable[..., str]
) -> None:
    net = target.network
    policy = make_policy("later", tenant(target, ns), subnetIds=list(net.subnets[:2]))
    function = target.make_function("later")
    ns.create("later", function, net.subnets[:2], [net.app_sg])
    ns.wait_ready("later")
    target.wait_owner_tag(function, target.owner_tag(ns, "later"))  # the claim's last write, after Ready
    attached = target.configuration(function)
    target.reset_calls()

    replace_policy(target, policy, subnetIds=[net.subnets[2]])  # the attachment's subnets are no longer allowed

    obj = ns.wait_stalled("later", "PolicyDenied")
    assert "spec.subnetIds" in stalled_message(obj) and "left as it is" in stalled_message(obj)
    assert condition(obj, "Ready")["status"] == "False"
    # Never detached automatically: not by the verdict, and not by deleting the attachment either.
    ns.delete("later")
    ns.wait_gone("later")
    assert "PolicyDenied" in ns.wait_event("later", "Retained").message
    after = target.configuration(function)
    assert (after["VpcConfig"], after["RevisionId"]) == (attached["VpcConfig"], attached["RevisionId"])
    assert writes(target) == {}, target.calls()


@pytest.mark.simulator
def test_policy_restored_attaches_again(target: Target, ns: Namespace, make_policy: Callable[..., str]) -> None:
    net = target.network
    policy = make_policy("restore", tenant(target, ns), functions=["nothing-yet"])
    function = target.make_function("restore")
    ns.create("restore", function, net.subnets[:2], [net.app_sg])
    ns.wait_stalled("restore", "PolicyDenied")
    replace_policy(target, policy, functions=[function])  # wakes the attachment: no resync needed
    ns.wait_ready("restore")


# -- no policy at all, --policy-mode enforce -----------------------------------------------------


@pytest.mark.simulator
def test_enforce_without_a_policy_denies_before_any_aws_call(
    target: Target, enforced_ns: Namespace, make_policy: Callable[..., str]
) -> None:
    ns = enforced_ns
    net = target.network
    function = target.make_function("enforce")
    target.reset_calls()
    ns.create("enforced", function, net.subnets[:2], [net.app_sg])

    obj = ns.wait_stalled("enforced", "PolicyDenied")
    assert "--policy-mode enforce" in stalled_message(obj) and ns.name in stalled_message(obj)
    calls = target.calls()
    assert not [op for op in calls if op.startswith(("lambda:", "ec2:"))], calls

    # A policy selecting the namespace by its name label (set by the API server) lets it through.
    make_policy("byname", {"matchLabels": {"kubernetes.io/metadata.name": ns.name}}, functions=[function])
    ns.wait_ready("enforced")


@pytest.mark.simulator
def test_namespace_label_removed_denies(
    target: Target, enforced_ns: Namespace, make_policy: Callable[..., str]
) -> None:
    ns = enforced_ns
    net = target.network
    make_policy("label", tenant(target, ns))
    function = target.make_function("label")
    ns.create("labelled", function, net.subnets[:2], [net.app_sg])
    ns.wait_ready("labelled")

    target.core.patch_namespace(ns.name, {"metadata": {"labels": {TENANT_LABEL: None}}})

    obj = ns.wait_stalled("labelled", "PolicyDenied")
    assert "no LambdaVpcPolicy selects namespace" in stalled_message(obj)
    assert target.vpc(function).subnet_ids == set(net.subnets[:2])  # left attached


# -- ownership -----------------------------------------------------------------------------------


@pytest.mark.simulator
def test_ownership_conflict_across_namespaces(target: Target, make_namespace: Callable[[], Namespace]) -> None:
    net = target.network
    function = target.make_function("owned")
    first, second = make_namespace(), make_namespace()
    first.create("owner", function, net.subnets[:2], [net.app_sg], deletionPolicy="Retain")
    first.wait_ready("owner")
    target.wait_owner_tag(function, target.owner_tag(first, "owner"))
    owned = target.configuration(function)
    target.reset_calls()

    second.create("taker", function, [net.subnets[2]], [net.db_sg], adoption="Adopt")

    obj = second.wait_stalled("taker", "OwnedElsewhere")
    assert f"{first.name}/owner" in stalled_message(obj) and OWNER_TAG in stalled_message(obj)
    assert writes(target) == {}, target.calls()
    assert target.configuration(function)["RevisionId"] == owned["RevisionId"]
    assert condition(first.get("owner"), "Ready")["status"] == "True"

    # The owner goes (Retain: the function stays attached, its owner tag goes): the other attachment
    # asked to adopt a function in a VPC, so it takes the function over at its next look.
    first.delete("owner")
    first.wait_gone("owner")
    obj = second.wait_ready("taker", timeout=30)
    assert tags_of(target, function)[OWNER_TAG] == target.owner_tag(second, "taker")
    assert target.vpc(function).subnet_ids == {net.subnets[2]}
    claim = obj["status"]["ownership"]
    assert claim["adopted"] is True and "previousOwner" not in claim  # the released tag was removed
    assert set(claim["previousVpcConfig"]["subnetIds"]) == set(net.subnets[:2])


@pytest.mark.simulator
def test_a_function_in_a_vpc_is_not_adopted_unless_asked(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("refuse")
    target.set_vpc_out_of_band(function, net.subnets[:2], [net.app_sg])
    before = target.wait_active(function)
    target.reset_calls()

    ns.create("refused", function, [net.subnets[2]], [net.db_sg])

    obj = ns.wait_stalled("refused", "NotAdopted")
    message = stalled_message(obj)
    assert net.vpc_id in message and net.subnets[0] in message and "spec.adoption: Adopt" in message, message
    assert writes(target) == {}, target.calls()
    assert target.configuration(function)["RevisionId"] == before["RevisionId"]
    assert OWNER_TAG not in tags_of(target, function)
    assert "ownership" not in obj.get("status", {})
    # Deleting it (deletionPolicy Detach, the default) leaves the function it never took as it is.
    ns.delete("refused")
    ns.wait_gone("refused")
    assert writes(target) == {}, target.calls()
    assert target.vpc(function).subnet_ids == set(net.subnets[:2])


@pytest.mark.simulator
def test_adoption_records_the_old_configuration_and_restore_puts_it_back(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("restore")
    target.set_vpc_out_of_band(function, net.subnets[:2], [net.app_sg])
    target.wait_active(function)

    ns.create("adopted", function, [net.subnets[2]], [net.db_sg], adoption="Adopt", deletionPolicy="Restore")
    obj = ns.wait_ready("adopted")
    assert target.vpc(function).subnet_ids == {net.subnets[2]}
    claim = obj["status"]["ownership"]
    assert claim["functionArn"] == target.function_arn(function) and claim["adopted"] is True
    assert claim["ownerTag"] == target.owner_tag(ns, "adopted") == tags_of(target, function)[OWNER_TAG]
    assert set(claim["previousVpcConfig"]["subnetIds"]) == set(net.subnets[:2])
    assert claim["previousVpcConfig"]["securityGroupIds"] == [net.app_sg]

    ns.delete("adopted")
    ns.wait_gone("adopted", timeout=30)

    vpc = target.vpc(function)
    assert (vpc.subnet_ids, vpc.security_group_ids) == (set(net.subnets[:2]), {net.app_sg})


@pytest.mark.simulator
def test_a_function_of_another_cluster_is_never_taken(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("foreign")
    foreign = f"another-cluster/{ns.name}/owner"
    target.lambda_.tag_resource(Resource=target.function_arn(function), Tags={OWNER_TAG: foreign})
    target.reset_calls()

    ns.create("taker", function, net.subnets[:2], [net.app_sg], adoption="Adopt")

    obj = ns.wait_stalled("taker", "OwnedElsewhere")
    assert "cluster another-cluster" in stalled_message(obj), stalled_message(obj)
    assert writes(target) == {}, target.calls()
    assert tags_of(target, function)[OWNER_TAG] == foreign
    # Deleting it leaves the other cluster's function alone.
    ns.delete("taker")
    ns.wait_gone("taker")
    assert target.vpc(function).detached and tags_of(target, function)[OWNER_TAG] == foreign


@pytest.mark.simulator
def test_adoption_without_an_update(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("adopt")
    target.set_vpc_out_of_band(function, net.subnets[:2], [net.app_sg])
    wait_for(lambda: target.wait_active(function), target.timeout(30), what=f"{function} attached out of band")
    before = target.configuration(function)
    target.reset_calls()

    ns.create("adopt", function, net.subnets[:2], [net.app_sg], adoption="Adopt")

    ns.wait_ready("adopt")
    calls = target.calls()
    assert calls["lambda:UpdateFunctionConfiguration"] == 0 and calls["lambda:TagResource"] == 1, calls
    assert tags_of(target, function)[OWNER_TAG] == target.owner_tag(ns, "adopt")
    assert target.configuration(function)["RevisionId"] == before["RevisionId"]


def test_function_name_and_region_are_immutable(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("immutable")
    ns.create("fixed", function, net.subnets[:2], [net.app_sg])
    ns.wait_ready("fixed")

    refused = target.kubectl(
        "patch", "lva", "fixed", "-n", ns.name, "--type=merge", "-p", '{"spec": {"functionName": "another"}}'
    )

    assert refused.returncode != 0 and "functionName is immutable" in refused.stderr, refused.stderr
    refused = target.kubectl(
        "patch", "lva", "fixed", "-n", ns.name, "--type=merge", "-p", f'{{"spec": {{"region": "{target.region}"}}}}'
    )
    assert refused.returncode != 0 and "region is immutable" in refused.stderr, refused.stderr


def _without_cel_rules(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_cel_rules(v) for k, v in node.items() if k != "x-kubernetes-validations"}
    if isinstance(node, list):
        return [_without_cel_rules(v) for v in node]
    return node


@pytest.mark.simulator
def test_release_acts_on_the_claimed_function_even_if_the_spec_changed(target: Target, ns: Namespace) -> None:
    """An API server without the CRD's CEL rules (an older CRD) lets functionName change: the
    attachment stalls naming the function it manages, and deleting it detaches that one."""
    from lambda_vpc_operator.models import crds

    net = target.network
    first, second = target.make_function("claimed"), target.make_function("renamed")
    ns.create("moved", first, net.subnets[:2], [net.app_sg])
    ns.wait_ready("moved")
    api = kubernetes.client.ApiextensionsV1Api(target.api)
    crd = crds.attachment_crd()
    name = crd["metadata"]["name"]

    def replace(body: dict[str, Any]) -> None:
        current = api.read_custom_resource_definition(name)
        api.replace_custom_resource_definition(
            name, {**body, "metadata": {**body["metadata"], "resourceVersion": current.metadata.resource_version}}
        )

    replace(_without_cel_rules(crd))
    try:
        ns.patch_spec("moved", functionName=second)
    finally:
        replace(crd)

    obj = ns.wait_stalled("moved", "InvalidSpec")
    assert target.function_arn(first) in stalled_message(obj), stalled_message(obj)
    assert target.vpc(second).detached and tags_of(target, second).get(OWNER_TAG) is None
    ns.delete("moved")
    ns.wait_gone("moved", timeout=30)
    assert target.vpc(first).detached
