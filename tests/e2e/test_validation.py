"""Specs that cannot work: refused by the API server, or stalled by the operator before any AWS write."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
import yaml

from harness import GROUP, PLURAL, VERSION, Namespace, Target, condition

pytestmark = pytest.mark.e2e

SCHEMA_ERRORS = [
    pytest.param({"subnetIds": ["subnet-NOT_AN_ID"]}, "spec.subnetIds[0]", id="subnet-id-pattern"),
    pytest.param({"securityGroupIds": []}, "spec.securityGroupIds", id="no-security-group"),
    pytest.param({"deletionPolicy": "Destroy"}, "spec.deletionPolicy", id="unknown-deletion-policy"),
]


def _invalid(ns: Namespace, target: Target, name: str, override: dict[str, Any]) -> dict[str, Any]:
    body = ns.body(name, "orders-api", target.network.subnets[:2], [target.network.app_sg])
    body["spec"].update(override)
    return body


@pytest.mark.parametrize(("override", "field"), SCHEMA_ERRORS)
def test_schema_rejects_invalid_spec_via_api(
    target: Target, ns: Namespace, override: dict[str, Any], field: str
) -> None:
    body = _invalid(ns, target, "invalid", override)

    with pytest.raises(kubernetes.client.ApiException) as caught:
        target.custom.create_namespaced_custom_object(GROUP, VERSION, ns.name, PLURAL, body)

    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["reason"] == "Invalid"
    assert field in status["message"], status["message"]
    assert field in [cause.get("field") for cause in status["details"]["causes"]], status["details"]
    assert ns.get("invalid") is None


@pytest.mark.parametrize(("override", "field"), SCHEMA_ERRORS)
def test_schema_rejects_invalid_spec_via_kubectl(
    target: Target, ns: Namespace, override: dict[str, Any], field: str
) -> None:
    manifest = yaml.safe_dump(_invalid(ns, target, "invalid", override))

    applied = target.kubectl("apply", "-f", "-", stdin=manifest)

    assert applied.returncode != 0, applied.stdout
    assert field in applied.stderr, applied.stderr
    assert ns.get("invalid") is None


def test_missing_function_stalls_without_writing(target: Target, ns: Namespace) -> None:
    net = target.network
    if target.sim is not None:
        target.reset_calls()
    missing = "e2e-no-such-function"
    ns.create("missing", missing, net.subnets[:2], [net.app_sg])

    obj = ns.wait_stalled("missing", "FunctionNotFound")

    ready = condition(obj, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "FunctionNotFound")
    assert missing in condition(obj, "Stalled")["message"]
    if target.sim is not None:
        assert target.updates() == 0, target.calls()


def _preflight_cases(target: Target) -> dict[str, tuple[list[str], list[str], str]]:
    net = target.network
    cases = {
        "MixedVpcs": ([net.subnets[0]], [net.other_vpc_sg], "spec.subnetIds"),
        "SubnetNotFound": ([net.subnets[0], "subnet-0e2edoesnotexist"], [net.app_sg], "subnet-0e2edoesnotexist"),
    }
    if net.dedicated_subnet and net.dedicated_sg:
        cases["DedicatedTenancy"] = ([net.dedicated_subnet], [net.dedicated_sg], "spec.subnetIds")
    return cases


@pytest.mark.parametrize("reason", ["DedicatedTenancy", "MixedVpcs", "SubnetNotFound"])
def test_network_that_cannot_work_stalls_without_writing(target: Target, ns: Namespace, reason: str) -> None:
    cases = _preflight_cases(target)
    if reason not in cases:
        pytest.skip(f"no network for {reason} on this target (LVO_E2E_DEDICATED_SUBNET/_SG)")
    subnets, groups, named = cases[reason]
    function = target.make_function("preflight")
    before = target.configuration(function)
    if target.sim is not None:
        target.reset_calls()
    ns.create("preflight", function, subnets, groups)

    obj = ns.wait_stalled("preflight", reason)

    stalled, ready = condition(obj, "Stalled"), condition(obj, "Ready")
    assert named in stalled["message"], stalled["message"]
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert condition(obj, "Reconciling") == {}
    if target.sim is not None:
        assert target.updates() == 0, target.calls()
    assert target.configuration(function)["RevisionId"] == before["RevisionId"]
    ns.wait_event("preflight", "Stalled")
