"""Network readiness: the function's Hyperplane ENIs per subnet in status, NetworkReady, and Ready after it.

aws-facts "Hyperplane ENIs": one ENI per (subnet, security-group set), shared by every function with
that combination, minutes to create, deleted late. Most tests here use a security group of their own
(``fresh_group``) so that their combinations are new and their ENIs are theirs alone, and the
simulator's per-combination delay (``set_combination_delay``) to hold an ENI in ``attaching`` for as
long as the test looks at it; the clock is then advanced, never slept on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from harness import GROUP, PLURAL, VERSION, Namespace, Target, condition, unique_name, wait_for
from lambda_vpc_sandbox.aws import SimulatorControl

pytestmark = pytest.mark.e2e

# Simulated seconds that an ENI held back by a test stays ``attaching``: far longer than any test.
HELD = 10_000.0


def fresh_group(target: Target, vpc_id: str | None = None) -> str:
    """A security group of the test's own: its combinations are new, so Lambda must build their ENIs."""
    name = unique_name("e2e-sg", 60)
    found = target.ec2.create_security_group(
        GroupName=name, Description="lambda-vpc-operator e2e", VpcId=vpc_id or target.network.vpc_id
    )
    return str(found["GroupId"])


def rows(obj: dict[str, Any] | None, field: str = "networkInterfaces") -> dict[str, dict[str, Any]]:
    """status.<field> by subnet id."""
    return {r["subnetId"]: r for r in ((obj or {}).get("status") or {}).get(field) or ()}


def lambda_enis(target: Target, **filters: str) -> list[dict[str, Any]]:
    spec = [{"Name": "interface-type", "Values": ["lambda"]}]
    spec += [{"Name": k.replace("_", "-"), "Values": [v]} for k, v in filters.items()]
    found: list[dict[str, Any]] = target.ec2.describe_network_interfaces(Filters=spec)["NetworkInterfaces"]
    return found


# -- the timeline --------------------------------------------------------------------------------


@pytest.mark.simulator
def test_readiness_timeline_pending_attaching_in_use_ready(
    target: Target, ns: Namespace, sim: SimulatorControl
) -> None:
    """Pending -> ENIs attaching -> in-use -> Ready, with the rows at each step."""
    net = target.network
    slow, quick = net.subnets[0], net.subnets[1]
    group = fresh_group(target)
    sim.set_combination_delay(slow, [group], HELD)
    function = unique_name("e2e-timeline", 64)
    # Created in the VPC: Lambda keeps it Pending (Creating) until its ENIs exist (aws-facts).
    target.lambda_.create_function(
        FunctionName=function, Runtime="python3.12", Role=target.role_arn, Handler="lambda_function.handler",
        Code={"ZipFile": target.zip_file}, VpcConfig={"SubnetIds": [slow, quick], "SecurityGroupIds": [group]},
    )  # fmt: skip
    target.functions.append(function)
    assert target.configuration(function)["State"] == "Pending"

    # Created in its VPC by someone else: taken over only when asked (issue 9, adoption).
    ns.create("timeline", function, [slow, quick], [group], adoption="Adopt")

    # Pending, the slow subnet's ENI attaching, the quick one in-use: waiting, with every row.
    def attaching_and_in_use(obj: dict[str, Any]) -> bool:
        found = rows(obj)
        return found.get(slow, {}).get("status") == "attaching" and found.get(quick, {}).get("status") == "in-use"

    obj = ns.wait("timeline", attaching_and_in_use, "the slow ENI attaching and the quick one in-use")
    status = obj["status"]
    assert status["state"] == "Pending"
    found = rows(obj)
    assert set(found) == {slow, quick}
    for subnet_id, row in found.items():
        eni = lambda_enis(target, subnet_id=subnet_id, group_id=group)
        assert [e["NetworkInterfaceId"] for e in eni] == [row["networkInterfaceId"]]
        assert row["availabilityZone"] == eni[0]["AvailabilityZone"]
        assert row["privateIpAddress"] == eni[0]["PrivateIpAddress"]
        assert "freeIpAddresses" not in row and "lowFreeIpAddresses" not in row  # plenty of room: no flag
    obj = ns.wait_condition("timeline", "Reconciling", "True", "WaitingForNetworkInterfaces")
    ready, network = condition(obj, "Ready"), condition(obj, "NetworkReady")
    assert (ready["status"], ready["reason"]) == ("False", "WaitingForNetworkInterfaces")
    assert (network["status"], network["reason"]) == ("False", "WaitingForNetworkInterfaces")
    message = condition(obj, "Reconciling")["message"]
    assert message.startswith("Waiting ") and "State Pending (Creating)" in message
    assert f"{slow}: {found[slow]['networkInterfaceId']} attaching" in message
    assert condition(obj, "Stalled") == {}
    assert "networkReadyTime" not in status

    # Lambda finishes the ENI: in-use everywhere, Active, then NetworkReady and Ready.
    sim.advance(HELD)
    obj = ns.wait_ready("timeline", timeout=40)
    assert {s: r["status"] for s, r in rows(obj).items()} == {slow: "in-use", quick: "in-use"}
    assert {s: r["networkInterfaceId"] for s, r in rows(obj).items()} == {
        s: r["networkInterfaceId"] for s, r in found.items()
    }
    network = condition(obj, "NetworkReady")
    assert (network["status"], network["reason"]) == ("True", "NetworkInterfacesReady")
    assert obj["status"]["state"] == "Active"
    assert obj["status"]["networkReadySeconds"] > 0
    assert obj["status"]["networkReadyTime"] == network["lastTransitionTime"]
    assert condition(obj, "Reconciling") == {}
    done = target.kubectl("wait", "--for=condition=NetworkReady", "lva/timeline", "-n", ns.name, "--timeout=30s")
    assert done.returncode == 0, done.stderr


def test_ready_attachment_shows_one_row_per_subnet(target: Target, ns: Namespace) -> None:
    """Also against real AWS: the rows match DescribeNetworkInterfaces by subnet and exact group set."""
    net = target.network
    function = target.make_function("rows")
    subnets, groups = [net.subnets[1], net.subnets[0]], [net.app_sg]
    ns.create("rows", function, subnets, groups)
    obj = ns.wait_ready("rows", timeout=60)
    found = rows(obj)
    assert [r["subnetId"] for r in obj["status"]["networkInterfaces"]] == sorted(subnets)
    for subnet_id in subnets:
        enis = [e for e in lambda_enis(target, subnet_id=subnet_id, vpc_id=net.vpc_id)
                if {g["GroupId"] for g in e["Groups"]} == set(groups)]  # fmt: skip
        assert [e["NetworkInterfaceId"] for e in enis] == [found[subnet_id]["networkInterfaceId"]]
        assert found[subnet_id]["status"] in ("in-use", "available")
    assert condition(obj, "NetworkReady")["status"] == "True"


# -- asynchronous failures -----------------------------------------------------------------------


@pytest.fixture
def full_subnet(target: Target, sim: SimulatorControl) -> Iterator[str]:
    subnet_id = target.network.subnets[2]
    sim.set_subnet_free_addresses(subnet_id, 0)
    yield subnet_id
    sim.set_subnet_free_addresses(subnet_id, None)


@pytest.mark.simulator
def test_subnet_out_of_addresses_stalls_naming_the_subnet(
    target: Target, ns: Namespace, sim: SimulatorControl, full_subnet: str
) -> None:
    net = target.network
    group = fresh_group(target)
    function = target.make_function("full")
    ns.create("full", function, [net.subnets[0], full_subnet], [group])

    obj = ns.wait_stalled("full", "SubnetOutOfIPAddresses")
    message = condition(obj, "Stalled")["message"]
    assert f"subnet {full_subnet} (" in message and "fewer than 16 free IPv4 addresses" in message
    assert "spec.subnetIds" in message
    assert condition(obj, "NetworkReady")["reason"] == "SubnetOutOfIPAddresses"
    assert rows(obj)[full_subnet]["lowFreeIpAddresses"] is True
    # The preflight saw it coming: a warning Event, before AWS said so.
    assert ns.wait_event("full", "LowFreeAddresses").type == "Warning"


@pytest.mark.simulator
def test_eni_quota_of_the_vpc_stalls_naming_the_vpc(target: Target, ns: Namespace, sim: SimulatorControl) -> None:
    net = target.network
    group = fresh_group(target)
    function = target.make_function("quota")
    sim.set_eni_quota(net.vpc_id, 0)
    try:
        ns.create("quota", function, net.subnets[:1], [group])
        obj = ns.wait_stalled("quota", "EniLimitExceeded")
    finally:
        sim.set_eni_quota(net.vpc_id, 500)
    message = condition(obj, "Stalled")["message"]
    assert f"VPC {net.vpc_id}" in message and "quota" in message


@pytest.mark.simulator
def test_role_refused_by_lambda_later_stalls_naming_the_role(
    target: Target, ns: Namespace, sim: SimulatorControl
) -> None:
    """InsufficientRolePermissions from Lambda itself (the role lost a permission after the preflight
    allowed it, or an SCP denies it): Stalled, naming the function's execution role."""
    net = target.network
    function = target.make_function("role")
    sim.inject_update_failure(function, "InsufficientRolePermissions", "The role may not create ENIs.", count=100)
    ns.create("role", function, net.subnets[:2], [net.app_sg])
    obj = ns.wait_stalled("role", "InsufficientRolePermissions")
    message = condition(obj, "Stalled")["message"]
    assert f"execution role {target.role_arn} may not manage network interfaces" in message
    assert "ec2:CreateNetworkInterface" in message and "AWSLambdaVPCAccessExecutionRole" in message
    assert condition(obj, "NetworkReady")["reason"] == "InsufficientRolePermissions"


@pytest.mark.simulator
@pytest.mark.parametrize(
    ("code", "aws_text", "named"),
    [
        pytest.param("InvalidSubnet", "The subnet is not valid for this function.", "subnet ", id="invalid-subnet"),
        pytest.param("InvalidSecurityGroup", "A security group is not valid for this function.",
                     "security group ", id="invalid-security-group"),
    ],
)
def test_invalid_network_reported_later_stalls_naming_the_ids(
    target: Target, ns: Namespace, sim: SimulatorControl, code: str, aws_text: str, named: str
) -> None:
    """AWS' text names no id here: the message names the spec's ids instead."""
    net = target.network
    function = target.make_function("invalid")
    sim.inject_update_failure(function, code, aws_text, count=100)
    ns.create("invalid", function, net.subnets[:1], [net.db_sg])
    obj = ns.wait_stalled("invalid", code)
    message = condition(obj, "Stalled")["message"]
    assert aws_text.rstrip(".") in message
    ids = net.subnets[0] if code == "InvalidSubnet" else net.db_sg
    assert f"{named}{ids} in spec." in message


@pytest.mark.simulator
def test_ec2_throttling_of_lambda_is_retried_not_stalled(target: Target, ns: Namespace, sim: SimulatorControl) -> None:
    net = target.network
    function = target.make_function("ec2-throttled")
    sim.inject_update_failure(function, "EC2RequestLimitExceeded", "EC2 throttled Lambda.", count=1)
    target.reset_calls()
    ns.create("ec2-throttled", function, net.subnets[:2], [net.app_sg])
    seen: list[str] = []

    def ready() -> bool:
        obj = ns.get("ec2-throttled")
        seen.append(condition(obj, "Stalled").get("reason", ""))
        return condition(obj, "Ready").get("status") == "True"

    wait_for(ready, target.timeout(40), 0.05, what="Ready after the retry",
             describe=lambda: ns.describe("ec2-throttled"))  # fmt: skip
    assert set(seen) == {""}, "EC2 throttling is transient: never Stalled"
    assert target.updates() >= 2


# -- a VPC switch --------------------------------------------------------------------------------


@pytest.mark.simulator
def test_vpc_switch_shows_the_previous_vpcs_enis_until_they_are_gone(
    target: Target, ns: Namespace, sim: SimulatorControl
) -> None:
    net = target.network
    group = fresh_group(target)  # combinations of this test alone: nobody else keeps the old ENIs
    function = target.make_function("switch")
    ns.create("switch", function, net.subnets[:2], [group])
    before = rows(ns.wait_ready("switch"))
    old_enis = {r["networkInterfaceId"] for r in before.values()}

    # aws-facts: invocations keep using the old VPC for several minutes; ENIs go up to 20 minutes later.
    sim.set_delays(eni_delete=HELD)
    ns.patch_spec("switch", subnetIds=[net.other_vpc_subnet], securityGroupIds=[net.other_vpc_sg])

    def previous_shown(obj: dict[str, Any]) -> bool:
        return {r.get("networkInterfaceId") for r in rows(obj, "previousNetworkInterfaces").values()} == old_enis

    obj = ns.wait("switch", previous_shown, "the old VPC's ENIs as previousNetworkInterfaces")
    for subnet_id, row in rows(obj, "previousNetworkInterfaces").items():
        assert row["vpcId"] == net.vpc_id
        assert row["networkInterfaceId"] == before[subnet_id]["networkInterfaceId"]
    obj = ns.wait_ready("switch", timeout=40)
    assert obj["status"]["vpcId"] != net.vpc_id
    assert set(rows(obj)) == {net.other_vpc_subnet}
    assert rows(obj)[net.other_vpc_subnet].get("status") == "in-use"
    assert previous_shown(obj), "the old ENIs are still there: still shown"

    # AWS deletes the old ENIs: the previous rows go.
    sim.set_delays(eni_delete=2.0)
    sim.advance(HELD)
    obj = ns.wait("switch", lambda o: not rows(o, "previousNetworkInterfaces"), "previousNetworkInterfaces gone")
    assert "previousNetworkInterfaces" not in obj["status"]
    assert lambda_enis(target, vpc_id=net.vpc_id, group_id=group) == []
    assert condition(obj, "Ready")["status"] == "True"


# -- sharing and replacement ---------------------------------------------------------------------


@pytest.mark.simulator
def test_two_functions_with_one_combination_share_one_eni(target: Target, ns: Namespace) -> None:
    net = target.network
    group = fresh_group(target)
    first, second = target.make_functions("shared", 2)
    ns.create("first", first, net.subnets[:2], [group])
    ns.create("second", second, list(reversed(net.subnets[:2])), [group])
    one, two = rows(ns.wait_ready("first")), rows(ns.wait_ready("second"))
    assert {s: r["networkInterfaceId"] for s, r in one.items()} == {s: r["networkInterfaceId"] for s, r in two.items()}
    for subnet_id in net.subnets[:2]:
        assert len(lambda_enis(target, subnet_id=subnet_id, group_id=group)) == 1


def _watch(target: Target, ns: Namespace, name: str, resource_version: str, until: Any) -> list[dict[str, Any]]:
    """Every version of the object after ``resource_version``, until ``until(obj)``."""
    seen: list[dict[str, Any]] = []
    watch = kubernetes.watch.Watch()
    stream = watch.stream(
        target.custom.list_namespaced_custom_object, GROUP, VERSION, ns.name, PLURAL,
        field_selector=f"metadata.name={name}", resource_version=resource_version,
        timeout_seconds=int(target.timeout(40)),
    )  # fmt: skip
    try:
        for event in stream:
            seen.append(event["object"])
            if until(event["object"]):
                break
    finally:
        watch.stop()
    return seen


@pytest.mark.simulator
def test_eni_replaced_under_a_ready_function_rows_follow_without_a_ready_flap(
    target: Target, ns: Namespace, sim: SimulatorControl
) -> None:
    net = target.network
    group = fresh_group(target)
    function = target.make_function("replaced")
    ns.create("replaced", function, net.subnets[:2], [group])
    obj = ns.wait_ready("replaced")
    ready_since = condition(obj, "Ready")["lastTransitionTime"]
    subnet_id = net.subnets[0]
    old = rows(obj)[subnet_id]["networkInterfaceId"]

    # AWS replaces the ENI (aws-facts: Lambda manages its ENIs); the new one is attaching for a while.
    replaced = sim.replace_eni(subnet_id, [group], delay=HELD)
    assert replaced["old_eni_id"] == old

    def row(o: dict[str, Any]) -> tuple[Any, Any]:
        r = rows(o).get(subnet_id, {})
        return r.get("networkInterfaceId"), r.get("status")

    attaching = _watch(target, ns, "replaced", obj["metadata"]["resourceVersion"],
                       lambda o: row(o) == (replaced["new_eni_id"], "attaching"))  # fmt: skip
    assert row(attaching[-1]) == (replaced["new_eni_id"], "attaching"), [row(o) for o in attaching]
    sim.advance(HELD)
    in_use = _watch(target, ns, "replaced", attaching[-1]["metadata"]["resourceVersion"],
                    lambda o: row(o) == (replaced["new_eni_id"], "in-use"))  # fmt: skip
    assert row(in_use[-1]) == (replaced["new_eni_id"], "in-use"), [row(o) for o in in_use]

    for version in attaching + in_use:
        ready, network = condition(version, "Ready"), condition(version, "NetworkReady")
        assert (ready["status"], ready["lastTransitionTime"]) == ("True", ready_since), ready
        assert network["status"] == "True", network
    assert ns.event_reasons("replaced")["Updated"] == 1, ns.events("replaced")  # no second "became Ready"


# -- warnings ------------------------------------------------------------------------------------


def test_single_availability_zone_is_a_warning_event(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("one-az")
    ns.create("one-az", function, net.subnets[:1], [net.app_sg])
    event = ns.wait_event("one-az", "SingleAvailabilityZone")
    assert event.type == "Warning"
    assert net.subnets[0] in event.message or "every subnet" in event.message
    obj = ns.wait_ready("one-az", timeout=60)
    assert condition(obj, "Stalled") == {}
    assert "Warning: " in condition(obj, "NetworkReady")["message"]


@pytest.mark.simulator
def test_past_the_readiness_timeout_a_slow_provisioning_warning_but_no_stall(
    target: Target, ns: Namespace, sim: SimulatorControl
) -> None:
    net = target.network
    group = fresh_group(target)
    sim.set_combination_delay(net.subnets[0], [group], HELD)
    function = target.make_function("slow")
    ns.create("slow", function, net.subnets[:1], [group], readinessTimeout="3s")

    event = ns.wait_event("slow", "SlowProvisioning", timeout=30)
    assert event.type == "Warning"
    assert "spec.readinessTimeout (3s)" in event.message
    obj = ns.get("slow")
    assert condition(obj, "Stalled") == {}
    reconciling = condition(obj, "Reconciling")
    assert (reconciling["status"], reconciling["reason"]) == ("True", "WaitingForNetworkInterfaces")
    assert "slower than spec.readinessTimeout (3s)" in reconciling["message"]
    # Once: more polls, no second Event.
    target.wait_reads(2)
    assert ns.event_reasons("slow")["SlowProvisioning"] == 1, ns.events("slow")

    sim.advance(HELD)
    ns.wait_ready("slow", timeout=40)
    assert ns.event_reasons("slow")["SlowProvisioning"] == 1
