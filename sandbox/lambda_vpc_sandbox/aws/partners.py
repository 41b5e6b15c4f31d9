"""A second demo account: functions in another account, reached through a role the operator assumes.

Why: an attachment with ``spec.roleArn`` (or a policy's ``defaultRoleArn``) acts in the role's
account (docs/policy.md "Roles in other accounts"). The sandbox, the end-to-end tests and the
examples need that account: a VPC with two private subnets and a group, an execution role,
functions, and three roles the operator may be pointed at:

- ``lambda-vpc-operator-target``: trusts the operator's role and holds the operator's own
  least-privilege policy (docs/iam-policy.json, when given), as a platform team would set it up;
- ``lambda-vpc-operator-external-id``: the same, with an ``sts:ExternalId`` condition;
- ``lambda-vpc-operator-untrusting``: trusts another account only (sts:AssumeRole is refused).

Nobody can sign for a new account yet, so the simulator's control API creates its administrator
role first (``create_account_role``, as AWS Organizations creates OrganizationAccountAccessRole),
and everything else is built with boto3 through that role, like any AWS user would.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import boto3

from .config import DEFAULT_ACCOUNT_ID
from .control import SimulatorControl
from .seeding import TRUST_POLICY, VPC_ACCESS_POLICY, _settle, _spec, client, handler_zip

SECOND_ACCOUNT_ID = "222222222222"
ADMIN_ROLE = "OrganizationAccountAccessRole"
#: The operator's own role as the simulator names it (lambda_vpc_sandbox.aws.trust.OPERATOR_ROLE).
OPERATOR_ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/lambda-vpc-operator"
TARGET_ROLE = "lambda-vpc-operator-target"
EXTERNAL_ID_ROLE = "lambda-vpc-operator-external-id"
UNTRUSTING_ROLE = "lambda-vpc-operator-untrusting"
EXTERNAL_ID = "demo-external-id"
#: Functions of the second account; "billing-worker" shares its name with one of the first account's.
PARTNER_FUNCTIONS = ("partner-orders", "billing-worker")
PARTNER_IDS = {
    "partner": "vpc-0partner",
    "partner-private-a": "subnet-0partnera",
    "partner-private-b": "subnet-0partnerb",
    "partner-app": "sg-0partnerapp",
}
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def operator_trust(external_id: str | None = None) -> dict[str, Any]:
    """What `lambda-vpc-operator policy iam --operator-role-arn ...` prints for a target role."""
    allow: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": OPERATOR_ROLE_ARN}, "Action": "sts:AssumeRole"}
    if external_id:
        allow["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [allow]}


@dataclass(frozen=True)
class PartnerAccount:
    """The ids of everything ``seed_second_account`` created."""

    account_id: str
    admin_role_arn: str
    vpc_id: str
    private_subnet_a_id: str
    private_subnet_b_id: str
    app_sg_id: str
    execution_role_arn: str
    target_role_arn: str
    external_id_role_arn: str
    untrusting_role_arn: str
    functions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def admin_session(endpoint_url: str, admin_role_arn: str, region: str = "us-east-1") -> boto3.Session:
    """A boto3 session in the second account, through its administrator role (for tests and seeding)."""
    found = client("sts", endpoint_url, region).assume_role(RoleArn=admin_role_arn, RoleSessionName="admin")
    credentials = found["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def seed_second_account(
    endpoint_url: str,
    region: str = "us-east-1",
    *,
    operator_policy: str | dict[str, Any] | None = None,
    settle: bool = True,
) -> PartnerAccount:
    """Create the second account (``operator_policy``: the target roles' permissions, default all)."""
    control = SimulatorControl(endpoint_url)
    admin_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole",
    }]}  # fmt: skip
    admin_arn = control.create_account_role(SECOND_ACCOUNT_ID, ADMIN_ROLE, admin_trust, ADMIN_POLICY)
    session = admin_session(endpoint_url, admin_arn, region)
    ec2 = session.client("ec2", endpoint_url=endpoint_url)
    iam = session.client("iam", endpoint_url=endpoint_url)
    lam = session.client("lambda", endpoint_url=endpoint_url)

    vpc_id = str(ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=_spec("vpc", "partner", PARTNER_IDS[
        "partner"]))["Vpc"]["VpcId"])  # fmt: skip
    subnets = []
    for suffix, cidr in (("a", "10.20.1.0/24"), ("b", "10.20.2.0/24")):
        name = f"partner-private-{suffix}"
        spec = _spec("subnet", name, PARTNER_IDS[name])
        spec[0]["Tags"].append({"Key": "tier", "Value": "private"})
        found = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{region}{suffix}",
                                  TagSpecifications=spec)  # fmt: skip
        subnets.append(str(found["Subnet"]["SubnetId"]))
    app_sg = str(ec2.create_security_group(
        GroupName="partner-app", Description="Lambda functions of the partner account", VpcId=vpc_id,
        TagSpecifications=_spec("security-group", "partner-app", PARTNER_IDS["partner-app"]),
    )["GroupId"])  # fmt: skip

    execution = iam.create_role(RoleName="partner-exec", AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))
    execution_arn = str(execution["Role"]["Arn"])
    iam.put_role_policy(RoleName="partner-exec", PolicyName="AWSLambdaVPCAccessExecutionRole",
                        PolicyDocument=json.dumps(VPC_ACCESS_POLICY))  # fmt: skip
    permissions = operator_policy if operator_policy is not None else ADMIN_POLICY
    document = permissions if isinstance(permissions, str) else json.dumps(permissions)
    roles: dict[str, str] = {}
    for name, trust in (
        (TARGET_ROLE, operator_trust()),
        (EXTERNAL_ID_ROLE, operator_trust(EXTERNAL_ID)),
        # aws-facts "Trust policies": trusts another account, not the operator: AssumeRole is refused.
        (UNTRUSTING_ROLE, {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": "sts:AssumeRole",
        }]}),
    ):  # fmt: skip
        roles[name] = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
        iam.put_role_policy(RoleName=name, PolicyName="lambda-vpc-operator", PolicyDocument=document)

    code = handler_zip()
    for name in PARTNER_FUNCTIONS:
        lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=execution_arn, Handler="lambda_function.handler",
            Code={"ZipFile": code}, Description=f"Demo function {name} of the partner account",
            Tags={"Name": name, "project": "lambda-vpc-operator-demo"},
        )  # fmt: skip
    if settle:
        _settle(endpoint_url, lam, PARTNER_FUNCTIONS)
    return PartnerAccount(
        account_id=SECOND_ACCOUNT_ID,
        admin_role_arn=admin_arn,
        vpc_id=vpc_id,
        private_subnet_a_id=subnets[0],
        private_subnet_b_id=subnets[1],
        app_sg_id=app_sg,
        execution_role_arn=execution_arn,
        target_role_arn=roles[TARGET_ROLE],
        external_id_role_arn=roles[EXTERNAL_ID_ROLE],
        untrusting_role_arn=roles[UNTRUSTING_ROLE],
        functions=PARTNER_FUNCTIONS,
    )
