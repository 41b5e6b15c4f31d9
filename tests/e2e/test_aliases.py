"""Traffic through aliases: AliasesCurrent says whether the versions they invoke hold the spec's
VpcConfig (published versions keep theirs, aws-facts "Lambda function configuration"). The
operator configures $LATEST only: here the test publishes versions and moves the alias, as a
deployment tool (SAM AutoPublishAlias, CDK currentVersion) would."""

from __future__ import annotations

from typing import Any

import pytest

from harness import Namespace, Target, condition

pytestmark = pytest.mark.e2e


def rows(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list(((obj or {}).get("status") or {}).get("aliases") or ())


def test_aliases_current_follows_the_alias_not_latest(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("aliases")
    ns.create("aliased", function, net.subnets[:2], [net.app_sg])
    ns.wait_ready("aliased")
    target.wait_active(function)
    assert target.lambda_.publish_version(FunctionName=function)["Version"] == "1"
    target.lambda_.create_alias(FunctionName=function, Name="live", FunctionVersion="1")

    # Read at the next resync: the alias invokes version 1, published in the spec's network.
    resync = 5 * target.resync_interval + 10
    obj = ns.wait_condition("aliased", "AliasesCurrent", "True", "AliasesMatchSpec", timeout=resync)
    assert rows(obj) == [{"name": "live", "functionVersion": "1", "vpcConfigCurrent": True, "vpcId": net.vpc_id}]

    # The spec moves $LATEST to other subnets; version 1 keeps the old ones, and says so.
    ns.patch_spec("aliased", subnetIds=[net.subnets[2]])
    obj = ns.wait_condition("aliased", "AliasesCurrent", "False", "StaleAliases", timeout=60)
    ready = condition(obj, "Ready")
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("True", "Attached", 2)
    assert not condition(obj, "Stalled") and not condition(obj, "Reconciling")
    message = condition(obj, "AliasesCurrent")["message"]
    assert "live" in message and "publish a new version and move the alias" in message, message
    assert [(r["name"], r["functionVersion"], r["vpcConfigCurrent"]) for r in rows(obj)] == [("live", "1", False)]
    warning = ns.wait_event("aliased", "StaleAliases")
    assert warning.type == "Warning" and "live" in warning.message

    # The deployment tool publishes version 2 (now in the new subnets) and moves the alias.
    target.wait_active(function)
    assert target.lambda_.publish_version(FunctionName=function)["Version"] == "2"
    target.lambda_.update_alias(FunctionName=function, Name="live", FunctionVersion="2")
    obj = ns.wait_condition("aliased", "AliasesCurrent", "True", "AliasesMatchSpec", timeout=resync)
    assert [(r["functionVersion"], r["vpcConfigCurrent"]) for r in rows(obj)] == [("2", True)]
    assert ns.wait_event("aliased", "AliasesMatchSpec").type == "Normal"
    assert ns.event_reasons("aliased")["StaleAliases"] == 1, ns.events("aliased")


def test_a_function_without_aliases_has_no_aliases_condition(target: Target, ns: Namespace) -> None:
    net = target.network
    function = target.make_function("no-aliases")
    ns.create("plain", function, net.subnets[:2], [net.app_sg])
    ns.wait_ready("plain")
    target.wait_reads(2, timeout=5 * target.resync_interval + 10)  # a resync or two later
    obj = ns.get("plain")
    assert condition(obj, "AliasesCurrent") == {}
    assert rows(obj) == []


@pytest.mark.simulator
def test_list_aliases_refused_is_unknown_and_ready_stays(target: Target, ns: Namespace) -> None:
    assert target.sim is not None
    net = target.network
    function = target.make_function("aliases-denied")
    target.sim.deny("lambda:ListAliases")
    try:
        ns.create("denied", function, net.subnets[:2], [net.app_sg])
        obj = ns.wait_condition("denied", "AliasesCurrent", "Unknown", "AliasesUnreadable")
        assert condition(obj, "Ready")["status"] == "True"
        assert not condition(obj, "Stalled")
        assert "lambda:ListAliases" in condition(obj, "AliasesCurrent")["message"]
    finally:
        target.sim.allow("lambda:ListAliases")
