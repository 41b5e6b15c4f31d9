"""Regions: a full ARN fixes the region; spec.region for a name; a contradiction is refused."""

from __future__ import annotations

import json

import kubernetes
import pytest

from harness import GROUP, PLURAL, VERSION, Namespace, Target

pytestmark = pytest.mark.e2e


def test_the_arn_fixes_the_region(target: Target, ns: Namespace) -> None:
    function = target.make_function("arnregion")
    ns.create("by-arn", target.function_arn(function), target.network.subnets[:2], [target.network.app_sg])
    obj = ns.wait_ready("by-arn")
    assert obj["status"]["functionArn"] == target.function_arn(function)
    # spec.region may repeat the ARN's region.
    ns.create("by-name", target.make_function("nameregion"), target.network.subnets[:2], [target.network.app_sg],
              region=target.region)  # fmt: skip
    ns.wait_ready("by-name")


def test_a_region_contradicting_the_arn_is_refused_at_admission(target: Target, ns: Namespace) -> None:
    other = "eu-west-1" if target.region != "eu-west-1" else "us-east-1"
    body = ns.body("contradiction", target.function_arn("orders-api"), target.network.subnets[:1],
                   [target.network.app_sg], region=other)  # fmt: skip
    with pytest.raises(kubernetes.client.ApiException) as caught:
        target.custom.create_namespaced_custom_object(GROUP, VERSION, ns.name, PLURAL, body)
    assert caught.value.status == 422
    assert "spec.region contradicts the region of the ARN" in json.loads(caught.value.body)["message"]
