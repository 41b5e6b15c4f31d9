"""ListFunctions: pages of at most 50, VpcConfig rewritten, no lifecycle fields (aws-facts
"Lambda function configuration")."""

from __future__ import annotations

import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture, error_of  # noqa: F401

MANY = 120


def _create_many(aws: AwsEnv) -> None:
    for i in range(MANY):
        aws.create_function(f"bulk-{i:03d}")


def test_pages_hold_at_most_50_functions(aws: AwsEnv) -> None:
    _create_many(aws)
    sizes, names, marker = [], [], None
    while True:
        page = aws.lam.list_functions(**({"Marker": marker} if marker else {}))
        sizes.append(len(page["Functions"]))
        names += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    total = MANY + len(aws.demo.functions)
    assert sizes == [50, 50, total - 100]
    assert len(set(names)) == total


def test_max_items_above_50_still_gives_50(aws: AwsEnv) -> None:
    _create_many(aws)
    assert len(aws.lam.list_functions(MaxItems=500)["Functions"]) == 50


def test_max_items_below_50_gives_smaller_pages(aws: AwsEnv) -> None:
    page = aws.lam.list_functions(MaxItems=2)
    assert len(page["Functions"]) == 2
    assert page["NextMarker"]


def test_items_carry_the_real_vpc_config_but_no_lifecycle(aws: AwsEnv) -> None:
    aws.lam.update_function_configuration(FunctionName="orders-api", Description="busy")
    items = {f["FunctionName"]: f for f in aws.lam.list_functions()["Functions"]}
    assert items["inventory-sync"]["VpcConfig"]["VpcId"] == aws.demo.vpc_id
    for item in items.values():
        assert not {"State", "StateReason", "StateReasonCode", "LastUpdateStatus"} & set(item)
        assert item["RevisionId"]


def test_invalid_marker_is_refused(aws: AwsEnv) -> None:
    with pytest.raises(aws.lam.exceptions.InvalidParameterValueException) as excinfo:
        aws.lam.list_functions(Marker="not a marker")
    assert error_of(excinfo)[:2] == ("InvalidParameterValueException", 400)


def test_items_omit_what_only_get_function_answers(aws: AwsEnv) -> None:
    # botocore lambda ListFunctions: "returns a subset of the FunctionConfiguration fields" (no State,
    # LastUpdateStatus and their reasons, no RuntimeVersionConfig); Tags are GetFunction's alone.
    full = aws.lam.get_function(FunctionName="inventory-sync")  # in the demo VPC
    item = next(f for f in aws.lam.list_functions()["Functions"] if f["FunctionName"] == "inventory-sync")
    omitted = {"State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
               "LastUpdateStatusReasonCode", "RuntimeVersionConfig", "Tags"}  # fmt: skip
    assert not omitted & set(item)
    assert item["RevisionId"] == full["Configuration"]["RevisionId"]
    assert item["VpcConfig"] == full["Configuration"]["VpcConfig"]


def test_the_revision_in_the_listing_moves_with_each_update(aws: AwsEnv) -> None:
    def listed() -> str:
        return str(next(f for f in aws.lam.list_functions()["Functions"] if f["FunctionName"] == "orders-api")[
            "RevisionId"])  # fmt: skip

    before = listed()
    aws.lam.update_function_configuration(FunctionName="orders-api", Description="changed")
    assert listed() != before


def test_pages_walk_the_names_in_order_without_gaps_or_repeats(aws: AwsEnv) -> None:
    _create_many(aws)
    names, marker = [], None
    while True:
        page = aws.lam.list_functions(MaxItems=7, **({"Marker": marker} if marker else {}))
        names += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert names == sorted(names) and len(names) == len(set(names)) == MANY + len(aws.demo.functions)


def test_all_versions_are_listed_when_asked(aws: AwsEnv) -> None:
    aws.lam.publish_version(FunctionName="orders-api")
    items = aws.lam.list_functions(FunctionVersion="ALL")["Functions"]
    versions = [f["Version"] for f in items if f["FunctionName"] == "orders-api"]
    assert versions == ["$LATEST", "1"]
