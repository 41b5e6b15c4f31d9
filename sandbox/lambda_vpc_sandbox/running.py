"""``lambda-vpc-operator sandbox``: the whole product on one machine, no cluster, no AWS account.

Starts the Kubernetes API emulator and the AWS simulator on loopback, seeds a demo account,
installs the CRDs, runs the operator (the real ``run`` command, as a child process) under its IAM
policy (docs/iam-policy.json, enforced by the simulator), applies examples/kubectl and shows a live
table until every attachment has settled. Then it keeps running for kubectl until Ctrl-C, or, with
``--once``, exits: 0 when everything settled as expected.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lambda_vpc_sandbox import manifests
from lambda_vpc_sandbox.aws.seeding import seed_demo_account
from lambda_vpc_sandbox.aws.server import AwsSimulator
from lambda_vpc_sandbox.kube.running import EmulatorThread
from lambda_vpc_sandbox.processes import OPERATOR_ACCESS_KEY, OperatorProcess, simulated_aws_env

REGION = "us-east-1"


def _default_examples() -> Path:
    return Path.cwd() / "examples" / "kubectl"


def _default_iam_policy() -> Path:
    return Path.cwd() / "docs" / "iam-policy.json"


def _render(verdicts: Sequence[manifests.Verdict], elapsed: float) -> str:
    header = ("ATTACHMENT", "FUNCTION", "VPC", "STATE", "READY", "REASON")
    rows = [header] + [(v.name, v.function[-40:], v.vpc, v.state, v.ready, v.reason) for v in verdicts]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    settled = sum(v.settled for v in verdicts)
    lines.append(f"-- {settled}/{len(verdicts)} settled after {elapsed:.0f}s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lambda-vpc-operator sandbox", description=__doc__)
    parser.add_argument("--once", action="store_true", help="exit after convergence (0) or timeout (1)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for convergence")
    parser.add_argument("--dir", type=Path, default=Path(".sandbox"), help="where the kubeconfig and logs go")
    parser.add_argument("--examples", type=Path, default=None, help="folder of manifests to apply")
    parser.add_argument(
        "--iam-policy", type=Path, default=None,
        help="the operator's IAM policy, enforced by the simulator (default docs/iam-policy.json if present)",
    )  # fmt: skip
    parser.add_argument("--kube-port", type=int, default=0)
    parser.add_argument("--aws-port", type=int, default=0)
    parser.add_argument("--resync-interval", type=float, default=30.0)
    parser.add_argument(
        "--kube-faults", type=Path, default=None, metavar="FILE",
        help='Kubernetes API faults to inject from the start: JSON {"rules": [...], "seed": N} (docs/reliability.md)',
    )  # fmt: skip
    args = parser.parse_args(argv)

    workdir: Path = args.dir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    examples: Path = args.examples or _default_examples()
    kubeconfig = workdir / "kubeconfig"

    kube_thread = EmulatorThread(port=args.kube_port, kubeconfig_path=kubeconfig)
    if args.kube_faults is not None:
        spec = json.loads(args.kube_faults.read_text(encoding="utf-8"))
        kube_thread.emulator.faults.inject(list(spec["rules"]), spec.get("seed"))
    with kube_thread as kube, AwsSimulator(
        port=args.aws_port
    ) as aws:
        account = seed_demo_account(aws.endpoint_url, region=REGION)
        client = manifests.api_client(kube.kubeconfig_path)
        manifests.install_crds(client)
        print(f"Kubernetes API emulator: {kube.url}  (export KUBECONFIG={kube.kubeconfig_path})")
        print(f"AWS simulator:           {aws.endpoint_url}  (seeded account {account.account_id})")
        policy: Path = args.iam_policy or _default_iam_policy()
        if policy.exists():
            # The operator gets exactly the permissions it gets on AWS (AccessDenied beyond them).
            aws.control.set_principal_policy(OPERATOR_ACCESS_KEY, policy.read_text())
            print(f"Operator's AWS permissions: {policy} (enforced by the simulator)")
        elif args.iam_policy is not None:
            print(f"No IAM policy at {policy}", file=sys.stderr)
            return 2
        else:
            print(f"Operator's AWS permissions: unrestricted (no {policy})")
        env = simulated_aws_env(aws.endpoint_url, REGION)
        log = workdir / "operator.log"
        operator = OperatorProcess(
            kube.kubeconfig_path, env, ["--resync-interval", str(args.resync_interval)], log_path=log
        )
        with operator:
            print(f"Operator:                running, log in {log}")
            documents = list(manifests.load_documents(sorted(examples.glob("*.yaml"))))
            for document in documents:
                manifests.apply_attachment(client, document)
            print(f"Applied {len(documents)} attachment(s) from {examples}\n")
            settled = _watch(client, args.timeout, interactive=sys.stdout.isatty())
            if args.once:
                return 0 if settled else 1
            print(
                "\nEverything is running. Try:\n"
                f"  export KUBECONFIG={kube.kubeconfig_path}\n"
                "  kubectl get lva -A\n"
                "  kubectl describe lva orders-api\n"
                "Ctrl-C stops the sandbox."
            )
            try:
                while operator.running:
                    time.sleep(1)
            except KeyboardInterrupt:
                print("\nStopping.")
            return 0


def _watch(client: object, timeout: float, *, interactive: bool) -> bool:
    start = time.monotonic()
    last = ""
    while True:
        verdicts = [manifests.verdict(o) for o in manifests.list_attachments(client)]  # type: ignore[arg-type]
        elapsed = time.monotonic() - start
        table = _render(verdicts, elapsed)
        body = table.rsplit("\n", 1)[0]
        if body != last or interactive:
            if interactive:
                sys.stdout.write("\x1b[2J\x1b[H")
            print(table, flush=True)
            last = body
        if verdicts and all(v.settled for v in verdicts):
            print("All attachments settled.")
            return True
        if elapsed > timeout:
            print(f"Not settled after {timeout:.0f}s.")
            return False
        time.sleep(1.0)
