"""AWS failing later (asynchronous update failures) and AWS saying "slow down" (429)."""

from __future__ import annotations

import time

import pytest

from harness import Namespace, Target, condition, wait_for
from lambda_vpc_sandbox.aws import SimulatorControl

pytestmark = pytest.mark.e2e

OUT_OF_ADDRESSES = (
    "Lambda was not able to create an ENI in the VPC of the Lambda function because the limit for "
    "Network Interfaces has been reached."
)


def test_async_update_failure_stalls_with_advice(target: Target, ns: Namespace, sim: SimulatorControl) -> None:
    """SubnetOutOfIPAddresses arrives after the call: Stalled with advice, retried at resync pace only."""
    net = target.network
    function = target.make_function("no-ips")
    # The subnets stay full: every attempt fails, until a human frees addresses.
    sim.inject_update_failure(function, "SubnetOutOfIPAddresses", OUT_OF_ADDRESSES, count=100)
    target.reset_calls()
    ns.create("no-ips", function, net.subnets[:2], [net.app_sg])

    obj = ns.wait_stalled("no-ips", "SubnetOutOfIPAddresses")
    stalled_at = time.monotonic()

    message = condition(obj, "Stalled")["message"]
    assert OUT_OF_ADDRESSES in message  # AWS' own words ...
    assert "spec.subnetIds" in message and "free" in message  # ... and what to do about it
    ready = condition(obj, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "SubnetOutOfIPAddresses")
    config = target.configuration(function)
    assert (config["LastUpdateStatus"], config["LastUpdateStatusReasonCode"]) == ("Failed", "SubnetOutOfIPAddresses")
    assert target.updates() == 1, target.calls()
    # No hot loop: the next attempt waits for the resync (the cause may clear without a spec change) ...
    wait_for(lambda: target.updates() >= 2, target.timeout(3 * target.resync_interval + 10), 0.05,
             what="the retry at the next resync", describe=lambda: ns.describe("no-ips"))  # fmt: skip
    assert time.monotonic() - stalled_at >= target.resync_interval - 0.3
    # ... fails the same way, and stalls again without another write.
    first = condition(obj, "Stalled")["lastTransitionTime"]
    again = ns.wait(
        "no-ips",
        lambda o: condition(o, "Stalled").get("lastTransitionTime", first) != first,
        "Stalled again after the retry",
        timeout=target.resync_interval + 10,
    )
    assert condition(again, "Stalled")["reason"] == "SubnetOutOfIPAddresses"
    assert target.updates() == 2, target.calls()


ATTACHMENTS = 20
# botocore's standard mode sends a throttled request up to 3 times before the operator sees the
# throttle and pauses its whole budget for Retry-After (aws-facts "Errors").
BOTOCORE_ATTEMPTS = 3


def test_throttling_is_survived_and_honoured(target: Target, ns: Namespace, sim: SimulatorControl) -> None:
    net = target.network
    functions = target.make_functions("throttle", ATTACHMENTS)  # before the budget shrinks
    # A busy account: a third of the control plane's 15 requests/s left, half of what the operator allows itself.
    sim.set_rate_limits(True, control_per_s=5.0)
    target.reset_calls()

    names = [f"burst-{i:02d}" for i in range(ATTACHMENTS)]
    for name, function in zip(names, functions, strict=True):
        ns.create(name, function, net.subnets[:2], [net.app_sg])

    def all_ready() -> bool:
        ready = [condition(o, "Ready").get("status") == "True" for o in ns.list()]
        assert sum(ready) == ATTACHMENTS, f"{sum(ready)}/{ATTACHMENTS} Ready"
        return True

    wait_for(all_ready, target.timeout(60), 0.5, what="every attachment Ready",
             describe=lambda: f"calls {target.calls()}, throttled {target.throttled()}")  # fmt: skip
    # The claims' owner tags come after Ready (docs/design.md "Ownership off the critical path"):
    # the work to converge ends with them. Counted by the simulator, not read with ListTags, which
    # would spend the same small budget.
    def tagged() -> bool:
        return target.calls()["lambda:TagResource"] >= ATTACHMENTS  # served ones (429s are apart)

    wait_for(tagged, target.timeout(60), 0.5, what="every owner tag written",
             describe=lambda: f"calls {target.calls()}, throttled {target.throttled()}")  # fmt: skip

    assert target.operator_alive
    for function in functions:
        vpc = target.vpc(function)
        assert (vpc.subnet_ids, vpc.security_group_ids) == (set(net.subnets[:2]), {net.app_sg})
    assert target.updates() == ATTACHMENTS, target.calls()
    # Retry-After honoured: a throttle pauses the operator's whole budget, so 429s stay bounded by
    # the control-plane work done (each call refused at most once on average, botocore's own
    # retries included) instead of growing with every look of every attachment.
    throttled = target.throttled()
    work = sum(n for op, n in target.calls().items() if op.startswith("lambda:") and op != "lambda:GetFunction")
    assert sum(throttled.values()) <= BOTOCORE_ATTEMPTS * work, (throttled, target.calls())
    # Steady state fits the budget: a whole resync round later, no new write and no new 429. (From
    # the next round on: the owner tags, the last work, may have drained the account's bucket just
    # before, and the looks right after them wait out that pause like any other.)
    target.wait_reads(ATTACHMENTS, timeout=3 * target.resync_interval + 10)
    throttled = target.throttled()
    target.wait_reads(ATTACHMENTS, timeout=3 * target.resync_interval + 10)
    assert target.throttled() == throttled
    assert target.updates() == ATTACHMENTS, target.calls()
