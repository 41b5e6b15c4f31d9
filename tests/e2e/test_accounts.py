"""Functions in another account: spec.roleArn, the policy's roleArns and defaultRoleArn, AssumeRoleFailed.

The simulator's second account (``lambda_vpc_sandbox.aws.partners``, seeded by conftest) has a role
trusting the operator's own role and holding docs/iam-policy.json, and one trusting another account
only. The session operator runs with ``--policy-mode allow-all``; each test's policy selects its own
namespace by a label, so it decides for that namespace alone (a policy that selects a namespace
allows no role it does not list).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import Namespace, Target, condition, policies_made, unique_name, wait_for
from lambda_vpc_sandbox.aws.partners import admin_session

pytestmark = pytest.mark.e2e

TENANT_LABEL = "e2e.lambdavpc.dev/tenant"


@pytest.fixture
def partner(target: Target) -> Any:
    if target.partner is None:
        pytest.skip("needs the simulator's second account")
    return target.partner


@pytest.fixture
def partner_lambda(target: Target, partner: Any) -> Any:
    """A Lambda client in the second account (through its administrator role)."""
    endpoint = target.operator_env["AWS_ENDPOINT_URL"]
    return admin_session(endpoint, partner.admin_role_arn, target.region).client("lambda", endpoint_url=endpoint)


@pytest.fixture
def make_policy(target: Target) -> Iterator[Callable[..., str]]:
    """A policy selecting exactly ``ns`` (labelled for it) with ``spec``."""
    with policies_made(target) as make:

        def make_for(ns: Namespace, **spec: Any) -> str:
            target.core.patch_namespace(ns.name, {"metadata": {"labels": {TENANT_LABEL: ns.name}}})
            return make("accounts", {"matchLabels": {TENANT_LABEL: ns.name}}, **spec)

        yield make_for


def make_partner_function(target: Target, partner: Any, lam: Any, name: str | None = None) -> str:
    """A detached function in the second account (``name``: the same name as one of the first's)."""
    name = name or unique_name("e2e-partner", 64)
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=partner.execution_role_arn, Handler="lambda_function.handler",
        Code={"ZipFile": target.zip_file}, Tags={"project": "lambda-vpc-operator-e2e"},
    )  # fmt: skip

    def active() -> bool:
        config = lam.get_function(FunctionName=name)["Configuration"]
        return config.get("State") == "Active" and config.get("LastUpdateStatus") in (None, "Successful")

    wait_for(active, target.timeout(30), 0.1, what=f"{name} Active in the second account")
    return name


def partner_network(partner: Any) -> tuple[list[str], list[str]]:
    return [partner.private_subnet_a_id, partner.private_subnet_b_id], [partner.app_sg_id]


def subnets_of(lam: Any, name: str) -> set[str]:
    vpc = lam.get_function(FunctionName=name)["Configuration"].get("VpcConfig") or {}
    return set(vpc.get("SubnetIds") or ())


def test_an_attachment_in_a_second_account_through_its_role(
    target: Target, make_policy: Callable[..., str], ns: Namespace, partner: Any, partner_lambda: Any
) -> None:
    # The same function name in both accounts: only the role's account's function may change.
    name = target.make_function("xacct")
    make_partner_function(target, partner, partner_lambda, name)
    make_policy(ns, roleArns=["arn:aws:iam::*:role/lambda-vpc-operator-t*"])
    subnets, groups = partner_network(partner)
    ns.create("xacct", name, subnets, groups, roleArn=partner.target_role_arn)
    obj = ns.wait_ready("xacct")
    assert f":{partner.account_id}:function:{name}" in obj["status"]["functionArn"]
    assert subnets_of(partner_lambda, name) == set(subnets)
    assert target.vpc(name).detached, "the operator's own account's function of that name was changed"
    # The deletion goes through the role too: the function in the second account is detached.
    ns.delete("xacct")
    wait_for(lambda: not subnets_of(partner_lambda, name), target.timeout(30), 0.2, what="detached in the partner")


def test_a_role_the_policy_does_not_allow_is_denied(
    target: Target, make_policy: Callable[..., str], ns: Namespace, partner: Any, partner_lambda: Any
) -> None:
    name = make_partner_function(target, partner, partner_lambda)
    policy = make_policy(ns, roleArns=["arn:aws:iam::*:role/someone-else"])
    subnets, groups = partner_network(partner)
    ns.create("denied", name, subnets, groups, roleArn=partner.target_role_arn)
    obj = ns.wait_stalled("denied", "PolicyDenied")
    message = condition(obj, "Stalled")["message"]
    assert partner.target_role_arn in message and "spec.roleArn" in message and policy in message
    assert not subnets_of(partner_lambda, name)


def test_the_policy_default_role_is_used(
    target: Target, make_policy: Callable[..., str], ns: Namespace, partner: Any, partner_lambda: Any
) -> None:
    """No roleArn in the spec: the namespace's policy maps it to an account (defaultRoleArn)."""
    name = make_partner_function(target, partner, partner_lambda)
    make_policy(ns, defaultRoleArn=partner.target_role_arn)
    subnets, groups = partner_network(partner)
    ns.create("defaulted", name, subnets, groups)
    obj = ns.wait_ready("defaulted")
    assert f":{partner.account_id}:function:{name}" in obj["status"]["functionArn"]
    assert subnets_of(partner_lambda, name) == set(subnets)


def test_a_trust_policy_not_naming_the_operator_stalls(
    target: Target, make_policy: Callable[..., str], ns: Namespace, partner: Any, partner_lambda: Any
) -> None:
    name = make_partner_function(target, partner, partner_lambda)
    make_policy(ns, roleArns=[partner.untrusting_role_arn])
    subnets, groups = partner_network(partner)
    ns.create("untrusted", name, subnets, groups, roleArn=partner.untrusting_role_arn)
    obj = ns.wait_stalled("untrusted", "AssumeRoleFailed")
    message = condition(obj, "Stalled")["message"]
    assert partner.untrusting_role_arn in message and "AccessDenied" in message and "trust policy" in message
    assert condition(obj, "Ready")["reason"] == "AssumeRoleFailed"
    assert not subnets_of(partner_lambda, name)


# -- roles STS refuses (issue 12 part 2) ---------------------------------------------------------
# aws-facts "Trust policies": a role that does not exist, one whose trust policy does not name the
# caller, and an ExternalId that does not match its sts:ExternalId condition all get the same
# AccessDenied; the simulator refuses them as AWS does (sandbox/lambda_vpc_sandbox/aws/trust.py).


def next_seq(sim: Any) -> int:
    """The journal's sequence number of the next request."""
    writes = sim.journal(writes_only=True)
    recent = sim.journal(since=int(writes[-1]["seq"]) if writes else 0)  # short: since the last write
    return int(recent[-1]["seq"]) + 1 if recent else 0


def operator_requests(sim: Any, since: int, function: str | None = None) -> list[dict[str, Any]]:
    """The operator's requests since ``since`` (naming ``function``, if given)."""
    return [e for e in sim.journal(since) if e.get("operator") and (function is None or e.get("function") == function)]


def assert_refused(obj: dict[str, Any], role: str) -> None:
    """Stalled AssumeRoleFailed with AWS' own message (its code and text) and the way out."""
    message = condition(obj, "Stalled")["message"]
    assert f"sts:AssumeRole of {role} was refused (AccessDenied: " in message, message
    assert f"is not authorized to perform: sts:AssumeRole on resource: {role}" in message, message  # AWS' text
    assert "trust policy" in message and "spec.externalId" in message, message
    assert "Retrying in 60s" in message, message  # slowly: a human fixes a role, not a retry
    assert condition(obj, "Ready")["reason"] == "AssumeRoleFailed"


@pytest.mark.simulator
def test_a_role_that_does_not_exist_stalls_with_aws_message_and_writes_nothing(
    target: Target, make_policy: Callable[..., str], ns: Namespace, partner: Any, partner_lambda: Any
) -> None:
    sim = target.sim
    assert sim is not None
    name = make_partner_function(target, partner, partner_lambda)
    missing = f"arn:aws:iam::{partner.account_id}:role/lambda-vpc-operator-never-created"
    make_policy(ns, roleArns=[missing])
    subnets, groups = partner_network(partner)
    since = next_seq(sim)
    ns.create("missing", name, subnets, groups, roleArn=missing)

    obj = ns.wait_stalled("missing", "AssumeRoleFailed")
    assert_refused(obj, missing)
    assert ns.wait_event("missing", "Stalled").type == "Warning"
    # Nothing reached the function: no write, not even a read (there are no credentials to read with).
    assert operator_requests(sim, since, name) == [], operator_requests(sim, since, name)
    refused = [e for e in operator_requests(sim, since) if e["operation"] == "sts:AssumeRole"]
    assert refused and all(e["status"] == 403 for e in refused), refused
    assert len(refused) <= 2, refused  # no hot loop: the next try is a minute away
    assert not subnets_of(partner_lambda, name)


@pytest.mark.simulator
def test_an_external_id_the_trust_policy_requires_stalls_until_the_spec_gives_it(
    target: Target, make_policy: Callable[..., str], ns: Namespace, partner: Any, partner_lambda: Any
) -> None:
    from lambda_vpc_sandbox.aws.partners import EXTERNAL_ID

    sim = target.sim
    assert sim is not None
    name = make_partner_function(target, partner, partner_lambda)
    role = partner.external_id_role_arn
    make_policy(ns, roleArns=[role])
    subnets, groups = partner_network(partner)
    since = next_seq(sim)

    # No externalId: refused as a missing role would be.
    ns.create("extid", name, subnets, groups, roleArn=role)
    assert_refused(ns.wait_stalled("extid", "AssumeRoleFailed"), role)
    # A wrong one: refused too.
    ns.patch_spec("extid", externalId="not-the-agreed-one")
    assert_refused(ns.wait_stalled("extid", "AssumeRoleFailed"), role)
    assert operator_requests(sim, since, name) == [], operator_requests(sim, since, name)
    assert not subnets_of(partner_lambda, name)

    # The one the trust policy names: assumed, attached in the role's account, Ready.
    ns.patch_spec("extid", externalId=EXTERNAL_ID)
    obj = ns.wait_ready("extid")
    assert condition(obj, "Stalled") == {} or condition(obj, "Stalled")["status"] == "False", obj["status"]
    assert f":{partner.account_id}:function:{name}" in obj["status"]["functionArn"]
    assert subnets_of(partner_lambda, name) == set(subnets)
    writes = [e for e in operator_requests(sim, since, name) if e.get("write")]
    assert [e["operation"] for e in writes if e["operation"] == "lambda:UpdateFunctionConfiguration"] == [
        "lambda:UpdateFunctionConfiguration"
    ], writes
    assert all(e["status"] < 400 for e in writes), writes
