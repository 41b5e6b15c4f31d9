"""How fast and how frugally the operator converges N attachments, and what it costs at rest.

Starts the Kubernetes API emulator and the AWS simulator in this process, N detached functions,
the operator as a child process (the real `lambda-vpc-operator run`), then applies N attachments
and measures, all on this machine:

- seconds until every attachment is Ready, and the AWS calls it took, per operation;
- the operator's resident memory (VmRSS) and CPU seconds at convergence;
- AWS calls and Kubernetes writes during a quiet period afterwards (steady state, one resync
  interval after the last owner tag, so the reads that follow our own writes are over), with a
  short resync interval so that several resyncs happen; per resync, by operation (ListFunctions
  counted per page), beside what per-object polling would send (one GetFunction per attachment)
  and the observer's bound (ceil(functions in the account / 50) ListFunctions pages per sweep);
- then, with the budget free, the seconds from a spec change to its UpdateFunctionConfiguration
  at the simulator (``SPEC_CHANGES`` changes, one after the other), from the simulator's journal.

Numbers go to stdout as JSON; docs/benchmarks.md records what a run measured. Usage:

    .venv/bin/python benchmarks/converge.py --attachments 200 --quiet-period 30
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import kubernetes
from prometheus_client.parser import text_string_to_metric_families

from lambda_vpc_operator.models import attachments
from lambda_vpc_sandbox import manifests
from lambda_vpc_sandbox.aws.config import SimConfig
from lambda_vpc_sandbox.aws.seeding import handler_zip, seed_demo_account
from lambda_vpc_sandbox.aws.server import AwsSimulator
from lambda_vpc_sandbox.kube.running import EmulatorThread
from lambda_vpc_sandbox.processes import OPERATOR_ACCESS_KEY, OperatorProcess, simulated_aws_env

REGION = "us-east-1"
# The operator's User-Agent products in the emulator's audit: kopf's requests and our status writes.
OPERATOR_AGENTS = ("kopf", "lambda-vpc-operator")
WRITE_VERBS = ("create", "update", "patch", "delete")
CONTROL_RATE = 10.0  # the operator's default --control-rate: the lower bound's budget
# Seconds without an owner tag or an update: converged (at 5,000, one ListFunctions sweep takes 10 s).
SETTLE_WINDOW = 20.0
SPEC_CHANGES = 20  # spec changes timed at rest, one at a time
TIMELINE_BUCKET = 10.0  # seconds per slot of the convergence timeline
# ListFunctions pages of one sweep go out a tenth of a second apart (the control budget); sweeps start
# at least --resync-interval apart.
SWEEP_GAP = 5.0
LISTING_SHARE = 10.0  # wait this many times as long as the last listing of the attachments took
# The operator runs under its least-privilege policy, as in the e2e tests (docs/testing.md).
IAM_POLICY = Path(__file__).resolve().parents[1] / "docs" / "iam-policy.json"


def _proc_stats(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    wanted = ("VmRSS:", "VmHWM:")  # resident now, and its peak (high-water mark)
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith(wanted)}
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return {"rss_mib": round(kb["VmRSS"] / 1024, 1), "peak_rss_mib": round(kb["VmHWM"] / 1024, 1),
            "cpu_seconds": round(cpu, 2)}  # fmt: skip


def _platform_cpu() -> float:
    """CPU seconds of this process: the Kubernetes emulator and the AWS simulator (and this driver)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _kube_writes(audit: Any) -> dict[str, int]:
    """The operator's writes to the Kubernetes API so far, by verb and resource (the emulator's audit)."""
    found: dict[str, int] = {}
    for (agent, key), count in list(audit.items()):
        if agent in OPERATOR_AGENTS and key.verb in WRITE_VERBS:
            what = f"{key.verb} {key.resource}{'/' + key.subresource if key.subresource else ''}"
            found[what] = found.get(what, 0) + count
    return dict(sorted(found.items()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _observer_reads(port: int) -> dict[str, float]:
    """The operator's observer counters (GetFunction by reason, looks served) and its rounds of network
    describes (by why) from its /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "lambda_vpc_operator_observer_reads_total":
                found[f"GetFunction:{sample.labels['reason']}"] = sample.value
            elif sample.name == "lambda_vpc_operator_observer_served_total":
                found["served from the snapshot"] = sample.value
            elif sample.name == "lambda_vpc_operator_network_describes_total":
                found[f"network describe rounds:{sample.labels['why']}"] = sample.value
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attachments", type=int, default=200)
    parser.add_argument("--quiet-period", type=float, default=30.0)
    parser.add_argument("--resync-interval", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--operator-arg", action="append", default=[], help="passed to the operator (repeat)")
    parser.add_argument("--log", type=Path, default=Path(".sandbox/bench-operator.log"))
    args = parser.parse_args()
    try:
        result = measure(args.attachments, quiet_period=args.quiet_period, resync_interval=args.resync_interval,
                         timeout=args.timeout, operator_args=tuple(args.operator_arg), log_path=args.log)  # fmt: skip
    except TimeoutError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def measure(
    n: int,
    *,
    quiet_period: float = 30.0,
    resync_interval: float = 10.0,
    timeout: float = 900.0,
    operator_args: tuple[str, ...] = (),
    log_path: Path = Path(".sandbox/bench-operator.log"),
) -> dict[str, Any]:
    """One run: N functions and attachments on a fresh emulator and simulator; the figures as a dict."""
    # Short simulated delays: we measure the operator, not Lambda's ENI build time.
    config = SimConfig(create_delay=0.2, update_delay=0.5, eni_create_delay=2.0, eni_delete_delay=5.0)
    with EmulatorThread() as kube, AwsSimulator(config=config) as aws:
        account = seed_demo_account(aws.endpoint_url, region=REGION)
        aws.control.set_rate_limits(False)  # creating the functions is setup, not the measured part
        lam = boto3.client(
            "lambda", endpoint_url=aws.endpoint_url, region_name=REGION,
            aws_access_key_id="x", aws_secret_access_key="x",
        )  # fmt: skip
        code = handler_zip()
        names = [f"bench-{i:05d}" for i in range(n)]
        for name in names:
            lam.create_function(
                FunctionName=name, Runtime="python3.12", Role=account.role_arn,
                Handler="lambda_function.handler", Code={"ZipFile": code},
            )  # fmt: skip
        aws.control.advance(5)
        aws.control.set_rate_limits(True)  # AWS' real budgets from here on: 15/s shared, 100/s GetFunction
        aws.control.set_principal_policy(OPERATOR_ACCESS_KEY, json.loads(IAM_POLICY.read_text()))
        client = manifests.api_client(kube.kubeconfig_path)
        manifests.install_crds(client)
        manifests.ensure_namespace(client, "bench")
        subnet_sets = [
            [account.private_subnet_a_id, account.private_subnet_b_id],
            [account.private_subnet_b_id, account.private_subnet_c_id],
            [account.private_subnet_a_id, account.private_subnet_c_id],
        ]
        metrics_port = _free_port()
        operator = OperatorProcess(
            kube.kubeconfig_path, simulated_aws_env(aws.endpoint_url, REGION),
            ["--resync-interval", str(resync_interval), "--policy-mode", "allow-all",
             "--metrics-port", str(metrics_port), *operator_args],
            log_path=log_path,
        )  # fmt: skip
        with operator:
            assert operator.process is not None
            time.sleep(2.0)  # let kopf start and list (an empty cluster: nothing to measure yet)
            idle = _proc_stats(operator.process.pid)
            aws.control.reset_calls()
            kube_before = _kube_writes(kube.emulator.audit_by_agent)
            platform_before = _platform_cpu()
            reads_at_start = _observer_reads(metrics_port)
            started, started_at = time.monotonic(), time.time()
            for i, name in enumerate(names):
                manifests.apply_attachment(client, {
                    "apiVersion": "lambdavpc.dev/v1alpha1", "kind": "LambdaVpcAttachment",
                    "metadata": {"name": name, "namespace": "bench"},
                    "spec": {"functionName": name, "subnetIds": subnet_sets[i % 3],
                             "securityGroupIds": [account.app_sg_id]},
                })  # fmt: skip
            applied = time.monotonic() - started
            while True:
                listed = time.monotonic()
                verdicts = [manifests.verdict(o) for o in manifests.list_attachments(client)]
                ready = sum(v.ready == "True" for v in verdicts)
                if ready == n:
                    break
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"{n} attachments, {operator_args}: {ready}/{n} ready after {timeout:g} s")
                # The listing runs in the simulator's process: at 5,000 attachments, one every 0.5 s held
                # the interpreter long enough that the simulator took the operator's requests in bunches
                # and throttled them. At most a tenth of the time goes to counting.
                time.sleep(max(0.5, LISTING_SHARE * (time.monotonic() - listed)))
            converged = time.monotonic() - started
            converge_calls = aws.control.calls()
            reads_at_convergence = _observer_reads(metrics_port)
            converge_throttled = aws.control.throttled()
            at_convergence = _proc_stats(operator.process.pid)
            converge_platform_cpu = _platform_cpu() - platform_before
            converge_kube_writes = _difference(_kube_writes(kube.emulator.audit_by_agent), kube_before)

            # The owner tags: written after Ready, off the critical path (docs/design.md "Ownership off
            # the critical path"), at the lowest priority of the control plane's budget. Until they are
            # all done the operator is still converging, whatever Ready says: wait for them.
            settle_started = time.monotonic()
            tagging = {"lambda:ListTags": 0, "lambda:TagResource": 0}
            while time.monotonic() - settle_started < timeout:
                aws.control.reset_calls()
                time.sleep(SETTLE_WINDOW)
                window = aws.control.calls()
                if not any(window.get(op) for op in (*tagging, "lambda:UpdateFunctionConfiguration")):
                    break
                for op in tagging:
                    tagging[op] += window.get(op, 0)
            settled = time.monotonic() - started
            timeline = _timeline(aws, started_at, started_at + settled)
            # Every attachment looks once more (a resync, jittered up to a fifth longer) and reads the
            # functions tagged last: that is the tail of convergence, not the steady state.
            time.sleep(resync_interval * 1.2)

            # Steady state: nothing changes but what always moves (free addresses in subnets shared
            # with pods); count what the operator still spends. 0 rewritten must hold even so.
            aws.control.set_free_address_jitter(20)
            aws.control.reset_calls()
            reads_before = _observer_reads(metrics_port)
            kube_before = _kube_writes(kube.emulator.audit_by_agent)
            platform_before = _platform_cpu()
            versions = {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                        for o in manifests.list_attachments(client)}  # fmt: skip
            quiet_started = time.time()
            time.sleep(quiet_period)
            quiet_ended = time.time()
            quiet_calls = aws.control.calls()
            quiet_throttled = aws.control.throttled()
            quiet_platform_cpu = _platform_cpu() - platform_before
            quiet_kube_writes = _difference(_kube_writes(kube.emulator.audit_by_agent), kube_before)
            reads_after = _observer_reads(metrics_port)
            # From the simulator's own books: a ListFunctions of the benchmark's would share the account's
            # 15/s with the operator (it throttled an operator's ListAliases once at 5,000).
            account_functions = len(aws.control.functions())
            after = {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
                     for o in manifests.list_attachments(client)}  # fmt: skip
            rewritten = sum(after[k] != v for k, v in versions.items())
            sweeps = _sweeps_started(aws, quiet_started, quiet_ended)
            steady = _proc_stats(operator.process.pid)
            latencies = _spec_change_latencies(aws, client, names[:SPEC_CHANGES], subnet_sets, timeout)

    return {
        "attachments": n,
        "operator_args": list(operator_args),
        "apply_seconds": round(applied, 2),
        "converge_seconds": round(converged, 2),
        # Ready, and every owner tag written (no ListTags, TagResource or update for SETTLE_WINDOW seconds).
        "settled_seconds": round(settled - SETTLE_WINDOW, 2),
        "owner_tag_calls_after_ready": tagging,
        # N updates at the budgeted rate (--control-rate), plus one simulated update and ENI build.
        "lower_bound_seconds": round(n / CONTROL_RATE + config.update_delay + config.eni_create_delay, 2),
        "aws_calls_to_converge": converge_calls,
        "aws_throttled_to_converge": converge_throttled,
        "kube_writes_to_converge": converge_kube_writes,
        "platform_cpu_seconds_to_converge": round(converge_platform_cpu, 2),
        "operator_idle": idle,
        "operator_at_convergence": at_convergence,
        "quiet_period_seconds": quiet_period,
        "resync_interval_seconds": resync_interval,
        "aws_calls_in_quiet_period": quiet_calls,
        "aws_throttled_in_quiet_period": quiet_throttled,
        "kube_writes_in_quiet_period": quiet_kube_writes,
        "platform_cpu_seconds_in_quiet_period": round(quiet_platform_cpu, 2),
        "functions_in_account": account_functions,
        "aws_calls_per_resync": {
            op: round(count * resync_interval / quiet_period, 2) for op, count in sorted(quiet_calls.items())
        },
        "list_functions_pages_per_sweep": math.ceil(account_functions / 50),
        # Sweeps that started in the quiet period (a window cuts sweeps at its edges: counting pages in it
        # over- or under-states one), and what whole sweeps cost per resync.
        "list_functions_sweeps_in_quiet_period": sweeps,
        "list_functions_pages_per_resync_by_sweeps": round(
            sweeps * math.ceil(account_functions / 50) * resync_interval / quiet_period, 2
        ),
        "per_object_polling_calls_per_resync": n,
        # Why the observer still sent GetFunctions at rest (planner.sweeps.ReadReason), and the looks it served.
        "observer_to_converge": {
            k: round(v - reads_at_start.get(k, 0.0)) for k, v in sorted(reads_at_convergence.items())
        },
        "observer_in_quiet_period": {k: round(v - reads_before.get(k, 0.0)) for k, v in sorted(reads_after.items())},
        "objects_rewritten_in_quiet_period": rewritten,
        "operator_after_quiet_period": steady,
        # Seconds from a spec change (the PATCH answered) to its UpdateFunctionConfiguration at AWS.
        "spec_change_to_update_seconds": {
            "changes": len(latencies),
            "median": round(statistics.median(latencies), 3) if latencies else None,
            "max": round(max(latencies), 3) if latencies else None,
            # Which one, to find in the operator's log.
            "slowest": max(zip(latencies, names[:SPEC_CHANGES], strict=False))[1] if latencies else None,
        },
        # The operator's requests per TIMELINE_BUCKET seconds from the first apply until the owner tags
        # were done (the simulator's journal): where the control plane's budget went, and when.
        "timeline_bucket_seconds": TIMELINE_BUCKET,
        "timeline": timeline,
    }


def _timeline(aws: AwsSimulator, since: float, until: float) -> dict[str, list[int]]:
    """Per operation (and "throttled"), the operator's requests in each TIMELINE_BUCKET from ``since``."""
    buckets = math.ceil((until - since) / TIMELINE_BUCKET) or 1
    counts: dict[str, list[int]] = {}
    for entry in aws.control.journal():
        if not entry["operator"] or not since <= entry["at"] < until:
            continue
        slot = int((entry["at"] - since) // TIMELINE_BUCKET)
        service, _, operation = entry["operation"].partition(":")
        # Lambda throttles with 429, EC2 with 503 RequestLimitExceeded (no faults are injected here).
        throttled = entry["status"] == 429 or (service == "ec2" and entry["status"] == 503)
        key = "throttled" if throttled else operation
        counts.setdefault(key, [0] * buckets)[slot] += 1
    return dict(sorted(counts.items()))


def _sweeps_started(aws: AwsSimulator, since: float, until: float) -> int:
    """The operator's ListFunctions sweeps that began between two wall-clock times (the simulator's
    journal): a page more than SWEEP_GAP seconds after the previous one starts a sweep."""
    pages = sorted(
        e["at"] for e in aws.control.journal() if e["operation"] == "lambda:ListFunctions" and e["operator"]
    )
    starts = [at for previous, at in zip([float("-inf"), *pages], pages, strict=False) if at - previous > SWEEP_GAP]
    return sum(since <= at < until for at in starts)


def _spec_change_latencies(
    aws: AwsSimulator, client: Any, names: list[str], subnet_sets: list[list[str]], timeout: float
) -> list[float]:
    """Change each attachment's subnets, one at a time, and time the update the operator sends for it."""
    api: Any = kubernetes.client.CustomObjectsApi(client)
    latencies: list[float] = []
    for i, name in enumerate(names):
        since = max((e["seq"] for e in aws.control.journal(writes_only=True)), default=-1) + 1
        changed = time.time()
        api.patch_namespaced_custom_object(
            attachments.GROUP, attachments.VERSION, "bench", attachments.PLURAL, name,
            {"spec": {"subnetIds": subnet_sets[(i + 1) % len(subnet_sets)]}},
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sent = [
                e for e in aws.control.journal(since, writes_only=True)
                if e["operation"] == "lambda:UpdateFunctionConfiguration" and e.get("function") == name
            ]  # fmt: skip
            if sent:
                latencies.append(max(0.0, sent[0]["at"] - changed))
                break
            time.sleep(0.02)
        else:
            raise TimeoutError(f"no UpdateFunctionConfiguration for {name} within {timeout:g} s of its spec change")
    return latencies


def _difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


if __name__ == "__main__":
    sys.exit(main())
