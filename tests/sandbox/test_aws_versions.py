"""Published versions and aliases: a version keeps the VpcConfig it was published with, and the
Hyperplane ENIs it uses (aws-facts "Lambda function configuration", "Hyperplane ENIs")."""

from __future__ import annotations

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401

ATTACHED = "inventory-sync"  # seeded in private subnets a and b with the app group


def _vpc(cfg: dict[str, object]) -> tuple[set[str], set[str], object]:
    vpc = cfg.get("VpcConfig") or {}
    assert isinstance(vpc, dict)
    return set(vpc.get("SubnetIds") or ()), set(vpc.get("SecurityGroupIds") or ()), vpc.get("VpcId") or ""


def _move(aws: AwsEnv, name: str, subnets: list[str], groups: list[str]) -> None:
    aws.attach(name, subnets, groups)
    aws.control.advance(aws.config.update_delay + aws.config.eni_create_delay + 1)
    assert aws.configuration(name)["LastUpdateStatus"] == "Successful"


def test_a_version_keeps_the_vpc_config_it_was_published_with(aws: AwsEnv) -> None:
    demo = aws.demo
    published = aws.lam.publish_version(FunctionName=ATTACHED)
    assert published["Version"] == "1"
    old = ({demo.private_subnet_a_id, demo.private_subnet_b_id}, {demo.app_sg_id}, demo.vpc_id)
    assert _vpc(published) == old

    _move(aws, ATTACHED, [demo.second_subnet_id], [demo.second_sg_id])

    latest = aws.lam.get_function_configuration(FunctionName=ATTACHED)
    assert _vpc(latest) == ({demo.second_subnet_id}, {demo.second_sg_id}, demo.second_vpc_id)
    version = aws.lam.get_function_configuration(FunctionName=ATTACHED, Qualifier="1")
    assert (version["Version"], _vpc(version)) == ("1", old)
    assert _vpc(aws.lam.get_function(FunctionName=ATTACHED, Qualifier="1")["Configuration"]) == old
    assert _vpc(aws.lam.get_function_configuration(FunctionName=f"{ATTACHED}:1")) == old


def test_an_alias_answers_its_versions_vpc_config(aws: AwsEnv) -> None:
    demo = aws.demo
    aws.lam.publish_version(FunctionName=ATTACHED)
    aws.lam.create_alias(FunctionName=ATTACHED, Name="live", FunctionVersion="1")
    _move(aws, ATTACHED, [demo.private_subnet_c_id], [demo.db_sg_id])
    second = aws.lam.publish_version(FunctionName=ATTACHED)
    assert second["Version"] == "2"
    assert _vpc(second)[0] == {demo.private_subnet_c_id}

    live = aws.lam.get_function_configuration(FunctionName=ATTACHED, Qualifier="live")
    assert (live["Version"], _vpc(live)[0]) == ("1", {demo.private_subnet_a_id, demo.private_subnet_b_id})
    aws.lam.update_alias(FunctionName=ATTACHED, Name="live", FunctionVersion="2")
    live = aws.lam.get_function_configuration(FunctionName=ATTACHED, Qualifier="live")
    assert (live["Version"], _vpc(live)[0]) == ("2", {demo.private_subnet_c_id})


def test_a_version_of_a_function_outside_any_vpc_has_no_vpc(aws: AwsEnv) -> None:
    published = aws.lam.publish_version(FunctionName="orders-api")
    assert _vpc(published) == (set(), set(), "")
    aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.update_delay + 1)
    version = aws.lam.get_function_configuration(FunctionName="orders-api", Qualifier="1")
    assert _vpc(version) == (set(), set(), "")


def test_publish_version_conflicts_while_an_update_is_in_progress(aws: AwsEnv) -> None:
    aws.attach(ATTACHED, [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    with pytest.raises(aws.lam.exceptions.ResourceConflictException) as excinfo:
        aws.lam.publish_version(FunctionName=ATTACHED)
    assert error_of(excinfo)[:2] == ("ResourceConflictException", 409)


def test_publishing_an_unchanged_function_returns_the_last_version(aws: AwsEnv) -> None:
    # PublishVersion documentation: no new version if nothing changed since the last one.
    assert aws.lam.publish_version(FunctionName=ATTACHED)["Version"] == "1"
    assert aws.lam.publish_version(FunctionName=ATTACHED)["Version"] == "1"


def test_a_versions_enis_stay_after_latest_leaves_and_go_with_the_version(aws: AwsEnv) -> None:
    demo = aws.demo
    aws.lam.publish_version(FunctionName=ATTACHED)
    before = {e["NetworkInterfaceId"] for e in aws.lambda_enis(vpc_id=demo.vpc_id)}
    assert len(before) == 2

    aws.attach(ATTACHED, [], [])
    aws.control.advance(aws.config.update_delay + aws.config.eni_delete_delay + 1)
    # aws-facts "Hyperplane ENIs": deleted only when no function or version uses it.
    assert {e["NetworkInterfaceId"] for e in aws.lambda_enis(vpc_id=demo.vpc_id)} == before

    aws.lam.delete_function(FunctionName=ATTACHED, Qualifier="1")
    assert len(aws.lambda_enis(vpc_id=demo.vpc_id)) == 2  # deleted late, as for a function
    aws.control.advance(aws.config.eni_delete_delay + 1)
    assert aws.lambda_enis(vpc_id=demo.vpc_id) == []


def test_list_aliases_pages_and_filters_by_version(aws: AwsEnv) -> None:
    aws.lam.publish_version(FunctionName=ATTACHED)
    _move(aws, ATTACHED, [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.lam.publish_version(FunctionName=ATTACHED)
    aws.lam.create_alias(FunctionName=ATTACHED, Name="live", FunctionVersion="1")
    aws.lam.create_alias(FunctionName=ATTACHED, Name="canary", FunctionVersion="2")
    aws.lam.create_alias(
        FunctionName=ATTACHED, Name="shifting", FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}},
    )  # fmt: skip

    first = aws.lam.list_aliases(FunctionName=ATTACHED, MaxItems=2)
    assert [a["Name"] for a in first["Aliases"]] == ["canary", "live"]
    second = aws.lam.list_aliases(FunctionName=ATTACHED, MaxItems=2, Marker=first["NextMarker"])
    assert [a["Name"] for a in second["Aliases"]] == ["shifting"]
    assert "NextMarker" not in second
    assert second["Aliases"][0]["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.25}}
    only_one = aws.lam.list_aliases(FunctionName=ATTACHED, FunctionVersion="1")["Aliases"]
    assert [a["Name"] for a in only_one] == ["live", "shifting"]


def test_list_aliases_of_a_missing_function_is_404(aws: AwsEnv) -> None:
    with pytest.raises(aws.lam.exceptions.ResourceNotFoundException) as excinfo:
        aws.lam.list_aliases(FunctionName="no-such-function")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
