"""planner.network_readiness: NetworkReady, the per-subnet rows, the wait for ENIs and SlowProvisioning.

Plans are built the way the reconciler builds them: ``plan_attachment`` with a ``Situation`` that
carries a ``NetworkSituation`` (ENIs as ``aws.enis`` reads them, the preflight's subnet facts,
the current status and the time).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from lambda_vpc_operator.models.attachments import AttachmentSpec
from lambda_vpc_operator.models.enis import EniFacts, interfaces_by_subnet
from lambda_vpc_operator.models.failures import Failure, FailureKind
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionState, UpdateStatus, VpcSettings
from lambda_vpc_operator.models.networks import NetworkFacts, SecurityGroupFacts, SubnetFacts
from lambda_vpc_operator.planner import delays, hints, network_readiness, readiness, validation
from lambda_vpc_operator.planner.network_readiness import NetworkSituation
from lambda_vpc_operator.planner.planning import Situation, plan_attachment, plan_start
from lambda_vpc_operator.planner.plans import EventType, Outcome, Plan
from lambda_vpc_operator.planner.validation import Problem, Severity

MakeSpec = Callable[..., AttachmentSpec]
MakeObservation = Callable[..., FunctionObservation]

GENERATION = 4
VPC = "vpc-0abc"
OLD_VPC = "vpc-0old"
GROUPS = frozenset({"sg-1", "sg-2"})
DESIRED = VpcSettings.of(["subnet-a1", "subnet-b2"], GROUPS)
T0 = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
T0_TEXT = "2025-01-01T12:00:00Z"


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def eni(subnet: str, status: str = "in-use", *, eni_id: str | None = None, groups: frozenset[str] = GROUPS,
        vpc: str = VPC, kind: str = "lambda") -> EniFacts:  # fmt: skip
    zone = {"subnet-a1": "us-east-1a", "subnet-b2": "us-east-1b"}.get(subnet, "us-east-1c")
    return EniFacts(
        interface_id=eni_id or f"eni-{subnet[-2:]}",
        subnet_id=subnet,
        vpc_id=vpc,
        availability_zone=zone,
        status=status,
        private_ip_address=f"10.0.{subnet[-1]}.10",
        group_ids=groups,
        interface_type=kind,
    )


READY_ENIS = (eni("subnet-a1"), eni("subnet-b2"))


def subnet(subnet_id: str, zone: str, free: int = 250, vpc: str = VPC) -> SubnetFacts:
    return SubnetFacts(subnet_id=subnet_id, vpc_id=vpc, availability_zone=zone, available_ip_addresses=free)


FACTS = NetworkFacts(
    subnets={"subnet-a1": subnet("subnet-a1", "us-east-1a"), "subnet-b2": subnet("subnet-b2", "us-east-1b", 12)},
    security_groups={g: SecurityGroupFacts(g, VPC) for g in GROUPS},
)


def cond(type_: str, status: str, reason: str, since: str = T0_TEXT, generation: int = GENERATION) -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": "", "observedGeneration": generation,
            "lastTransitionTime": since}  # fmt: skip


# What the reconciler wrote when it announced the generation (plan_start) at T0.
STARTED = (cond("Ready", "Unknown", "Progressing"), cond("NetworkReady", "Unknown", "Progressing"),
           cond("Reconciling", "True", "Progressing"))  # fmt: skip
WAITING = (cond("Ready", "False", "WaitingForNetworkInterfaces"),
           cond("NetworkReady", "False", "WaitingForNetworkInterfaces"),
           cond("Reconciling", "True", "WaitingForNetworkInterfaces"))  # fmt: skip
READY = (cond("Ready", "True", "Attached"), cond("NetworkReady", "True", "NetworkInterfacesReady"))


def network(now: float = 30.0, **overrides: Any) -> NetworkSituation:
    values: dict[str, Any] = {"now": at(now), "enis": READY_ENIS, "facts": FACTS, "status": {"vpcId": VPC}}
    values.update(overrides)
    return NetworkSituation(**values)


def plan_for(spec: AttachmentSpec, observed: FunctionObservation | None, current: Sequence[Mapping[str, Any]] = STARTED,
             net: NetworkSituation | None = None, **kwargs: Any) -> Plan:  # fmt: skip
    s = Situation(generation=GENERATION, observed=observed, conditions=current,
                  network=net if net is not None else network(), **kwargs)  # fmt: skip
    return plan_attachment(spec, s)


def by_type(plan: Plan) -> dict[str, tuple[str, str]]:
    assert plan.conditions is not None
    return {c.type.value: (c.status.value, str(c.reason)) for c in plan.conditions}


def message(plan: Plan, type_: str) -> str:
    assert plan.conditions is not None
    return next(c.message for c in plan.conditions if c.type.value == type_)


def events(plan: Plan) -> list[tuple[str, str]]:
    return [(e.type.value, e.reason) for e in plan.events]


# --- mapping an ENI to the function: subnet + exact security-group set --------------------------


def test_mapping_takes_the_eni_of_the_subnet_and_the_exact_group_set() -> None:
    superset = eni("subnet-a1", eni_id="eni-super", groups=GROUPS | {"sg-3"})
    subset = eni("subnet-b2", eni_id="eni-sub", groups=frozenset({"sg-1"}))
    ours = eni("subnet-a1", eni_id="eni-ours")
    found = interfaces_by_subnet([superset, subset, ours], DESIRED.subnet_ids, GROUPS)
    assert {s: e.interface_id for s, e in found.items()} == {"subnet-a1": "eni-ours"}


def test_mapping_ignores_other_interface_types_and_prefers_a_usable_eni() -> None:
    other = eni("subnet-a1", eni_id="eni-0", kind="interface")
    replacing = eni("subnet-b2", "attaching", eni_id="eni-1")
    serving = eni("subnet-b2", "in-use", eni_id="eni-9")
    found = interfaces_by_subnet([other, replacing, serving], DESIRED.subnet_ids, GROUPS)
    assert {s: e.interface_id for s, e in found.items()} == {"subnet-b2": "eni-9"}


# --- which VPCs the reconciler reads -----------------------------------------------------------


def test_enis_are_read_only_once_aws_holds_the_spec(make_observation: MakeObservation) -> None:
    assert network_readiness.interfaces_vpc(DESIRED, make_observation()) == VPC
    updating = make_observation(last_update_status=UpdateStatus.IN_PROGRESS)
    assert network_readiness.interfaces_vpc(DESIRED, updating) == VPC
    elsewhere = make_observation(vpc=VpcSettings.of(["subnet-z9"], ["sg-9"]))
    assert network_readiness.interfaces_vpc(DESIRED, elsewhere) is None
    assert network_readiness.interfaces_vpc(DESIRED, None) is None
    assert network_readiness.interfaces_vpc(VpcSettings(), make_observation(vpc=VpcSettings(), vpc_id=None)) is None


def test_previous_vpcs_are_the_rows_vpcs_and_the_vpc_aws_just_left(make_observation: MakeObservation) -> None:
    status = {"vpcId": OLD_VPC, "networkInterfaces": [{"subnetId": "subnet-o1", "networkInterfaceId": "eni-o1"}],
              "previousNetworkInterfaces": [{"subnetId": "subnet-x", "vpcId": "vpc-0older"}]}  # fmt: skip
    assert network_readiness.previous_vpcs(status, make_observation()) == {OLD_VPC, "vpc-0older"}
    # Not moved yet (AWS still reports the old VPC): nothing left behind.
    assert network_readiness.previous_vpcs({**status, "previousNetworkInterfaces": None},
                                    make_observation(vpc_id=OLD_VPC)) == set()  # fmt: skip
    # Back in a VPC left before: its ENIs are current again.
    assert network_readiness.previous_vpcs({"vpcId": VPC, "previousNetworkInterfaces": [{"vpcId": VPC}]},
                                    make_observation()) == set()  # fmt: skip


# --- NetworkReady=True --------------------------------------------------------------------------


def test_every_subnet_with_its_eni_in_use_is_network_ready(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    plan = plan_for(make_spec(), make_observation(), WAITING, network(now=84))
    assert plan.outcome == Outcome.IN_SYNC
    assert by_type(plan) == {"Ready": ("True", "Attached"), "NetworkReady": ("True", "NetworkInterfacesReady")}
    assert [c.type.value for c in plan.conditions or ()] == ["Ready", "NetworkReady"]
    assert message(plan, "NetworkReady") == (
        "Network interfaces ready in 2 subnet(s): subnet-a1: eni-a1 in-use, 10.0.1.10; "
        "subnet-b2: eni-b2 in-use, 10.0.2.10"
    )
    assert plan.status_fields["networkInterfaces"] == [
        {"subnetId": "subnet-a1", "availabilityZone": "us-east-1a", "networkInterfaceId": "eni-a1",
         "status": "in-use", "privateIpAddress": "10.0.1.10"},
        {"subnetId": "subnet-b2", "availabilityZone": "us-east-1b", "networkInterfaceId": "eni-b2",
         "status": "in-use", "privateIpAddress": "10.0.2.10", "lowFreeIpAddresses": True},
    ]  # fmt: skip
    # From the spec change (Reconciling's flip to True at T0) to NetworkReady.
    assert plan.status_fields["networkReadyTime"] == "2025-01-01T12:01:24Z"
    assert plan.status_fields["networkReadySeconds"] == 84.0
    assert plan.status_fields["previousNetworkInterfaces"] is None
    assert events(plan) == [("Normal", "Updated")]


def test_available_counts_as_usable(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    net = network(enis=(eni("subnet-a1", "available"), eni("subnet-b2")))
    assert by_type(plan_for(make_spec(), make_observation(), STARTED, net))["NetworkReady"][0] == "True"


def test_network_ready_time_is_written_only_when_it_becomes_true(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    status = {"vpcId": VPC, "networkReadyTime": "2024-12-31T00:00:00Z", "networkReadySeconds": 9.0}
    plan = plan_for(make_spec(), make_observation(), READY, network(status=status))
    assert "networkReadyTime" not in plan.status_fields
    assert "networkReadySeconds" not in plan.status_fields
    assert plan.events == ()


def test_without_a_reconciling_start_the_seconds_are_left_alone(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    current = (cond("Ready", "False", "Inactive"), cond("NetworkReady", "False", "Inactive"))
    plan = plan_for(make_spec(), make_observation(), current, network(now=10))
    assert plan.status_fields["networkReadyTime"] == "2025-01-01T12:00:10Z"
    assert "networkReadySeconds" not in plan.status_fields


def test_preflight_warnings_are_repeated_in_the_network_ready_message(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    problems = [Problem(Severity.WARNING, "SingleAvailabilityZone", "spec.subnetIds", "every subnet is in one zone")]
    plan = plan_for(make_spec(), make_observation(), STARTED, problems=problems)
    assert by_type(plan)["NetworkReady"] == ("True", "NetworkInterfacesReady")
    assert message(plan, "NetworkReady").endswith(". Warning: every subnet is in one zone")


def test_unreadable_enis_fall_back_to_lambdas_word_and_keep_the_rows(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    failure = Failure(FailureKind.ACCESS_DENIED, "UnauthorizedOperation", "no ec2:DescribeNetworkInterfaces")
    plan = plan_for(make_spec(), make_observation(), STARTED, network(enis=None, read_failure=failure))
    assert plan.outcome == Outcome.IN_SYNC
    assert by_type(plan)["NetworkReady"] == ("True", "NetworkInterfacesReady")
    assert "could not be read (UnauthorizedOperation)" in message(plan, "NetworkReady")
    assert "networkInterfaces" not in plan.status_fields


# --- waiting for the ENIs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enis", "detail"),
    [
        pytest.param((eni("subnet-a1"), eni("subnet-b2", "attaching")), "subnet-b2: eni-b2 attaching", id="attaching"),
        pytest.param((eni("subnet-a1"),), "subnet-b2: no ENI yet", id="missing"),
        pytest.param((eni("subnet-a1"), eni("subnet-b2", groups=frozenset({"sg-1"}))), "subnet-b2: no ENI yet",
                     id="other-group-set"),
    ],
)
def test_active_without_every_eni_waits_and_is_not_ready(
    make_spec: MakeSpec, make_observation: MakeObservation, enis: tuple[EniFacts, ...], detail: str
) -> None:
    plan = plan_for(make_spec(), make_observation(), STARTED, network(now=65, enis=enis), attempt=2)
    assert plan.outcome == Outcome.WAIT
    assert by_type(plan) == {
        "Ready": ("False", "WaitingForNetworkInterfaces"),
        "NetworkReady": ("False", "WaitingForNetworkInterfaces"),
        "Reconciling": ("True", "WaitingForNetworkInterfaces"),
    }
    assert message(plan, "Reconciling") == (
        f"Waiting 1m05s for the network interfaces of orders: State Active; {detail}"
    )
    assert plan.applied is True  # AWS holds the spec: a later difference is drift
    assert plan.requeue_after == delays.wait_delay(2)
    assert plan.events == ()  # no Updated: not Ready yet
    assert "networkReadyTime" not in plan.status_fields


@pytest.mark.parametrize(
    ("overrides", "phase"),
    [
        pytest.param({"last_update_status": UpdateStatus.IN_PROGRESS}, "LastUpdateStatus InProgress", id="updating"),
        pytest.param({"state": FunctionState.PENDING, "state_reason_code": "Creating"}, "State Pending (Creating)",
                     id="pending"),
    ],
)
def test_lambda_busy_with_our_configuration_is_waiting_for_network_interfaces(
    make_spec: MakeSpec, make_observation: MakeObservation, overrides: dict[str, Any], phase: str
) -> None:
    net = network(now=12, enis=(eni("subnet-a1", "attaching"),))
    plan = plan_for(make_spec(), make_observation(**overrides), STARTED, net)
    assert plan.outcome == Outcome.WAIT
    assert by_type(plan)["Ready"] == ("False", "WaitingForNetworkInterfaces")
    assert by_type(plan)["NetworkReady"] == ("False", "WaitingForNetworkInterfaces")
    assert message(plan, "Ready") == (
        f"Waiting 12s for the network interfaces of orders: {phase}; subnet-a1: eni-a1 attaching; "
        "subnet-b2: no ENI yet"
    )
    assert [r.get("status") for r in plan.status_fields["networkInterfaces"]] == ["attaching", None]


def test_lambda_busy_with_every_eni_ready_is_finishing(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    plan = plan_for(make_spec(), make_observation(last_update_status=UpdateStatus.IN_PROGRESS))
    assert "every ENI is ready; Lambda is finishing (LastUpdateStatus InProgress)" in message(plan, "Ready")


def test_someone_elses_update_is_not_a_wait_for_our_network(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    observed = make_observation(vpc=VpcSettings(), vpc_id=None, last_update_status=UpdateStatus.IN_PROGRESS)
    plan = plan_for(make_spec(), observed, STARTED, network(enis=None))
    assert by_type(plan)["Ready"] == ("False", "UpdateInProgress")
    assert by_type(plan)["NetworkReady"] == ("False", "UpdateInProgress")
    # Rows name the desired subnets; no ENI: the function does not use them yet.
    assert plan.status_fields["networkInterfaces"] == [
        {"subnetId": "subnet-a1", "availabilityZone": "us-east-1a"},
        {"subnetId": "subnet-b2", "availabilityZone": "us-east-1b", "lowFreeIpAddresses": True},
    ]


def test_elapsed_time_counts_from_the_start_of_the_work(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    current = (*WAITING[:2], cond("Reconciling", "True", "WaitingForNetworkInterfaces", since="2025-01-01T11:58:00Z"))
    plan = plan_for(make_spec(), make_observation(state=FunctionState.PENDING), current, network(now=5))
    assert message(plan, "Ready").startswith("Waiting 2m05s for the network interfaces of orders")


# --- slow is not a failure -----------------------------------------------------------------------


def test_past_the_readiness_timeout_a_warning_once_and_the_same_reason(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    observed = make_observation(state=FunctionState.PENDING, state_reason_code="Creating")
    plan = plan_for(make_spec(), observed, WAITING, network(now=15 * 60, enis=(eni("subnet-a1", "attaching"),)))
    assert plan.outcome == Outcome.WAIT
    assert "Stalled" not in by_type(plan)
    assert by_type(plan)["Reconciling"] == ("True", "WaitingForNetworkInterfaces")
    assert message(plan, "Ready").endswith("; slower than spec.readinessTimeout (15m), still waiting")
    assert events(plan) == [("Warning", "SlowProvisioning")]
    assert plan.events[0].message == message(plan, "Ready")
    again = plan_for(make_spec(), observed, WAITING, network(now=16 * 60, slow_reported=True))
    assert again.events == ()
    assert "slower than spec.readinessTimeout" in message(again, "Ready")


def test_readiness_timeout_comes_from_the_spec(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    observed = make_observation(last_update_status=UpdateStatus.IN_PROGRESS)
    early = plan_for(make_spec(), observed, WAITING, network(now=29, readiness_timeout="30s"))
    late = plan_for(make_spec(), observed, WAITING, network(now=30, readiness_timeout="30s"))
    assert early.events == ()
    assert events(late) == [("Warning", "SlowProvisioning")]


# --- ENI replaced under a Ready function ---------------------------------------------------------


def test_an_eni_replaced_under_a_ready_function_does_not_flap_ready(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    replaced = (eni("subnet-a1", "attaching", eni_id="eni-new"), eni("subnet-b2"))
    status = {"vpcId": VPC, "networkReadyTime": "2024-12-31T00:00:00Z"}
    plan = plan_for(make_spec(), make_observation(), READY, network(enis=replaced, status=status))
    assert plan.outcome == Outcome.IN_SYNC
    assert by_type(plan) == {"Ready": ("True", "Attached"), "NetworkReady": ("True", "NetworkInterfacesReady")}
    assert "replacing network interfaces (subnet-a1: eni-new attaching)" in message(plan, "NetworkReady")
    assert plan.status_fields["networkInterfaces"][0]["networkInterfaceId"] == "eni-new"
    assert plan.status_fields["networkInterfaces"][0]["status"] == "attaching"
    assert "networkReadyTime" not in plan.status_fields
    assert plan.events == ()


def test_network_ready_of_an_older_generation_does_not_hold_a_new_one(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    stale = (cond("Ready", "True", "Attached", generation=3), cond("NetworkReady", "True", "X", generation=3))
    plan = plan_for(make_spec(), make_observation(), stale, network(enis=(eni("subnet-a1"),)))
    assert plan.outcome == Outcome.WAIT


# --- not ready for another reason ----------------------------------------------------------------


def test_a_stalled_plan_says_the_network_is_not_ready_for_the_same_reason(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    plan = plan_for(make_spec(), make_observation(), STARTED, conflict_with="team-a/other")
    assert by_type(plan)["NetworkReady"] == ("False", "Conflict")
    assert message(plan, "NetworkReady") == message(plan, "Stalled")


def test_an_inactive_function_is_not_network_ready(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    plan = plan_for(make_spec(), make_observation(state=FunctionState.INACTIVE, state_reason_code="Idle"), READY,
                    network(enis=()))  # fmt: skip
    assert plan.outcome == Outcome.IDLE
    assert by_type(plan)["NetworkReady"] == ("False", "Inactive")
    assert [r.get("networkInterfaceId") for r in plan.status_fields["networkInterfaces"]] == [None, None]


def test_an_update_about_to_be_sent_is_not_network_ready(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    plan = plan_for(make_spec(), make_observation(vpc=VpcSettings.of(["subnet-z9"], ["sg-9"])), STARTED,
                    network(enis=None))  # fmt: skip
    assert plan.outcome == Outcome.UPDATE
    assert by_type(plan)["NetworkReady"] == ("False", "Updating")


def test_a_passing_read_failure_changes_nothing(make_spec: MakeSpec) -> None:
    failure = Failure(FailureKind.THROTTLED, "TooManyRequestsException", "slow down", retry_after=2.0)
    plan = plan_for(make_spec(), None, READY, read_failure=failure)
    assert plan.conditions is None
    assert plan.status_fields == {}


def test_without_a_network_situation_the_plan_is_the_lambda_only_one(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    plan = plan_attachment(make_spec(), Situation(generation=GENERATION, observed=make_observation()))
    assert by_type(plan) == {"Ready": ("True", "Attached")}
    assert plan.status_fields == {}


def test_a_new_generation_announces_network_ready_unknown() -> None:
    assert [(c.type.value, c.status.value, c.reason) for c in plan_start(GENERATION)] == [
        ("Ready", "Unknown", "Progressing"),
        ("NetworkReady", "Unknown", "Progressing"),
        ("Reconciling", "True", "Progressing"),
    ]


# --- at rest: free-address counts move (subnets shared with pods), status does not ---------------


def test_moving_free_address_counts_change_nothing_at_rest(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    def at_rest(free_a: int, free_b: int) -> tuple[Any, Any]:
        facts = NetworkFacts(subnets={"subnet-a1": subnet("subnet-a1", "us-east-1a", free_a),
                                      "subnet-b2": subnet("subnet-b2", "us-east-1b", free_b)})  # fmt: skip
        problems = validation.validate_network(DESIRED, facts)
        plan = plan_for(make_spec(), make_observation(), READY, network(facts=facts), problems=problems)
        return plan.conditions, plan.status_fields

    # Counts that move on both sides of nothing (plenty) and below the threshold (a warning) ...
    assert at_rest(250, 12) == at_rest(187, 3) == at_rest(4000, 0)
    # ... but crossing the threshold is news.
    assert at_rest(250, 12) != at_rest(250, 16)


# --- a VPC switch: the previous VPC's ENIs until they are gone -----------------------------------

OLD_ROWS = [
    {"subnetId": "subnet-o1", "availabilityZone": "us-east-1a", "networkInterfaceId": "eni-o1", "status": "in-use",
     "privateIpAddress": "10.9.1.10"},
    {"subnetId": "subnet-o2", "availabilityZone": "us-east-1b", "networkInterfaceId": "eni-o2", "status": "in-use"},
    {"subnetId": "subnet-o3", "availabilityZone": "us-east-1c"},  # never had an ENI
]  # fmt: skip


def old(subnet_id: str, status: str = "in-use") -> EniFacts:
    return EniFacts(f"eni-{subnet_id[-2:]}", subnet_id, OLD_VPC, "us-east-1a", status, None, frozenset({"sg-o"}))


def test_a_vpc_switch_shows_the_old_vpcs_enis_as_previous(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    status = {"vpcId": OLD_VPC, "networkInterfaces": OLD_ROWS}
    net = network(enis=(), status=status, previous_enis={OLD_VPC: (old("subnet-o1"), old("subnet-o2", "detaching"))})
    plan = plan_for(make_spec(), make_observation(last_update_status=UpdateStatus.IN_PROGRESS), STARTED, net)
    assert plan.status_fields["previousNetworkInterfaces"] == [
        {**OLD_ROWS[0], "vpcId": OLD_VPC},
        {**OLD_ROWS[1], "status": "detaching", "vpcId": OLD_VPC},
    ]
    assert [r["subnetId"] for r in plan.status_fields["networkInterfaces"]] == ["subnet-a1", "subnet-b2"]


def test_previous_enis_go_when_aws_has_deleted_them(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    previous = [{**OLD_ROWS[0], "vpcId": OLD_VPC}, {**OLD_ROWS[1], "vpcId": OLD_VPC}]
    status = {"vpcId": VPC, "previousNetworkInterfaces": previous}
    one_left = plan_for(make_spec(), make_observation(), STARTED,
                        network(status=status, previous_enis={OLD_VPC: (old("subnet-o2"),)}))  # fmt: skip
    assert [r["networkInterfaceId"] for r in one_left.status_fields["previousNetworkInterfaces"]] == ["eni-o2"]
    gone = plan_for(make_spec(), make_observation(), STARTED, network(status=status, previous_enis={OLD_VPC: ()}))
    assert gone.status_fields["previousNetworkInterfaces"] is None


def test_previous_enis_not_read_are_kept_as_they_were(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    previous = [{**OLD_ROWS[0], "vpcId": OLD_VPC}]
    plan = plan_for(make_spec(), make_observation(), STARTED,
                    network(status={"vpcId": VPC, "previousNetworkInterfaces": previous}))  # fmt: skip
    assert plan.status_fields["previousNetworkInterfaces"] == previous


def test_previous_enis_still_there_long_after_the_switch_serve_other_functions(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    previous = [{**OLD_ROWS[0], "vpcId": OLD_VPC}]
    status = {"vpcId": VPC, "previousNetworkInterfaces": previous, "networkReadyTime": T0_TEXT}
    window, previous_enis = network_readiness.PREVIOUS_VPC_WINDOW, {OLD_VPC: (old("subnet-o1"),)}
    still = network(now=window, status=status, previous_enis=previous_enis)
    later = network(now=window + 1, status=status, previous_enis=previous_enis)
    assert plan_for(make_spec(), make_observation(), READY, still).status_fields["previousNetworkInterfaces"]
    assert plan_for(make_spec(), make_observation(), READY, later).status_fields["previousNetworkInterfaces"] is None


def test_switching_back_makes_the_previous_enis_current(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    status = {"vpcId": OLD_VPC, "previousNetworkInterfaces": [{**OLD_ROWS[0], "vpcId": VPC}]}
    plan = plan_for(make_spec(), make_observation(), STARTED, network(status=status, previous_enis={OLD_VPC: ()}))
    assert plan.status_fields["previousNetworkInterfaces"] is None


# --- asynchronous failures name the subnet, group, VPC or role ----------------------------------


def failed(make_observation: MakeObservation, code: str, reason: str = "Lambda says no.") -> FunctionObservation:
    return make_observation(last_update_status=UpdateStatus.FAILED, last_update_status_reason_code=code,
                            last_update_status_reason=reason)  # fmt: skip


def test_out_of_addresses_names_the_subnet_with_no_room(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    facts = NetworkFacts(subnets={"subnet-a1": subnet("subnet-a1", "us-east-1a"),
                                  "subnet-b2": subnet("subnet-b2", "us-east-1b", 0)})  # fmt: skip
    net = network(enis=(eni("subnet-a1"),), facts=facts)
    plan = plan_for(make_spec(), failed(make_observation, "SubnetOutOfIPAddresses"), STARTED, net, update_sent=True)
    assert by_type(plan)["Stalled"] == ("True", "SubnetOutOfIPAddresses")
    assert by_type(plan)["NetworkReady"] == ("False", "SubnetOutOfIPAddresses")
    assert message(plan, "Stalled") == (
        "The VPC update of orders failed: Lambda says no. subnet subnet-b2 (us-east-1b, fewer than 16 free IPv4 "
        "addresses) in spec.subnetIds has no free IPv4 addresses for a new network interface; free addresses there "
        "or add subnets with room to spec.subnetIds"
    )


def test_a_failed_update_rolled_back_by_lambda_stalls_with_the_subnet_named(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    facts = NetworkFacts(subnets={"subnet-a1": subnet("subnet-a1", "us-east-1a", 3),
                                  "subnet-b2": subnet("subnet-b2", "us-east-1b", 100)})  # fmt: skip
    observed = make_observation(vpc=VpcSettings(), vpc_id=None, last_update_status=UpdateStatus.FAILED,
                                last_update_status_reason_code="SubnetOutOfIPAddresses",
                                last_update_status_reason="no room")  # fmt: skip
    plan = plan_for(make_spec(), observed, STARTED, network(enis=None, facts=facts), update_sent=True)
    assert plan.outcome == Outcome.STALLED
    assert "subnet subnet-a1 (us-east-1a, fewer than 16 free IPv4 addresses) in spec.subnetIds has no free" in message(
        plan, "Stalled")


@pytest.mark.parametrize(
    ("code", "facts", "named"),
    [
        pytest.param("InvalidSubnet", NetworkFacts(subnets={"subnet-a1": subnet("subnet-a1", "us-east-1a")}),
                     "subnet subnet-b2 in spec.subnetIds does not exist", id="invalid-subnet"),
        pytest.param("InvalidSecurityGroup", NetworkFacts(security_groups={"sg-1": SecurityGroupFacts("sg-1", VPC)}),
                     "security group sg-2 in spec.securityGroupIds does not exist", id="invalid-group"),
        pytest.param("EniLimitExceeded", FACTS, "VPC vpc-0abc (holds 0 Lambda ENIs) reached its quota",
                     id="eni-limit"),
        pytest.param("InsufficientRolePermissions", FACTS,
                     "execution role arn:aws:iam::123456789012:role/orders-exec may not manage network interfaces",
                     id="role"),
    ],
)
def test_failed_state_names_what_failed(
    make_spec: MakeSpec, make_observation: MakeObservation, code: str, facts: NetworkFacts, named: str
) -> None:
    observed = make_observation(state=FunctionState.FAILED, state_reason_code=code, state_reason="AWS text")
    plan = plan_for(make_spec(), observed, STARTED, network(enis=(), facts=facts))
    assert by_type(plan)["Stalled"] == ("True", code)
    assert named in message(plan, "Stalled")


def test_without_facts_the_hint_stays_general(make_observation: MakeObservation) -> None:
    names = network_readiness.culprits("SubnetOutOfIPAddresses", DESIRED, make_observation(), network(facts=None))
    assert names == {}
    assert hints.hint("SubnetOutOfIPAddresses", None, **names).startswith("a subnet in spec.subnetIds has no free")
    assert network_readiness.culprits("SubnetOutOfIPAddresses", DESIRED, make_observation(), None) == {}


def test_transient_ec2_throttling_is_retried_not_stalled(
    make_spec: MakeSpec, make_observation: MakeObservation
) -> None:
    plan = plan_for(make_spec(), failed(make_observation, "EC2RequestLimitExceeded"), STARTED, update_sent=True)
    assert plan.outcome == Outcome.UPDATE
    assert "Stalled" not in by_type(plan)
    assert by_type(plan)["NetworkReady"] == ("False", "EC2RequestLimitExceeded")


# --- small pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (42.9, "42s"), (60, "1m00s"), (185, "3m05s"), (3720, "1h02m"), (-3, "0s")],
)
def test_format_elapsed(seconds: float, text: str) -> None:
    assert network_readiness.format_elapsed(seconds) == text


def test_readiness_with_enis(make_observation: MakeObservation) -> None:
    observed = make_observation()
    assert readiness.lambda_ready(DESIRED, observed)
    assert readiness.subnets_without_interface(DESIRED, READY_ENIS) == []
    assert readiness.subnets_without_interface(DESIRED, (eni("subnet-a1"),)) == ["subnet-b2"]
    assert not readiness.lambda_ready(DESIRED, make_observation(state=FunctionState.PENDING))
    assert readiness.subnets_without_interface(DESIRED, (eni("subnet-b2", "attaching"),)) == ["subnet-a1", "subnet-b2"]


def test_events_are_warnings_or_normal_only(make_spec: MakeSpec, make_observation: MakeObservation) -> None:
    observed = make_observation(state=FunctionState.PENDING)
    plan = plan_for(make_spec(), observed, WAITING, network(now=3600))
    assert {e.type for e in plan.events} <= {EventType.WARNING, EventType.NORMAL}
