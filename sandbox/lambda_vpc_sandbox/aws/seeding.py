"""A demo account in the simulator, built with boto3 like any AWS user would build it.

Why: the sandbox, the end-to-end tests and the benchmarks need the same realistic starting point:
a VPC with private subnets in two AZs behind a NAT gateway and a third without one, a second VPC
(to switch to, or to mix by mistake), a VPC with dedicated tenancy (which Lambda refuses), security
groups, an execution role with the VPC permissions (and two without them, for the role preflight), a
dual-stack and an IPv6-only subnet, and a few functions, one already attached. It goes through the
simulator's HTTP endpoint, so it exercises the same paths as the operator.
"""

from __future__ import annotations

import dataclasses
import io
import ipaddress
import json
import time
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config

from .config import DEFAULT_ACCOUNT_ID
from .control import SimulatorControl

#: Functions created without VpcConfig.
DETACHED_FUNCTIONS = ("orders-api", "billing-worker", "reports-cron", "legacy-batch", "search-indexer")
#: The tags examples/kubectl/05-select-by-tag.yaml selects by: the private subnets, the app group.
SELECTOR_TAGS = {"tier": "private"}
#: A function created attached to the demo VPC (private subnets a and b, the app group).
ATTACHED_FUNCTION = "inventory-sync"

#: aws-facts "IAM": what AWSLambdaVPCAccessExecutionRole grants (+ logs).
VPC_ACCESS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        },
    ],
}
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
HANDLER_SOURCE = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


@dataclass(frozen=True)
class DemoAccount:
    """The ids of everything ``seed_demo_account`` created."""

    endpoint_url: str
    region: str
    account_id: str
    vpc_id: str  # "demo", 10.0.0.0/16
    private_subnet_a_id: str  # 10.0.1.0/24, <region>a, routes 0.0.0.0/0 to the NAT gateway
    private_subnet_b_id: str  # 10.0.2.0/24, <region>b, routes 0.0.0.0/0 to the NAT gateway
    private_subnet_c_id: str  # 10.0.3.0/24, <region>c, main route table: no internet
    public_subnet_id: str  # 10.0.0.0/24, <region>a, routes to the internet gateway
    internet_gateway_id: str
    nat_gateway_id: str
    private_route_table_id: str
    app_sg_id: str  # "demo-app"
    db_sg_id: str  # "demo-db"
    second_vpc_id: str  # "shared", 10.1.0.0/16
    second_subnet_id: str  # 10.1.1.0/24, <region>a
    second_sg_id: str  # "shared-app"
    dedicated_vpc_id: str  # "dedicated", 10.2.0.0/16, InstanceTenancy dedicated
    dedicated_subnet_id: str  # 10.2.1.0/24
    dedicated_sg_id: str  # "dedicated-app"
    role_arn: str  # "lambda-vpc-demo-exec"
    functions: tuple[str, ...]  # every function created
    attached_function: str  # the one created in the demo VPC
    # aws-facts "VPC constraints" (Ipv6AllowedForDualStack): the demo VPC also has an IPv6 /56.
    dual_stack_subnet_id: str = ""  # 10.0.4.0/24 + an IPv6 /64, <region>a, main route table
    ipv6_only_subnet_id: str = ""  # an IPv6 /64 only, <region>b, main route table
    # aws-facts "IAM": roles without the ENI permissions, for the role preflight.
    no_vpc_access_role_arn: str = ""  # "lambda-vpc-demo-logs-only": logs only (implicitDeny)
    denied_role_arn: str = ""  # "lambda-vpc-demo-denied": VPC access plus a Deny of ec2:*NetworkInterface*

    @property
    def private_subnet_ids(self) -> tuple[str, str, str]:
        return self.private_subnet_a_id, self.private_subnet_b_id, self.private_subnet_c_id

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def client(service: str, endpoint_url: str, region: str = "us-east-1", **config: Any) -> Any:
    """A boto3 client for the simulator (test credentials, moto's default account)."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        config=botocore.config.Config(**config) if config else None,
    )


def handler_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", HANDLER_SOURCE)
    return buffer.getvalue()


def _tags(name: str) -> list[dict[str, Any]]:
    return [{"Key": "Name", "Value": name}, {"Key": "project", "Value": "lambda-vpc-operator-demo"}]


def _spec(resource: str, name: str, custom_id: str | None = None) -> list[dict[str, Any]]:
    tags = _tags(name)
    if custom_id:
        # moto's convention for choosing an id (see custom_ids.py): stable ids for examples/.
        tags.append({"Key": "_custom_id_", "Value": custom_id})
    return [{"ResourceType": resource, "Tags": tags}]


#: The demo account's ids, stable across runs so examples/ and the README can name them.
DEMO_IDS = {
    "demo": "vpc-0demo",
    "demo-public-a": "subnet-0demopublica",
    "demo-private-a": "subnet-0demoprivatea",
    "demo-private-b": "subnet-0demoprivateb",
    "demo-private-c": "subnet-0demoprivatec",
    "demo-app": "sg-0demoapp",
    "demo-db": "sg-0demodb",
    "shared": "vpc-0shared",
    "shared-private-a": "subnet-0sharedprivatea",
    "shared-app": "sg-0sharedapp",
    "dedicated": "vpc-0dedicated",
    "dedicated-private-a": "subnet-0dedicateda",
    "dedicated-app": "sg-0dedicated",
    "demo-dualstack-a": "subnet-0demodualstack",
    "demo-ipv6only-b": "subnet-0demoipv6only",
}
#: aws-facts "IAM": a role that may write logs but not manage ENIs, and one that denies them explicitly.
LOGS_ONLY_POLICY = {"Version": "2012-10-17", "Statement": [VPC_ACCESS_POLICY["Statement"][1]]}
DENY_ENIS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": ["ec2:*NetworkInterface*"], "Resource": "*"}],
}


def seed_demo_account(endpoint_url: str, region: str = "us-east-1", *, settle: bool = True) -> DemoAccount:
    """Create the demo account; with ``settle``, advance the simulated clock until every function
    is Active (the attached one waits for its Hyperplane ENIs)."""
    ec2 = client("ec2", endpoint_url, region)
    iam = client("iam", endpoint_url, region)
    lam = client("lambda", endpoint_url, region, retries={"mode": "standard", "max_attempts": 10})
    az = [f"{region}{suffix}" for suffix in "abc"]

    def vpc(cidr: str, name: str, tenancy: str = "default") -> str:
        found = ec2.create_vpc(
            CidrBlock=cidr, InstanceTenancy=tenancy, TagSpecifications=_spec("vpc", name, DEMO_IDS.get(name))
        )
        return str(found["Vpc"]["VpcId"])

    def subnet(vpc_id: str, cidr: str, zone: str, name: str) -> str:
        spec = _spec("subnet", name, DEMO_IDS.get(name))
        if name.startswith("demo-private-"):
            spec[0]["Tags"] += [{"Key": k, "Value": v} for k, v in SELECTOR_TAGS.items()]
        found = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone, TagSpecifications=spec)
        return str(found["Subnet"]["SubnetId"])

    def group(vpc_id: str, name: str, description: str) -> str:
        found = ec2.create_security_group(
            GroupName=name,
            Description=description,
            VpcId=vpc_id,
            TagSpecifications=_spec("security-group", name, DEMO_IDS.get(name)),
        )
        return str(found["GroupId"])

    vpc_id = vpc("10.0.0.0/16", "demo")
    public = subnet(vpc_id, "10.0.0.0/24", az[0], "demo-public-a")
    private_a = subnet(vpc_id, "10.0.1.0/24", az[0], "demo-private-a")
    private_b = subnet(vpc_id, "10.0.2.0/24", az[1], "demo-private-b")
    private_c = subnet(vpc_id, "10.0.3.0/24", az[2], "demo-private-c")
    # aws-facts "VPC constraints": internet only through a NAT gateway in a public subnet.
    igw = ec2.create_internet_gateway(TagSpecifications=_spec("internet-gateway", "demo-igw"))
    igw_id = str(igw["InternetGateway"]["InternetGatewayId"])
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    public_rt = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_spec("route-table", "demo-public"))
    public_rt_id = str(public_rt["RouteTable"]["RouteTableId"])
    ec2.create_route(RouteTableId=public_rt_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw_id)
    ec2.associate_route_table(RouteTableId=public_rt_id, SubnetId=public)
    eip = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(
        SubnetId=public, AllocationId=eip["AllocationId"], TagSpecifications=_spec("natgateway", "demo-nat")
    )
    nat_id = str(nat["NatGateway"]["NatGatewayId"])
    private_rt = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_spec("route-table", "demo-private"))
    private_rt_id = str(private_rt["RouteTable"]["RouteTableId"])
    ec2.create_route(RouteTableId=private_rt_id, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    for private in (private_a, private_b):
        ec2.associate_route_table(RouteTableId=private_rt_id, SubnetId=private)
    # aws-facts "VPC constraints": a dual-stack subnet (IPv4 and IPv6) and an IPv6-only one.
    ec2.associate_vpc_cidr_block(VpcId=vpc_id, AmazonProvidedIpv6CidrBlock=True)
    described = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"][0]
    v6 = next(a["Ipv6CidrBlock"] for a in described.get("Ipv6CidrBlockAssociationSet") or ())
    v6_subnets = list(ipaddress.IPv6Network(v6).subnets(new_prefix=64))[:3]
    dual_stack = ec2.create_subnet(
        VpcId=vpc_id, CidrBlock="10.0.4.0/24", Ipv6CidrBlock=str(v6_subnets[1]), AvailabilityZone=az[0],
        TagSpecifications=_spec("subnet", "demo-dualstack-a", DEMO_IDS["demo-dualstack-a"]),
    )["Subnet"]["SubnetId"]  # fmt: skip
    ipv6_only = ec2.create_subnet(
        VpcId=vpc_id, Ipv6Native=True, Ipv6CidrBlock=str(v6_subnets[2]), AvailabilityZone=az[1],
        TagSpecifications=_spec("subnet", "demo-ipv6only-b", DEMO_IDS["demo-ipv6only-b"]),
    )["Subnet"]["SubnetId"]  # fmt: skip
    app_sg = group(vpc_id, "demo-app", "Lambda functions of the demo")
    db_sg = group(vpc_id, "demo-db", "Databases of the demo")

    second_vpc = vpc("10.1.0.0/16", "shared")
    second_subnet = subnet(second_vpc, "10.1.1.0/24", az[0], "shared-private-a")
    second_sg = group(second_vpc, "shared-app", "Lambda functions in the shared VPC")

    dedicated_vpc = vpc("10.2.0.0/16", "dedicated", tenancy="dedicated")
    dedicated_subnet = subnet(dedicated_vpc, "10.2.1.0/24", az[0], "dedicated-private-a")
    dedicated_sg = group(dedicated_vpc, "dedicated-app", "Lambda functions in the dedicated VPC")

    role = iam.create_role(
        RoleName="lambda-vpc-demo-exec",
        AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
        Description="Execution role of the demo functions (VPC access)",
        Tags=[{"Key": "Name", "Value": "lambda-vpc-demo-exec"}],
    )
    role_arn = str(role["Role"]["Arn"])
    iam.put_role_policy(
        RoleName="lambda-vpc-demo-exec",
        PolicyName="AWSLambdaVPCAccessExecutionRole",
        PolicyDocument=json.dumps(VPC_ACCESS_POLICY),
    )

    extra_roles: dict[str, str] = {}
    for role_name, policy in (("lambda-vpc-demo-logs-only", LOGS_ONLY_POLICY), ("lambda-vpc-demo-denied", None)):
        created = iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Execution role of the demo without the VPC permissions (role preflight)",
        )
        extra_roles[role_name] = str(created["Role"]["Arn"])
        if policy is not None:
            iam.put_role_policy(RoleName=role_name, PolicyName="LogsOnly", PolicyDocument=json.dumps(policy))
        else:
            iam.put_role_policy(
                RoleName=role_name, PolicyName="AWSLambdaVPCAccessExecutionRole",
                PolicyDocument=json.dumps(VPC_ACCESS_POLICY),
            )  # fmt: skip
            iam.put_role_policy(RoleName=role_name, PolicyName="DenyEnis", PolicyDocument=json.dumps(DENY_ENIS_POLICY))

    code = handler_zip()
    for name in (*DETACHED_FUNCTIONS, ATTACHED_FUNCTION):
        extra: dict[str, Any] = {}
        if name == ATTACHED_FUNCTION:
            extra["VpcConfig"] = {"SubnetIds": [private_a, private_b], "SecurityGroupIds": [app_sg]}
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler="lambda_function.handler",
            Code={"ZipFile": code},
            Description=f"Demo function {name}",
            Tags={"Name": name, "project": "lambda-vpc-operator-demo"},
            **extra,
        )

    functions = (*DETACHED_FUNCTIONS, ATTACHED_FUNCTION)
    if settle:
        _settle(endpoint_url, lam, functions)
    return DemoAccount(
        endpoint_url=endpoint_url,
        region=region,
        account_id=DEFAULT_ACCOUNT_ID,
        vpc_id=vpc_id,
        private_subnet_a_id=private_a,
        private_subnet_b_id=private_b,
        private_subnet_c_id=private_c,
        public_subnet_id=public,
        internet_gateway_id=igw_id,
        nat_gateway_id=nat_id,
        private_route_table_id=private_rt_id,
        app_sg_id=app_sg,
        db_sg_id=db_sg,
        second_vpc_id=second_vpc,
        second_subnet_id=second_subnet,
        second_sg_id=second_sg,
        dedicated_vpc_id=dedicated_vpc,
        dedicated_subnet_id=dedicated_subnet,
        dedicated_sg_id=dedicated_sg,
        role_arn=role_arn,
        functions=functions,
        attached_function=ATTACHED_FUNCTION,
        dual_stack_subnet_id=str(dual_stack),
        ipv6_only_subnet_id=str(ipv6_only),
        no_vpc_access_role_arn=extra_roles["lambda-vpc-demo-logs-only"],
        denied_role_arn=extra_roles["lambda-vpc-demo-denied"],
    )


def _settle(endpoint_url: str, lam: Any, functions: tuple[str, ...], timeout: float = 30.0) -> None:
    """Advance the simulated clock past the creation delays and check every function is Active."""
    control = SimulatorControl(endpoint_url)
    cfg = control.config()
    control.advance(max(cfg["create_delay"], cfg["eni_create_delay"]) + 1.0)
    deadline = time.monotonic() + timeout
    for name in functions:
        while lam.get_function(FunctionName=name)["Configuration"].get("State") != "Active":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not become Active in the simulator.")
            control.advance(1.0)
