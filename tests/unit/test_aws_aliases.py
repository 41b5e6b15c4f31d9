"""Aliases against stubbed botocore clients: ListAliases paged, versions read once and cached."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber
from clocks import VirtualClock

from lambda_vpc_operator.aws import aliases, budgets, clients, errors
from lambda_vpc_operator.models.aliases import AliasFacts, VersionFacts
from lambda_vpc_operator.models.functions import FunctionRef, VpcSettings

REGION = "eu-west-1"
ARN = f"arn:aws:lambda:{REGION}:123456789012:function:payments"
REF = FunctionRef.parse(ARN)


@pytest.fixture
def request_budgets() -> budgets.RequestBudgets:
    clock = VirtualClock(0.0)
    return budgets.RequestBudgets(clock=clock, sleep=clock.sleep)


@pytest.fixture
def reader(aws_clients: clients.AwsClients, request_budgets: budgets.RequestBudgets) -> aliases.Aliases:
    return aliases.Aliases(aws_clients, request_budgets, cache_size=2)


@pytest.fixture
def stub(aws_clients: clients.AwsClients) -> Iterator[Stubber]:
    with Stubber(aws_clients.lambda_()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def alias(name: str, version: str, **extra: object) -> dict[str, object]:
    return {"AliasArn": f"{ARN}:{name}", "Name": name, "FunctionVersion": version, "RevisionId": "r", **extra}


def version_configuration(version: str, subnets: list[str], vpc_id: str = "vpc-1") -> dict[str, object]:
    vpc = {"SubnetIds": subnets, "SecurityGroupIds": ["sg-1"], "VpcId": vpc_id} if subnets else {}
    return {"FunctionName": "payments", "FunctionArn": f"{ARN}:{version}", "Version": version, "VpcConfig": vpc}


async def test_list_aliases_follows_next_marker(reader: aliases.Aliases, stub: Stubber) -> None:
    weighted = alias("shift", "3", RoutingConfig={"AdditionalVersionWeights": {"4": 0.1}})
    stub.add_response("list_aliases", {"Aliases": [alias("live", "3")], "NextMarker": "m1"}, {"FunctionName": ARN})
    stub.add_response("list_aliases", {"Aliases": [weighted]}, {"FunctionName": ARN, "Marker": "m1"})

    found = await reader.of_function(REF)

    assert found == (AliasFacts("live", "3"), AliasFacts("shift", "3", {"4": 0.1}))
    assert found[1].versions == ("3", "4")


@pytest.mark.parametrize("operation", ["list_aliases", "get_function_configuration"])
async def test_both_reads_spend_the_shared_control_budget(
    reader: aliases.Aliases, stub: Stubber, request_budgets: budgets.RequestBudgets, operation: str
) -> None:
    # A throttle pauses the budget the request was charged to: the 15/s one, not GetFunction's.
    stub.add_client_error(operation, "TooManyRequestsException", "slow down", 429,
                          modeled_fields={"retryAfterSeconds": "4", "Reason": "CallerRateLimitExceeded"})  # fmt: skip
    with pytest.raises(errors.Throttled):
        if operation == "list_aliases":
            await reader.of_function(REF)
        else:
            await reader.version(REF, ARN, "1")
    assert request_budgets.control(REGION).paused_for == 4.0
    assert request_budgets.get_function(REGION).paused_for == 0.0


async def test_list_aliases_is_put_off_when_the_information_share_is_spent(
    reader: aliases.Aliases, stub: Stubber, request_budgets: budgets.RequestBudgets
) -> None:
    # Never waits for the share: no token now, no request (the stub has none to answer), None.
    while request_budgets.information(REGION).try_acquire():
        pass
    assert await reader.of_function(REF) is None


async def test_list_aliases_never_queues_behind_the_writes_of_the_control_budget(
    reader: aliases.Aliases, stub: Stubber, request_budgets: budgets.RequestBudgets
) -> None:
    # A write waits for the next token: the aliases are put off (no request, the stub has none),
    # instead of waiting in the queue behind every write, holding the look.
    control = request_budgets.control(REGION)
    while control.try_acquire():
        pass
    assert control.would_wait()
    assert await reader.of_function(REF) is None


async def test_list_aliases_stands_aside_for_a_while_after_a_throttle(
    aws_clients: clients.AwsClients, stub: Stubber
) -> None:
    clock = VirtualClock(0.0)
    request_budgets = budgets.RequestBudgets(clock=clock, sleep=clock.sleep)
    reader = aliases.Aliases(aws_clients, request_budgets)
    request_budgets.control(REGION).pause(1.0)  # AWS throttled the account's control plane
    clock.now += 1.5  # the pause is over, but the account is busy: no request (the stub has none)
    assert await reader.of_function(REF) is None
    clock.now += budgets.INFORMATION_QUIET_AFTER_THROTTLE
    stub.add_response("list_aliases", {"Aliases": []}, {"FunctionName": ARN})
    assert await reader.of_function(REF) == ()


async def test_no_aliases_is_an_empty_tuple(reader: aliases.Aliases, stub: Stubber) -> None:
    stub.add_response("list_aliases", {"Aliases": []}, {"FunctionName": ARN})
    assert await reader.of_function(REF) == ()


async def test_list_aliases_refused_raises_access_denied(reader: aliases.Aliases, stub: Stubber) -> None:
    stub.add_client_error("list_aliases", "AccessDeniedException", "not authorized to perform lambda:ListAliases", 403)
    with pytest.raises(errors.AccessDenied):
        await reader.of_function(REF)


async def test_a_version_is_read_once_with_its_qualifier(reader: aliases.Aliases, stub: Stubber) -> None:
    answer = version_configuration("3", ["subnet-b", "subnet-a"])
    stub.add_response("get_function_configuration", answer, {"FunctionName": ARN, "Qualifier": "3"})

    first = await reader.version(REF, ARN, "3")
    again = await reader.version(REF, ARN, "3")  # no second response is stubbed: from the cache

    assert first == again == VersionFacts("3", VpcSettings.of(["subnet-a", "subnet-b"], ["sg-1"]), "vpc-1")


async def test_a_version_outside_any_vpc(reader: aliases.Aliases, stub: Stubber) -> None:
    stub.add_response("get_function_configuration", version_configuration("1", []))
    assert await reader.version(REF, ARN, "1") == VersionFacts("1", VpcSettings(), None)


async def test_the_cache_is_bounded_least_recently_used_first(reader: aliases.Aliases, stub: Stubber) -> None:
    for version in ("1", "2"):
        stub.add_response("get_function_configuration", version_configuration(version, ["subnet-a"]))
    await reader.version(REF, ARN, "1")
    await reader.version(REF, ARN, "2")
    await reader.version(REF, ARN, "1")  # cached: now the most recently used
    stub.add_response("get_function_configuration", version_configuration("3", ["subnet-a"]))
    await reader.version(REF, ARN, "3")  # evicts 2, the least recently used
    await reader.version(REF, ARN, "1")
    stub.add_response("get_function_configuration", version_configuration("2", ["subnet-a"]), {
        "FunctionName": ARN, "Qualifier": "2"})  # fmt: skip
    await reader.version(REF, ARN, "2")


async def test_forget_drops_a_deleted_functions_versions(reader: aliases.Aliases, stub: Stubber) -> None:
    stub.add_response("get_function_configuration", version_configuration("1", ["subnet-a"]))
    await reader.version(REF, ARN, "1")
    reader.forget(ARN)
    stub.add_response("get_function_configuration", version_configuration("1", ["subnet-z"], "vpc-2"))
    assert (await reader.version(REF, ARN, "1")).vpc_id == "vpc-2"


async def test_a_failed_version_read_is_not_cached(reader: aliases.Aliases, stub: Stubber) -> None:
    stub.add_client_error("get_function_configuration", "TooManyRequestsException", "slow down", 429)
    with pytest.raises(errors.Throttled):
        await reader.version(REF, ARN, "1")
    stub.add_response("get_function_configuration", version_configuration("1", ["subnet-a"]))
    assert (await reader.version(REF, ARN, "1")).vpc_id == "vpc-1"
