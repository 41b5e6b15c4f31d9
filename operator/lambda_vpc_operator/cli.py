"""The ``lambda-vpc-operator`` command: ``run`` the operator, start a ``sandbox``, print the ``crd``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import yaml

from lambda_vpc_operator.models import crds
from lambda_vpc_operator.models.settings import DEFAULT_RESYNC_INTERVAL, LogFormat, OperatorSettings


def _run(args: argparse.Namespace) -> int:
    import kopf  # imported late: `crd` and `sandbox` must not pay for it

    from lambda_vpc_operator.aws import AwsGateway
    from lambda_vpc_operator.handlers import attachments, configuring
    from lambda_vpc_operator.kube.statuses import StatusWriter
    from lambda_vpc_operator.reconciliation.reconciler import Reconciler

    settings = OperatorSettings(
        default_region=args.region,
        resync_interval=args.resync_interval,
        namespaces=tuple(args.namespace or ()),
        control_rate=args.control_rate,
        get_function_rate=args.get_function_rate,
        log_format=LogFormat(args.log_format),
        liveness_endpoint=args.liveness,
        standalone=not args.peering,
        priority=args.priority,
        reactivation_window=args.reactivation_window,
    )
    kopf.configure(
        verbose=args.verbose,
        log_format={
            LogFormat.PLAIN: kopf.LogFormat.PLAIN,
            LogFormat.FULL: kopf.LogFormat.FULL,
            LogFormat.JSON: kopf.LogFormat.JSON,
        }[settings.log_format],
    )
    aws = AwsGateway.create(
        settings.default_region,
        control_rate=settings.control_rate,
        get_function_rate=settings.get_function_rate,
    )
    registry = kopf.OperatorRegistry()
    configuring.register(registry, settings)
    attachments.register(registry, Reconciler(aws, settings), StatusWriter())
    kopf.run(
        registry=registry,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        standalone=settings.standalone,
        priority=settings.priority,
        peering_name=settings.peering_name,
        liveness_endpoint=settings.liveness_endpoint,
    )
    return 0


def _crd(args: argparse.Namespace) -> int:
    documents = list(crds.all_crds().values())
    sys.stdout.write(yaml.safe_dump_all(documents, sort_keys=False))
    return 0


def _sandbox(rest: Sequence[str]) -> int:
    """``sandbox [kube|aws] ...``: the whole sandbox, or one emulator alone; each parses its own flags."""
    component, *args = rest or [""]
    if component == "kube":
        from lambda_vpc_operator.sandbox.kube.running import main as kube_main

        return int(kube_main(args) or 0)
    if component == "aws":
        from lambda_vpc_operator.sandbox.aws.server import main as aws_main

        return int(aws_main(args) or 0)
    from lambda_vpc_operator.sandbox.running import main as sandbox_main

    return int(sandbox_main(list(rest)) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambda-vpc-operator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator against the current kubeconfig and AWS credentials")
    run.add_argument("--namespace", "-n", action="append", help="watch this namespace (repeatable); default: all")
    run.add_argument("--region", default=_default_region(), help="default AWS region (AWS_REGION, else us-east-1)")
    run.add_argument(
        "--resync-interval", type=float, default=DEFAULT_RESYNC_INTERVAL,
        help="seconds between re-reads of a steady attachment (drift, Inactive)",
    )  # fmt: skip
    run.add_argument(
        "--control-rate", type=float, default=10.0,
        help="Lambda control-plane requests/s to use of the account's shared 15/s",
    )  # fmt: skip
    run.add_argument("--get-function-rate", type=float, default=50.0, help="GetFunction requests/s (AWS: 100/s)")
    run.add_argument(
        "--reactivation-window", type=float, default=60.0,
        help="seconds a reactivation invoke gets before the next one (doubles per attempt)",
    )  # fmt: skip
    run.add_argument("--log-format", choices=[f.value for f in LogFormat], default=LogFormat.FULL.value)
    run.add_argument("--liveness", help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--peering", action="store_true", help="use kopf peering (several replicas)")
    run.add_argument("--priority", type=int, default=0, help="peering priority (use a random one per replica)")
    run.add_argument("--verbose", "-v", action="store_true")
    run.set_defaults(handler=_run)

    crd = commands.add_parser("crd", help="print the CustomResourceDefinitions generated from the models")
    crd.set_defaults(handler=_crd)

    commands.add_parser(
        "sandbox", add_help=False,
        help="run everything locally (emulated cluster, simulated AWS, operator, examples); "
        "`sandbox kube` or `sandbox aws` starts one emulator alone; `sandbox --help` for options",
    )  # fmt: skip
    return parser


def _default_region() -> str:
    import os

    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] == "sandbox":
        return _sandbox(argv[1:])
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
