"""Looks that need a control-plane token while others wait for one sleep with a ticket (aws.budgets).

An operator of its own with a tiny control budget (1 request/s, burst 1) gets eight new attachments
at once: most of their writes must queue. The queue must be held by tickets (looks asleep, a few
hundred bytes each), not by looks waiting in person, and every attachment must still converge with
exactly one UpdateFunctionConfiguration: a parked look wakes when its token is taken, plans again
on fresh facts and spends the token, nothing lost, nothing sent twice.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import Namespace, Target, condition, free_port, wait_for, watch_log
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = pytest.mark.e2e

ATTACHMENTS = 8
SLOW = ["--control-rate", "1", "--metrics-port"]
QUEUE = "lambda_vpc_operator_budget_queue"
REQUESTS = "lambda_vpc_operator_aws_requests_total"


class Slow:
    def __init__(self, namespace: Namespace, operator: OperatorProcess, metrics_url: str) -> None:
        self.ns, self.operator, self.metrics_url = namespace, operator, metrics_url


@pytest.fixture(scope="module")
def slow(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slow]:
    if target.operator is None:
        pytest.skip("the operator runs elsewhere (LVO_E2E_OPERATOR=external)")
    port = free_port()
    log = tmp_path_factory.mktemp("tickets") / "operator.log"
    with target.operator_alone("tickets", log, target.resync_interval, [*SLOW, str(port)]) as (ns, operator):
        yield Slow(ns, operator, f"http://127.0.0.1:{port}/metrics")


@pytest.mark.simulator
def test_looks_queued_for_the_control_budget_sleep_with_tickets_and_all_converge(
    target: Target, slow: Slow, request: pytest.FixtureRequest
) -> None:
    from test_operations import scrape, value

    assert slow.operator.log_path is not None
    watch_log(request.node, slow.operator.log_path)
    net = target.network
    names = [f"fn-{i}" for i in range(ATTACHMENTS)]
    for name in names:
        slow.ns.create(name, target.make_function("ticket"), net.subnets[:2], [net.app_sg])

    most = {"ticket": 0.0, "request": 0.0}

    def all_ready() -> bool:
        samples = scrape(target, slow.metrics_url)
        for waiter in most:
            most[waiter] = max(most[waiter], value(samples, QUEUE, budget="control", waiter=waiter))
        ready = [o for o in slow.ns.list() if condition(o, "Ready").get("status") == "True"]
        assert len(ready) == ATTACHMENTS, f"{len(ready)}/{ATTACHMENTS} Ready"
        return True

    wait_for(all_ready, target.timeout(120), 0.2, what="every attachment Ready behind a 1/s budget")
    # The queue was held by sleeping looks' tickets, and more of it than by callers waiting in person.
    assert most["ticket"] >= 2, most
    assert most["ticket"] > most["request"], most

    # A user's change goes before the owner tags still queued (a spec change before an owner tag).
    samples = scrape(target, slow.metrics_url)
    before = value(samples, REQUESTS, operation="UpdateFunctionConfiguration")
    tags_pending = ATTACHMENTS - value(samples, REQUESTS, operation="TagResource", outcome="Success")
    slow.ns.patch_spec(names[0], subnetIds=net.subnets[1:3])

    def updated() -> float:
        now = scrape(target, slow.metrics_url)
        assert value(now, REQUESTS, operation="UpdateFunctionConfiguration") > before, "no update yet"
        return value(now, REQUESTS, operation="TagResource", outcome="Success")

    tags_then = wait_for(updated, target.timeout(60), 0.1, what="the spec change's update")
    if tags_pending >= 2:  # tags were queued when the spec changed: the update went before the last of them
        assert tags_then < ATTACHMENTS, f"the spec change waited behind {tags_pending:g} queued owner tags"

    # The owner tags come after Ready (their tickets queue behind the updates; the changed attachment's
    # after its new update): once all are sent, nothing waits.
    def tagged() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        samples = scrape(target, slow.metrics_url)
        assert value(samples, REQUESTS, operation="TagResource", outcome="Success") >= ATTACHMENTS, "tags to come"
        assert value(samples, QUEUE, budget="control") == 0, "tickets or requests still queued"
        return samples

    samples = wait_for(tagged, target.timeout(60), 0.5, what="every owner tag, then an empty queue")
    # One update per attachment (and the change's), one owner tag each: nothing lost, nothing sent twice.
    assert value(samples, REQUESTS, operation="UpdateFunctionConfiguration", outcome="Success") == ATTACHMENTS + 1
    assert value(samples, REQUESTS, operation="TagResource", outcome="Success") == ATTACHMENTS
