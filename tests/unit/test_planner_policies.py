"""planner.policies: namespace selection, function globs, id lists, both modes, several policies."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from lambda_vpc_operator.models.policies import LabelSelector, PolicyMode, PolicySpec
from lambda_vpc_operator.planner.policies import (
    Decision,
    Policy,
    PolicySet,
    Request,
    applicable,
    evaluate,
    function_matches,
    judge,
    needs_vpc,
    selects,
)

ACCOUNT = "123456789012"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:team-a-orders"


def policy(name: str = "team-a", **spec: Any) -> Policy:
    spec.setdefault("namespaceSelector", {})
    return Policy(name, PolicySpec.model_validate(spec))


def request(**overrides: Any) -> Request:
    values: dict[str, Any] = {
        "namespace": "team-a",
        "function_name": "team-a-orders",
        "function_arn": ARN,
        "subnet_ids": frozenset({"subnet-a", "subnet-b"}),
        "security_group_ids": frozenset({"sg-1"}),
        "vpc_ids": None,
    }
    values.update(overrides)
    return Request(**values)


def selector(**fields: Any) -> LabelSelector:
    return LabelSelector.model_validate(fields)


# --- label selectors ----------------------------------------------------------------------------

LABELS = {"team": "a", "tier": "prod"}


@pytest.mark.parametrize(
    ("fields", "selected"),
    [
        pytest.param({}, True, id="empty-selects-all"),
        pytest.param({"matchLabels": {"team": "a"}}, True, id="matchLabels-equal"),
        pytest.param({"matchLabels": {"team": "b"}}, False, id="matchLabels-different"),
        pytest.param({"matchLabels": {"team": "a", "tier": "dev"}}, False, id="matchLabels-all-must-hold"),
        pytest.param({"matchLabels": {"owner": "x"}}, False, id="matchLabels-missing-key"),
        pytest.param({"matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]}, True, id="In"),
        pytest.param({"matchExpressions": [{"key": "team", "operator": "In", "values": ["c"]}]}, False, id="In-no"),
        pytest.param({"matchExpressions": [{"key": "owner", "operator": "In", "values": ["a"]}]}, False,
                     id="In-missing-key"),
        pytest.param({"matchExpressions": [{"key": "team", "operator": "In", "values": []}]}, False,
                     id="In-without-values"),
        pytest.param({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["b"]}]}, True,
                     id="NotIn"),
        pytest.param({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]}, False,
                     id="NotIn-no"),
        pytest.param({"matchExpressions": [{"key": "owner", "operator": "NotIn", "values": ["a"]}]}, True,
                     id="NotIn-missing-key-matches"),
        pytest.param({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True, id="Exists"),
        pytest.param({"matchExpressions": [{"key": "owner", "operator": "Exists"}]}, False, id="Exists-no"),
        pytest.param({"matchExpressions": [{"key": "owner", "operator": "DoesNotExist"}]}, True, id="DoesNotExist"),
        pytest.param({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False,
                     id="DoesNotExist-no"),
        pytest.param(
            {"matchLabels": {"team": "a"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["dev"]}]},
            False, id="labels-and-expressions-both-must-hold",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "team", "operator": "Exists"}, {"key": "tier", "operator": "NotIn",
                                                                          "values": ["dev"]}]},
            True, id="several-expressions",
        ),
    ],
)  # fmt: skip
def test_selects(fields: dict[str, Any], selected: bool) -> None:
    assert selects(selector(**fields), LABELS) is selected


def test_an_unknown_operator_is_refused_by_the_model() -> None:
    with pytest.raises(pydantic.ValidationError):
        selector(matchExpressions=[{"key": "team", "operator": "Gt", "values": ["1"]}])


def test_the_namespace_name_label_is_always_there() -> None:
    # The API server sets kubernetes.io/metadata.name on every namespace; an emulator may not.
    by_name = policy(namespaceSelector={"matchLabels": {"kubernetes.io/metadata.name": "team-a"}})
    assert applicable(PolicySet((by_name,)), "team-a") == [by_name]
    assert applicable(PolicySet((by_name,)), "team-b") == []


def test_the_namespace_name_label_cannot_be_faked() -> None:
    by_name = policy(namespaceSelector={"matchLabels": {"kubernetes.io/metadata.name": "team-a"}})
    forged = PolicySet((by_name,), {"team-b": {"kubernetes.io/metadata.name": "team-a"}})
    assert applicable(forged, "team-b") == []


def test_selection_uses_the_namespace_labels() -> None:
    prod = policy(namespaceSelector={"matchLabels": {"tier": "prod"}})
    policies = PolicySet((prod,), {"team-a": {"tier": "prod"}, "team-b": {"tier": "dev"}})
    assert applicable(policies, "team-a") == [prod]
    assert applicable(policies, "team-b") == []
    assert applicable(policies, "unknown") == []


# --- function globs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "name", "arn", "matched"),
    [
        pytest.param(["team-a-orders"], "team-a-orders", ARN, True, id="exact-name"),
        pytest.param(["team-a-*"], "team-a-orders", ARN, True, id="star"),
        pytest.param(["team-?-orders"], "team-a-orders", ARN, True, id="question-mark"),
        pytest.param(["team-[ab]-orders"], "team-a-orders", ARN, True, id="character-class"),
        pytest.param(["team-[!a]-orders"], "team-a-orders", ARN, False, id="negated-class"),
        pytest.param(["team-b-*"], "team-a-orders", ARN, False, id="other-prefix"),
        pytest.param(["TEAM-A-*"], "team-a-orders", ARN, False, id="case-sensitive"),
        pytest.param(["team-a"], "team-a-orders", ARN, False, id="whole-name-only"),
        pytest.param([f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:team-a-*"], "team-a-orders", ARN, True,
                     id="arn-glob"),
        pytest.param(["arn:aws:lambda:*:*:function:team-a-*"], "team-a-orders", ARN, True, id="arn-any-account"),
        pytest.param(["arn:aws:lambda:eu-west-1:*:function:*"], "team-a-orders", ARN, False, id="arn-other-region"),
        pytest.param(["arn:aws:lambda:*:999999999999:function:*"], "team-a-orders", ARN, False,
                     id="arn-other-account"),
        pytest.param(["arn:aws:lambda:*:*:function:*"], "team-a-orders", None, False, id="arn-unknown"),
        pytest.param(["other", "team-a-*"], "team-a-orders", ARN, True, id="any-of-several"),
        pytest.param(["*"], "anything", None, True, id="star-alone"),
    ],
)  # fmt: skip
def test_function_matches(patterns: list[str], name: str, arn: str | None, matched: bool) -> None:
    assert function_matches(patterns, name, arn) is matched


# --- one policy ---------------------------------------------------------------------------------


def test_a_policy_without_lists_allows_everything() -> None:
    assert judge(policy(), request()) == (Decision.ALLOWED, "allowed by LambdaVpcPolicy team-a")


def test_function_not_allowed_names_the_rule() -> None:
    outcome, message = judge(policy(functions=["team-b-*"]), request())
    assert outcome == Decision.DENIED
    assert "LambdaVpcPolicy team-a" in message and "spec.functions" in message and "team-b-*" in message


def test_arn_pattern_with_an_unknown_arn_says_so() -> None:
    outcome, message = judge(policy(functions=["arn:aws:lambda:*:*:function:*"]), request(function_arn=None))
    assert outcome == Decision.DENIED and "ARN is not known" in message


@pytest.mark.parametrize(
    ("allowed", "outcome"),
    [
        pytest.param(["subnet-a", "subnet-b", "subnet-c"], Decision.ALLOWED, id="superset"),
        pytest.param(["subnet-a", "subnet-b"], Decision.ALLOWED, id="equal"),
        pytest.param(["subnet-a"], Decision.DENIED, id="one-missing"),
        pytest.param(["subnet-c"], Decision.DENIED, id="none"),
    ],
)
def test_every_subnet_must_be_allowed(allowed: list[str], outcome: Decision) -> None:
    result, message = judge(policy(subnetIds=allowed), request())
    assert result == outcome
    if outcome == Decision.DENIED:
        assert "spec.subnetIds" in message and "subnet-b" in message


def test_every_security_group_must_be_allowed() -> None:
    outcome, message = judge(policy(securityGroupIds=["sg-1"]), request(security_group_ids=frozenset({"sg-1", "sg-2"})))
    assert outcome == Decision.DENIED and "sg-2" in message and "spec.securityGroupIds" in message
    assert judge(policy(securityGroupIds=["sg-1", "sg-2"]), request())[0] == Decision.ALLOWED


@pytest.mark.parametrize(
    ("vpc_ids", "outcome"),
    [
        pytest.param(None, Decision.UNDECIDED, id="unknown-vpc"),
        pytest.param(frozenset({"vpc-1"}), Decision.ALLOWED, id="allowed-vpc"),
        pytest.param(frozenset({"vpc-2"}), Decision.DENIED, id="other-vpc"),
        pytest.param(frozenset({"vpc-1", "vpc-2"}), Decision.DENIED, id="mixed-vpcs"),
        pytest.param(frozenset(), Decision.ALLOWED, id="no-vpc-found"),  # missing subnets: the preflight says so
    ],
)
def test_the_vpc_rule(vpc_ids: frozenset[str] | None, outcome: Decision) -> None:
    assert judge(policy(vpcIds=["vpc-1"]), request(vpc_ids=vpc_ids))[0] == outcome


def test_the_function_rule_decides_before_the_vpc_is_known() -> None:
    assert judge(policy(functions=["x"], vpcIds=["vpc-1"]), request())[0] == Decision.DENIED


def test_empty_lists_are_refused_by_the_model() -> None:
    # An empty list would be ambiguous ("anything" in IAM's absent key, "nothing" in ForAllValues).
    for field in ("functions", "vpcIds", "subnetIds", "securityGroupIds"):
        with pytest.raises(pydantic.ValidationError):
            PolicySpec.model_validate({"namespaceSelector": {}, field: []})


def test_the_namespace_selector_is_required() -> None:
    with pytest.raises(pydantic.ValidationError):
        PolicySpec.model_validate({"functions": ["*"]})


# --- all policies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [pytest.param(PolicyMode.ENFORCE, Decision.DENIED, id="enforce"),
     pytest.param(PolicyMode.ALLOW_ALL, Decision.ALLOWED, id="allow-all")],
)  # fmt: skip
def test_no_policy_at_all(mode: PolicyMode, outcome: Decision) -> None:
    verdict = evaluate(request(), PolicySet((), {}, mode))
    assert verdict.outcome == outcome
    assert f"--policy-mode {mode.value}" in verdict.message
    assert "no LambdaVpcPolicy selects namespace team-a" in verdict.message


@pytest.mark.parametrize("mode", list(PolicyMode))
def test_policies_of_other_namespaces_leave_the_mode_in_charge(mode: PolicyMode) -> None:
    elsewhere = policy("team-b", namespaceSelector={"matchLabels": {"kubernetes.io/metadata.name": "team-b"}})
    verdict = evaluate(request(), PolicySet((elsewhere,), {}, mode))
    assert verdict.outcome == (Decision.ALLOWED if mode == PolicyMode.ALLOW_ALL else Decision.DENIED)


@pytest.mark.parametrize("mode", list(PolicyMode))
def test_a_selecting_policy_decides_in_both_modes(mode: PolicyMode) -> None:
    strict = policy(functions=["team-b-*"])
    assert evaluate(request(), PolicySet((strict,), {}, mode)).outcome == Decision.DENIED


def test_one_allowing_policy_is_enough() -> None:
    refusing = policy("a-refuses", subnetIds=["subnet-z"])
    allowing = policy("b-allows", functions=["team-a-*"])
    verdict = evaluate(request(), PolicySet((refusing, allowing)))
    assert verdict.allowed and verdict.policy == "b-allows" and "b-allows" in verdict.message


def test_the_first_allowing_policy_by_name_is_reported() -> None:
    verdict = evaluate(request(), PolicySet((policy("zeta"), policy("alpha"))))
    assert verdict.policy == "alpha"


def test_a_denial_lists_every_applicable_policy() -> None:
    functions = policy("by-function", functions=["team-b-*"])
    subnets = policy("by-subnet", subnetIds=["subnet-a"])
    unrelated = policy("unrelated", namespaceSelector={"matchLabels": {"kubernetes.io/metadata.name": "x"}})
    verdict = evaluate(request(), PolicySet((functions, subnets, unrelated)))
    assert verdict.denied
    assert "by-function" in verdict.message and "by-subnet" in verdict.message
    assert "unrelated" not in verdict.message
    assert verdict.message.startswith("no LambdaVpcPolicy allows this attachment")


def test_undecided_wins_over_denied_until_the_vpc_is_known() -> None:
    by_vpc = policy("by-vpc", vpcIds=["vpc-1"])
    refusing = policy("refusing", functions=["nope"])
    policies = PolicySet((by_vpc, refusing))
    assert evaluate(request(), policies).outcome == Decision.UNDECIDED
    assert evaluate(request(vpc_ids=frozenset({"vpc-1"})), policies).allowed
    assert evaluate(request(vpc_ids=frozenset({"vpc-9"})), policies).denied


def test_needs_vpc_only_when_an_applicable_policy_lists_vpcs() -> None:
    by_vpc = policy("by-vpc", vpcIds=["vpc-1"], namespaceSelector={"matchLabels": {"team": "a"}})
    policies = PolicySet((policy("plain"), by_vpc), {"team-a": {"team": "a"}})
    assert needs_vpc(policies, "team-a")
    assert not needs_vpc(policies, "team-b")


def test_name_and_arn_of_the_same_function_are_judged_alike() -> None:
    by_arn = policy(functions=[f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:team-a-*"])
    assert evaluate(request(), PolicySet((by_arn,))).allowed
    assert evaluate(request(function_arn=None), PolicySet((by_arn,))).denied
