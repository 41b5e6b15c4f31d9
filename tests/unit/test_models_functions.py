"""FunctionRef, VpcSettings, FunctionObservation and Failure: names, normal forms and AWS readings."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import (
    DETACHED,
    FunctionObservation,
    FunctionRef,
    FunctionState,
    UpdateStatus,
    VpcSettings,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"

# --- FunctionRef.parse --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "default_region", "expected"),
    [
        pytest.param("orders", "us-east-1", FunctionRef("orders", "us-east-1"), id="name"),
        pytest.param("orders", None, FunctionRef("orders"), id="name-without-region"),
        pytest.param("my_fn-2", "eu-west-1", FunctionRef("my_fn-2", "eu-west-1"), id="name-with-underscore"),
        pytest.param("123456789012:function:orders", "eu-west-1",
                     FunctionRef("orders", "eu-west-1", "123456789012"), id="partial-arn"),
        pytest.param(ARN, "eu-west-1", FunctionRef("orders", "us-east-1", "123456789012"),
                     id="full-arn-region-wins"),
        pytest.param("arn:aws-cn:lambda:cn-north-1:123456789012:function:orders", None,
                     FunctionRef("orders", "cn-north-1", "123456789012", "aws-cn"), id="full-arn-china"),
        pytest.param("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:orders", None,
                     FunctionRef("orders", "us-gov-west-1", "123456789012", "aws-us-gov"), id="full-arn-govcloud"),
    ],
)  # fmt: skip
def test_parse_accepts_the_three_forms(text: str, default_region: str | None, expected: FunctionRef) -> None:
    assert FunctionRef.parse(text, default_region) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(ARN + ":1", id="version-qualifier"),
        pytest.param(ARN + ":$LATEST", id="latest-qualifier"),
        pytest.param(ARN + ":prod", id="alias-qualifier"),
        pytest.param("123456789012:function:orders:7", id="qualified-partial-arn"),
        pytest.param("orders:prod", id="qualified-name"),
        pytest.param("function:orders", id="function-prefix-only"),
        pytest.param("123456789012:orders", id="account-without-function"),
        pytest.param("arn:aws:lambda:us-east-1:12345:function:orders", id="short-account"),
        pytest.param("orders.v2", id="dot"),
        pytest.param("", id="empty"),
    ],
)
def test_parse_rejects_everything_else(text: str) -> None:
    with pytest.raises(ValueError, match="without a version qualifier"):
        FunctionRef.parse(text, "us-east-1")


@pytest.mark.parametrize(
    "text",
    ["orders", "123456789012:function:orders", ARN],
    ids=["name", "partial-arn", "full-arn"],
)
def test_one_function_named_any_way_has_one_key(text: str) -> None:
    assert FunctionRef.parse(text, "us-east-1").key == "us-east-1/orders"


def test_same_name_in_two_regions_has_two_keys() -> None:
    assert FunctionRef.parse("orders", "us-east-1").key != FunctionRef.parse("orders", "eu-west-1").key


def test_arn_of_another_region_is_another_function() -> None:
    assert FunctionRef.parse(ARN).key != FunctionRef.parse("orders", "eu-west-1").key


def test_key_without_region() -> None:
    assert FunctionRef.parse("orders").key == "-/orders"


@pytest.mark.parametrize(
    ("text", "default_region", "api_name"),
    [
        pytest.param("orders", "us-east-1", "orders", id="name"),
        pytest.param("123456789012:function:orders", "us-east-1", ARN, id="partial-arn"),
        pytest.param(ARN, None, ARN, id="full-arn"),
        pytest.param("arn:aws-cn:lambda:cn-north-1:123456789012:function:orders", None,
                     "arn:aws-cn:lambda:cn-north-1:123456789012:function:orders", id="full-arn-china"),
        # A partial ARN names no partition: its region does (botocore endpoints.json regionRegex).
        pytest.param("123456789012:function:orders", "cn-northwest-1",
                     "arn:aws-cn:lambda:cn-northwest-1:123456789012:function:orders", id="partial-arn-china"),
        pytest.param("123456789012:function:orders", "us-gov-east-1",
                     "arn:aws-us-gov:lambda:us-gov-east-1:123456789012:function:orders", id="partial-arn-govcloud"),
        pytest.param("123456789012:function:orders", "us-isob-east-1",
                     "arn:aws-iso-b:lambda:us-isob-east-1:123456789012:function:orders", id="partial-arn-iso-b"),
        pytest.param("123456789012:function:orders", "us-iso-east-1",
                     "arn:aws-iso:lambda:us-iso-east-1:123456789012:function:orders", id="partial-arn-iso"),
    ],
)  # fmt: skip
def test_api_name(text: str, default_region: str | None, api_name: str) -> None:
    assert FunctionRef.parse(text, default_region).api_name == api_name


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("orders", id="name"),
        pytest.param("a" * 64, id="longest-name"),
        pytest.param("123456789012:function:orders", id="partial-arn"),
        pytest.param(ARN, id="full-arn"),
        pytest.param("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:orders", id="govcloud-arn"),
        pytest.param("arn:aws:lambda:eusc-de-east-1:123456789012:function:orders", id="eusc-arn"),
        # Spellings that botocore's looser pattern allows and FunctionRef.parse refuses:
        pytest.param("function:orders", id="function-prefix-only"),
        pytest.param("123456789012:orders", id="account-without-function"),
        pytest.param("us-east-1:123456789012:function:orders", id="region-without-arn"),
        pytest.param("arn:aws:lambda:orders", id="arn-without-region"),
        pytest.param("arn::lambda:us-east-1:123456789012:function:orders", id="arn-without-partition"),
        pytest.param("a" * 65, id="name-too-long"),
    ],
)
def test_every_function_name_the_spec_accepts_can_be_resolved(text: str) -> None:
    # The API server enforces the spec's pattern; anything it lets through must reach AWS as meant.
    try:
        AttachmentSpec.model_validate({"functionName": text, "subnetIds": ["subnet-a1"], "securityGroupIds": ["sg-1"]})
    except pydantic.ValidationError:
        return
    assert FunctionRef.parse(text, "us-east-1").name in text


# --- VpcSettings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vpc_config",
    [
        pytest.param(None, id="absent"),
        pytest.param({}, id="empty-object"),
        pytest.param({"SubnetIds": [], "SecurityGroupIds": []}, id="empty-lists"),
        pytest.param({"SubnetIds": None, "SecurityGroupIds": None}, id="null-lists"),
        pytest.param({"SubnetIds": [], "SecurityGroupIds": [], "VpcId": ""}, id="empty-vpc-id"),
        pytest.param({"SubnetIds": [], "SecurityGroupIds": [], "Ipv6AllowedForDualStack": None}, id="ipv6-null"),
        pytest.param({"SubnetIds": [], "SecurityGroupIds": [], "Ipv6AllowedForDualStack": True}, id="ipv6-detached"),
    ],
)
def test_every_empty_spelling_is_detached(vpc_config: dict[str, Any] | None) -> None:
    vpc = VpcSettings.from_aws(vpc_config)
    assert vpc == DETACHED
    assert vpc.attached is False


@pytest.mark.parametrize(
    "vpc_config",
    [
        pytest.param({"SubnetIds": ["subnet-b2", "subnet-a1"], "SecurityGroupIds": ["sg-2", "sg-1"]}, id="reversed"),
        pytest.param({"SubnetIds": ["subnet-a1", "subnet-b2"], "SecurityGroupIds": ["sg-1", "sg-2"],
                      "VpcId": "vpc-1", "Ipv6AllowedForDualStack": None}, id="ipv6-null"),
        pytest.param({"SubnetIds": ["subnet-a1", "subnet-b2"], "SecurityGroupIds": ["sg-1", "sg-2"],
                      "Ipv6AllowedForDualStack": False}, id="ipv6-false"),
    ],
)  # fmt: skip
def test_attached_spellings_compare_equal(vpc_config: dict[str, Any]) -> None:
    assert VpcSettings.from_aws(vpc_config) == VpcSettings.of(["subnet-a1", "subnet-b2"], ["sg-1", "sg-2"])


def test_ipv6_flag_counts_when_attached() -> None:
    with_ipv6 = VpcSettings.from_aws({"SubnetIds": ["subnet-a1"], "SecurityGroupIds": ["sg-1"],
                                      "Ipv6AllowedForDualStack": True})  # fmt: skip
    assert with_ipv6.ipv6_allowed_for_dual_stack is True
    assert with_ipv6 != VpcSettings.of(["subnet-a1"], ["sg-1"])


def test_to_aws_is_sorted_and_carries_ipv6_when_attached() -> None:
    vpc = VpcSettings.of(["subnet-c3", "subnet-a1"], ["sg-b", "sg-a"], ipv6_allowed_for_dual_stack=True)
    assert vpc.to_aws() == {
        "SubnetIds": ["subnet-a1", "subnet-c3"],
        "SecurityGroupIds": ["sg-a", "sg-b"],
        "Ipv6AllowedForDualStack": True,
    }


def test_to_aws_of_detached_is_the_detach_request_with_ipv6_false() -> None:
    # AWS refuses a detach whose flag stays true (cloudformation-coverage-roadmap #2061).
    assert DETACHED.to_aws() == {"SubnetIds": [], "SecurityGroupIds": [], "Ipv6AllowedForDualStack": False}


def test_to_aws_round_trips() -> None:
    vpc = VpcSettings.of(["subnet-b2", "subnet-a1"], ["sg-1"], ipv6_allowed_for_dual_stack=True)
    assert VpcSettings.from_aws(vpc.to_aws()) == vpc


@pytest.mark.parametrize(
    ("subnets", "groups", "attached"),
    [
        pytest.param([], [], False, id="nothing"),
        pytest.param(["subnet-a1"], [], True, id="subnets-only"),
        pytest.param([], ["sg-1"], True, id="groups-only"),
    ],
)
def test_attached_when_anything_is_set(subnets: list[str], groups: list[str], attached: bool) -> None:
    assert VpcSettings.of(subnets, groups).attached is attached


# --- FunctionObservation ------------------------------------------------------------------------


def test_observation_from_a_get_function_configuration() -> None:
    observed = FunctionObservation.from_aws({
        "FunctionName": "orders",
        "FunctionArn": ARN,
        "Role": "arn:aws:iam::123456789012:role/orders-exec",
        "VpcConfig": {"SubnetIds": ["subnet-b2", "subnet-a1"], "SecurityGroupIds": ["sg-1"], "VpcId": "vpc-1",
                      "Ipv6AllowedForDualStack": False},
        "State": "Failed",
        "StateReason": "No free addresses",
        "StateReasonCode": "SubnetOutOfIPAddresses",
        "LastUpdateStatus": "Failed",
        "LastUpdateStatusReason": "No free addresses",
        "LastUpdateStatusReasonCode": "SubnetOutOfIPAddresses",
        "RevisionId": "rev-1",
    })  # fmt: skip
    assert observed == FunctionObservation(
        name="orders",
        arn=ARN,
        vpc=VpcSettings.of(["subnet-a1", "subnet-b2"], ["sg-1"]),
        vpc_id="vpc-1",
        state=FunctionState.FAILED,
        state_reason="No free addresses",
        state_reason_code="SubnetOutOfIPAddresses",
        last_update_status=UpdateStatus.FAILED,
        last_update_status_reason="No free addresses",
        last_update_status_reason_code="SubnetOutOfIPAddresses",
        revision_id="rev-1",
        role="arn:aws:iam::123456789012:role/orders-exec",
    )


def test_observation_of_a_list_functions_entry_has_no_state() -> None:
    # ListFunctions has VpcConfig but neither State nor LastUpdateStatus (aws-facts).
    observed = FunctionObservation.from_aws({
        "FunctionName": "orders", "FunctionArn": ARN, "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": [],
                                                                    "VpcId": ""},
    })  # fmt: skip
    assert (observed.state, observed.last_update_status, observed.vpc, observed.vpc_id, observed.revision_id) == (
        None, None, DETACHED, None, None,
    )  # fmt: skip


def test_observation_reads_empty_strings_as_absent() -> None:
    observed = FunctionObservation.from_aws({
        "FunctionName": "orders", "FunctionArn": ARN, "State": "", "StateReason": "", "StateReasonCode": "",
        "LastUpdateStatus": "", "LastUpdateStatusReason": "", "LastUpdateStatusReasonCode": "",
    })  # fmt: skip
    assert (observed.state, observed.state_reason, observed.state_reason_code, observed.last_update_status,
            observed.last_update_status_reason, observed.last_update_status_reason_code) == (None,) * 6  # fmt: skip


@pytest.mark.parametrize(
    ("state", "update", "busy"),
    [
        pytest.param("Pending", None, True, id="pending"),
        pytest.param("Active", "InProgress", True, id="update-in-progress"),
        pytest.param("Inactive", "InProgress", True, id="inactive-updating"),
        pytest.param("Active", "Successful", False, id="active"),
        pytest.param("Active", "Failed", False, id="update-failed"),
        pytest.param("Inactive", "Successful", False, id="inactive"),
        pytest.param("Failed", None, False, id="failed"),
        pytest.param(None, None, False, id="unknown"),
    ],
)
def test_busy_when_aws_refuses_updates(state: str | None, update: str | None, busy: bool) -> None:
    config: dict[str, Any] = {"FunctionName": "orders", "FunctionArn": ARN, "State": state, "LastUpdateStatus": update}
    assert FunctionObservation.from_aws(config).busy is busy


# --- Failure ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "transient"),
    [
        (FailureKind.NOT_FOUND, False),
        (FailureKind.CONFLICT, True),
        (FailureKind.STALE_REVISION, True),
        (FailureKind.THROTTLED, True),
        (FailureKind.INVALID_PARAMETER, False),
        (FailureKind.ACCESS_DENIED, False),
        (FailureKind.SERVICE_ERROR, True),
        (FailureKind.ROLE_PERMISSIONS, True),
    ],
    ids=str,
)
def test_failure_kinds_are_transient_or_not(kind: FailureKind, transient: bool) -> None:
    assert Failure(kind, "Code", "message").transient is transient


def test_every_failure_kind_is_classified() -> None:
    transient = {k for k in FailureKind if Failure(k, "Code", "m").transient}
    assert transient == {FailureKind.CONFLICT, FailureKind.STALE_REVISION, FailureKind.THROTTLED,
                         FailureKind.SERVICE_ERROR, FailureKind.ROLE_PERMISSIONS}  # fmt: skip
