"""This operator beside per-object polling and the lower bound, at several N, in one run (issue 11).

For each N (default 100, 1,000 and 5,000), two runs of benchmarks/converge.py, each on a fresh
emulator and simulator (the simulator enforces AWS' buckets: 15/s shared Lambda control plane, GetFunction 100/s,
EC2's describes):

- "operator": `lambda-vpc-operator run` as shipped (the ListFunctions observer, aws.observer);
- "per-object polling": the same operator with `--lifecycle-interval 0`, which sends one GetFunction
  per attachment per look and never lists: what ACK's and Crossplane's controllers do per object;
- the lower bound: N UpdateFunctionConfiguration at the budgeted rate (`--control-rate` 10/s), plus
  one simulated update and ENI build.

Writes the figures as JSON (``--output``), a plot (``--plot``, needs matplotlib: `make bench-scale`
installs it) and prints a Markdown table for docs/benchmarks.md. Usage:

    .venv/bin/python benchmarks/scale.py --sizes 100,1000 --output docs/benchmarks-scale.json \\
        --plot docs/benchmarks-scale.png
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

MODES: dict[str, tuple[str, ...]] = {
    "operator": (),
    "per-object polling": ("--lifecycle-interval", "0"),
}
# What observing costs at rest (the target compares these with per-object polling).
OBSERVATION = ("lambda:ListFunctions", "lambda:GetFunction", "ec2:DescribeNetworkInterfaces")
# Lambda's shared control plane: what the account's other tools compete for.
CONTROL_PLANE = ("lambda:UpdateFunctionConfiguration", "lambda:TagResource", "lambda:UntagResource",
                 "lambda:ListTags", "lambda:ListFunctions", "lambda:ListAliases", "lambda:Invoke")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000", help="comma-separated N")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of: {', '.join(MODES)}")
    parser.add_argument("--quiet-period", type=float, default=60.0)
    parser.add_argument("--resync-interval", type=float, default=30.0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--output", type=Path, default=None, help="the figures as JSON")
    parser.add_argument("--plot", type=Path, default=None, help="a PNG of time to Ready, calls at rest and memory")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    modes = [m.strip() for m in args.modes.split(",")]
    runs: list[dict[str, Any]] = []
    for n in sizes:
        for mode in modes:
            print(f"-- {n} attachments, {mode}", file=sys.stderr, flush=True)
            # Each run in a process of its own: moto's backends are process-global, so a second
            # simulator in this process would start with the first one's account.
            command = [
                sys.executable, str(HERE / "converge.py"), "--attachments", str(n),
                "--quiet-period", str(args.quiet_period), "--resync-interval", str(args.resync_interval),
                "--timeout", str(args.timeout), "--log", f".sandbox/bench-scale-{n}-{mode.replace(' ', '-')}.log",
                *(f"--operator-arg={arg}" for arg in MODES[mode]),
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            result = json.loads(done.stdout)
            result["mode"] = mode
            result["commit"] = _commit()
            runs.append(result)
            if args.output is not None:  # after each run: a long run interrupted keeps what it measured
                args.output.parent.mkdir(parents=True, exist_ok=True)
                args.output.write_text(json.dumps(runs, indent=1) + "\n")
    print(table(runs))
    if args.plot is not None:
        plot(runs, args.plot)
    return 0


def row(run: dict[str, Any]) -> dict[str, Any]:
    """The table's columns for one run."""
    calls, rest = run["aws_calls_to_converge"], run["aws_calls_per_resync"]
    return {
        "N": run["attachments"],
        "mode": run["mode"],
        "to Ready (s)": run["converge_seconds"],
        "x lower bound": round(run["converge_seconds"] / run["lower_bound_seconds"], 2),
        "owner tags done (s)": run["settled_seconds"],
        "control plane calls to converge": sum(v for k, v in calls.items() if k in CONTROL_PLANE),
        "GetFunction to converge": calls.get("lambda:GetFunction", 0),
        "EC2 calls to converge": sum(v for k, v in calls.items() if k.startswith("ec2:")),
        "AWS calls per resync at rest": round(sum(rest.values()), 1),
        "observation calls per resync at rest": observation(run),
        "spec change to update, median (s)": (run.get("spec_change_to_update_seconds") or {}).get("median", ""),
        "throttled": sum(run["aws_throttled_to_converge"].values())
        + sum(run["aws_throttled_in_quiet_period"].values()),
        "Kubernetes writes to converge": sum(run["kube_writes_to_converge"].values()),
        "Kubernetes writes at rest": sum(run["kube_writes_in_quiet_period"].values()),
        "peak RSS (MiB)": run["operator_after_quiet_period"]["peak_rss_mib"],
        "operator CPU (s)": run["operator_after_quiet_period"]["cpu_seconds"],
        "platform CPU (s)": round(
            run["platform_cpu_seconds_to_converge"] + run["platform_cpu_seconds_in_quiet_period"], 1
        ),
    }  # fmt: skip


def observation(run: dict[str, Any]) -> float:
    """Observation requests per resync at rest; ListFunctions counted by whole sweeps where the run
    counted them (converge.py: a window cuts sweeps at its edges)."""
    rest = run["aws_calls_per_resync"]
    total = sum(v for k, v in rest.items() if k in OBSERVATION)
    if "list_functions_pages_per_resync_by_sweeps" in run:
        total += run["list_functions_pages_per_resync_by_sweeps"] - rest.get("lambda:ListFunctions", 0.0)
    return round(total, 1)


def table(runs: list[dict[str, Any]]) -> str:
    rows = [row(run) for run in runs]
    for n in sorted({run["attachments"] for run in runs}):
        bound = next(run["lower_bound_seconds"] for run in runs if run["attachments"] == n)
        rows.append({"N": n, "mode": "lower bound", "to Ready (s)": bound, "x lower bound": 1.0})
    rows.sort(key=lambda r: (r["N"], r["mode"]))
    columns = list(row(runs[0]))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, (ready, rest, memory) = plt.subplots(1, 3, figsize=(15, 4.5))
    for mode in dict.fromkeys(run["mode"] for run in runs):
        mine = sorted((r for r in runs if r["mode"] == mode), key=lambda r: r["attachments"])
        ns = [r["attachments"] for r in mine]
        ready.plot(ns, [r["converge_seconds"] for r in mine], marker="o", label=mode)
        observing = [observation(r) for r in mine]
        rest.plot(ns, observing, marker="o", label=mode)
        memory.plot(ns, [r["operator_after_quiet_period"]["peak_rss_mib"] for r in mine], marker="o", label=mode)
    bounds = sorted({(r["attachments"], r["lower_bound_seconds"]) for r in runs})
    ready.plot([n for n, _ in bounds], [b for _, b in bounds], linestyle="--", color="grey", label="lower bound")
    ready.plot([n for n, _ in bounds], [1.2 * b for _, b in bounds], linestyle=":", color="grey",
               label="1.2 x lower bound")  # fmt: skip
    memory.axhline(250 / 1.048576, linestyle="--", color="grey", label="250 MB target")  # MB to MiB
    for axes, title, unit in (
        (ready, "From apply to every attachment Ready", "seconds"),
        (rest, "Observation calls per resync at rest", "calls"),
        (memory, "Operator peak RSS", "MiB"),
    ):
        axes.set_title(title)
        axes.set_xlabel("attachments")
        axes.set_ylabel(unit)
        axes.set_xscale("log")
        axes.grid(True, alpha=0.3)
        axes.legend()
    rest.set_yscale("log")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def _commit() -> str | None:
    """The checkout measured (short hash, "+" when it has uncommitted changes); None outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=HERE
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


if __name__ == "__main__":
    sys.exit(main())
