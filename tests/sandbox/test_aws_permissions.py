"""The simulator's IAM and IPv6 for the guardrails: SimulatePrincipalPolicy (moto lacks it), refusing the
operator a permission, dual-stack and IPv6-only subnets, route tables with and without NAT routes."""

from __future__ import annotations

from typing import Any

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401

ENI_ACTIONS = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"]


def simulate(aws: AwsEnv, role: str, actions: list[str] = ENI_ACTIONS, **paging: Any) -> dict[str, str]:
    decisions: dict[str, str] = {}
    paginator = aws.iam.get_paginator("simulate_principal_policy")
    for page in paginator.paginate(PolicySourceArn=role, ActionNames=actions, **paging):
        for result in page["EvaluationResults"]:
            decisions[result["EvalActionName"]] = result["EvalDecision"]
    return decisions


# --- SimulatePrincipalPolicy (aws-facts "IAM", "moto 5.2") --------------------------------------


def test_allowed_by_an_inline_policy(aws: AwsEnv) -> None:
    assert simulate(aws, aws.demo.role_arn) == dict.fromkeys(ENI_ACTIONS, "allowed")


def test_implicit_deny_without_a_statement(aws: AwsEnv) -> None:
    decisions = simulate(aws, aws.demo.no_vpc_access_role_arn, [*ENI_ACTIONS, "logs:PutLogEvents"])
    assert decisions == {**dict.fromkeys(ENI_ACTIONS, "implicitDeny"), "logs:PutLogEvents": "allowed"}


def test_explicit_deny_wins_over_allow(aws: AwsEnv) -> None:
    decisions = simulate(aws, aws.demo.denied_role_arn, [*ENI_ACTIONS, "ec2:DescribeSubnets"])
    assert decisions == {**dict.fromkeys(ENI_ACTIONS, "explicitDeny"), "ec2:DescribeSubnets": "allowed"}


def test_matched_statements_name_the_policy(aws: AwsEnv) -> None:
    result = aws.iam.simulate_principal_policy(
        PolicySourceArn=aws.demo.denied_role_arn, ActionNames=["ec2:CreateNetworkInterface"]
    )["EvaluationResults"][0]
    assert [m["SourcePolicyId"] for m in result["MatchedStatements"]] == ["DenyEnis"]
    assert result["EvalResourceName"] == "*"


def test_attached_managed_policies_count_and_wildcards_match(aws: AwsEnv) -> None:
    import json

    role = aws.iam.create_role(RoleName="managed", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "EC2:*NetworkInterface*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": ["ec2:Create*", "ec2:Describe*"], "Resource": "*"},
    ]}  # fmt: skip
    policy = aws.iam.create_policy(PolicyName="enis", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    aws.iam.attach_role_policy(RoleName="managed", PolicyArn=policy)
    assert simulate(aws, role) == {
        "ec2:CreateNetworkInterface": "allowed",
        "ec2:DescribeNetworkInterfaces": "allowed",
        "ec2:DeleteNetworkInterface": "explicitDeny",  # NotAction: everything but Create*/Describe*
    }


def test_statements_for_other_resources_or_with_conditions_do_not_apply(aws: AwsEnv) -> None:
    import json

    role = aws.iam.create_role(RoleName="scoped", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:CreateNetworkInterface", "Resource": "arn:aws:ec2:*:*:subnet/*"},
        {"Effect": "Allow", "Action": "ec2:DeleteNetworkInterface", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}},
        {"Effect": "Allow", "Action": "ec2:DescribeNetworkInterfaces", "Resource": ["*"]},
    ]}  # fmt: skip
    aws.iam.put_role_policy(RoleName="scoped", PolicyName="scoped", PolicyDocument=json.dumps(document))
    assert simulate(aws, role) == {
        "ec2:CreateNetworkInterface": "implicitDeny",
        "ec2:DeleteNetworkInterface": "implicitDeny",
        "ec2:DescribeNetworkInterfaces": "allowed",
    }


def test_results_are_paginated(aws: AwsEnv) -> None:
    first = aws.iam.simulate_principal_policy(PolicySourceArn=aws.demo.role_arn, ActionNames=ENI_ACTIONS, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["EvaluationResults"]) == 2
    rest = aws.iam.simulate_principal_policy(
        PolicySourceArn=aws.demo.role_arn, ActionNames=ENI_ACTIONS, MaxItems=2, Marker=first["Marker"]
    )
    assert rest["IsTruncated"] is False and [r["EvalActionName"] for r in rest["EvaluationResults"]] == [ENI_ACTIONS[2]]
    assert simulate(aws, aws.demo.role_arn, PaginationConfig={"PageSize": 1}) == dict.fromkeys(ENI_ACTIONS, "allowed")


def test_unknown_role_is_no_such_entity(aws: AwsEnv) -> None:
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException) as excinfo:
        aws.iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::123456789012:role/nobody", ActionNames=ENI_ACTIONS
        )
    assert error_of(excinfo)[:2] == ("NoSuchEntity", 404)


def test_calls_are_counted(aws: AwsEnv) -> None:
    simulate(aws, aws.demo.role_arn)
    assert aws.control.calls()["iam:SimulatePrincipalPolicy"] == 1


# --- refusing the operator a permission ---------------------------------------------------------


def test_denied_iam_operation(aws: AwsEnv) -> None:
    aws.control.deny("iam:SimulatePrincipalPolicy")
    with pytest.raises(aws.iam.exceptions.ClientError) as excinfo:
        simulate(aws, aws.demo.role_arn)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("AccessDenied", 403) and "iam:SimulatePrincipalPolicy" in message
    aws.control.allow("iam:SimulatePrincipalPolicy")
    assert simulate(aws, aws.demo.role_arn)


def test_denied_ec2_and_lambda_operations(aws: AwsEnv) -> None:
    aws.control.deny("ec2:DescribeRouteTables", "lambda:TagResource")
    with pytest.raises(aws.ec2.exceptions.ClientError) as ec2_error:
        aws.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [aws.demo.vpc_id]}])
    assert error_of(ec2_error)[:2] == ("UnauthorizedOperation", 403)
    arn = aws.configuration("orders-api")["FunctionArn"]
    with pytest.raises(aws.lam.exceptions.ClientError) as lambda_error:
        aws.lam.tag_resource(Resource=arn, Tags={"a": "b"})
    assert error_of(lambda_error)[:2] == ("AccessDeniedException", 403)
    aws.control.allow()
    aws.lam.tag_resource(Resource=arn, Tags={"a": "b"})
    assert aws.lam.get_function(FunctionName="orders-api")["Tags"]["a"] == "b"


def test_reset_allows_everything_again(aws: AwsEnv) -> None:
    aws.control.deny("iam:SimulatePrincipalPolicy")
    aws.control.reset()
    from lambda_vpc_sandbox.aws import seed_demo_account

    demo = seed_demo_account(aws.endpoint_url)
    assert simulate(aws, demo.role_arn)


# --- subnets and route tables (aws-facts "VPC constraints") -------------------------------------


def test_dual_stack_and_ipv6_only_subnets_are_described_as_ec2_does(aws: AwsEnv) -> None:
    found = {
        s["SubnetId"]: s
        for s in aws.ec2.describe_subnets(
            Filters=[{"Name": "subnet-id", "Values": [aws.demo.dual_stack_subnet_id, aws.demo.ipv6_only_subnet_id]}]
        )["Subnets"]
    }
    dual, only = found[aws.demo.dual_stack_subnet_id], found[aws.demo.ipv6_only_subnet_id]
    assert dual["CidrBlock"] == "10.0.4.0/24"
    assert "CidrBlock" not in only and only["Ipv6Native"] is True
    for subnet in (dual, only):
        (association,) = subnet["Ipv6CidrBlockAssociationSet"]
        assert association["Ipv6CidrBlockState"] == {"State": "associated"}  # moto prints a dict here


def test_ipv6_on_an_ipv6_only_subnet_is_refused(aws: AwsEnv) -> None:
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.attach("orders-api", [aws.demo.ipv6_only_subnet_id], [aws.demo.app_sg_id], Ipv6AllowedForDualStack=True)
    assert aws.demo.ipv6_only_subnet_id in error_of(excinfo)[2]


def test_route_tables_with_and_without_nat(aws: AwsEnv) -> None:
    tables = aws.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [aws.demo.vpc_id]}])["RouteTables"]

    def table_of(subnet: str) -> dict[str, Any]:
        explicit = [t for t in tables if any(a.get("SubnetId") == subnet for a in t["Associations"])]
        return explicit[0] if explicit else next(t for t in tables if any(a.get("Main") for a in t["Associations"]))

    def default_target(subnet: str) -> str | None:
        for route in table_of(subnet)["Routes"]:
            if route.get("DestinationCidrBlock") == "0.0.0.0/0":
                return str(route.get("NatGatewayId") or route.get("GatewayId"))
        return None

    assert default_target(aws.demo.private_subnet_a_id) == aws.demo.nat_gateway_id
    assert default_target(aws.demo.private_subnet_b_id) == aws.demo.nat_gateway_id
    assert default_target(aws.demo.private_subnet_c_id) is None  # the main table: no internet
    assert default_target(aws.demo.public_subnet_id) == aws.demo.internet_gateway_id


# --- the execution role at the call (aws-facts "Refusals") ---------------------------------------

ROLE_REFUSAL = "The provided execution role does not have permissions to call CreateNetworkInterface on EC2"


def _role(aws: AwsEnv, name: str, *statements: dict[str, Any]) -> str:
    import json

    role = str(aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])
    if statements:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        aws.iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return role


def _with_role(aws: AwsEnv, function: str, role: str) -> None:
    aws.lam.update_function_configuration(FunctionName=function, Role=role)
    aws.control.advance(aws.config.update_delay + 1)


def test_a_role_without_eni_permissions_is_refused_at_the_call(aws: AwsEnv) -> None:
    _with_role(aws, "orders-api", aws.demo.no_vpc_access_role_arn)
    before = aws.configuration("orders-api")
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    assert error_of(excinfo) == ("InvalidParameterValueException", 400, ROLE_REFUSAL)
    after = aws.configuration("orders-api")
    assert (after["RevisionId"], after.get("VpcConfig")) == (before["RevisionId"], before.get("VpcConfig"))
    # A detach needs no ENI: it is not refused.
    aws.attach("orders-api", [], [])


def test_create_function_with_such_a_role_is_refused_too(aws: AwsEnv) -> None:
    vpc_config = {"SubnetIds": [aws.demo.private_subnet_a_id], "SecurityGroupIds": [aws.demo.app_sg_id]}
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.create_function("no-eni-role", VpcConfig=vpc_config, Role=aws.demo.denied_role_arn)
    assert error_of(excinfo)[2] == ROLE_REFUSAL


def test_a_role_scoped_to_resources_is_accepted_although_the_simulation_says_implicit_deny(aws: AwsEnv) -> None:
    """The preflight (no resources, no context) is advice; Lambda's real call names real resources."""
    role = _role(aws, "scoped-eni", {"Effect": "Allow", "Action": "ec2:*NetworkInterface*",
                                     "Resource": "arn:aws:ec2:*:*:network-interface/*"})  # fmt: skip
    assert simulate(aws, role)["ec2:CreateNetworkInterface"] == "implicitDeny"
    _with_role(aws, "orders-api", role)
    assert aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])["LastUpdateStatus"] == (
        "InProgress"
    )


def test_a_role_just_fixed_is_refused_until_iam_has_propagated(aws: AwsEnv) -> None:
    import json

    from lambda_vpc_sandbox.aws.seeding import VPC_ACCESS_POLICY

    aws.control.set_role_checks(propagation_delay=60.0)
    role = _role(aws, "fixed-later")
    aws.control.advance(61)
    _with_role(aws, "orders-api", role)
    aws.iam.put_role_policy(RoleName="fixed-later", PolicyName="vpc", PolicyDocument=json.dumps(VPC_ACCESS_POLICY))
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    assert error_of(excinfo)[2] == ROLE_REFUSAL
    aws.control.advance(61)
    aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])


def test_a_broken_operation_answers_html_like_plain_moto(aws: AwsEnv) -> None:
    from botocore.parsers import ResponseParserError

    aws.control.break_operations("iam:SimulatePrincipalPolicy")
    with pytest.raises(ResponseParserError, match="500 Internal Server Error"):
        simulate(aws, aws.demo.role_arn)
    aws.control.unbreak()
    assert simulate(aws, aws.demo.role_arn) == dict.fromkeys(ENI_ACTIONS, "allowed")
