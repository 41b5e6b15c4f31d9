"""The chaos run (issue 10): many attachments changed at random, AWS misbehaving, the operator killed.

Starts its own Kubernetes emulator, AWS simulator and operator process(es) through the e2e harness
(``harness.emulator_target``: real HTTP everywhere, the operator unmodified), then:

1. creates ``--attachments`` functions to manage and ``--unmanaged`` it must never touch (half of
   them in a VPC), and one attachment per managed function, with random subnets (of three), security
   groups (of two) and ``deletionPolicy`` (Detach or Retain);
2. with AWS faults on (``fault_rules``: throttles with and without Retry-After, 5xx, HTML and truncated
   bodies, latency, connection resets before and after a write, ResourceConflictException storms,
   describes lagging behind writes, an IAM API that is not there), runs ``--operations`` random spec
   changes, deletes and re-creates while a killer stops the operator ``--kills`` times at random
   points: SIGKILL, or SIGTERM / SIGINT (kopf's graceful stop, which cancels the looks in flight),
   half of them right after the operator sent an UpdateFunctionConfiguration (the window between a
   write and the status patch that records it);
3. turns the faults off and waits for quiescence, then checks what issue 10 asks (``check``) from
   AWS' state, the attachments' status, the simulator's request journal (``aws.journal``: the body
   and sender of every write) and the operator's log;
4. runs two replicas with kopf peering, kills the active one (per ``--takeovers``) and measures how
   long the other takes to send its first AWS request.

Everything random comes from ``--seed`` (timing still varies from run to run). The JSON summary goes
to stdout; ``ok`` is false when any check found a violation. ``make chaos`` runs the full size;
tests/chaos/test_chaos_reduced.py runs a reduced one in ``make test``. Usage:

    .venv/bin/python tests/chaos/chaos_run.py --attachments 200 --kills 50 --seed 1
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

E2E = Path(__file__).resolve().parents[1] / "e2e"
if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))

from harness import (  # noqa: E402
    REPO,
    Namespace,
    Target,
    VpcView,
    WaitTimeout,
    condition,
    emulator_target,
    install_peering_crds,
    wait_for,
)
from lambda_vpc_operator.aws import errors as aws_errors  # noqa: E402
from lambda_vpc_sandbox.aws import SimConfig  # noqa: E402
from lambda_vpc_sandbox.processes import OperatorProcess  # noqa: E402

REGION = "us-east-1"
NAMESPACE = "chaos"  # exact: kopf peering needs exact namespaces
IAM_POLICY = REPO / "docs" / "iam-policy.json"
# Short simulated delays, as in the e2e suite: we measure the operator, not Lambda's ENI build time.
SIM_CONFIG = SimConfig(create_delay=0.2, update_delay=0.5, eni_create_delay=1.5, eni_delete_delay=2.0)
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}
GRACEFUL_TIMEOUT = 30.0  # a graceful stop that takes longer is finished with SIGKILL (and counted)
Config = tuple[frozenset[str], frozenset[str]]  # (subnet ids, security group ids); empty: detached
EMPTY: Config = (frozenset(), frozenset())


@dataclasses.dataclass
class Settings:
    attachments: int = 200
    unmanaged: int = 10
    operations: int = 600
    kills: int = 50
    seed: int = 1
    ops_per_second: float = 1.5
    resync_interval: float = 10.0
    quiesce_timeout: float = 600.0
    takeovers: tuple[str, ...] = ("SIGKILL", "SIGTERM")
    kube_faults: bool = True
    workdir: Path | None = None


def fault_rules(storm: bool) -> list[dict[str, Any]]:
    """What AWS and the path to it do during the run (sandbox aws.faults kinds), per request."""
    api = ["lambda:*", "ec2:*"]
    writes = ["lambda:UpdateFunctionConfiguration", "lambda:TagResource", "lambda:UntagResource"]
    return [
        {"operations": "lambda:*", "kind": "throttle", "rate": 0.03, "params": {"retry_after": 1}},
        {"operations": "lambda:*", "kind": "throttle", "rate": 0.02, "params": {"retry_after": None}},
        {"operations": "ec2:*", "kind": "throttle", "rate": 0.03},  # RequestLimitExceeded
        {"operations": [*api, "iam:*", "sts:*"], "kind": "server_error", "rate": 0.02},
        {"operations": api, "kind": "server_error", "rate": 0.01, "params": {"status": 503}},
        {"operations": api, "kind": "html", "rate": 0.02},
        {"operations": api, "kind": "truncated", "rate": 0.02},
        {"operations": api, "kind": "latency", "rate": 0.03, "params": {"seconds": 0.5}},
        {"operations": api, "kind": "reset", "rate": 0.01},
        {"operations": writes, "kind": "reset", "rate": 0.05, "params": {"after": True}},  # written, answer lost
        {"operations": "lambda:UpdateFunctionConfiguration", "kind": "conflict", "rate": 0.6 if storm else 0.05},
        {"operations": ["lambda:GetFunction", "ec2:Describe*"], "kind": "stale", "rate": 0.1, "params": {"seconds": 3}},
        {"operations": "iam:SimulatePrincipalPolicy", "kind": "not_implemented", "rate": 0.2},
    ]


# The operator's requests only (User-Agent products): the run's own reads and writes are spared.
OPERATOR_CLIENTS = ["kopf", "lambda-vpc-operator"]
# A silent watch stream is given up after this many seconds (kopf's default, 70 s, is for production).
WATCH_FLAGS = [
    "--watch-inactivity-timeout", "10", "--watch-server-timeout", "30",
    "--watch-client-timeout", "40", "--watch-connect-timeout", "5",
]  # fmt: skip


def kube_fault_rules() -> list[dict[str, Any]]:
    """What the API server does to the operator's requests (sandbox kube.faults kinds)."""
    rules: list[dict[str, Any]] = [
        {"kind": "drop", "verbs": "watch", "rate": 0.2, "params": {"after": 5.0}},
        {"kind": "stall", "verbs": "watch", "rate": 0.1},  # a zombie stream, until kopf gives it up
        # 410 on watches only: kopf lists without a resourceVersion, which a real server never expires.
        {"kind": "expired", "verbs": "watch", "rate": 0.05},
        {"kind": "conflict", "verbs": ["patch", "update"], "rate": 0.05},
        {"kind": "throttle", "rate": 0.03, "params": {"retry_after": 1}},
        {"kind": "throttle", "rate": 0.01, "params": {"retry_after": None}},
        {"kind": "server_error", "rate": 0.02},
        {"kind": "server_error", "rate": 0.01, "params": {"status": 503}},
        {"kind": "latency", "rate": 0.03, "params": {"seconds": 0.3}},
    ]
    return [{**rule, "clients": OPERATOR_CLIENTS} for rule in rules]


def config_of(spec: dict[str, Any]) -> Config:
    return frozenset(spec.get("subnetIds") or ()), frozenset(spec.get("securityGroupIds") or ())


def aws_config(view: VpcView) -> Config:
    return view.subnet_ids, view.security_group_ids


def show(config: Config) -> str:
    return f"{sorted(config[0])}/{sorted(config[1])}"


# -- the operator processes ------------------------------------------------------------------------


class Operators:
    """Operator processes started through the harness, each start with its own botocore app id
    (``AWS_SDK_UA_APP_ID``: the journal tells the senders apart), and every stop on record."""

    def __init__(self, target: Target, log: Path, resync: float, extra: Sequence[str] = ()) -> None:
        self.target, self.log, self.resync, self.extra = target, log, resync, list(extra)
        self.starts = 0
        self.processes: list[OperatorProcess] = []
        self.ours: set[str] = set()  # app ids of every start
        self.stops: list[dict[str, Any]] = []
        self.unexpected_exits: list[dict[str, Any]] = []

    def start(self, replica: str = "op") -> tuple[OperatorProcess, str]:
        self.starts += 1
        app = f"chaos-{replica}-{self.starts}"
        self.ours.add(app)
        process = self.target.start_operator([NAMESPACE], self.log, self.resync, self.extra,
                                             env={"AWS_SDK_UA_APP_ID": app})  # fmt: skip
        self.processes.append(process)
        return process, app

    def close(self) -> None:
        """Whatever happened to the run, no operator process outlives it."""
        for process in self.processes:
            process.stop(timeout=5.0)

    def stop(self, process: OperatorProcess, how: str, app: str, **context: Any) -> dict[str, Any]:
        """Send ``how`` (a signal name) and wait for the exit; a graceful stop that hangs is killed."""
        popen = process.process
        record: dict[str, Any] = {"signal": how, "app": app, "at": time.time(), **context}
        if popen is None or popen.poll() is not None:
            record["already_exited"] = True
            if popen is not None:  # it died by itself before our signal
                self.unexpected_exits.append({"app": app, "at": record["at"], "code": popen.returncode})
        else:
            popen.send_signal(SIGNALS[how])
            started = time.monotonic()
            try:
                popen.wait(timeout=GRACEFUL_TIMEOUT)
            except Exception:  # subprocess.TimeoutExpired: a stop that hangs
                record["forced"] = True
                popen.kill()
                popen.wait()
            record["exit_seconds"] = round(time.monotonic() - started, 3)
            record["code"] = popen.returncode
        process.stop()  # closes the log
        self.stops.append(record)
        return record


class Killer(threading.Thread):
    """Stops the single operator ``kills`` times at random points and starts it again."""

    def __init__(self, operators: Operators, target: Target, kills: int, seconds: float, rng: random.Random) -> None:
        super().__init__(name="chaos-killer", daemon=True)
        self.operators, self.target, self.kills, self.rng = operators, target, kills, rng
        self.mean_interval = max(seconds / max(kills, 1), 1.0)
        self.process, self.app = operators.start()
        self.done = 0
        self.cursor = 0  # the journal's next sequence number to read
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while self.done < self.kills and not self.halt.is_set():
                if self.halt.wait(self.rng.uniform(0.3, 1.7) * self.mean_interval):
                    return
                self.ensure_running()
                mode = self.rng.choice(["after-write", "random"])
                if mode == "after-write" and not self.after_a_write():
                    mode = "random (no write within 10 s)"
                how = self.rng.choices(["SIGKILL", "SIGTERM", "SIGINT"], weights=[5, 3, 2])[0]
                self.operators.stop(self.process, how, self.app, mode=mode)
                self.done += 1
                self.halt.wait(self.rng.uniform(0.0, 2.0))  # down for a moment, then back
                self.process, self.app = self.operators.start()
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def ensure_running(self) -> None:
        if not self.process.running:
            code = self.process.process.returncode if self.process.process else None
            self.operators.unexpected_exits.append({"app": self.app, "at": time.time(), "code": code})
            self.process.stop()
            self.process, self.app = self.operators.start()

    def after_a_write(self) -> bool:
        """Wait (10 s at most) for this operator's next UpdateFunctionConfiguration, then a moment."""
        assert self.target.sim is not None
        self._new_writes()  # skip what was written before
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and not self.halt.is_set():
            writes = self._new_writes()
            ours = [w for w in writes if w.get("agent") == self.app]
            if any(w["operation"] == "lambda:UpdateFunctionConfiguration" for w in ours):
                time.sleep(self.rng.uniform(0.0, 0.3))
                return True
            time.sleep(0.05)
        return False

    def _new_writes(self) -> list[dict[str, Any]]:
        assert self.target.sim is not None
        writes = self.target.sim.journal(since=self.cursor, writes_only=True)
        if writes:
            self.cursor = writes[-1]["seq"] + 1
        return writes


# -- the workload ----------------------------------------------------------------------------------


# Counted beside the operations, not operations of their own.
NOT_OPERATIONS = ("recreate_waiting", "deleted_before_any_operator_saw_it", "deleted_before_claiming_its_function")


@dataclasses.dataclass
class Item:
    name: str
    function: str
    spec: dict[str, Any]
    live: bool = True  # exists and is not being deleted
    deleted_policy: str | None = None  # the deletionPolicy it was deleted with (while gone)
    # Deleted before any operator put its finalizer on it (every replica down or starting): the API
    # server removed it at once and nothing could be released (docs/reliability.md "Found: a
    # deletion no operator saw").
    deleted_unseen: bool = False
    # Deleted before its claim on the function was on record (status.ownership): the function was
    # never this attachment's, and a release leaves a function it does not own as it is.
    deleted_unclaimed: bool = False


class Workload:
    """The attachments, what each function was ever asked to be, and the changes asked."""

    def __init__(self, ns: Namespace, target: Target, rng: random.Random) -> None:
        self.ns, self.target, self.rng = ns, target, rng
        net = target.network
        self.subnets, self.groups = list(net.subnets[:3]), [net.app_sg, net.db_sg]
        self.items: dict[str, Item] = {}
        self.asked: dict[str, set[Config]] = collections.defaultdict(set)  # function -> configs asked
        self.expected: dict[str, Config] = {}  # function -> what AWS should end up holding
        self.changes = 0  # VpcConfig changes asked of AWS (create, change, Detach)
        self.counts: collections.Counter[str] = collections.Counter()

    def random_spec(self) -> dict[str, Any]:
        subnets = sorted(self.rng.sample(self.subnets, self.rng.randint(1, len(self.subnets))))
        groups = sorted(self.rng.sample(self.groups, self.rng.randint(1, len(self.groups))))
        return {"subnetIds": subnets, "securityGroupIds": groups, "adoption": "Adopt",
                "deletionPolicy": self.rng.choice(["Detach", "Retain"])}  # fmt: skip

    def _ask(self, function: str, config: Config) -> None:
        if config != self.expected.get(function, EMPTY):
            self.changes += 1
        self.expected[function] = config
        if config != EMPTY:
            self.asked[function].add(config)

    def create(self, name: str, function: str) -> None:
        spec = self.random_spec()
        body = self.ns.body(name, function, spec["subnetIds"], spec["securityGroupIds"],
                            adoption=spec["adoption"], deletionPolicy=spec["deletionPolicy"])  # fmt: skip
        self.target.custom.create_namespaced_custom_object("lambdavpc.dev", "v1alpha1", self.ns.name,
                                                           "lambdavpcattachments", body)  # fmt: skip
        self.items[name] = Item(name, function, spec)
        self._ask(function, config_of(spec))
        self.counts["create"] += 1

    def step(self) -> None:
        """One random operation: mostly spec changes, some deletes, re-creates of deleted ones."""
        live = [i for i in self.items.values() if i.live]
        gone = [i for i in self.items.values() if not i.live]
        roll = self.rng.random()
        if gone and roll < 0.25:
            item = self.rng.choice(gone)
            if self.ns.get(item.name) is None:
                self.create(item.name, item.function)
                self.counts["recreate"] += 1
                self.counts["create"] -= 1
                return
            self.counts["recreate_waiting"] += 1
        if live and roll < 0.45:
            self.delete(self.rng.choice(live))
        elif live:
            self.change(self.rng.choice(live))

    def change(self, item: Item) -> None:
        new = self.random_spec()
        what = self.rng.choice(["subnets", "groups", "both", "deletionPolicy"])
        patch: dict[str, Any] = {}
        if what in ("subnets", "both"):
            patch["subnetIds"] = new["subnetIds"]
        if what in ("groups", "both"):
            patch["securityGroupIds"] = new["securityGroupIds"]
        if what == "deletionPolicy":
            patch["deletionPolicy"] = "Retain" if item.spec["deletionPolicy"] == "Detach" else "Detach"
        self.ns.patch_spec(item.name, **patch)
        item.spec.update(patch)
        self._ask(item.function, config_of(item.spec))
        self.counts[f"change_{what}"] += 1

    def delete(self, item: Item) -> None:
        answer = self.target.custom.delete_namespaced_custom_object(
            "lambdavpc.dev", "v1alpha1", self.ns.name, "lambdavpcattachments", item.name
        )
        item.live = False
        item.deleted_policy = item.spec["deletionPolicy"]
        # The DELETE answers the object: marked (deletionTimestamp) while a finalizer holds it, else gone.
        item.deleted_unseen = not (answer.get("metadata") or {}).get("deletionTimestamp")
        item.deleted_unclaimed = not ((answer.get("status") or {}).get("ownership") or {}).get("functionArn")
        if item.deleted_unseen:
            self.counts["deleted_before_any_operator_saw_it"] += 1
        elif item.deleted_unclaimed:
            self.counts["deleted_before_claiming_its_function"] += 1
        elif item.deleted_policy == "Detach":
            self._ask(item.function, EMPTY)
        self.counts[f"delete_{item.deleted_policy}"] += 1


# -- the run ---------------------------------------------------------------------------------------


def run(settings: Settings) -> dict[str, Any]:
    rng = random.Random(settings.seed)
    workdir = settings.workdir or Path(tempfile.mkdtemp(prefix="chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "operator.log"
    summary: dict[str, Any] = {"settings": {k: str(v) if isinstance(v, Path) else v
                                            for k, v in dataclasses.asdict(settings).items()}}  # fmt: skip
    summary["settings"]["workdir"] = str(workdir)
    started = time.monotonic()
    with emulator_target(workdir, SIM_CONFIG, REGION, [NAMESPACE], IAM_POLICY, settings.resync_interval) as target:
        sim = target.sim
        assert sim is not None
        sim.set_rate_limits(False)  # creating the functions is setup, not the measured part
        managed = target.make_functions("chaos", settings.attachments)
        unmanaged = target.make_functions("bystander", settings.unmanaged)
        net = target.network
        for i, name in enumerate(unmanaged[::2]):
            target.set_vpc_out_of_band(name, net.subnets[: 1 + i % 3], [net.app_sg])
        for name in unmanaged:
            target.wait_active(name)
        bystanders = unmanaged + list(DEMO_FUNCTIONS)
        revisions = {name: target.configuration(name)["RevisionId"] for name in bystanders}
        sim.set_rate_limits(True)  # AWS' budgets from here on (15/s shared, GetFunction 100/s)
        target.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        ns = Namespace(target, NAMESPACE)
        workload = Workload(ns, target, random.Random(rng.random()))
        operators = Operators(target, log, settings.resync_interval, WATCH_FLAGS)
        killer: Killer | None = None
        try:
            summary["setup_seconds"] = round(time.monotonic() - started, 1)

            # -- chaos ----------------------------------------------------------------------------------
            chaos_started = time.monotonic()
            sim.reset_calls()
            sim.inject_faults(fault_rules(storm=False), settings.seed)
            kube = target.kube_control if settings.kube_faults else None
            if kube is not None:
                kube.inject_faults(kube_fault_rules(), settings.seed)
            chaos_seconds = settings.operations / settings.ops_per_second + settings.attachments / 20
            killer = Killer(operators, target, settings.kills, chaos_seconds, random.Random(rng.random()))
            killer.start()
            injected: collections.Counter[str] = collections.Counter()

            def harvest() -> None:  # the counts run on across inject_faults, until clear_faults
                injected.clear()
                for kind, per_op in sim.injected().items():
                    injected[kind] += sum(per_op.values())

            storms = 0
            next_storm = time.monotonic() + rng.uniform(10, 30)
            for i, function in enumerate(managed):
                workload.create(f"a-{i:04d}", function)
                time.sleep(0.05)
            done = 0
            pace = 1.0 / settings.ops_per_second
            while done < settings.operations or (killer.is_alive() and killer.done < settings.kills):
                if killer.error is not None:
                    raise killer.error
                if done < settings.operations:
                    workload.step()
                    done += 1
                if time.monotonic() >= next_storm:  # a conflict storm: most updates refused for 5 s
                    harvest()
                    sim.inject_faults(fault_rules(storm=True), settings.seed + 1000 + storms)
                    time.sleep(5.0)
                    harvest()
                    sim.inject_faults(fault_rules(storm=False), settings.seed + 2000 + storms)
                    storms += 1
                    next_storm = time.monotonic() + rng.uniform(20, 40)
                time.sleep(rng.uniform(0.5, 1.5) * pace)
            killer.halt.set()
            killer.join()
            if killer.error is not None:
                raise killer.error
            harvest()
            sim.clear_faults()
            kube_injected = kube.injected() if kube is not None else {}
            if kube is not None:
                kube.clear_faults()
            killer.ensure_running()
            operator, app = killer.process, killer.app
            summary["chaos_seconds"] = round(time.monotonic() - chaos_started, 1)
            served, throttled = sim.calls(), sim.throttled()
            summary["aws_requests_during_chaos"] = {
                "served": sum(served.values()),
                "throttled_by_the_budgets": sum(throttled.values()),
                "per_second": round((sum(served.values()) + sum(throttled.values())) / summary["chaos_seconds"], 1),
                "top": dict(collections.Counter(served).most_common(6)),
            }

            # -- quiescence -----------------------------------------------------------------------------
            quiet_started = time.monotonic()
            live = {i.name: i for i in workload.items.values() if i.live}
            try:
                wait_for(lambda: settled(ns, live), settings.quiesce_timeout, 1.0, what="quiescence",
                         describe=lambda: "\n".join(settled_problems(ns, live)[:20]))  # fmt: skip
                summary["quiesced"] = True
            except WaitTimeout as exc:
                summary["quiesced"] = False
                summary["quiescence_problems"] = str(exc)[-4000:]
            summary["quiescence_seconds"] = round(time.monotonic() - quiet_started, 1)
            # A window of one resync of every attachment: the operator writes nothing more to AWS.
            target.reset_calls()
            with contextlib.suppress(WaitTimeout):
                target.wait_reads(len(live), timeout=3 * settings.resync_interval + 30)
            quiet_calls = target.calls()
            sim.set_rate_limits(False)  # the checks' own reads

            checks = check(target, ns, workload, operators, revisions, quiet_calls)
            # Every request of the run, to replay a violation's attachment (docs/reliability.md "Found: a
            # deletion no operator saw" was found so).
            (workdir / "journal.json").write_text(json.dumps(sim.journal(), default=str) + "\n")
            operators.stop(operator, "SIGINT", app, mode="end of the chaos phase")

            # -- peering --------------------------------------------------------------------------------
            sim.set_rate_limits(True)
            peering = peering_phase(target, ns, workload, log, settings, rng)
            sim.set_rate_limits(False)
            checks.update(peering.pop("checks"))
        finally:
            if killer is not None:
                killer.halt.set()
                killer.join()
            operators.close()

    kills = [s for s in operators.stops if s.get("mode") != "end of the chaos phase"]
    (workdir / "stops.json").write_text(json.dumps(operators.stops, indent=1) + "\n")
    summary.update({
        "attachments": settings.attachments,
        "unmanaged_functions": len(bystanders),
        "operations": dict(workload.counts),
        "operations_total": sum(n for k, n in workload.counts.items() if k not in NOT_OPERATIONS),
        "kills": {
            "total": len(kills),
            "by_signal": dict(collections.Counter(s["signal"] for s in kills)),
            "right_after_a_write": sum(s.get("mode") == "after-write" for s in kills),
            "graceful_stop_seconds_max": max((s.get("exit_seconds", 0) for s in kills if s["signal"] != "SIGKILL"),
                                             default=0),
            "graceful_stops_forced": sum(bool(s.get("forced")) for s in kills),
        },
        "faults_injected": dict(injected),
        "faults_injected_total": sum(injected.values()),
        "kube_faults_injected": {kind: sum(per.values()) for kind, per in kube_injected.items()},
        "kube_faults_injected_total": sum(sum(per.values()) for per in kube_injected.values()),
        "conflict_storms": storms,
        "peering": peering,
        "checks": checks,
        "log": str(log),
        "total_seconds": round(time.monotonic() - started, 1),
    })  # fmt: skip
    summary["ok"] = bool(summary["quiesced"]) and all(not v for k, v in checks.items() if k.startswith("violations_"))
    return summary


DEMO_FUNCTIONS = ("orders-api", "billing-worker", "reports-cron", "legacy-batch", "search-indexer")


def settled_problems(ns: Namespace, live: dict[str, Item]) -> list[str]:
    problems = []
    seen = set()
    for obj in ns.list():
        name = obj["metadata"]["name"]
        seen.add(name)
        if obj["metadata"].get("deletionTimestamp"):
            problems.append(f"{name}: still deleting ({obj['metadata'].get('finalizers')})")
            continue
        generation = obj["metadata"].get("generation")
        ready = condition(obj, "Ready")
        current = (obj.get("status") or {}).get("observedGeneration") == generation == ready.get("observedGeneration")
        if not current or ready.get("status") != "True":
            problems.append(f"{name}: Ready={ready.get('status')} {ready.get('reason')} current={current}: "
                            f"{ready.get('message', '')[:200]}")  # fmt: skip
    problems += [f"{name}: missing" for name in set(live) - seen]
    return problems


def settled(ns: Namespace, live: dict[str, Item]) -> bool:
    return not settled_problems(ns, live)


# -- the checks ------------------------------------------------------------------------------------

TRACEBACK = "Traceback (most recent call last):"
CHAINED = ("The above exception was the direct cause", "During handling of the above exception")
LOOK_FAILED = re.compile(r"failed \((\d+) in a row\): (\w[\w.]*)")
# What logged a traceback (the line before it), and whether that is a problem.
RECOVERED = re.compile(r"^(Throttling for \S+ seconds due to an unexpected error|Request attempt)")


def check(
    target: Target,
    ns: Namespace,
    workload: Workload,
    operators: Operators,
    revisions: dict[str, str],
    quiet_calls: collections.Counter[str],
) -> dict[str, Any]:
    assert target.sim is not None
    out: dict[str, Any] = {}
    objects = {o["metadata"]["name"]: o for o in ns.list()}

    # 1. AWS holds what each attachment asks (deleted: detached, or left as it was with Retain).
    mismatches, untruthful, stale_status = [], [], []
    for item in workload.items.values():
        view = target.vpc(item.function)
        holds = aws_config(view)
        if item.live:
            want = config_of(item.spec)
            if holds != want:
                mismatches.append(f"{item.name}: AWS {show(holds)} != spec {show(want)}")
            obj = objects.get(item.name)
            if obj is None:
                continue
            configuration = target.configuration(item.function)
            in_sync = holds == want and configuration.get("State") == "Active" and (
                configuration.get("LastUpdateStatus") in (None, "Successful"))  # fmt: skip
            ready = condition(obj, "Ready").get("status") == "True"
            if ready != in_sync:
                untruthful.append(f"{item.name}: Ready={ready} but AWS in sync={in_sync}")
            generation = obj["metadata"].get("generation")
            if (obj.get("status") or {}).get("observedGeneration") != generation:
                stale_status.append(f"{item.name}: observedGeneration {obj.get('status', {}).get('observedGeneration')}"
                                    f" != generation {generation}")  # fmt: skip
        elif item.deleted_policy == "Detach" and not (item.deleted_unseen or item.deleted_unclaimed):
            if holds != EMPTY or view.vpc_id:
                mismatches.append(f"{item.name} (deleted, Detach): AWS still {show(holds)}")
        elif holds != EMPTY and holds not in workload.asked[item.function]:
            how = "Retain"
            if item.deleted_unseen:
                how = "before any operator saw it"
            elif item.deleted_unclaimed and item.deleted_policy == "Detach":
                how = "before claiming its function"
            mismatches.append(f"{item.name} (deleted, {how}): AWS {show(holds)} was never asked for")
    out["violations_vpc_config"] = mismatches[:20]
    # Deleted while no operator had its finalizer on them, or before their claim was on record:
    # excused from "Detach means detached" (the function was never theirs to release).
    out["deleted_before_any_operator_saw_it"] = [
        f"{i.name} (deletionPolicy {i.deleted_policy}): AWS holds {show(aws_config(target.vpc(i.function)))}"
        for i in workload.items.values() if not i.live and i.deleted_unseen
    ]  # fmt: skip
    out["deleted_before_claiming_its_function"] = [
        f"{i.name} (deletionPolicy {i.deleted_policy}): AWS holds {show(aws_config(target.vpc(i.function)))}"
        for i in workload.items.values() if not i.live and i.deleted_unclaimed and not i.deleted_unseen
    ]  # fmt: skip
    out["violations_status_truth"] = (untruthful + stale_status)[:20]
    out["violations_stuck_finalizers"] = [n for n, o in objects.items() if o["metadata"].get("deletionTimestamp")]

    # 2. The journal: every write of the operator, its sender, its configuration.
    writes = [w for w in target.sim.journal(writes_only=True) if w.get("operator")]
    managed = {i.function for i in workload.items.values()}
    foreign = [w for w in writes if w.get("function") not in managed]
    changed = [name for name, rev in revisions.items() if target.configuration(name)["RevisionId"] != rev]
    out["violations_unmanaged_written"] = [f"{w['operation']} {w.get('function')}" for w in foreign][:20] + [
        f"{name}: RevisionId changed" for name in changed
    ]
    updates = [w for w in writes if w["operation"] == "lambda:UpdateFunctionConfiguration"]
    partial = []
    for w in updates:
        vpc = (w.get("body") or {}).get("VpcConfig")
        config: Config = (frozenset(vpc.get("SubnetIds") or ()), frozenset(vpc.get("SecurityGroupIds") or ())) if (
            vpc is not None) else EMPTY  # fmt: skip
        if vpc is None or (config != EMPTY and config not in workload.asked[w["function"]]) or (
                bool(config[0]) != bool(config[1])):  # fmt: skip
            partial.append(f"{w['function']}: {vpc}")
    out["violations_partial_writes"] = partial[:20]
    out["violations_unknown_writer"] = sorted({w.get("agent", "") for w in writes} - operators.ours)

    # 3. Writes per needed update: a needed update is an accepted write that changed the function's
    # VpcConfig (each function starts detached); the rest were refused, lost or repeated.
    accepted = [w for w in updates if w["status"] == 200]
    lost = [w for w in updates if w["status"] == 0]
    last: dict[str, Config] = {}
    effective = 0
    for w in accepted:
        vpc = w["body"]["VpcConfig"]
        config = (frozenset(vpc.get("SubnetIds") or ()), frozenset(vpc.get("SecurityGroupIds") or ()))
        effective += last.get(w["function"], EMPTY) != config
        last[w["function"]] = config
    out["aws_writes"] = {
        "update_function_configuration_sent": len(updates),
        "accepted": len(accepted),
        "accepted_changing_the_config": effective,
        "accepted_repeating_the_config": len(accepted) - effective,
        "connection_reset": len(lost),
        "refused_or_faulted": len(updates) - len(accepted) - len(lost),
        "tag_writes_sent": sum(w["operation"] in ("lambda:TagResource", "lambda:UntagResource") for w in writes),
        "vpc_config_changes_asked": workload.changes,
        "sent_per_needed_update": round(len(updates) / max(effective, 1), 3),
        "accepted_per_needed_update": round(len(accepted) / max(effective, 1), 3),
    }
    out["quiet_window"] = {"calls": dict(quiet_calls), "writes": quiet_calls["lambda:UpdateFunctionConfiguration"]}
    out["violations_writes_at_rest"] = (
        [f"{quiet_calls['lambda:UpdateFunctionConfiguration']} UpdateFunctionConfiguration once quiescent"]
        if quiet_calls["lambda:UpdateFunctionConfiguration"] else []
    )  # fmt: skip

    # 4. The operator's log and exits: no crash loop, no raw exception.
    out.update(log_findings(operators.log))
    out["violations_unexpected_exits"] = operators.unexpected_exits
    reasons = collections.Counter(
        e.reason for e in target.core.list_namespaced_event(NAMESPACE).items if e.reason in ("ReconcileError",)
    )
    out["reconcile_error_events"] = reasons.get("ReconcileError", 0)
    return out




def _subclasses(cls: type) -> set[str]:
    return {cls.__name__}.union(*(_subclasses(sub) for sub in cls.__subclasses__()))


# A look may end in one of our AWS error classes (aws.errors: a fault translated); anything else is raw.
OURS = _subclasses(aws_errors.AwsError)


def tracebacks(lines: list[str]) -> list[tuple[str, str, bool]]:
    """Each traceback chain in a log: (the message logged with it, its last exception, a crash).

    A chain with no message of its own (right after another chain, or first) is an uncaught
    exception, and so is one through runpy's frames: the process died of it.
    """
    chains: list[tuple[str, str, bool]] = []
    previous, in_chain, index = "", False, 0
    while index < len(lines):
        line = lines[index]
        if line.startswith(TRACEBACK):
            if not (in_chain and previous.startswith(CHAINED)):
                chains.append(("" if in_chain else previous, "", False))
            crash = False
            index += 1
            while index < len(lines) and (not lines[index] or lines[index].startswith(" ")):
                crash = crash or "<frozen runpy>" in lines[index]
                index += 1
            last = lines[index] if index < len(lines) else ""
            message, _, was_crash = chains[-1]
            chains[-1] = (message, last.split(":", 1)[0][:120], was_crash or crash or not message)
            in_chain, previous = True, last
        elif line.strip():
            in_chain = in_chain and line.startswith(CHAINED)
            previous = line
        index += 1
    return chains


def log_findings(log: Path) -> dict[str, Any]:
    """Looks that ended in an exception (ours or raw), and every traceback, by what logged it."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    failed: collections.Counter[str] = collections.Counter()
    for line in lines:
        match = LOOK_FAILED.search(line)
        if match:
            failed[match.group(2)] += 1
    recovered: collections.Counter[str] = collections.Counter()
    problems: collections.Counter[str] = collections.Counter()
    for message, exception, crash in tracebacks(lines):
        if crash and exception == "KeyboardInterrupt":
            recovered["SIGINT before kopf's signal handlers (a kill)"] += 1
        elif crash:
            problems[f"process died of {exception}"] += 1
        elif RECOVERED.match(message):
            recovered[f"{RECOVERED.match(message).group(1)[:40]}: {exception}"] += 1  # type: ignore[union-attr]
        else:
            problems[f"{message[:100]} -> {exception}"] += 1
    return {
        "looks_failed_by_exception": dict(failed),
        "kopf_request_errors_retried": dict(recovered),
        "tracebacks_not_retried": dict(problems),
        "violations_raw_exceptions": sorted(k for k in failed if k not in OURS) + sorted(problems),
    }


# -- peering ---------------------------------------------------------------------------------------


def peering_phase(
    target: Target, ns: Namespace, workload: Workload, log: Path, settings: Settings, rng: random.Random
) -> dict[str, Any]:
    """Two replicas with kopf peering: one acts; kill it, the other takes over (how fast)."""
    assert target.sim is not None
    sim = target.sim
    install_peering_crds(target.api)
    peered = ["--peering", "--priority", "random", *WATCH_FLAGS]
    operators = Operators(target, log.with_name("peering.log"), settings.resync_interval, peered)
    journal = sim.journal()
    since = journal[-1]["seq"] + 1 if journal else 0
    replicas = {"a": operators.start("a"), "b": operators.start("b")}
    live = [i for i in workload.items.values() if i.live]
    sample = rng.sample(live, min(5, len(live)))
    result: dict[str, Any] = {"replicas": 2, "takeovers": []}

    def nudge() -> None:
        for item in sample:
            workload.change(item)

    def converged() -> bool:
        return settled(ns, {i.name: i for i in sample})

    steady_from = time.time()
    try:
        nudge()
        wait_for(converged, 120, 0.5, what="the peered replicas converging")
        steady_from = time.time()  # both replicas have seen each other by now
        for how in settings.takeovers:
            actor = active_agent(sim, since, {app for _, app in replicas.values()})
            if actor is None:
                result["takeovers"].append({"signal": how, "error": "no replica acted"})
                continue
            key = next(k for k, (_, app) in replicas.items() if app == actor)
            process, app = replicas[key]
            killed_at = operators.stop(process, how, app, mode="takeover")["at"]
            nudge()  # work for the survivor
            others = {a for k, (_, a) in replicas.items() if k != key}
            took = wait_for(lambda: first_request(sim, since, others, killed_at), 300, 0.2,  # noqa: B023
                            what="the other replica taking over")  # fmt: skip
            wait_for(converged, 120, 0.5, what="the survivor converging")
            result["takeovers"].append({"signal": how, "seconds": round(took - killed_at, 2)})
            replicas[key] = operators.start(key)  # back as a standby (or the actor: random priority)
        wait_for(converged, 120, 0.5, what="convergence after the takeovers")
    finally:
        for process, app in list(replicas.values()):
            if process.running:
                operators.stop(process, "SIGINT", app, mode="end")
    entries = [e for e in sim.journal(since=since) if e.get("agent") in operators.ours and _api(e)]
    # One actor at a time, once both replicas run: the sender of AWS requests changes only at a
    # handover, each stop or each restart (the restarted replica may outrank the survivor). Started
    # together, both may act until each has seen the other's keepalive: counted apart (startup).
    startup = _runs([e for e in entries if e["at"] < steady_from])
    runs = _runs([e for e in entries if e["at"] >= steady_from])
    handovers = 2 * len(settings.takeovers)
    # A stopped replica's requests answered after its successor's first one: its looks winding down.
    overlap = []
    for stop in (s for s in operators.stops if s.get("mode") == "takeover"):
        after = [e["at"] for e in entries if e["agent"] != stop["app"] and e["at"] > stop["at"]]
        late = [e for e in entries if e["agent"] == stop["app"] and after and e["at"] > min(after)]
        overlap.append({"signal": stop["signal"], "requests": len(late),
                        "writes": sum(bool(e.get("write")) for e in late),
                        "seconds": round(max(e["at"] for e in late) - min(after), 2) if late else 0.0})  # fmt: skip
    result.update({
        "requests_by_replica": dict(collections.Counter(e["agent"] for e in entries)),
        "sender_runs_at_startup": [f"{agent}: {n} requests" for agent, _, _, n in startup],
        "startup_overlap_seconds": round(_overlap(startup), 2),
        "sender_runs": [f"{agent}: {n} requests" for agent, _, _, n in runs],
        "stopped_replica_after_takeover": overlap,
        "checks": {
            "violations_peering_interleaved": [f"{len(runs)} runs of senders for {handovers} handovers"]
            if len(runs) - 1 > handovers else [],
            "violations_peering_no_takeover": [t for t in result["takeovers"] if "seconds" not in t],
        },
        "log": str(operators.log),
    })  # fmt: skip
    return result


def _runs(entries: list[dict[str, Any]]) -> list[list[Any]]:
    """Consecutive requests of one sender: [agent, first, last, requests]."""
    runs: list[list[Any]] = []
    for e in entries:
        if runs and runs[-1][0] == e["agent"]:
            runs[-1][2:] = [e["at"], runs[-1][3] + 1]
        else:
            runs.append([e["agent"], e["at"], e["at"], 1])
    return runs


def _overlap(runs: list[list[Any]]) -> float:
    """Seconds from the first switch of sender to the last switch back to an earlier one (0: none)."""
    returns = [run[1] for i, run in enumerate(runs) if any(r[0] == run[0] for r in runs[:i - 1])]
    return max(returns) - runs[1][1] if returns and len(runs) > 1 else 0.0


def _api(entry: dict[str, Any]) -> bool:
    return str(entry["operation"]).split(":")[0] in ("lambda", "ec2")


def first_request(sim: Any, since: int, agents: set[str], after: float) -> float | None:
    """When one of ``agents`` first sent a Lambda or EC2 request after ``after`` (None: not yet)."""
    times = [e["at"] for e in sim.journal(since=since) if e.get("agent") in agents and e["at"] > after and _api(e)]
    return min(times) if times else None


def active_agent(sim: Any, since: int, apps: set[str]) -> str | None:
    """The replica that sent the latest AWS request."""
    for entry in reversed(sim.journal(since=since)):
        if entry.get("agent") in apps and _api(entry):
            return str(entry["agent"])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Settings()
    parser.add_argument("--attachments", type=int, default=defaults.attachments)
    parser.add_argument("--unmanaged", type=int, default=defaults.unmanaged)
    parser.add_argument("--operations", type=int, default=None, help="default: 3 per attachment")
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--ops-per-second", type=float, default=defaults.ops_per_second)
    parser.add_argument("--resync-interval", type=float, default=defaults.resync_interval)
    parser.add_argument("--quiesce-timeout", type=float, default=defaults.quiesce_timeout)
    parser.add_argument("--takeovers", default=",".join(defaults.takeovers), help="signals, comma-separated")
    parser.add_argument("--no-kube-faults", action="store_true", help="AWS faults only")
    parser.add_argument("--dir", type=Path, default=None, help="where the logs go (default: a temporary folder)")
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON summary here")
    args = parser.parse_args(argv)
    settings = Settings(
        attachments=args.attachments, unmanaged=args.unmanaged,
        operations=args.operations if args.operations is not None else 3 * args.attachments,
        kills=args.kills, seed=args.seed, ops_per_second=args.ops_per_second,
        resync_interval=args.resync_interval, quiesce_timeout=args.quiesce_timeout,
        takeovers=tuple(t.strip() for t in args.takeovers.split(",") if t.strip()), kube_faults=not args.no_kube_faults,
        workdir=args.dir.resolve() if args.dir else None,
    )  # fmt: skip
    summary = run(settings)
    text = json.dumps(summary, indent=2, default=str)
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
