"""planner.sweeps: the cheaper way to observe an account, and which functions need a GetFunction."""

from __future__ import annotations

import dataclasses

import pytest

from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings
from lambda_vpc_operator.planner import sweeps
from lambda_vpc_operator.planner.sweeps import Fingerprint, Known, Listed, ReadReason, Way

HOUR = 3600.0
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:payments"
VPC = VpcSettings.of(["subnet-a", "subnet-b"], ["sg-1"])


def observation(**changes: object) -> FunctionObservation:
    base = FunctionObservation(
        "payments", ARN, VPC, "vpc-1", FunctionState.ACTIVE, None, None, UpdateStatus.SUCCESSFUL, None, None, "rev-1"
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def item(**changes: object) -> Fingerprint:
    """What the observer keeps of a ListFunctions item (no State, no LastUpdateStatus: aws-facts)."""
    return Fingerprint.of(observation(state=None, last_update_status=None, **changes))


@pytest.mark.parametrize(
    ("account", "managed", "way"),
    [
        (None, 1, Way.LIST),  # the account's size is not known yet: list it once
        (1000, 1000, Way.LIST),  # 20 pages at 10/s (2 s) against 1,000 GetFunction at 50/s (20 s)
        (1000, 100, Way.LIST),  # 2 s against 2 s: a tie lists
        (1000, 99, Way.GET),
        (5000, 100, Way.GET),  # 100 pages (10 s) against 100 GetFunction (2 s)
        (0, 0, Way.GET),  # nothing managed: nothing to read
        (49, 1, Way.GET),  # one page (0.1 s) against one GetFunction (0.02 s)
    ],
)
def test_choose_way_compares_seconds_of_each_budget(account: int | None, managed: int, way: Way) -> None:
    assert sweeps.choose_way(account, managed, control_rate=10, get_function_rate=50) == way


def test_list_pages_are_fifty_functions_each() -> None:
    assert [sweeps.list_pages(n) for n in (0, 1, 50, 51, 1000, 5000)] == [1, 1, 1, 2, 20, 100]


def decide(known: Known | None, listed: Listed | None, **kw: object) -> ReadReason | None:
    args: dict[str, object] = {"way": Way.LIST, "now": 100.0, "lifecycle_interval": HOUR, **kw}
    return sweeps.read_reason(known, listed, **args)  # type: ignore[arg-type]


def test_a_steady_function_costs_nothing() -> None:
    assert decide(Known(observation(), 10.0), Listed(item(), 50.0)) is None


def test_a_reading_newer_than_the_listing_stands() -> None:
    # The listing is older than the GetFunction: its RevisionId says nothing about now.
    assert decide(Known(observation(revision_id="rev-2"), 60.0), Listed(item(), 50.0)) is None
    assert decide(Known(observation(), 60.0), None) is None


@pytest.mark.parametrize(
    "listed",
    [
        item(revision_id="rev-2"),  # a configuration or code update
        item(vpc=VpcSettings.of(["subnet-a"], ["sg-1"])),  # someone changed VpcConfig
        item(vpc=VpcSettings(), vpc_id=None),  # detached
    ],
)
def test_a_changed_revision_or_vpc_config_gets_one_read(listed: Fingerprint) -> None:
    assert decide(Known(observation(), 10.0), Listed(listed, 50.0)) == ReadReason.CHANGED


def test_a_function_gone_from_the_listing_is_read_once() -> None:
    assert decide(Known(observation(), 10.0), Listed(None, 50.0)) == ReadReason.UNLISTED
    # GetFunction said not found, and the listing agrees: nothing more to ask.
    assert decide(Known(None, 60.0), Listed(None, 70.0)) is None
    # ... until it is listed again (created anew).
    assert decide(Known(None, 60.0), Listed(item(), 70.0)) == ReadReason.CHANGED


@pytest.mark.parametrize(
    "moving",
    [
        observation(last_update_status=UpdateStatus.IN_PROGRESS),
        observation(state=FunctionState.PENDING),  # creating, or reactivating (Restoring)
    ],
)
def test_a_function_in_transition_is_read_at_each_look(moving: FunctionObservation) -> None:
    assert decide(Known(moving, 10.0), Listed(item(), 50.0)) == ReadReason.TRANSITION


def test_lifecycle_is_read_again_after_the_interval() -> None:
    # Inactive (idle), Deactivated...: State changes without a new RevisionId, and ListFunctions omits it.
    inactive_unknown = Known(observation(), 10.0)
    assert decide(inactive_unknown, Listed(item(), 50.0), now=10.0 + HOUR - 1) is None
    assert decide(inactive_unknown, Listed(item(), 50.0), now=10.0 + HOUR) == ReadReason.LIFECYCLE


def test_what_the_look_asks_for_comes_first() -> None:
    steady = Known(observation(), 10.0)
    assert decide(None, None) == ReadReason.FIRST
    assert decide(steady, Listed(item(), 50.0), fresh=True) == ReadReason.ASKED
    assert decide(steady, Listed(item(), 50.0), written_at=10.0) == ReadReason.WRITTEN  # e.g. our TagResource
    assert decide(steady, Listed(item(), 50.0), written_at=9.0) is None  # read after our write
    assert decide(steady, Listed(item(), 50.0), way=Way.GET) == ReadReason.POLLED
