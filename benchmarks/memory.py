"""What one attachment costs the operator in memory, and who holds it (issue 11, part 3).

Starts the Kubernetes API emulator and the AWS simulator in this process, N detached functions,
then the real operator as a child process under tracemalloc (``--frames`` deep). It takes a
tracemalloc snapshot once the operator has started (nothing applied yet) and another once all N
attachments are Ready and a few resyncs have passed, then reports the difference per attachment:
grouped by the operator's, kopf's or another library's frame nearest to the allocation (the
"owner"), and by allocating line. It also reports VmRSS at both points; tracemalloc itself adds to
RSS, so take RSS from a run with ``--frames 0`` (no tracing) and the attribution from a traced run.

AWS' budgets are off in the simulator and the operator's own are raised: this measures memory at
rest, not the speed of convergence (benchmarks/converge.py does). Usage:

    .venv/bin/python benchmarks/memory.py --attachments 300 --frames 25
"""

# ruff: noqa: E402 - the child's branch below runs before the sandbox's imports, on purpose.
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SNAPSHOTS = Path(".sandbox/memory")

# Run as the child: trace, dump a snapshot on SIGUSR2 (SIGUSR1 is the operator's: handlers.diagnostics),
# then be the operator (before the sandbox's imports below, which the operator process must not hold).
if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--operator-child":
    # Imports first (traced, they take minutes): what they allocate is no attachment's.
    import boto3

    from lambda_vpc_operator import cli

    cli._import_kopf_alone()  # as `run` imports it: without the kubernetes client
    import kopf  # noqa: F401

    from lambda_vpc_operator.handlers import attachments, configuring, policies  # noqa: F401
    from lambda_vpc_operator.reconciliation import reconciler  # noqa: F401

    frames = int(os.environ.get("LVO_MEMORY_FRAMES", "0"))
    if frames:
        tracemalloc.start(frames)
    counter = [0]

    def _dump(signum: int, frame: Any) -> None:
        counter[0] += 1
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(str(_SNAPSHOTS / f"snapshot-{counter[0]}.pickle"))
        # Which per-attachment memories still hold a status copy (reconciliation.memories).
        import gc

        from lambda_vpc_operator.handlers.looks import Entry, expand
        from lambda_vpc_operator.reconciliation.memories import AttachmentMemory

        memories = [o for o in gc.get_objects() if isinstance(o, AttachmentMemory)]
        held: dict[str, Any] = {
            "memories": len(memories),
            "holding_status": sum(m.status is not None for m in memories),
        }
        # Why a copy is still held: the watch's body (the look's) differs from our last write's answer.
        differing: dict[str, int] = {}
        for entry in (o for o in gc.get_objects() if isinstance(o, Entry)):
            if entry.memory.status is None:
                continue
            watched = expand(entry.body).get("status") or {}
            keys = set(watched) | set(entry.memory.status)
            for key in sorted(k for k in keys if watched.get(k) != entry.memory.status.get(k)) or ["(equal)"]:
                differing[key] = differing.get(key, 0) + 1
        held["held_status_differs_in"] = differing
        held["holders"] = _holders(gc)
        # What the garbage collector tracks, by type: the objects an attachment keeps, counted.
        types: dict[str, int] = {}
        for obj in gc.get_objects():
            name = type(obj).__module__ + "." + type(obj).__qualname__
            types[name] = types.get(name, 0) + 1
        held["objects_by_type"] = dict(sorted(types.items(), key=lambda kv: -kv[1])[:40])
        if tracemalloc.is_tracing():
            held["kopf_decoded_alive"] = _kopf_decoded(gc)
            held["parsed_strings_held_by"] = _parsed_strings(gc)
        held["pymalloc"] = _pymalloc_stats()
        held["tasks_waiting_at"] = _tasks_waiting_at()
        (_SNAPSHOTS / f"memories-{counter[0]}.json").write_text(json.dumps(held))
        (_SNAPSHOTS / f"done-{counter[0]}").touch()

    def _tasks_waiting_at() -> dict[str, int]:
        """Where each asyncio task waits: the innermost of its chain of awaits, by line, counted."""
        import asyncio

        loop = asyncio._get_running_loop()
        if loop is None:
            return {}
        found: dict[str, int] = {}
        for task in asyncio.all_tasks(loop):
            coro: Any = task.get_coro()
            chain = []
            while coro is not None and hasattr(coro, "cr_frame"):
                if coro.cr_frame is not None:
                    code = coro.cr_frame.f_code
                    chain.append(f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_name}:{coro.cr_frame.f_lineno}")
                coro = coro.cr_await
            where = " > ".join(chain[-3:]) or "(not started)"
            found[where] = found.get(where, 0) + 1
        return dict(sorted(found.items(), key=lambda kv: -kv[1])[:30])

    def _pymalloc_stats() -> dict[str, int]:
        """CPython's small-object allocator: arenas held against bytes in live blocks. RSS far above
        what lives means freed blocks kept in arenas that still hold a live object (fragmentation)."""
        import io
        import tempfile

        with tempfile.TemporaryFile("w+") as err:
            saved = os.dup(2)
            os.dup2(err.fileno(), 2)
            try:
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            err.seek(0)
            text = io.StringIO(err.read()).getvalue()
        wanted = {
            "arenas allocated current": "arenas_current",
            "bytes in allocated blocks": "bytes_in_allocated_blocks",
            "bytes in available blocks": "bytes_in_available_blocks",
            "unused pools": "bytes_in_unused_pools",
            "bytes lost to pool headers": "bytes_lost_to_pool_headers",
            "bytes lost to quantization": "bytes_lost_to_quantization",
            "Total": "total_bytes",
        }
        stats: dict[str, int] = {}
        for line in text.splitlines():
            for label, key in wanted.items():
                if label in line and "=" in line and key not in stats:  # the first "Total" is the arenas'
                    stats[key] = int(line.split("=")[-1].strip().replace(",", ""))
        return stats

    def _describe(o: Any) -> str:
        if isinstance(o, dict):
            keys = sorted(str(k) for k in list(o)[:6])
            return f"dict{keys}"
        if isinstance(o, (list, tuple)):
            return f"{type(o).__name__}[{len(o)}]"
        if type(o).__name__ == "frame":
            return f"frame {o.f_code.co_filename.rsplit('/', 1)[-1]}:{o.f_code.co_name}"
        if type(o).__name__ in ("async_generator", "generator", "coroutine"):
            code = getattr(o, "ag_code", None) or getattr(o, "gi_code", None) or getattr(o, "cr_code", None)
            frame = getattr(o, "ag_frame", None) or getattr(o, "gi_frame", None) or getattr(o, "cr_frame", None)
            where = f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_name}" if code else "?"
            return f"{type(o).__name__} {where}:{frame.f_lineno if frame else '-'}"
        if type(o).__name__ == "cell":
            return "cell"
        return type(o).__module__ + "." + type(o).__qualname__

    def _holders(gc: Any) -> dict[str, int]:
        """Who refers to the attachments' decoded specs and statuses (two levels up), counted."""
        found: dict[str, int] = {}
        specs = [o for o in gc.get_objects() if isinstance(o, dict) and "functionName" in o and "subnetIds" in o]
        statuses = [
            o for o in gc.get_objects() if isinstance(o, dict) and "observedGeneration" in o and "conditions" in o
        ]
        for what, sample in (("spec", specs[:40]), ("status", statuses[:40])):
            for obj in sample:
                for first in gc.get_referrers(obj):
                    if first is sample or (isinstance(first, list) and first in (specs, statuses)):
                        continue
                    for second in gc.get_referrers(first)[:4]:
                        if isinstance(second, list) and len(second) > 1000:
                            continue
                        key = f"{what} <- {_describe(first)} <- {_describe(second)}"
                        found[key] = found.get(key, 0) + 1
        found["specs"], found["statuses"] = len(specs), len(statuses)
        # A few whole chains, deeper: what finally keeps a status alive.
        ignored = {id(specs), id(statuses)}
        for n, obj in enumerate(statuses[:3]):
            chain, level = [], [obj]
            for _ in range(6):
                ignored.add(id(level))
                up = [r for o in level for r in gc.get_referrers(o) if id(r) not in ignored]
                up = [r for r in up if not (isinstance(r, list) and len(r) > 1000)][:3]
                if not up:
                    break
                chain.append(" | ".join(_describe(r) for r in up))
                level = up
            found[f"chain {n}: " + " <- ".join(chain)] = 0
        return dict(sorted(found.items(), key=lambda kv: -kv[1])[:40])

    def _kopf_decoded(gc: Any) -> dict[str, Any]:
        """The containers parsed from kopf's watch stream still alive, by shape, and who holds a few."""
        shapes: dict[str, int] = {}
        samples: dict[str, list[str]] = {}
        for obj in gc.get_objects():
            if not isinstance(obj, (dict, list)):
                continue
            trace = tracemalloc.get_object_traceback(obj)
            if trace is None or not any("kopf/_cogs/clients/api.py" in f.filename for f in trace):
                continue
            shape = _describe(obj)
            shapes[shape] = shapes.get(shape, 0) + 1
            if len(samples.setdefault(shape, [])) < 2:
                samples[shape].append(" | ".join(_describe(r) for r in gc.get_referrers(obj)[:4]))
        top = sorted(shapes.items(), key=lambda kv: -kv[1])[:15]
        return {shape: {"count": count, "held by": samples[shape]} for shape, count in top}

    _PARSERS = {
        "kubernetes client answer": "kubernetes/client/api_client.py",
        "kopf watch": "kopf/_cogs/clients/api.py",
        "botocore answer": "botocore/parsers.py",
    }

    def _parsed_strings(gc: Any) -> dict[str, Any]:
        """Strings (untracked by gc) decoded from an answer and still alive, by what holds them."""
        held: dict[str, int] = {}
        counts: dict[str, int] = {}
        samples: dict[str, Any] = {}
        for container in gc.get_objects():
            for ref in gc.get_referents(container):
                if type(ref) not in (str, bytes):
                    continue
                trace = tracemalloc.get_object_traceback(ref)
                if trace is None:
                    continue
                parser = next((k for k, v in _PARSERS.items() if any(v in f.filename for f in trace)), None)
                if parser is None:
                    continue
                key = f"{parser} <- {_describe(container)}"
                held[key] = held.get(key, 0) + sys.getsizeof(ref)
                counts[key] = counts.get(key, 0) + 1
                samples.setdefault(key, container)
        top = sorted(held.items(), key=lambda kv: -kv[1])[:15]
        return {
            key: {
                "bytes": size,
                "strings": counts[key],
                "held by": [_describe(r) for r in gc.get_referrers(samples[key])[:4]],
            }
            for key, size in top
        }

    signal.signal(signal.SIGUSR2, _dump)
    from lambda_vpc_operator.cli import main as operator_main

    sys.exit(operator_main(sys.argv[2:]))


import boto3

from lambda_vpc_sandbox import manifests
from lambda_vpc_sandbox.aws.config import SimConfig
from lambda_vpc_sandbox.aws.seeding import handler_zip, seed_demo_account
from lambda_vpc_sandbox.aws.server import AwsSimulator
from lambda_vpc_sandbox.kube.running import EmulatorThread
from lambda_vpc_sandbox.processes import OperatorProcess, simulated_aws_env

REGION = "us-east-1"
WARMUP = 10
SNAPSHOTS = _SNAPSHOTS


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return round(kb / 1024, 1)


def _snapshot(pid: int, number: int, timeout: float = 300.0) -> tracemalloc.Snapshot | None:
    os.kill(pid, signal.SIGUSR2)
    done = SNAPSHOTS / f"done-{number}"
    deadline = time.monotonic() + timeout
    while not done.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no snapshot {number} from the operator")
        time.sleep(0.2)
    path = SNAPSHOTS / f"snapshot-{number}.pickle"
    return tracemalloc.Snapshot.load(str(path)) if path.exists() else None


def _apply(client: Any, names: list[str], subnet_sets: list[list[str]], group: str) -> None:
    for name in names:
        number = int(name.rsplit("-", 1)[1])
        manifests.apply_attachment(client, {
            "apiVersion": "lambdavpc.dev/v1alpha1", "kind": "LambdaVpcAttachment",
            "metadata": {"name": name, "namespace": "bench"},
            "spec": {"functionName": name, "subnetIds": subnet_sets[number % 3], "securityGroupIds": [group]},
        })  # fmt: skip


def _wait_ready(
    client: Any, pid: int, count: int, deadline: float, halfway: Callable[[], object] | None = None
) -> float:
    """Wait until ``count`` attachments are Ready; the peak RSS seen meanwhile (0.0: timed out).
    ``halfway`` is called once, when half of them are."""

    def ready() -> int:
        return sum(manifests.verdict(o).ready == "True" for o in manifests.list_attachments(client))

    return _wait_for_count(ready, "ready", pid, count, deadline, halfway)


def _wait_tags(
    aws: AwsSimulator, pid: int, count: int, deadline: float, halfway: Callable[[], object] | None = None
) -> float:
    """Wait until ``count`` functions carry an owner tag (TagResource answered since the calls were
    reset); the peak RSS seen meanwhile (0.0: timed out). ``halfway`` is called once, at half."""
    return _wait_for_count(
        lambda: aws.control.calls().get("lambda:TagResource", 0), "tagged", pid, count, deadline, halfway
    )


def _wait_for_count(
    counted: Callable[[], int], what: str, pid: int, count: int, deadline: float, halfway: Callable[[], object] | None
) -> float:
    peak = 0.0
    while True:
        peak = max(peak, _rss_mib(pid))
        done = counted()
        if halfway is not None and done >= count // 2:
            halfway()
            halfway = None
        if done >= count:
            return peak
        if time.monotonic() > deadline:
            print(f"timeout: {done}/{count} {what}", file=sys.stderr)
            return 0.0
        time.sleep(1.0)


class _TracedOperator(OperatorProcess):
    def start(self) -> _TracedOperator:
        import subprocess

        env = {**os.environ, **self.env, "KUBECONFIG": self.kubeconfig, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, __file__, "--operator-child", "run", *self.args]
        log = open(SNAPSHOTS / "operator.log", "ab")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        return self


def _owner(trace_frames: Any) -> str:
    """Who holds an allocation, from its traceback (oldest frame first): kopf's watch (the objects'
    bodies), kopf's daemons and per-object workers, AWS or Kubernetes responses, else the operator's
    module nearest to the allocation, else the library's."""
    names = [frame.filename for frame in trace_frames]
    joined = " ".join(names)
    if "watching.py" in joined and "json" in joined:
        return "kopf: watched bodies"
    if "kubernetes/client" in joined:
        return "kubernetes client (status patch responses, lazy imports)"
    if "botocore" in joined:
        return "AWS responses (botocore)"
    for filename in reversed(names):
        if "lambda_vpc_operator" in filename:
            return "operator: " + filename.split("lambda_vpc_operator/", 1)[1]
    if "daemons.py" in joined:
        return "kopf: daemons"
    if "queueing.py" in joined:
        return "kopf: per-object workers (and the daemon tasks they spawn)"
    for filename in reversed(names):
        if "/kopf/" in filename:
            return "kopf: " + filename.split("/kopf/", 1)[1]
    return "other: " + (names[-1].split("site-packages/", 1)[-1] if names else "?")


def _attribute(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int, top: int) -> dict[str, Any]:
    by_owner: dict[str, int] = defaultdict(int)
    by_line: dict[str, int] = defaultdict(int)
    for stat in after.compare_to(before, "traceback"):
        if not stat.size_diff:
            continue
        by_owner[_owner(stat.traceback)] += stat.size_diff
        where = " > ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in list(stat.traceback)[-4:])
        by_line[where] += stat.size_diff
    total = sum(by_owner.values())

    def per(items: dict[str, int]) -> dict[str, int]:
        ranked = sorted(items.items(), key=lambda kv: -kv[1])[:top]
        return {k: round(v / n) for k, v in ranked}

    return {
        "traced_bytes_per_attachment": round(total / n),
        "by_owner_bytes_per_attachment": per(by_owner),
        "by_line_bytes_per_attachment": per(by_line),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attachments", type=int, default=300)
    parser.add_argument("--frames", type=int, default=10, help="tracemalloc frames; 0: no tracing (honest RSS)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds at rest after all are Ready")
    parser.add_argument("--resync-interval", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--control-rate", type=float, default=100.0, help="the operator's; 10 (its default) to measure looks queued"
    )
    parser.add_argument(
        "--dump-halfway", action="store_true", help="also dump objects alive when half are Ready (memories-2.json)"
    )
    parser.add_argument(
        "--wait-tags",
        action="store_true",
        help="after Ready, wait until every owner tag is written (minutes at --control-rate 10), and dump "
        "when half of them are (with --dump-halfway)",
    )
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    n = args.attachments
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SNAPSHOTS.glob("*"):
        if old.name != "operator.log":
            old.unlink()

    config = SimConfig(create_delay=0.2, update_delay=0.5, eni_create_delay=2.0, eni_delete_delay=5.0)
    with EmulatorThread() as kube, AwsSimulator(config=config) as aws:
        account = seed_demo_account(aws.endpoint_url, region=REGION)
        aws.control.set_rate_limits(False)
        lam = boto3.client(
            "lambda", endpoint_url=aws.endpoint_url, region_name=REGION,
            aws_access_key_id="x", aws_secret_access_key="x",
        )  # fmt: skip
        code = handler_zip()
        names = [f"bench-{i:05d}" for i in range(n + WARMUP)]
        for name in names:
            lam.create_function(
                FunctionName=name, Runtime="python3.12", Role=account.role_arn,
                Handler="lambda_function.handler", Code={"ZipFile": code},
            )  # fmt: skip
        aws.control.advance(5)
        client = manifests.api_client(kube.kubeconfig_path)
        manifests.install_crds(client)
        manifests.ensure_namespace(client, "bench")
        subnet_sets = [
            [account.private_subnet_a_id, account.private_subnet_b_id],
            [account.private_subnet_b_id, account.private_subnet_c_id],
            [account.private_subnet_a_id, account.private_subnet_c_id],
        ]
        env = {**simulated_aws_env(aws.endpoint_url, REGION), "LVO_MEMORY_FRAMES": str(args.frames)}
        operator = _TracedOperator(
            kube.kubeconfig_path, env,
            ["--resync-interval", str(args.resync_interval), "--policy-mode", "allow-all",
             "--control-rate", str(args.control_rate), "--get-function-rate", "100", "--ec2-rate", "100"],
        )  # fmt: skip
        with operator:
            assert operator.process is not None
            pid = operator.process.pid
            # A few attachments first: the first look's one-off costs (AWS clients, botocore's
            # service models, caches of the account) belong to the baseline, not to the N.
            started = time.monotonic()
            _apply(client, names[:WARMUP], subnet_sets, account.app_sg_id)
            if not _wait_ready(client, pid, WARMUP, started + args.timeout):
                return 1
            time.sleep(args.settle)
            rss_idle = _rss_mib(pid)
            before = _snapshot(pid, 1)
            started = time.monotonic()
            _apply(client, names[WARMUP:], subnet_sets, account.app_sg_id)
            # Halfway through, what is alive while looks are under way (objects by type, pymalloc).
            numbers = iter(range(2, 10))
            during: list[tracemalloc.Snapshot | None] = []
            peak = _wait_ready(
                client,
                pid,
                n + WARMUP,
                started + args.timeout,
                halfway=(lambda: during.append(_snapshot(pid, next(numbers)))) if args.dump_halfway else None,
            )
            if not peak:
                return 1
            converged = time.monotonic() - started
            rss_ready = _rss_mib(pid)
            if args.wait_tags:
                tagging = _wait_tags(
                    aws, pid, n + WARMUP, started + args.timeout,
                    halfway=(lambda: during.append(_snapshot(pid, next(numbers)))) if args.dump_halfway else None,
                )  # fmt: skip
                if not tagging:
                    return 1
                peak = max(peak, tagging)
            tagged = time.monotonic() - started
            settle_until = time.monotonic() + args.settle
            while time.monotonic() < settle_until:
                peak = max(peak, _rss_mib(pid))
                time.sleep(1.0)
            rss_rest = _rss_mib(pid)
            after = _snapshot(pid, next(numbers))

    result: dict[str, Any] = {
        "attachments": n,
        "tracemalloc_frames": args.frames,
        "converge_seconds": round(converged, 1),
        "owner_tags_done_seconds": round(tagged, 1) if args.wait_tags else None,
        "rss_mib": {"idle": rss_idle, "ready": rss_ready, "at_rest": rss_rest, "peak": peak},
        "rss_mib_per_attachment": round((rss_rest - rss_idle) / n, 4),
    }
    if before is not None and after is not None:
        result.update(_attribute(before, after, n, args.top))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
