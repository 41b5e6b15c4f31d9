"""LambdaFunctions against stubbed botocore clients: the requests sent and the answers parsed."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from clocks import VirtualClock

from lambda_vpc_operator.aws import budgets, calling, clients, errors, functions, metrics
from lambda_vpc_operator.models.functions import FunctionRef, FunctionState, UpdateStatus, VpcSettings

REGION = "eu-west-1"
ARN = f"arn:aws:lambda:{REGION}:123456789012:function:payments"
REF = FunctionRef.parse(ARN)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(0.0)


@pytest.fixture
def lambda_functions(aws_clients: clients.AwsClients, clock: VirtualClock) -> functions.LambdaFunctions:
    return functions.LambdaFunctions(aws_clients, budgets.RequestBudgets(clock=clock, sleep=clock.sleep))


@pytest.fixture
def stub(aws_clients: clients.AwsClients) -> Iterator[Stubber]:
    with Stubber(aws_clients.lambda_()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def configuration(name: str = "payments", **fields: Any) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "FunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
        "Role": "arn:aws:iam::123456789012:role/payments",
        "RevisionId": "rev-1",
        **fields,
    }


async def test_get_reads_state_and_vpc(lambda_functions: functions.LambdaFunctions, stub: Stubber) -> None:
    vpc_config = {"SubnetIds": ["subnet-b", "subnet-a"], "SecurityGroupIds": ["sg-1"], "VpcId": "vpc-1"}
    answer = configuration(
        State="Failed",
        StateReasonCode="SubnetOutOfIPAddresses",
        LastUpdateStatus="Failed",
        VpcConfig=vpc_config,
    )
    stub.add_response("get_function", {"Configuration": answer}, {"FunctionName": ARN})
    observation = await lambda_functions.get(REF)
    assert observation.state == FunctionState.FAILED
    assert observation.state_reason_code == "SubnetOutOfIPAddresses"
    assert observation.last_update_status == UpdateStatus.FAILED
    assert observation.vpc == VpcSettings.of(["subnet-a", "subnet-b"], ["sg-1"])
    assert observation.vpc_id == "vpc-1"
    assert observation.revision_id == "rev-1"


async def test_get_names_a_bare_function_in_the_default_region(
    aws_clients: clients.AwsClients, lambda_functions: functions.LambdaFunctions
) -> None:
    with Stubber(aws_clients.lambda_(REGION)) as stub:
        stub.add_response("get_function", {"Configuration": configuration()}, {"FunctionName": "payments"})
        await lambda_functions.get(FunctionRef("payments"))


async def test_get_uses_the_region_of_the_ref(
    aws_clients: clients.AwsClients, lambda_functions: functions.LambdaFunctions
) -> None:
    ref = FunctionRef.parse("arn:aws:lambda:us-east-2:123456789012:function:payments")
    with Stubber(aws_clients.lambda_("us-east-2")) as stub:
        stub.add_response("get_function", {"Configuration": configuration()}, {"FunctionName": ref.api_name})
        await lambda_functions.get(ref)


async def test_get_of_a_missing_function_raises_not_found(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    stub.add_client_error("get_function", "ResourceNotFoundException", "Function not found", 404)
    with pytest.raises(errors.FunctionNotFound):
        await lambda_functions.get(REF)


async def test_update_vpc_sends_sorted_lists_and_revision(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    vpc = VpcSettings.of(["subnet-b", "subnet-a"], ["sg-2", "sg-1"], ipv6_allowed_for_dual_stack=True)
    expected = {
        "FunctionName": ARN,
        "VpcConfig": {
            "SubnetIds": ["subnet-a", "subnet-b"],
            "SecurityGroupIds": ["sg-1", "sg-2"],
            "Ipv6AllowedForDualStack": True,
        },
        "RevisionId": "rev-1",
    }
    stub.add_response("update_function_configuration", configuration(RevisionId="rev-2"), expected)
    await lambda_functions.update_vpc(REF, vpc, revision_id="rev-1")


async def test_update_vpc_without_revision_sends_none(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    detach = {"SubnetIds": [], "SecurityGroupIds": [], "Ipv6AllowedForDualStack": False}
    expected = {"FunctionName": ARN, "VpcConfig": detach}
    stub.add_response("update_function_configuration", configuration(), expected)
    await lambda_functions.update_vpc(REF, VpcSettings())


async def test_update_vpc_returns_the_accepted_configuration(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    answer = configuration(
        State="Active",
        LastUpdateStatus="InProgress",
        RevisionId="rev-2",
        VpcConfig={"SubnetIds": ["subnet-a"], "SecurityGroupIds": ["sg-1"], "VpcId": "vpc-1"},
    )
    stub.add_response("update_function_configuration", answer)
    observation = await lambda_functions.update_vpc(REF, VpcSettings.of(["subnet-a"], ["sg-1"]), "rev-1")
    assert observation.last_update_status == UpdateStatus.IN_PROGRESS
    assert observation.busy
    assert observation.revision_id == "rev-2"
    assert observation.vpc == VpcSettings.of(["subnet-a"], ["sg-1"])


async def test_update_vpc_with_a_stale_revision_raises(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    stub.add_client_error("update_function_configuration", "PreconditionFailedException", "", 412)
    with pytest.raises(errors.StaleRevision):
        await lambda_functions.update_vpc(REF, VpcSettings(), "rev-0")


async def test_throttle_pauses_the_control_budget(
    lambda_functions: functions.LambdaFunctions, stub: Stubber, clock: VirtualClock
) -> None:
    stub.add_client_error(
        "update_function_configuration",
        "TooManyRequestsException",
        "Rate exceeded",
        429,
        modeled_fields={"retryAfterSeconds": "7", "Reason": "CallerRateLimitExceeded"},
    )
    with pytest.raises(errors.Throttled):
        await lambda_functions.update_vpc(REF, VpcSettings())
    assert lambda_functions.budgets.control(REGION).paused_for == 7.0
    assert lambda_functions.budgets.get_function(REGION).paused_for == 0.0


async def test_get_function_throttle_pauses_only_its_own_budget(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    stub.add_client_error(
        "get_function",
        "TooManyRequestsException",
        "Rate exceeded",
        429,
        modeled_fields={"retryAfterSeconds": "2"},
    )
    with pytest.raises(errors.Throttled):
        await lambda_functions.get(REF)
    assert lambda_functions.budgets.get_function(REGION).paused_for == 2.0
    assert lambda_functions.budgets.control(REGION).paused_for == 0.0


async def test_list_functions_follows_next_marker(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    pages = [
        ({"MaxItems": 50}, {"Functions": [configuration("a"), configuration("b")], "NextMarker": "m1"}),
        ({"MaxItems": 50, "Marker": "m1"}, {"Functions": [configuration("c")], "NextMarker": "m2"}),
        ({"MaxItems": 50, "Marker": "m2"}, {"Functions": [configuration("d")]}),
    ]
    for expected, answer in pages:
        stub.add_response("list_functions", answer, expected)
    names = [observation.name async for observation in lambda_functions.list_functions()]
    assert names == ["a", "b", "c", "d"]


async def test_list_functions_leaves_state_unknown(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    answer = configuration(VpcConfig={"SubnetIds": ["subnet-a"], "SecurityGroupIds": ["sg-1"]})
    stub.add_response("list_functions", {"Functions": [answer]})
    [observation] = [observation async for observation in lambda_functions.list_functions(REGION)]
    assert observation.vpc == VpcSettings.of(["subnet-a"], ["sg-1"])
    assert (observation.state, observation.last_update_status) == (None, None)


async def test_list_functions_spends_one_control_token_per_page(
    lambda_functions: functions.LambdaFunctions, stub: Stubber, clock: VirtualClock
) -> None:
    lambda_functions.budgets.control_rate = 1  # one request a second, a burst of one
    stub.add_response("list_functions", {"Functions": [], "NextMarker": "m1"})
    stub.add_response("list_functions", {"Functions": [], "NextMarker": "m2"})
    stub.add_response("list_functions", {"Functions": []})
    _ = [observation async for observation in lambda_functions.list_functions()]
    assert clock.now == pytest.approx(2.0)


async def test_tag_sends_to_the_region_of_the_arn(
    aws_clients: clients.AwsClients, lambda_functions: functions.LambdaFunctions
) -> None:
    arn = "arn:aws:lambda:ap-south-1:123456789012:function:payments"
    with Stubber(aws_clients.lambda_("ap-south-1")) as stub:
        stub.add_response("tag_resource", {}, {"Resource": arn, "Tags": {"owner": "operator"}})
        await lambda_functions.tag(arn, {"owner": "operator"})


async def test_invoke_returns_status_and_payload(
    aws_clients: clients.AwsClients, lambda_functions: functions.LambdaFunctions
) -> None:
    body = b'{"ok": true}'
    answer = {
        "StatusCode": 200,
        "Payload": StreamingBody(io.BytesIO(body), len(body)),
        "ExecutedVersion": "$LATEST",
    }
    expected = {"FunctionName": ARN, "InvocationType": "RequestResponse", "Payload": b"{}"}
    with Stubber(aws_clients.lambda_invoke()) as stub:
        stub.add_response("invoke", answer, expected)
        result = await lambda_functions.invoke(REF, b"{}", "RequestResponse")
    assert result == functions.InvokeResult(status_code=200, payload=body, executed_version="$LATEST")


async def test_invoke_does_not_spend_the_control_budget(
    aws_clients: clients.AwsClients, lambda_functions: functions.LambdaFunctions, clock: VirtualClock
) -> None:
    lambda_functions.budgets.control(REGION).pause(60.0)
    with Stubber(aws_clients.lambda_invoke()) as stub:
        stub.add_response("invoke", {"StatusCode": 202})
        result = await lambda_functions.invoke(REF, b"{}", "Event")
    assert result.status_code == 202
    assert clock.now == 0.0


async def test_invoke_of_an_inactive_function_raises_not_ready(
    aws_clients: clients.AwsClients, lambda_functions: functions.LambdaFunctions
) -> None:
    with Stubber(aws_clients.lambda_invoke()) as stub:
        stub.add_client_error("invoke", "ResourceNotReadyException", "Function is inactive", 502)
        with pytest.raises(errors.FunctionNotReady):
            await lambda_functions.invoke(REF, b"{}", "Event")


async def test_calls_are_counted_by_outcome(
    lambda_functions: functions.LambdaFunctions, stub: Stubber, calls: metrics.CallCounter
) -> None:
    stub.add_response("get_function", {"Configuration": configuration()})
    stub.add_client_error("get_function", "ResourceNotFoundException", "", 404)
    await lambda_functions.get(REF)
    with pytest.raises(errors.FunctionNotFound):
        await lambda_functions.get(REF)
    assert calls.snapshot() == {
        ("lambda", "GetFunction", metrics.SUCCESS): 1,
        ("lambda", "GetFunction", "NotFound"): 1,
    }


@pytest.mark.parametrize(
    "answer",
    [
        {},  # a 200 without Configuration
        {"Configuration": {"FunctionArn": ARN}},  # without FunctionName
        {"Configuration": configuration(State="Hibernating")},  # a State no API version has
    ],
)
async def test_get_translates_an_answer_without_what_the_api_promises(
    lambda_functions: functions.LambdaFunctions, stub: Stubber, answer: dict[str, Any]
) -> None:
    stub.add_response("get_function", answer, {"FunctionName": ARN})
    with pytest.raises(errors.UnexpectedAnswer) as caught:
        await lambda_functions.get(REF)
    assert caught.value.failure.code == "UnexpectedAnswer"
    assert "GetFunction answered without the fields its API promises" in caught.value.failure.message


async def test_invoke_runs_in_its_own_threads(
    lambda_functions: functions.LambdaFunctions, aws_clients: clients.AwsClients
) -> None:
    seen: list[str] = []
    client = aws_clients.lambda_invoke(REGION)

    def record(**_: Any) -> None:
        seen.append(threading.current_thread().name)

    client.meta.events.register("provide-client-params.lambda.Invoke", record)
    with Stubber(client) as stubber:
        expected = {"FunctionName": ARN, "InvocationType": "Event", "Payload": b""}
        stubber.add_response("invoke", {"StatusCode": 200}, expected)
        await lambda_functions.invoke(REF, b"", "Event")
    assert seen and seen[0].startswith("invoke"), seen
    assert calling.INVOKE_THREADS <= 8


async def test_no_tags_in_getfunction_mean_none_only_once_tags_were_seen_readable(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    # aws-facts "IAM": GetFunction answers Tags only to a caller allowed lambda:ListTags, and none for
    # an untagged function: without Tags it is no answer, until these credentials read tags once.
    stub.add_response("get_function", {"Configuration": configuration()}, {"FunctionName": ARN})
    assert (await lambda_functions.get(REF)).tags is None
    stub.add_response("list_tags", {"Tags": {}}, {"Resource": ARN})
    assert await lambda_functions.list_tags(ARN) == {}
    stub.add_response("get_function", {"Configuration": configuration()}, {"FunctionName": ARN})
    assert (await lambda_functions.get(REF)).tags == {}  # readable: no Tags is no tags
    stub.add_client_error("list_tags", "AccessDeniedException", "not authorized to perform lambda:ListTags", 403)
    with pytest.raises(errors.AccessDenied):
        await lambda_functions.list_tags(ARN)
    stub.add_response("get_function", {"Configuration": configuration()}, {"FunctionName": ARN})
    assert (await lambda_functions.get(REF)).tags is None  # refused since: no answer again


async def test_tags_in_getfunction_prove_them_readable(
    lambda_functions: functions.LambdaFunctions, stub: Stubber
) -> None:
    stub.add_response("get_function", {"Configuration": configuration(), "Tags": {"team": "a"}}, {"FunctionName": ARN})
    assert (await lambda_functions.get(REF)).tags == {"team": "a"}
    stub.add_response("get_function", {"Configuration": configuration()}, {"FunctionName": ARN})
    assert (await lambda_functions.get(REF)).tags == {}
