"""Two attachments naming one function: the first owns it, the later one stalls and never touches it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness import Namespace, Target, condition

pytestmark = pytest.mark.e2e

# Conflict: the claims index says another attachment (created earlier) names the function;
# OwnedElsewhere: the function's owner tag says so. Either way the later attachment keeps off.
OWNED_BY_ANOTHER = {"Conflict", "OwnedElsewhere"}
OWNER_TAG = "lambdavpc.dev/owner"


@pytest.mark.parametrize("naming", ["other-namespace", "arn-for-name"])
def test_later_attachment_of_the_same_function_stalls(
    target: Target, make_namespace: Callable[[], Namespace], naming: str
) -> None:
    net = target.network
    function = target.make_function("conflict")
    first_ns = make_namespace()
    first_ns.create("first", function, net.subnets[:2], [net.app_sg])
    first_ns.wait_ready("first")
    owned = target.configuration(function)
    if target.sim is not None:
        target.reset_calls()

    if naming == "other-namespace":
        later_ns, later_name = make_namespace(), function
    else:
        later_ns, later_name = first_ns, target.function_arn(function)
    later_ns.create("later", later_name, [net.subnets[2]], [net.db_sg])

    obj = later_ns.wait(
        "later",
        lambda o: (
            condition(o, "Stalled").get("reason") in OWNED_BY_ANOTHER
            and condition(o, "Stalled").get("observedGeneration") == o["metadata"]["generation"]
        ),
        f"Stalled with a reason in {sorted(OWNED_BY_ANOTHER)}",
    )
    stalled = condition(obj, "Stalled")
    assert f"{first_ns.name}/first" in stalled["message"], stalled["message"]
    if stalled["reason"] == "OwnedElsewhere":
        # The first attachment's claim is on the function itself (durable, seen by every cluster).
        tags = target.lambda_.list_tags(Resource=target.function_arn(function))["Tags"]
        assert tags.get(OWNER_TAG) == target.owner_tag(first_ns, "first"), tags
    assert condition(obj, "Ready")["status"] == "False"
    # AWS keeps the owner's configuration; the owner stays Ready.
    vpc = target.vpc(function)
    assert (vpc.subnet_ids, vpc.security_group_ids) == (set(net.subnets[:2]), {net.app_sg})
    assert condition(first_ns.get("first"), "Ready")["status"] == "True"

    # Deleting the later one never detaches what it never owned.
    later_ns.delete("later")
    later_ns.wait_gone("later")
    after = target.configuration(function)
    assert after["VpcConfig"] == owned["VpcConfig"]
    assert after["RevisionId"] == owned["RevisionId"]
    assert condition(first_ns.get("first"), "Ready")["status"] == "True"
    if target.sim is not None:
        assert target.updates() == 0, target.calls()
