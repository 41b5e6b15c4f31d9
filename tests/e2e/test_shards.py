"""Sharding by namespace (docs/install.md "Sharding by namespace"): two operators, disjoint patterns.

kopf peering gives active/standby only, and kopf filters labels on the client side, so the way to
spread attachments over several operators is what kopf filters on the server side: namespaces.
Two operators run here with ``--namespace e2s-a-*`` and ``--namespace e2s-b-*`` (each with its
share of the account's budgets) against the same emulator and simulator as the session operator
(``e2e-*``). Every attachment must be handled by exactly one of them: the owner tag names the
shard that claimed the function (each shard's own cluster name: kube-system's uid plus a digest of
its patterns), each shard's log names its own namespaces only, and each function gets one update
and one tag, not two.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator

import pytest

from harness import Namespace, Target, wait_for, watch_log
from lambda_vpc_sandbox.processes import OperatorProcess

pytestmark = pytest.mark.e2e

SHARDS = ("e2s-a", "e2s-b")  # outside the session operator's e2e-*, and outside each other's
PER_SHARD = 2  # namespaces per shard, one attachment each
# Each shard's share of the account's budgets: the defaults split in two (docs/install.md); verbose,
# so that kopf logs each object it handles ("[namespace/name] ...").
SHARE = ["--control-rate", "5", "--get-function-rate", "25", "--ec2-rate", "5", "--verbose"]


WRITES = ("create", "patch", "update", "delete")
OPERATOR_AGENTS = ("kopf", "lambda-vpc-operator")  # the emulator's audit, by the client's product token
# docs/design.md "Kubernetes API writes": what a new attachment costs, by kind of write. kopf's
# finalizer is a JSON patch guarded by the resourceVersion: when the object moved meanwhile (our
# first status write), kopf sends it again, so that one may cost two.
WRITES_PER_NEW_ATTACHMENT = {
    "patch lambdavpcattachments/status": 4,  # new generation; claim; update sent; Ready
    "patch lambdavpcattachments": 3,  # kopf: the finalizer (once, or twice), last-handled-configuration
    "create events": 2,  # Updating, Updated
}


def pattern(shard: str) -> str:
    return f"{shard}-*"


def operator_writes(target: Target) -> collections.Counter[str]:
    """The operators' Kubernetes writes so far, by verb and resource (the emulator's audit)."""
    assert target.kube_audit is not None
    found: collections.Counter[str] = collections.Counter()
    for (agent, key), n in list(target.kube_audit.items()):
        if agent in OPERATOR_AGENTS and key.verb in WRITES:
            found[f"{key.verb} {key.resource}{'/' + key.subresource if key.subresource else ''}"] += n
    return found


@pytest.fixture(scope="module")
def shards(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, OperatorProcess]]:
    if target.operator is None:
        pytest.skip("the operator runs elsewhere (LVO_E2E_OPERATOR=external)")
    started: dict[str, OperatorProcess] = {}
    try:
        for shard in SHARDS:
            log = tmp_path_factory.mktemp(shard) / "operator.log"
            started[shard] = target.start_operator([pattern(shard)], log, target.resync_interval, SHARE)
        yield started
    finally:
        for operator in started.values():
            operator.stop()


@pytest.mark.simulator
def test_each_attachment_is_handled_by_exactly_one_shard(
    target: Target,
    shards: dict[str, OperatorProcess],
    make_namespace: Callable[[str], Namespace],
    request: pytest.FixtureRequest,
) -> None:
    net = target.network
    for operator in shards.values():
        assert operator.log_path is not None
        watch_log(request.node, operator.log_path)
    placed: dict[str, list[tuple[Namespace, str]]] = {shard: [] for shard in SHARDS}
    target.reset_calls()
    before = operator_writes(target) if target.kube_audit is not None else None
    for shard in SHARDS:
        for _ in range(PER_SHARD):
            ns = make_namespace(shard)
            function = target.make_function("shard")
            ns.create("fn", function, net.subnets[:2], [net.app_sg])
            placed[shard].append((ns, function))

    for shard, attachments in placed.items():
        cluster = target.derived_cluster_name([pattern(shard)])
        for ns, function in attachments:
            ns.wait_ready("fn")
            # The shard that claimed it wrote its own name into the owner tag.
            target.wait_owner_tag(function, f"{cluster}/{ns.name}/fn")
            assert ns.get("fn")["status"]["ownership"]["ownerTag"] == f"{cluster}/{ns.name}/fn"

    # Each shard looked at its own namespaces only, and the other shard never at them.
    for shard, operator in shards.items():
        assert operator.running, f"shard {shard} exited"
        assert operator.log_path is not None
        log = operator.log_path.read_text(errors="replace")
        for other, attachments in placed.items():
            for ns, _ in attachments:
                assert (ns.name in log) == (other == shard), f"{ns.name} in the log of shard {shard}: {ns.name in log}"
    if before is not None:
        # docs/design.md "Kubernetes API writes": a new attachment's writes, once every Event is posted
        # (kopf posts them from a queue: wait until the count stops moving, within a deadline).
        n = sum(len(a) for a in placed.values())
        seen: list[int] = []

        def settled() -> bool:
            seen.append(sum((operator_writes(target) - before).values()))
            return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

        wait_for(settled, target.timeout(30), 1.0, what="the operators' writes to settle", describe=lambda: seen)
        spent = operator_writes(target) - before
        assert set(spent) <= set(WRITES_PER_NEW_ATTACHMENT), spent
        assert all(spent[kind] <= most * n for kind, most in WRITES_PER_NEW_ATTACHMENT.items()), spent
        assert spent["patch lambdavpcattachments/status"] >= 3 * n, spent  # the audit did see them
    # One update and one tag per function: no attachment was handled twice.
    calls = target.calls()
    functions = sum(len(a) for a in placed.values())
    assert calls["lambda:UpdateFunctionConfiguration"] == functions, calls
    assert calls["lambda:TagResource"] == functions, calls
