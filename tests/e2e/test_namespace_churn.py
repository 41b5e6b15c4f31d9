"""Namespaces that come and go under a namespace pattern never freeze the operator.

kopf holds every event of the operator until each watcher of an indexed resource has finished its
first list (so that the indexes are complete before any handler runs). A namespace matching the
pattern that is deleted before the list of its attachments came back left that watcher's hold in
place for ever: from then on, no attachment anywhere was handled, with nothing in the log (found in
CI: a test's namespace made and deleted within a second; preview environments do the same). The
operator releases the holds of watchers that stop (handlers.indexing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness import PLURAL, Namespace, Target, unique_name, wait_for, watch_log
from lambda_vpc_sandbox.kube import KubeControl
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]

PREFIX = "e2c"  # this file's namespaces: outside the session operator's e2e-*
SLOW_LIST = 3.0  # seconds the API server takes to answer kopf's first list in a doomed namespace


@pytest.fixture
def churned(target: Target, request: pytest.FixtureRequest) -> Iterator[OperatorProcess]:
    """An operator of its own for ``e2c-*``."""
    if target.operator_log is None or target.kube_control is None:
        pytest.skip("needs the emulators and an operator started by the tests")
    log = target.operator_log.with_name(f"operator-{unique_name(PREFIX, 20)}.log")
    watch_log(request.node, log)
    operator = target.start_operator([f"{PREFIX}-*"], log, target.resync_interval)
    try:
        yield operator
    finally:
        operator.stop()


def test_a_namespace_deleted_before_its_first_list_does_not_freeze_the_operator(
    target: Target, churned: OperatorProcess, make_namespace: Callable[[str], Namespace], kube_faults: KubeControl
) -> None:
    doomed = unique_name(PREFIX, 30)
    kube_faults.inject_faults([{
        "kind": "latency", "verbs": "list", "resources": PLURAL, "namespaces": doomed, "clients": "kopf",
        "params": {"seconds": SLOW_LIST},
    }])  # fmt: skip
    target.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": doomed}})
    # kopf sees the namespace, starts watching its attachments and lists them: slowly.
    wait_for(lambda: sum(kube_faults.injected().get("latency", {}).values()) >= 1, target.timeout(30), 0.05,
             what="kopf's list of the new namespace's attachments")  # fmt: skip
    target.core.delete_namespace(doomed)  # gone while the list is still on its way

    ns = make_namespace(PREFIX)
    function = target.make_function("churn")
    ns.create("after", function, target.network.subnets[:1], [target.network.app_sg])
    try:
        ns.wait_ready("after", timeout=30 + SLOW_LIST)
    except AssertionError:
        churned.dump_tasks()  # where kopf waits, in this operator's log
        raise
    assert churned.running
