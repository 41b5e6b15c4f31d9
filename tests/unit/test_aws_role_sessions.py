"""Other accounts: session names, role globs and defaultRoleArn, AssumeRoleFailed, the role session pool."""

from __future__ import annotations

import asyncio
import datetime
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import exceptions as botocore_exceptions
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from lambda_vpc_operator.aws import AwsGateway, accounts, budgets, clients, errors, observer
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.policies import PolicyMode, PolicySpec
from lambda_vpc_operator.planner import accounts as account_planning
from lambda_vpc_operator.planner import planning, statements
from lambda_vpc_operator.planner.conditions import ConditionType, Reason
from lambda_vpc_operator.planner.plans import Outcome
from lambda_vpc_operator.planner.policies import Decision, Policy, PolicySet, Request, evaluate, role_for, role_matches

ROLE = "arn:aws:iam::222222222222:role/lambda-vpc-operator-target"
OTHER_ROLE = "arn:aws:iam::333333333333:role/lambda-vpc-operator-target"
# botocore sts model, AssumeRole.RoleSessionName: 2 to 64 of [\w+=,.@-].
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$", re.ASCII)


# -- session names -------------------------------------------------------------------------------


def test_a_session_name_names_the_namespace() -> None:
    assert accounts.session_name("team-a") == "lvo.team-a"
    assert SESSION_NAME.match(accounts.session_name("a"))  # AWS wants 2 characters at least


def test_a_long_session_name_is_cut_to_64_and_stays_unique() -> None:
    first = accounts.session_name("n" * 63)  # the longest DNS label
    second = accounts.session_name("n" * 62 + "m")
    assert len(first) == len(second) == 64
    assert first != second
    assert first.startswith("lvo." + "n" * 40)
    assert SESSION_NAME.match(first) and SESSION_NAME.match(second)


def test_session_names_keep_to_aws_alphabet() -> None:
    # Kubernetes names are already in it; anything else (a future, laxer name) is replaced.
    name = accounts.session_name("we!rd name/ü")
    assert SESSION_NAME.match(name), name


def test_the_account_of_a_role() -> None:
    assert accounts.account_of(ROLE) == "222222222222"
    assert accounts.account_of("arn:aws-cn:iam::111111111111:role/path/x") == "111111111111"
    with pytest.raises(ValueError):
        accounts.account_of("arn:aws:iam::222222222222:user/x")


# -- the policy: roleArns and defaultRoleArn -----------------------------------------------------


def policy(name: str = "team-a", **spec: Any) -> Policy:
    spec.setdefault("namespaceSelector", {})
    return Policy(name, PolicySpec.model_validate(spec))


def request(role: str | None, field: str = "spec.roleArn") -> Request:
    return Request(
        namespace="team-a", function_name="orders", function_arn=None, subnet_ids=frozenset({"subnet-a"}),
        security_group_ids=frozenset({"sg-1"}), role_arn=role, role_field=field,
    )  # fmt: skip


def test_role_globs() -> None:
    assert role_matches(["arn:aws:iam::222222222222:role/lambda-vpc-operator-*"], ROLE)
    assert role_matches(["arn:aws:iam::*:role/lambda-vpc-operator-target"], OTHER_ROLE)
    assert not role_matches(["arn:aws:iam::222222222222:role/other-*"], ROLE)
    assert not role_matches([], ROLE)


def test_a_role_listed_in_role_arns_is_allowed() -> None:
    rules = PolicySet((policy(roleArns=["arn:aws:iam::222222222222:role/*"]),))
    assert evaluate(request(ROLE), rules).outcome == Decision.ALLOWED


def test_a_role_outside_role_arns_is_denied_naming_role_and_field() -> None:
    rules = PolicySet((policy(roleArns=["arn:aws:iam::222222222222:role/*"]),))
    verdict = evaluate(request(OTHER_ROLE), rules)
    assert verdict.outcome == Decision.DENIED
    assert OTHER_ROLE in verdict.message and "spec.roleArn" in verdict.message and "spec.roleArns" in verdict.message


def test_a_policy_without_role_arns_allows_no_role() -> None:
    rules = PolicySet((policy(functions=["*"]),))
    verdict = evaluate(request(ROLE), rules)
    assert verdict.outcome == Decision.DENIED and "no spec.roleArns" in verdict.message
    # ...and the operator's own identity as before.
    assert evaluate(request(None), rules).outcome == Decision.ALLOWED


def test_without_a_policy_no_role_is_allowed_even_in_allow_all() -> None:
    # allow-all opens the operator's own account to unselected namespaces; a role a tenant names
    # would open every account that role reaches (a confused deputy): it needs a policy.
    assert evaluate(request(ROLE), PolicySet()).outcome == Decision.DENIED
    verdict = evaluate(request(ROLE), PolicySet(mode=PolicyMode.ALLOW_ALL))
    assert verdict.outcome == Decision.DENIED
    assert ROLE in verdict.message and "spec.roleArns" in verdict.message and "allow-all" in verdict.message
    assert evaluate(request(None), PolicySet(mode=PolicyMode.ALLOW_ALL)).outcome == Decision.ALLOWED


def test_the_default_role_is_used_when_the_spec_names_none_and_is_allowed_by_its_policy() -> None:
    rules = PolicySet((policy("b-second", defaultRoleArn=OTHER_ROLE), policy("a-first", defaultRoleArn=ROLE)))
    choice = role_for(None, "team-a", rules)
    assert choice.arn == ROLE and "LambdaVpcPolicy a-first" in choice.field  # the first by name
    assert evaluate(request(choice.arn, choice.field), rules).outcome == Decision.ALLOWED
    # The spec's own role wins over the default.
    assert role_for(OTHER_ROLE, "team-a", rules).arn == OTHER_ROLE
    assert role_for(None, "team-a", PolicySet()).arn is None


def test_a_default_role_of_a_policy_that_does_not_select_the_namespace_is_not_used() -> None:
    rules = PolicySet((policy(namespaceSelector={"matchLabels": {"team": "b"}}, defaultRoleArn=ROLE),))
    assert role_for(None, "team-a", rules).arn is None


def test_the_policy_crd_refuses_a_default_role_that_is_not_a_role() -> None:
    with pytest.raises(ValueError):
        PolicySpec.model_validate({"namespaceSelector": {}, "defaultRoleArn": "arn:aws:iam::1:user/x"})


# -- AssumeRoleFailed ----------------------------------------------------------------------------

REFUSED = Failure(FailureKind.ASSUME_ROLE, "AccessDenied", f"not authorized to perform: sts:AssumeRole on {ROLE}")


def test_a_refused_assume_role_stalls_naming_the_role_and_aws_message() -> None:
    plan = account_planning.plan_assume_failure(ROLE, REFUSED, (), 0)
    assert plan.outcome == Outcome.STALLED and plan.action is None
    by_type = {c.type: c for c in plan.conditions or ()}
    stalled = by_type[ConditionType.STALLED]
    assert stalled.reason == Reason.ASSUME_ROLE_FAILED == by_type[ConditionType.READY].reason
    assert ROLE in stalled.message and "AccessDenied" in stalled.message and "trust policy" in stalled.message
    assert [(e.reason, e.message.split(":")[0]) for e in plan.events] == [("Stalled", Reason.ASSUME_ROLE_FAILED)]
    # Reported again: no second Event.
    stored = [{"type": "Stalled", "status": "True", "reason": Reason.ASSUME_ROLE_FAILED}]
    assert account_planning.plan_assume_failure(ROLE, REFUSED, stored, 1).events == ()


def test_a_refused_assume_role_is_retried_slowly() -> None:
    delays = [account_planning.plan_assume_failure(ROLE, REFUSED, (), n).requeue_after for n in range(12)]
    assert delays[0] == account_planning.FIRST_RETRY
    assert all(d is not None and 60.0 <= d <= 300.0 for d in delays)
    assert delays == sorted(delays)  # never faster after more refusals


def test_assume_role_refused_mid_look_stalls_too() -> None:
    plan = planning._failure_stall(REFUSED, "orders")
    assert plan.outcome == Outcome.STALLED and plan.requeue_after
    assert {c.reason for c in plan.conditions or ()} == {Reason.ASSUME_ROLE_FAILED}


def test_sts_refusals_translate_to_assume_role_failed() -> None:
    for code in ("AccessDenied", "InvalidParameterValue"):
        exc = botocore_exceptions.ClientError({"Error": {"Code": code, "Message": "no"}}, "AssumeRole")
        translated = errors.translate(exc)
        assert isinstance(translated, errors.AssumeRoleFailed)
        assert translated.failure.kind == FailureKind.ASSUME_ROLE and not translated.failure.transient
    throttled = botocore_exceptions.ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "AssumeRole")
    assert isinstance(errors.translate(throttled), errors.Throttled)  # STS away: transient, not the role
    other = botocore_exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetFunction")
    assert type(errors.translate(other)) is errors.AccessDenied


# -- the pool of role sessions -------------------------------------------------------------------


def home() -> clients.AwsClients:
    session = boto3.Session(aws_access_key_id="home", aws_secret_access_key="home", region_name="us-east-1")
    return clients.AwsClients("us-east-1", session=session)


class Built:
    """What AwsGateway.create gives the pool: a session's gateway, with the account's observer."""

    def __init__(self, session: boto3.Session, request_budgets: budgets.RequestBudgets, shared: Any) -> None:
        self.session = session
        self.budgets = request_budgets
        self.observer = type("Through", (), {"shared": shared if shared is not None else object()})()


def credentials(key: str) -> dict[str, Any]:
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    return {"Credentials": {"AccessKeyId": key, "SecretAccessKey": "s", "SessionToken": "t", "Expiration": expiry}}


async def test_one_assume_role_per_session_clients_built_once_budgets_per_account() -> None:
    aws = home()
    pool = accounts.Accounts(aws, Built)
    first = accounts.RoleSession(ROLE, "ext-1", accounts.session_name("team-a"))
    second = accounts.RoleSession(ROLE, None, accounts.session_name("team-b"))
    other = accounts.RoleSession(OTHER_ROLE, None, accounts.session_name("team-a"))
    with Stubber(aws.sts()) as sts:
        sts.add_response("assume_role", credentials("ASIAFIRSTEXAMPLE0"), {
            "RoleArn": ROLE, "RoleSessionName": "lvo.team-a", "ExternalId": "ext-1",
            "DurationSeconds": accounts.DURATION_SECONDS,
        })  # fmt: skip
        gateway = await pool.assume(first)
        assert await pool.assume(first) is gateway  # cached: no second AssumeRole (the Stubber would refuse it)
        assert gateway.session.get_credentials().get_frozen_credentials().access_key == "ASIAFIRSTEXAMPLE0"
        sts.assert_no_pending_responses()
    assert pool.gateway(first) is gateway  # every attachment of team-a naming the role: one session
    assert pool.gateway(second) is not gateway
    assert pool.gateway(second).budgets is gateway.budgets  # one account, one budget
    assert pool.gateway(second).observer.shared is gateway.observer.shared  # and one observer
    assert pool.gateway(other).budgets is not gateway.budgets
    assert pool.gateway(other).observer.shared is not gateway.observer.shared


async def test_a_refused_assume_role_raises_assume_role_failed_and_is_asked_again() -> None:
    aws = home()
    pool = accounts.Accounts(aws, Built)
    role = accounts.RoleSession(ROLE, None, "team-a.orders")
    with Stubber(aws.sts()) as sts:
        sts.add_client_error("assume_role", "AccessDenied", f"not authorized to perform: sts:AssumeRole on {ROLE}", 403)
        with pytest.raises(errors.AssumeRoleFailed) as caught:
            await pool.assume(role)
        assert ROLE in caught.value.failure.message
        sts.add_response("assume_role", credentials("ASIALATEREXAMPLE0"))
        gateway = await pool.assume(role)  # fixed since: the next look assumes it
        assert gateway.session.get_credentials().get_frozen_credentials().access_key == "ASIALATEREXAMPLE0"


def test_role_sessions_of_one_account_share_its_observer() -> None:
    # A sweep per session would list the role account once per namespace naming a role of it.
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="eu-west-1")
    own = AwsGateway.create("eu-west-1", session=session)
    assert isinstance(own.observer, observer.SweepingObserver) and own.accounts is not None
    first = own.accounts.gateway(accounts.RoleSession(ROLE, None, accounts.session_name("team-a")))
    second = own.accounts.gateway(accounts.RoleSession(ROLE, None, accounts.session_name("team-b")))
    assert isinstance(first.observer, observer.Through) and first.accounts is None
    assert first.observer.shared is second.observer.shared is not own.observer
    # Each asks with its own clients (its own credentials), and its writes reach the shared observer.
    assert first.observer.functions is first.functions and second.observer.functions is second.functions
    assert first.observer.shared.wrote in second.functions.listeners


def test_the_pool_drops_the_least_recently_used_session() -> None:
    pool = accounts.Accounts(home(), Built, max_sessions=2)
    sessions = [accounts.RoleSession(ROLE, None, f"team-a.n{i}") for i in range(3)]
    first = pool.gateway(sessions[0])
    pool.gateway(sessions[1])
    assert pool.gateway(sessions[0]) is first  # used again: kept
    pool.gateway(sessions[2])
    assert pool.gateway(sessions[0]) is first
    assert pool.gateway(sessions[1]) is not None  # dropped, then built again


# -- policy iam: the trust policy of a target role -----------------------------------------------


def test_the_trust_policy_names_the_operator_and_the_external_id() -> None:
    operator = "arn:aws:iam::123456789012:role/lambda-vpc-operator"
    document = statements.trust_policy(operator, ["ext-1"])
    (allow,) = document["Statement"]
    assert allow["Principal"] == {"AWS": operator} and allow["Action"] == "sts:AssumeRole"
    assert allow["Condition"] == {"StringEquals": {"sts:ExternalId": "ext-1"}}
    assert "Condition" not in statements.trust_policy(operator)["Statement"][0]


def test_the_roles_of_policies() -> None:
    spec = PolicySpec.model_validate({
        "namespaceSelector": {}, "defaultRoleArn": ROLE, "roleArns": [OTHER_ROLE, "arn:aws:iam::*:role/team-*"],
    })  # fmt: skip
    assert statements.roles_of([("p", spec)]) == ([ROLE, OTHER_ROLE], ["arn:aws:iam::*:role/team-*"])


# -- the reconciler's account step ---------------------------------------------------------------


def reconciler_and_sts() -> tuple[Any, Any]:
    from lambda_vpc_operator.aws import AwsGateway
    from lambda_vpc_operator.models.settings import OperatorSettings
    from lambda_vpc_operator.reconciliation.reconciler import Reconciler

    session = boto3.Session(aws_access_key_id="home", aws_secret_access_key="home", region_name="us-east-1")
    gateway = AwsGateway.create("us-east-1", session=session)
    return Reconciler(gateway, OperatorSettings()), gateway.clients.sts()


async def account_step(spec: dict[str, Any], rules: PolicySet, status: dict[str, Any] | None = None) -> Any:
    from lambda_vpc_operator.reconciliation import guarding
    from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
    from lambda_vpc_operator.reconciliation.reconciler import AttachmentView

    reconciler, sts = reconciler_and_sts()
    spec = {"functionName": "orders", "subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"], **spec}
    view = AttachmentView("team-a", "orders", 1, spec, status or {})
    parsed, ref = reconciler.parse(view)
    with Stubber(sts) as stub:
        stub.add_client_error("assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole", 403)
        target, plan = await reconciler._account(
            view, parsed, ref, AttachmentMemory(), status or {}, guarding.Context(rules)
        )
        try:
            stub.assert_no_pending_responses()  # the refusal was consumed: AssumeRole was sent
            assumed = True
        except AssertionError:
            assumed = False
    return reconciler, target, plan, assumed


async def test_without_a_role_the_look_stays_in_the_operators_account() -> None:
    reconciler, target, plan, assumed = await account_step({}, PolicySet(mode=PolicyMode.ALLOW_ALL))
    assert target is reconciler and plan is None and not assumed


async def test_a_role_the_policy_denies_is_never_assumed() -> None:
    rules = PolicySet((policy(roleArns=[OTHER_ROLE]),))
    _, target, plan, assumed = await account_step({"roleArn": ROLE}, rules)
    assert target is None and not assumed
    stalled = {c.type: c for c in plan.conditions}[ConditionType.STALLED]
    assert stalled.reason == Reason.POLICY_DENIED and ROLE in stalled.message and "spec.roleArn" in stalled.message


async def test_a_refused_role_stalls_assume_role_failed() -> None:
    rules = PolicySet((policy(defaultRoleArn=ROLE),))
    _, target, plan, assumed = await account_step({}, rules)
    assert target is None and assumed
    assert {c.reason for c in plan.conditions} == {Reason.ASSUME_ROLE_FAILED}


async def test_a_role_in_another_account_than_the_claimed_function_is_refused() -> None:
    status = {"ownership": {"functionArn": "arn:aws:lambda:us-east-1:333333333333:function:orders"}}
    _, target, plan, assumed = await account_step({"roleArn": ROLE}, PolicySet((policy(roleArns=[ROLE]),)), status)
    assert target is None and not assumed
    assert {c.reason for c in plan.conditions} == {Reason.INVALID_SPEC}


# -- refreshing a role session's credentials -----------------------------------------------------
# botocore refreshes RefreshableCredentials 15 minutes before they expire (advisory: a failure keeps
# the old ones) and at the latest 10 minutes before (mandatory: a failure is raised). Through the
# pool's public API: the session's clients, built once, sign with the new credentials.


class _Body:
    """The raw body of a canned HTTP answer (what botocore's AWSResponse reads)."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def signing_keys(client: Any) -> list[str]:
    """Answer every request of ``client`` with an empty ListFunctions page, without the network, and
    record the access key each was signed with (SigV4's ``Credential=<key>/...``)."""
    keys: list[str] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        authorization = request.headers["Authorization"]
        authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
        keys.append(authorization.split("Credential=", 1)[1].split("/", 1)[0])
        return AWSResponse(request.url, 200, {}, _Body(b'{"Functions": []}'))

    client.meta.events.register("before-send.lambda", answer)
    return keys


def expiring(key: str, seconds: float) -> dict[str, Any]:
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
    return {"Credentials": {"AccessKeyId": key, "SecretAccessKey": "s", "SessionToken": "t", "Expiration": expiry}}


async def test_credentials_near_expiry_are_assumed_again_and_the_same_clients_sign_with_them() -> None:
    aws = home()
    pool = accounts.Accounts(aws, Built)
    role = accounts.RoleSession(ROLE, "ext-1", "team-a.orders")
    expected = {"RoleArn": ROLE, "RoleSessionName": "team-a.orders", "ExternalId": "ext-1",
                "DurationSeconds": accounts.DURATION_SECONDS}  # fmt: skip
    with Stubber(aws.sts()) as sts:
        # Two seconds short of botocore's advisory window (15 minutes before expiry).
        sts.add_response("assume_role", expiring("ASIAFIRSTEXAMPLE0", 15 * 60 + 2), expected)
        gateway = await pool.assume(role)
        client = gateway.session.client("lambda")
        keys = signing_keys(client)
        client.list_functions()
        assert keys == ["ASIAFIRSTEXAMPLE0"]
        sts.assert_no_pending_responses()

        # Once inside the window, the next request is signed with a second AssumeRole's credentials
        # (same role, external id and session name), by the same client of the same gateway.
        sts.add_response("assume_role", expiring("ASIASECONDEXAMPLE", 3600), expected)
        deadline = time.monotonic() + 10
        while keys[-1] == "ASIAFIRSTEXAMPLE0" and time.monotonic() < deadline:
            client.list_functions()
            await asyncio.sleep(0.05)
        assert keys[-1] == "ASIASECONDEXAMPLE", keys
        sts.assert_no_pending_responses()
        assert await pool.assume(role) is gateway  # nothing rebuilt; no third AssumeRole (the Stubber would refuse)
        client.list_functions()
        assert keys[-1] == "ASIASECONDEXAMPLE"


async def test_credentials_in_the_mandatory_window_are_refreshed_before_use_or_the_refusal_raised() -> None:
    aws = home()
    pool = accounts.Accounts(aws, Built)
    role = accounts.RoleSession(ROLE, None, "team-a.orders")
    with Stubber(aws.sts()) as sts:
        # Five minutes left: inside botocore's mandatory window (10 minutes) at once.
        sts.add_response("assume_role", expiring("ASIAFIRSTEXAMPLE0", 300))
        gateway = await pool.assume(role)
        client = gateway.session.client("lambda")
        keys = signing_keys(client)
        sts.add_response("assume_role", expiring("ASIASECONDEXAMPLE", 3600))
        client.list_functions()
        assert keys == ["ASIASECONDEXAMPLE"]  # never signed with credentials about to expire
        sts.assert_no_pending_responses()

    # A role whose trust policy changed since: the mandatory refresh is refused, and the look says so.
    role = accounts.RoleSession(ROLE, None, "team-a.billing")
    with Stubber(aws.sts()) as sts:
        sts.add_response("assume_role", expiring("ASIATHIRDEXAMPLE0", 300))
        gateway = await pool.assume(role)
        sts.add_client_error("assume_role", "AccessDenied", f"not authorized to perform: sts:AssumeRole on {ROLE}", 403)
        with pytest.raises(errors.AssumeRoleFailed) as caught:
            await pool.assume(role)
        assert ROLE in caught.value.failure.message
        sts.add_response("assume_role", expiring("ASIAFOURTHEXAMPLE", 3600))
        assert await pool.assume(role) is gateway  # fixed since: assumed again, the same gateway
        assert gateway.session.get_credentials().get_frozen_credentials().access_key == "ASIAFOURTHEXAMPLE"
