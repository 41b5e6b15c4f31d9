"""Hyperplane ENIs: one per (subnet, security-group set), shared, created slowly, deleted late
(aws-facts "Hyperplane ENIs"), visible through EC2 DescribeNetworkInterfaces."""

from __future__ import annotations

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture  # noqa: F401


def test_new_combination_waits_for_the_eni(aws: AwsEnv) -> None:
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.update_delay + 1)
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "InProgress"
    aws.control.advance(aws.config.eni_create_delay)
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "Successful"


def test_new_eni_is_attaching_while_lambda_builds_it_then_in_use(aws: AwsEnv) -> None:
    """The issue's timeline: InProgress with the ENI attaching, then in-use, then Successful."""
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    building = aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id)
    assert [e["Status"] for e in building] == ["attaching"]
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "InProgress"
    assert aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id, status="attaching") == building
    aws.control.advance(aws.config.eni_create_delay + 1)
    done = aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id)
    assert [(e["NetworkInterfaceId"], e["Status"]) for e in done] == [(building[0]["NetworkInterfaceId"], "in-use")]
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "Successful"


def test_new_function_is_pending_while_its_eni_is_attaching(aws: AwsEnv) -> None:
    aws.create_function(
        "fresh", VpcConfig={"SubnetIds": [aws.demo.private_subnet_c_id], "SecurityGroupIds": [aws.demo.db_sg_id]}
    )
    assert aws.configuration("fresh")["State"] == "Pending"
    assert [e["Status"] for e in aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id)] == ["attaching"]
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert aws.configuration("fresh")["State"] == "Active"
    assert [e["Status"] for e in aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id)] == ["in-use"]


def test_combination_delay_overrides_the_default_for_that_combination_only(aws: AwsEnv) -> None:
    slow = (aws.demo.private_subnet_c_id, [aws.demo.app_sg_id])
    aws.control.set_combination_delay(*slow, seconds=aws.config.eni_create_delay * 3)
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.attach("billing-worker", [aws.demo.private_subnet_c_id], [aws.demo.db_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert aws.configuration("billing-worker")["LastUpdateStatus"] == "Successful"
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "InProgress"
    aws.control.advance(aws.config.eni_create_delay * 2)
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "Successful"


def test_combination_delay_of_none_restores_the_default(aws: AwsEnv) -> None:
    aws.control.set_combination_delay(aws.demo.private_subnet_c_id, [aws.demo.app_sg_id], seconds=10_000)
    aws.control.set_combination_delay(aws.demo.private_subnet_c_id, [aws.demo.app_sg_id], seconds=None)
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "Successful"


def available_addresses(aws: AwsEnv, subnet_id: str) -> int:
    return int(aws.ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"])


def test_each_new_eni_takes_one_of_the_subnets_free_addresses(aws: AwsEnv) -> None:
    before = available_addresses(aws, aws.demo.private_subnet_c_id)
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id])
    aws.attach("billing-worker", [aws.demo.private_subnet_c_id], [aws.demo.db_sg_id])
    assert available_addresses(aws, aws.demo.private_subnet_c_id) == before - 2
    aws.attach("reports-cron", [aws.demo.private_subnet_c_id], [aws.demo.db_sg_id])  # shares one
    assert available_addresses(aws, aws.demo.private_subnet_c_id) == before - 2


def test_free_addresses_set_by_control_show_in_describe_subnets(aws: AwsEnv) -> None:
    subnet = aws.demo.private_subnet_c_id
    own = available_addresses(aws, subnet)
    aws.control.set_subnet_free_addresses(subnet, 3)
    assert available_addresses(aws, subnet) == 3
    aws.attach("orders-api", [subnet], [aws.demo.app_sg_id])
    assert available_addresses(aws, subnet) == 2
    aws.control.set_subnet_free_addresses(subnet, None)
    assert available_addresses(aws, subnet) == own - 1


def test_new_eni_is_visible_with_the_operators_filters(aws: AwsEnv) -> None:
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id, aws.demo.db_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    found = aws.lambda_enis(
        subnet_id=aws.demo.private_subnet_c_id, group_id=aws.demo.db_sg_id, vpc_id=aws.demo.vpc_id
    )
    assert len(found) == 1
    eni = found[0]
    assert eni["InterfaceType"] == "lambda"
    assert eni["Status"] == "in-use"
    assert eni["VpcId"] == aws.demo.vpc_id
    assert {g["GroupId"] for g in eni["Groups"]} == {aws.demo.app_sg_id, aws.demo.db_sg_id}
    assert eni["Description"].startswith("AWS Lambda VPC ENI-orders-api-")


def test_status_filter_finds_lambda_enis_in_use(aws: AwsEnv) -> None:
    assert len(aws.lambda_enis(status="in-use")) == 2  # the seeded inventory-sync: subnets a and b


def test_reused_combination_takes_only_the_update_delay(aws: AwsEnv) -> None:
    before = {e["NetworkInterfaceId"] for e in aws.lambda_enis()}
    aws.attach(
        "orders-api", [aws.demo.private_subnet_a_id, aws.demo.private_subnet_b_id], [aws.demo.app_sg_id]
    )
    aws.control.advance(aws.config.update_delay + 1)
    assert aws.configuration("orders-api")["LastUpdateStatus"] == "Successful"
    assert {e["NetworkInterfaceId"] for e in aws.lambda_enis()} == before


def test_two_functions_with_one_combination_share_one_eni(aws: AwsEnv) -> None:
    for name in ("orders-api", "billing-worker"):
        aws.attach(name, [aws.demo.private_subnet_c_id], [aws.demo.db_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert len(aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id)) == 1
    assert {aws.configuration(n)["LastUpdateStatus"] for n in ("orders-api", "billing-worker")} == {
        "Successful"
    }


def test_same_groups_in_another_order_are_the_same_combination(aws: AwsEnv) -> None:
    aws.attach("orders-api", [aws.demo.private_subnet_c_id], [aws.demo.app_sg_id, aws.demo.db_sg_id])
    aws.attach("billing-worker", [aws.demo.private_subnet_c_id], [aws.demo.db_sg_id, aws.demo.app_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert len(aws.lambda_enis(subnet_id=aws.demo.private_subnet_c_id)) == 1


def test_eni_is_deleted_after_detach_and_the_delete_delay(aws: AwsEnv) -> None:
    aws.attach("inventory-sync", [], [])
    aws.control.advance(aws.config.update_delay + 1)
    assert len(aws.lambda_enis()) == 2  # aws-facts: up to 20 minutes to delete
    aws.control.advance(aws.config.eni_delete_delay)
    assert aws.lambda_enis() == []


def test_eni_is_kept_while_another_function_uses_it(aws: AwsEnv) -> None:
    aws.attach("orders-api", [aws.demo.private_subnet_a_id], [aws.demo.app_sg_id])
    aws.control.advance(aws.config.update_delay + 1)
    aws.attach("inventory-sync", [], [])
    aws.control.advance(aws.config.update_delay + aws.config.eni_delete_delay + 1)
    remaining = aws.lambda_enis()
    assert [e["SubnetId"] for e in remaining] == [aws.demo.private_subnet_a_id]


def test_switching_vpcs_creates_new_enis_and_deletes_the_old_later(aws: AwsEnv) -> None:
    aws.attach("inventory-sync", [aws.demo.second_subnet_id], [aws.demo.second_sg_id])
    aws.control.advance(aws.config.eni_create_delay + 1)
    assert aws.configuration("inventory-sync")["VpcConfig"]["VpcId"] == aws.demo.second_vpc_id
    assert len(aws.lambda_enis(vpc_id=aws.demo.vpc_id)) == 2
    aws.control.advance(aws.config.eni_delete_delay)
    assert aws.lambda_enis(vpc_id=aws.demo.vpc_id) == []
    assert len(aws.lambda_enis(vpc_id=aws.demo.second_vpc_id)) == 1


def test_eni_scheduled_for_deletion_is_reused_if_needed_again(aws: AwsEnv) -> None:
    aws.attach("inventory-sync", [], [])
    aws.control.advance(aws.config.update_delay + 1)
    before = {e["NetworkInterfaceId"] for e in aws.lambda_enis()}
    aws.attach(
        "inventory-sync", [aws.demo.private_subnet_a_id, aws.demo.private_subnet_b_id], [aws.demo.app_sg_id]
    )
    aws.control.advance(aws.config.update_delay + aws.config.eni_delete_delay)
    assert aws.configuration("inventory-sync")["LastUpdateStatus"] == "Successful"
    assert {e["NetworkInterfaceId"] for e in aws.lambda_enis()} == before


def test_replace_eni_gives_the_combination_a_new_id_at_once(aws: AwsEnv) -> None:
    old = aws.lambda_enis(subnet_id=aws.demo.private_subnet_a_id)[0]["NetworkInterfaceId"]
    replaced = aws.control.replace_eni(aws.demo.private_subnet_a_id, [aws.demo.app_sg_id])
    assert replaced["old_eni_id"] == old
    now = aws.lambda_enis(subnet_id=aws.demo.private_subnet_a_id)
    assert [e["NetworkInterfaceId"] for e in now] == [replaced["new_eni_id"]] != [old]


def test_replace_eni_with_a_delay_is_attaching_then_in_use_and_the_function_stays_active(aws: AwsEnv) -> None:
    subnet = aws.demo.private_subnet_a_id
    replaced = aws.control.replace_eni(subnet, [aws.demo.app_sg_id], delay=30)
    now = aws.lambda_enis(subnet_id=subnet)
    assert [(e["NetworkInterfaceId"], e["Status"]) for e in now] == [(replaced["new_eni_id"], "attaching")]
    cfg = aws.configuration("inventory-sync")
    assert (cfg["State"], cfg["LastUpdateStatus"]) == ("Active", "Successful")
    aws.control.advance(31)
    assert [e["Status"] for e in aws.lambda_enis(subnet_id=subnet)] == ["in-use"]


def test_replace_eni_of_an_unknown_combination_is_404(aws: AwsEnv) -> None:
    from lambda_vpc_sandbox.aws import SimulatorControlError

    with pytest.raises(SimulatorControlError) as excinfo:
        aws.control.replace_eni(aws.demo.private_subnet_c_id, [aws.demo.db_sg_id])
    assert excinfo.value.status == 404


def test_free_address_jitter_moves_counts_on_every_describe_subnets(aws: AwsEnv) -> None:
    # Subnets shared with pods (VPC CNI): their free count moves all the time.
    subnet, exact = aws.demo.private_subnet_a_id, aws.demo.private_subnet_c_id
    own = available_addresses(aws, subnet)
    aws.control.set_subnet_free_addresses(exact, 40)
    aws.control.set_free_address_jitter(5)
    seen = {available_addresses(aws, subnet) for _ in range(12)}
    assert len(seen) > 1 and all(own - 5 <= n <= own for n in seen)
    assert available_addresses(aws, exact) == 40  # a count set exactly stays exact
    aws.control.set_free_address_jitter(0)
    assert available_addresses(aws, subnet) == available_addresses(aws, subnet)
