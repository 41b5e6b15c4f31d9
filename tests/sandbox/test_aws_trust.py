"""sts:AssumeRole in the simulator honours trust policies, and a role session is held to its role's policies.

aws-facts "Trust policies": a missing role, a trust policy that does not name the caller, or an
sts:ExternalId condition that does not match are all AccessDenied; moto alone assumes anything.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import boto3
import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401
from lambda_vpc_sandbox.aws.partners import EXTERNAL_ID, SECOND_ACCOUNT_ID, seed_second_account
from lambda_vpc_sandbox.aws.trust import trusts

IAM_POLICY = pathlib.Path(__file__).resolve().parents[2] / "docs" / "iam-policy.json"
OPERATOR = "arn:aws:iam::123456789012:role/lambda-vpc-operator"


def session_of(credentials: dict[str, Any]) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name="us-east-1",
    )  # fmt: skip


def test_trust_policy_rules() -> None:
    allow = {"Effect": "Allow", "Principal": {"AWS": OPERATOR}, "Action": "sts:AssumeRole"}
    assert trusts({"Statement": [allow]}, OPERATOR, None)
    assert trusts({"Statement": [{**allow, "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}, OPERATOR, None)
    assert trusts({"Statement": [{**allow, "Principal": {"AWS": ["123456789012"]}}]}, OPERATOR, None)
    assert not trusts({"Statement": [{**allow, "Principal": {"AWS": "arn:aws:iam::333333333333:root"}}]}, OPERATOR,
                      None)  # fmt: skip
    assert not trusts({"Statement": [{**allow, "Principal": {"Service": "lambda.amazonaws.com"}}]}, OPERATOR, None)
    assert not trusts({"Statement": [{**allow, "Action": "sts:TagSession"}]}, OPERATOR, None)
    assert not trusts({"Statement": [allow, {**allow, "Effect": "Deny"}]}, OPERATOR, None)
    with_id = {**allow, "Condition": {"StringEquals": {"sts:ExternalId": "x-1"}}}
    assert trusts({"Statement": [with_id]}, OPERATOR, "x-1")
    assert not trusts({"Statement": [with_id]}, OPERATOR, "x-2")
    assert not trusts({"Statement": [with_id]}, OPERATOR, None)
    other_condition = {**allow, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}
    assert not trusts({"Statement": [other_condition]}, OPERATOR, None)


def test_assume_role_is_refused_as_aws_refuses_it(aws: AwsEnv) -> None:
    partner = seed_second_account(aws.simulator.endpoint_url, operator_policy=json.loads(IAM_POLICY.read_text()))
    missing = f"arn:aws:iam::{SECOND_ACCOUNT_ID}:role/missing"
    for role, extra in (
        (partner.untrusting_role_arn, {}),
        (missing, {}),
        (partner.external_id_role_arn, {}),
        (partner.external_id_role_arn, {"ExternalId": "wrong-id"}),
    ):
        with pytest.raises(aws.sts.exceptions.ClientError) as caught:
            aws.sts.assume_role(RoleArn=role, RoleSessionName="test", **extra)
        code, status, message = error_of(caught)
        assert (code, status) == ("AccessDenied", 403)
        assert f"is not authorized to perform: sts:AssumeRole on resource: {role}" in message
    granted = aws.sts.assume_role(RoleArn=partner.external_id_role_arn, RoleSessionName="test", ExternalId=EXTERNAL_ID)
    assert granted["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{SECOND_ACCOUNT_ID}:assumed-role/")


def test_a_role_session_acts_in_its_account_within_its_policy(aws: AwsEnv) -> None:
    url = aws.simulator.endpoint_url
    partner = seed_second_account(url, operator_policy=json.loads(IAM_POLICY.read_text()))
    found = aws.sts.assume_role(RoleArn=partner.target_role_arn, RoleSessionName="team-a.orders")
    session = session_of(found["Credentials"])
    assert session.client("sts", endpoint_url=url).get_caller_identity()["Account"] == SECOND_ACCOUNT_ID
    lam = session.client("lambda", endpoint_url=url)
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert names == set(partner.functions)  # the second account's, not the demo account's
    # docs/iam-policy.json grants no lambda:CreateFunction: the session is held to the role's policy.
    with pytest.raises(lam.exceptions.ClientError) as caught:
        lam.create_function(FunctionName="x", Runtime="python3.12", Role=partner.execution_role_arn,
                            Handler="a.b", Code={"ZipFile": b"x"})  # fmt: skip
    assert error_of(caught)[:2] == ("AccessDeniedException", 403)
