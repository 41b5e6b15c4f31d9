"""Running the simulator: AwsSimulator, the demo account, the control API and ``main``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture  # noqa: F401
from lambda_vpc_sandbox.aws import AwsSimulator, SimConfig, SimulatorControlError


def _tag(resource: dict[str, object], key: str = "Name") -> object:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}.get(key)  # type: ignore[attr-defined]


def test_simulator_serves_on_a_free_port_and_stops() -> None:
    with AwsSimulator(config=SimConfig()) as simulator:
        assert simulator.port > 0
        assert simulator.endpoint_url == f"http://127.0.0.1:{simulator.port}"
        assert simulator.control.config()["update_delay"] == SimConfig().update_delay
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{simulator.endpoint_url}/_sim/now", data=b"{}", timeout=2)


def test_demo_vpcs_subnets_and_groups(aws: AwsEnv) -> None:
    demo = aws.demo
    vpcs = {v["VpcId"]: v for v in aws.ec2.describe_vpcs(VpcIds=[demo.vpc_id, demo.second_vpc_id])["Vpcs"]}
    assert (_tag(vpcs[demo.vpc_id]), vpcs[demo.vpc_id]["CidrBlock"]) == ("demo", "10.0.0.0/16")
    assert _tag(vpcs[demo.second_vpc_id]) == "shared"
    subnets = aws.ec2.describe_subnets(SubnetIds=list(demo.private_subnet_ids))["Subnets"]
    assert {s["AvailabilityZone"] for s in subnets} == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert {s["VpcId"] for s in subnets} == {demo.vpc_id}
    groups = aws.ec2.describe_security_groups(GroupIds=[demo.app_sg_id, demo.db_sg_id, demo.second_sg_id])
    assert {g["GroupId"]: g["VpcId"] for g in groups["SecurityGroups"]} == {
        demo.app_sg_id: demo.vpc_id,
        demo.db_sg_id: demo.vpc_id,
        demo.second_sg_id: demo.second_vpc_id,
    }


def test_demo_dedicated_vpc(aws: AwsEnv) -> None:
    vpc = aws.ec2.describe_vpcs(VpcIds=[aws.demo.dedicated_vpc_id])["Vpcs"][0]
    assert vpc["InstanceTenancy"] == "dedicated"


def test_demo_private_subnets_a_and_b_route_through_the_nat_gateway(aws: AwsEnv) -> None:
    tables = aws.ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [aws.demo.private_subnet_a_id]}]
    )["RouteTables"]
    routes = {r.get("DestinationCidrBlock"): r.get("NatGatewayId") for r in tables[0]["Routes"]}
    assert routes["0.0.0.0/0"] == aws.demo.nat_gateway_id


def test_demo_role_has_the_vpc_access_policy(aws: AwsEnv) -> None:
    policy = aws.iam.get_role_policy(
        RoleName="lambda-vpc-demo-exec", PolicyName="AWSLambdaVPCAccessExecutionRole"
    )
    actions = policy["PolicyDocument"]["Statement"][0]["Action"]
    assert "ec2:CreateNetworkInterface" in actions


def test_demo_functions_are_active_and_one_is_attached(aws: AwsEnv) -> None:
    states = {name: aws.configuration(name)["State"] for name in aws.demo.functions}
    assert set(states.values()) == {"Active"}
    attached = aws.configuration(aws.demo.attached_function)["VpcConfig"]
    assert attached["SubnetIds"] == [aws.demo.private_subnet_a_id, aws.demo.private_subnet_b_id]


def test_control_unknown_route_is_404(aws: AwsEnv) -> None:
    request = urllib.request.Request(f"{aws.endpoint_url}/_sim/nothing-here", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=5)
    assert excinfo.value.code == 404


def test_control_missing_argument_is_400(aws: AwsEnv) -> None:
    with pytest.raises(SimulatorControlError) as excinfo:
        aws.control._call("set_eni_quota", vpc_id=aws.demo.vpc_id)
    assert excinfo.value.status == 400


def test_control_make_idle_of_an_unknown_function_is_404(aws: AwsEnv) -> None:
    with pytest.raises(SimulatorControlError) as excinfo:
        aws.control.make_idle("nobody")
    assert excinfo.value.status == 404


def test_control_set_delays_changes_only_the_given_ones(aws: AwsEnv) -> None:
    cfg = aws.control.set_delays(update=2.5)
    assert (cfg["update_delay"], cfg["create_delay"]) == (2.5, aws.config.create_delay)


def test_control_reset_forgets_functions_and_settings(aws: AwsEnv) -> None:
    aws.control.set_delays(update=99)
    aws.control.reset()
    assert aws.lam.list_functions()["Functions"] == []
    assert aws.control.config()["update_delay"] == aws.config.update_delay


def test_control_functions_and_enis_show_the_bookkeeping(aws: AwsEnv) -> None:
    functions = {f["name"]: f for f in aws.control.functions()}
    assert functions["inventory-sync"]["State"] == "Active"
    assert {e["subnet_id"] for e in aws.control.enis()} == {
        aws.demo.private_subnet_a_id,
        aws.demo.private_subnet_b_id,
    }


def test_main_prints_the_endpoint_and_the_seeded_ids() -> None:
    env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "lambda_vpc_sandbox.aws", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("}"):
                break
        output = json.loads("".join(lines))
        assert output["endpoint_url"].startswith("http://127.0.0.1:")
        assert output["demo"]["vpc_id"].startswith("vpc-")
        assert output["demo"]["attached_function"] == "inventory-sync"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
