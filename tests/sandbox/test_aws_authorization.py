"""The simulator answers a caller holding a principal policy as IAM would (sandbox/aws/authorization.py).

AccessDenied in each service's wire format beyond the policy, resource ARNs matched with IAM's
globs, an explicit Deny winning, GetFunction's Tags only with lambda:ListTags; and the operator's
own policy (docs/iam-policy.json) letting the operator see its ownership tag.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import boto3
import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401
from lambda_vpc_sandbox.aws import SimulatorControlError
from lambda_vpc_sandbox.aws.permissions import decide, resource_glob, statements_of
from lambda_vpc_sandbox.processes import OPERATOR_ACCESS_KEY

IAM_POLICY = pathlib.Path(__file__).resolve().parents[2] / "docs" / "iam-policy.json"
OWNER_TAG = "lambdavpc.dev/owner"
KEY = "restricted"  # a key of these tests' own, beside the harness's unrestricted "testing"


def operator_policy(without: str | None = None) -> dict[str, Any]:
    """docs/iam-policy.json, optionally with one action taken out."""
    policy = json.loads(IAM_POLICY.read_text())
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != without]
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"]]
    return dict(policy)


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def client_of(aws: AwsEnv, service: str, key: str = KEY) -> Any:
    """A boto3 client signing with ``key`` (Lambda without retries, as in conftest_aws)."""
    from botocore.config import Config

    return boto3.client(
        service, endpoint_url=aws.endpoint_url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=key, aws_session_token=key,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )  # fmt: skip


def function_arn(aws: AwsEnv, name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{aws.demo.account_id}:function:{name}"


# --- the evaluator: resource ARNs with IAM's globs ----------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        ("*", "arn:aws:lambda:us-east-1:123456789012:function:f", True),
        ("arn:aws:lambda:*:*:function:*", "arn:aws:lambda:us-east-1:123456789012:function:f", True),
        ("arn:aws:lambda:*:*:function:*", "arn:aws:lambda:us-east-1:123456789012:function:f:prod", True),
        ("arn:aws:lambda:*:*:function:*", "arn:aws:lambda:us-east-1:123456789012:layer:l", False),
        ("arn:aws:lambda:*:*:function:*", "arn:aws-cn:lambda:cn-north-1:123456789012:function:f", False),
        ("arn:aws:lambda:*:*:function:*", "*", False),
        ("arn:aws:lambda:us-east-?:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f", True),
        ("arn:aws:lambda:us-east-?:*:function:f", "arn:aws:lambda:us-east-10:123456789012:function:f", False),
        # A * inside a segment stays in it; a * ending one may run past the colons.
        ("arn:aws:lambda:us-*1:*:function:f", "arn:aws:lambda:us-east-1:123456789012:function:f", True),
        ("arn:aws:lambda:*-1:123456789012:function:f", "arn:aws:lambda:x:y-1:123456789012:function:f", False),
        ("arn:aws:iam::*:role/*", "arn:aws:iam::123456789012:role/path/exec", True),
        ("arn:aws:iam::*:role/Exec", "arn:aws:iam::123456789012:role/exec", False),  # case-sensitive
        ("arn:aws:iam::*:role/[a]", "arn:aws:iam::123456789012:role/a", False),  # [ is no class
    ],
)
def test_resource_globs(pattern: str, resource: str, matches: bool) -> None:
    assert resource_glob(resource, pattern) is matches


def test_decide_on_a_resource() -> None:
    statements = statements_of(policy(
        {"Effect": "Allow", "Action": "lambda:*", "Resource": "arn:aws:lambda:*:*:function:*"},
        {"Effect": "Deny", "Action": "lambda:Update*", "Resource": "arn:aws:lambda:*:*:function:db-*"},
        {"Effect": "Allow", "Action": "ec2:DescribeSubnets", "NotResource": "arn:aws:ec2:*:*:subnet/secret"},
    ), "p")  # fmt: skip
    fn = "arn:aws:lambda:us-east-1:1:function:"
    assert decide("lambda:UpdateFunctionConfiguration", statements, fn + "app")[0] == "allowed"
    assert decide("lambda:UpdateFunctionConfiguration", statements, fn + "db-main")[0] == "explicitDeny"
    assert decide("lambda:GetFunction", statements, fn + "db-main")[0] == "allowed"
    assert decide("lambda:ListFunctions", statements, "*")[0] == "implicitDeny"  # not a function ARN
    assert decide("ec2:DescribeSubnets", statements, "*")[0] == "allowed"
    assert decide("ec2:DescribeSubnets", statements, "arn:aws:ec2:us-east-1:1:subnet/secret")[0] == "implicitDeny"


# --- enforcement over the wire ------------------------------------------------------------------


def test_without_a_principal_policy_everything_is_allowed(aws: AwsEnv) -> None:
    lam = client_of(aws, "lambda")
    assert lam.get_function(FunctionName="orders-api")["Tags"]["Name"] == "orders-api"
    client_of(aws, "ec2").create_vpc(CidrBlock="10.9.0.0/16")


def test_an_action_not_granted_is_refused_in_each_services_format(aws: AwsEnv) -> None:
    aws.control.set_principal_policy(KEY, operator_policy())
    lam, ec2, iam = client_of(aws, "lambda"), client_of(aws, "ec2"), client_of(aws, "iam")
    with pytest.raises(lam.exceptions.ClientError) as lambda_error:
        lam.delete_function(FunctionName="orders-api")
    code, status, message = error_of(lambda_error)
    assert (code, status) == ("AccessDeniedException", 403)
    assert f"lambda:DeleteFunction on resource: {function_arn(aws, 'orders-api')}" in message
    assert "because no identity-based policy allows the lambda:DeleteFunction action" in message
    with pytest.raises(ec2.exceptions.ClientError) as ec2_error:
        ec2.create_vpc(CidrBlock="10.9.0.0/16")
    assert error_of(ec2_error)[:2] == ("UnauthorizedOperation", 403)
    assert "ec2:CreateVpc" in error_of(ec2_error)[2]
    with pytest.raises(iam.exceptions.ClientError) as iam_error:
        iam.list_roles()
    assert error_of(iam_error)[:2] == ("AccessDenied", 403) and "iam:ListRoles" in error_of(iam_error)[2]
    # What the policy grants still works, and the function was never deleted.
    assert lam.get_function(FunctionName="orders-api")["Configuration"]["FunctionName"] == "orders-api"
    ec2.describe_subnets(SubnetIds=[aws.demo.private_subnet_a_id])
    assert client_of(aws, "sts").get_caller_identity()["Account"] == aws.demo.account_id  # needs no permission
    assert aws.control.calls()["lambda:DeleteFunction"] == 1  # a refused call is still a call
    assert aws.control.refused() == {
        KEY: {"lambda:DeleteFunction": 1, "ec2:CreateVpc": 1, "iam:ListRoles": 1}
    }


def test_attaching_needs_the_ec2_reads_of_the_vpc_config(aws: AwsEnv) -> None:
    """aws-facts "IAM": Lambda reads the groups, subnets and VPC with the caller's credentials."""
    aws.control.set_principal_policy(KEY, operator_policy(without="ec2:DescribeSecurityGroups"))
    lam = client_of(aws, "lambda")
    vpc = {"SubnetIds": [aws.demo.private_subnet_a_id], "SecurityGroupIds": [aws.demo.app_sg_id]}
    with pytest.raises(lam.exceptions.ClientError) as excinfo:
        lam.update_function_configuration(FunctionName="orders-api", VpcConfig=vpc)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("AccessDeniedException", 403)
    assert message.startswith("Your access has been denied by EC2") and "UnauthorizedOperation" in message
    assert f"DescribeSecurityGroups for {aws.demo.app_sg_id}" in message
    assert aws.control.refused() == {KEY: {"ec2:DescribeSecurityGroups": 1}}
    assert not aws.configuration("orders-api").get("VpcConfig", {}).get("SubnetIds")  # nothing changed
    lam.update_function_configuration(FunctionName="orders-api", Description="no VpcConfig: no EC2 reads")
    aws.control.set_principal_policy(KEY, operator_policy())
    aws.control.advance(60)  # the Description update is over
    lam.update_function_configuration(FunctionName="orders-api", VpcConfig=vpc)


def test_invoke_needs_lambda_invoke_function(aws: AwsEnv) -> None:
    aws.control.set_principal_policy(KEY, operator_policy(without="lambda:InvokeFunction"))
    lam = client_of(aws, "lambda")
    with pytest.raises(lam.exceptions.ClientError) as excinfo:
        lam.invoke(FunctionName="orders-api", InvocationType="DryRun")
    assert "lambda:InvokeFunction" in error_of(excinfo)[2]
    aws.control.set_principal_policy(KEY, operator_policy())
    assert lam.invoke(FunctionName="orders-api", InvocationType="DryRun")["StatusCode"] == 204


def test_resources_are_scoped_by_arn(aws: AwsEnv) -> None:
    exec_role = "arn:aws:iam::*:role/lambda-vpc-demo-exec"
    aws.control.set_principal_policy(KEY, policy(
        {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "arn:aws:lambda:us-east-1:*:function:orders-*"},
        {"Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy", "Resource": exec_role},
    ))  # fmt: skip
    lam, iam = client_of(aws, "lambda"), client_of(aws, "iam")
    lam.get_function(FunctionName="orders-api")
    lam.get_function(FunctionName=function_arn(aws, "orders-api"))
    with pytest.raises(lam.exceptions.ClientError) as excinfo:
        lam.get_function(FunctionName="billing-worker")
    assert error_of(excinfo)[:2] == ("AccessDeniedException", 403)
    with pytest.raises(lam.exceptions.ClientError):
        client_of(aws, "lambda").list_functions()  # "*" is no function ARN
    actions = ["ec2:CreateNetworkInterface"]
    iam.simulate_principal_policy(PolicySourceArn=aws.demo.role_arn, ActionNames=actions)
    with pytest.raises(iam.exceptions.ClientError) as iam_error:
        iam.simulate_principal_policy(PolicySourceArn=aws.demo.denied_role_arn, ActionNames=actions)
    assert error_of(iam_error)[:2] == ("AccessDenied", 403) and aws.demo.denied_role_arn in error_of(iam_error)[2]


def test_an_explicit_deny_wins(aws: AwsEnv) -> None:
    aws.control.set_principal_policy(KEY, policy(
        {"Effect": "Allow", "Action": ["lambda:*", "sts:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["lambda:Tag*", "sts:*"], "Resource": "arn:aws:lambda:*:*:function:orders-*"},
        {"Effect": "Deny", "Action": "sts:*", "Resource": "*"},
    ))  # fmt: skip
    lam = client_of(aws, "lambda")
    lam.tag_resource(Resource=function_arn(aws, "billing-worker"), Tags={"a": "b"})
    with pytest.raises(lam.exceptions.ClientError) as excinfo:
        lam.tag_resource(Resource=function_arn(aws, "orders-api"), Tags={"a": "b"})
    code, status, message = error_of(excinfo)
    assert (code, status) == ("AccessDeniedException", 403) and "with an explicit deny" in message
    # "No permissions are required" for GetCallerIdentity: not even an explicit Deny refuses it.
    client_of(aws, "sts").get_caller_identity()


def test_deny_applies_on_top_and_policies_can_be_cleared(aws: AwsEnv) -> None:
    aws.control.set_principal_policy(KEY, operator_policy())
    lam = client_of(aws, "lambda")
    aws.control.deny("lambda:GetFunction")
    with pytest.raises(lam.exceptions.ClientError):
        lam.get_function(FunctionName="orders-api")
    assert aws.control.refused() == {}  # deny's refusals are the test's doing, not the policy's
    aws.control.allow()
    lam.get_function(FunctionName="orders-api")
    with pytest.raises(lam.exceptions.ClientError):
        lam.delete_function(FunctionName="legacy-batch")
    aws.control.clear_principal_policy(KEY)
    lam.delete_function(FunctionName="legacy-batch")


def test_reset_clears_principal_policies(aws: AwsEnv) -> None:
    aws.control.set_principal_policy(KEY, policy({"Effect": "Deny", "Action": "*", "Resource": "*"}))
    with pytest.raises(aws.lam.exceptions.ClientError):
        client_of(aws, "lambda").get_function(FunctionName="orders-api")
    assert aws.control.refused() == {KEY: {"lambda:GetFunction": 1}}
    aws.control.reset()
    from lambda_vpc_sandbox.aws import seed_demo_account

    seed_demo_account(aws.endpoint_url)
    client_of(aws, "lambda").get_function(FunctionName="orders-api")
    assert aws.control.refused() == {}


@pytest.mark.parametrize("document", [{"Version": "2012-10-17"}, "not json", {"Statement": [{"Effect": "Maybe"}]}])
def test_a_principal_policy_must_be_a_policy(aws: AwsEnv, document: Any) -> None:
    with pytest.raises(SimulatorControlError) as excinfo:
        aws.control.set_principal_policy(KEY, document)
    assert excinfo.value.status == 400


# --- GetFunction's Tags need lambda:ListTags (aws-facts "IAM: what the operator's own policy allows")


def test_tags_need_list_tags(aws: AwsEnv) -> None:
    aws.control.set_principal_policy(KEY, policy(
        {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"},
        {"Effect": "Allow", "Action": "lambda:ListTags", "Resource": "arn:aws:lambda:*:*:function:orders-*"},
    ))  # fmt: skip
    lam = client_of(aws, "lambda")
    assert lam.get_function(FunctionName="orders-api")["Tags"]["Name"] == "orders-api"
    answer = lam.get_function(FunctionName="billing-worker")
    assert "Tags" not in answer and answer["Configuration"]["FunctionName"] == "billing-worker"
    assert aws.lam.get_function(FunctionName="billing-worker")["Tags"]["Name"] == "billing-worker"  # "testing"
    aws.control.set_principal_policy(KEY, policy(
        {"Effect": "Allow", "Action": ["lambda:GetFunction", "lambda:ListTags"], "Resource": "*"},
        {"Effect": "Deny", "Action": "lambda:ListTags", "Resource": "*"},
    ))  # fmt: skip
    assert "Tags" not in lam.get_function(FunctionName="orders-api")


def test_deny_of_list_tags_hides_tags_from_everyone(aws: AwsEnv) -> None:
    aws.control.deny("lambda:ListTags")
    assert "Tags" not in aws.lam.get_function(FunctionName="orders-api")
    aws.control.allow()
    assert "Tags" in aws.lam.get_function(FunctionName="orders-api")


@pytest.mark.parametrize("with_list_tags", [True, False])
def test_the_operators_policy_lets_it_see_its_ownership_tag(aws: AwsEnv, with_list_tags: bool) -> None:
    """Issue 9: without lambda:ListTags every look of the operator (key "sandbox") misses its owner tag."""
    arn = function_arn(aws, "orders-api")
    aws.lam.tag_resource(Resource=arn, Tags={OWNER_TAG: "team-a/orders"})
    document = operator_policy() if with_list_tags else operator_policy(without="lambda:ListTags")
    assert ("lambda:ListTags" in json.dumps(document)) is with_list_tags
    aws.control.set_principal_policy(OPERATOR_ACCESS_KEY, document)
    lam = client_of(aws, "lambda", OPERATOR_ACCESS_KEY)
    answer = lam.get_function(FunctionName="orders-api")
    assert answer["Configuration"]["FunctionArn"] == arn
    if with_list_tags:
        assert answer["Tags"][OWNER_TAG] == "team-a/orders"
    else:
        assert "Tags" not in answer
