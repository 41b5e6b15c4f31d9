"""The ``lambda-vpc-operator`` command: ``run`` the operator, start a ``sandbox``, print the ``crd``,
translate a tenant ``policy`` into IAM."""

from __future__ import annotations

import argparse
import gc
import os
import pathlib
import random
import sys
from collections.abc import Sequence

import yaml

from lambda_vpc_operator.models import crds, owners
from lambda_vpc_operator.models.policies import PolicyMode
from lambda_vpc_operator.models.settings import (
    DEFAULT_ALIAS_INTERVAL,
    DEFAULT_LIFECYCLE_INTERVAL,
    DEFAULT_RESYNC_INTERVAL,
    LogFormat,
    OperatorSettings,
    RoleCheck,
    WatchSettings,
    WebhookSettings,
)


def _import_kopf_alone() -> None:
    """Import kopf without the kubernetes client. kopf imports it when it is installed, for what we do
    not use (its models as owners, its login): 9 MiB of the operator's memory, and the commands' time
    (docs/benchmarks.md "Memory"). A None in sys.modules makes an import fail (the import system's
    documented rule); it is taken out again at once, so a kubeconfig plugin can still log in
    through the client (kube.logins)."""
    if "kubernetes" in sys.modules:
        return
    sys.modules["kubernetes"] = None  # type: ignore[assignment]
    try:
        import kopf  # noqa: F401
    finally:
        del sys.modules["kubernetes"]


def _run(args: argparse.Namespace) -> int:
    _import_kopf_alone()
    import kopf  # imported late: `crd` and `sandbox` must not pay for it

    from lambda_vpc_operator.aws import AwsGateway
    from lambda_vpc_operator.handlers import (
        attachments,
        configuring,
        diagnostics,
        kopf_fixes,
        logs,
        metrics,
        policies,
        readiness,
    )
    from lambda_vpc_operator.kube.status_writer import StatusWriter
    from lambda_vpc_operator.reconciliation.reconciler import Reconciler

    if args.peering and any(_is_pattern(n) for n in args.namespace or ()):
        raise SystemExit(
            "--peering needs exact --namespace names (kopf meets in a KopfPeering in each), not patterns: "
            "to spread attachments over several operators, shard by namespace pattern without peering "
            '(docs/install.md "Sharding by namespace")'
        )
    settings = OperatorSettings(
        cluster_name=args.cluster_name or _derived_cluster_name(args.namespace or ()),
        default_region=args.region,
        resync_interval=args.resync_interval,
        lifecycle_interval=args.lifecycle_interval,
        alias_interval=args.alias_interval,
        namespaces=tuple(args.namespace or ()),
        control_rate=args.control_rate,
        get_function_rate=args.get_function_rate,
        ec2_rate=args.ec2_rate,
        log_format=LogFormat(args.log_format),
        liveness_endpoint=args.liveness,
        standalone=not args.peering,
        priority=args.priority,
        peering_lifetime=args.peering_lifetime,
        reactivation_window=args.reactivation_window,
        stall_after_errors=args.stall_after_errors,
        policy_mode=PolicyMode(args.policy_mode),
        role_check=RoleCheck(args.role_check),
        webhook=_webhook(args),
        watching=_watching(args),
    )
    kopf.configure(
        verbose=args.verbose,
        log_format={
            LogFormat.PLAIN: kopf.LogFormat.PLAIN,
            LogFormat.FULL: kopf.LogFormat.FULL,
            LogFormat.JSON: kopf.LogFormat.JSON,
        }[settings.log_format],
    )
    logs.install(settings.log_format == LogFormat.JSON, logs.secrets_of(os.environ, args.webhook_key))
    aws = AwsGateway.create(
        settings.default_region,
        control_rate=settings.control_rate,
        get_function_rate=settings.get_function_rate,
        sweep_interval=settings.resync_interval,
        lifecycle_interval=settings.lifecycle_interval,
        ec2_rate=settings.ec2_rate,
    )
    kopf_fixes.install()
    registry = kopf.OperatorRegistry()
    configuring.register(registry, settings)
    metrics.register(registry, args.metrics_port)
    reconciler = Reconciler(aws, settings)
    guardrails = policies.Guardrails(reconciler.guard, settings)
    policies.register(registry, guardrails)
    attachments.register(registry, reconciler, StatusWriter(), guardrails)
    readiness.register(registry, guardrails, args.readiness)
    diagnostics.register(registry)
    # The modules, clients and models loaded by now live as long as the process: out of the cyclic
    # garbage collector's sight, so a full collection (which frees kopf's per-event bodies, each a
    # cycle with its views) comes as often as the attachments' own objects call for it, not a
    # quarter of the whole heap later, and costs less (docs/benchmarks.md "Memory").
    gc.collect()
    gc.freeze()
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


def _is_pattern(namespace: str) -> bool:
    """A kopf namespace pattern (globs, negation, comma lists) rather than one namespace's name."""
    return any(ch in namespace for ch in "*?[!,")


def _derived_cluster_name(namespaces: Sequence[str]) -> str:
    import kopf

    from lambda_vpc_operator.kube.clusters import ClusterIdentityUnknown, derived_cluster_name

    try:
        return derived_cluster_name(namespaces)
    except (ClusterIdentityUnknown, kopf.LoginError) as exc:
        raise SystemExit(
            f"Cannot derive this cluster's name for the owner tag ({exc}): pass --cluster-name "
            "(the chart's clusterName), or allow the operator to get namespace kube-system"
        ) from None


def _cluster_name(value: str) -> str:
    if not owners.valid_cluster_name(value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: 1 to 63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit"
        )
    return value


def _webhook(args: argparse.Namespace) -> WebhookSettings | None:
    if args.webhook_port is None:
        return None
    if not (args.webhook_cert and args.webhook_key):
        raise SystemExit("--webhook-port needs --webhook-cert and --webhook-key (the API server only calls HTTPS)")
    return WebhookSettings(
        port=args.webhook_port,
        host=args.webhook_host,
        certfile=args.webhook_cert,
        keyfile=args.webhook_key,
        cafile=args.webhook_ca,
    )


def _watching(args: argparse.Namespace) -> WatchSettings:
    watching = WatchSettings(
        server_timeout=args.watch_server_timeout,
        client_timeout=args.watch_client_timeout,
        inactivity_timeout=args.watch_inactivity_timeout,
        connect_timeout=args.watch_connect_timeout,
    )
    if watching.client_timeout <= watching.server_timeout:
        # Else every healthy stream is cut on our side before the API server ends it cleanly.
        raise SystemExit("--watch-client-timeout must be longer than --watch-server-timeout")
    return watching


def _crd(args: argparse.Namespace) -> int:
    if args.output_dir is not None:
        for file_name, crd in crds.all_crds().items():
            (args.output_dir / file_name).write_text(yaml.safe_dump(crd, sort_keys=False))
        return 0
    documents = list(crds.all_crds().values())
    sys.stdout.write(yaml.safe_dump_all(documents, sort_keys=False))
    return 0


def _policy_iam(args: argparse.Namespace) -> int:
    """Print the IAM policy document equivalent to the LambdaVpcPolicy objects of a file."""
    import json

    import pydantic

    from lambda_vpc_operator.models import policies
    from lambda_vpc_operator.planner import statements

    text = sys.stdin.read() if args.file == "-" else pathlib.Path(args.file).read_text()
    found: list[tuple[str, policies.PolicySpec]] = []
    for document in yaml.safe_load_all(text):
        if not document or document.get("kind") != policies.KIND:
            continue
        name = str((document.get("metadata") or {}).get("name") or f"policy{len(found) + 1}")
        try:
            found.append((name, policies.PolicySpec.model_validate(document.get("spec") or {})))
        except pydantic.ValidationError as exc:
            print(f"LambdaVpcPolicy {name}: {exc}", file=sys.stderr)
            return 2
    if not found:
        print(f"no {policies.KIND} in {args.file}", file=sys.stderr)
        return 2
    try:
        document = statements.policy_document(found, partition=args.partition)
    except statements.NotExpressible as exc:
        print(str(exc), file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    # The roles the policies let attachments act through: each needs a trust policy naming the operator.
    literal, patterns = statements.roles_of(found)
    external_ids: dict[str, set[str]] = {}
    for document in yaml.safe_load_all(text):
        spec = (document or {}).get("spec") or {}
        if (document or {}).get("kind") == "LambdaVpcAttachment" and spec.get("externalId"):
            external_ids.setdefault(str(spec.get("roleArn") or ""), set()).add(str(spec["externalId"]))
    operator_role = args.operator_role_arn or statements.OPERATOR_ROLE_PLACEHOLDER.format(partition=args.partition)
    for role in [*literal, *patterns]:
        ids = external_ids.get(role, set()) | set(args.external_id or ()) | external_ids.get("", set())
        kind = "each role matching" if role in patterns else "role"
        sys.stdout.write(f"# Trust policy of {kind} {role} (sts:AssumeRole by the operator):\n")
        sys.stdout.write(json.dumps(statements.trust_policy(operator_role, ids), indent=2) + "\n")
    return 0


def _plan(args: argparse.Namespace) -> int:
    _import_kopf_alone()
    from lambda_vpc_operator.commands import plans, statuses

    cluster = args.cluster_name
    if cluster is None:
        import kopf

        from lambda_vpc_operator.kube.clusters import ClusterIdentityUnknown, cluster_identity

        try:
            cluster = cluster_identity(statuses.cli_client())
        except (ClusterIdentityUnknown, kopf.LoginError, OSError) as exc:
            # No cluster at hand: owner tags naming an installation cannot be told ours or not.
            print(f"note: cannot derive the cluster's name ({exc}); pass --cluster-name to check ownership tags",
                  file=sys.stderr)  # fmt: skip
    settings = OperatorSettings(
        cluster_name=cluster,
        default_region=args.region,
        policy_mode=PolicyMode(args.policy_mode),
        role_check=RoleCheck(args.role_check),
    )
    labels = dict(label.split("=", 1) for label in args.namespace_label or ())
    return plans.run(args.file, args.policy, args.output, settings, namespace_labels=labels)


def _status(args: argparse.Namespace) -> int:
    _import_kopf_alone()
    from lambda_vpc_operator.commands import statuses

    namespace = None if args.all_namespaces else args.namespace or _context_namespace()
    return statuses.run(namespace, args.output)


def _context_namespace() -> str:
    """The current kubeconfig context's namespace, as kubectl uses it (else "default")."""
    import kopf

    from lambda_vpc_operator.kube import logins

    try:
        return logins.context_namespace() or "default"
    except (kopf.LoginError, OSError, KeyError, TypeError):
        return "default"


def _sandbox(rest: Sequence[str]) -> int:
    """``sandbox [kube|aws] ...``: handed to the sandbox distribution, imported only here and only if installed."""
    import importlib.util

    # The emulator and the simulator are their own distribution (sandbox/): the operator's wheel and
    # image do not carry them, so a missing package is a clear message, not a traceback.
    if importlib.util.find_spec("lambda_vpc_sandbox") is None:
        print(
            "lambda-vpc-operator: the sandbox is a separate distribution (lambda-vpc-operator-sandbox): "
            "pip install -e ./sandbox, or make sandbox",
            file=sys.stderr,
        )
        return 2
    from lambda_vpc_sandbox.cli import main as sandbox_main

    return sandbox_main(list(rest))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambda-vpc-operator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator against the current kubeconfig and AWS credentials")
    run.add_argument(
        "--namespace", "-n", action="append",
        help="watch this namespace, or a kopf pattern: globs * and ?, ! to exclude, comma lists (repeatable; "
        "one pattern per shard, docs/install.md); default: all",
    )  # fmt: skip
    run.add_argument("--region", default=_default_region(), help="default AWS region (AWS_REGION, else us-east-1)")
    run.add_argument(
        "--cluster-name", type=_cluster_name,
        help="this installation's name in each managed function's owner tag (default: the uid of namespace "
        "kube-system, plus a digest of --namespace when given); installations sharing an AWS account never "
        "take each other's functions",
    )  # fmt: skip
    run.add_argument(
        "--resync-interval", type=float, default=DEFAULT_RESYNC_INTERVAL,
        help="seconds between re-reads of a steady attachment (drift, Inactive); also how often the "
        "observer sweeps each region (ListFunctions pages)",
    )  # fmt: skip
    run.add_argument(
        "--lifecycle-interval", type=float, default=DEFAULT_LIFECYCLE_INTERVAL,
        help="seconds after which a steady function's State (which ListFunctions omits) is read again "
        "with GetFunction",
    )  # fmt: skip
    run.add_argument(
        "--alias-interval", type=float, default=DEFAULT_ALIAS_INTERVAL,
        help="seconds after which a steady function's aliases are read again (ListAliases, AliasesCurrent); "
        "a new generation and our own updates read them at once",
    )  # fmt: skip
    run.add_argument(
        "--control-rate", type=float, default=10.0,
        help="Lambda control-plane requests/s to use of the account's shared 15/s",
    )  # fmt: skip
    run.add_argument("--get-function-rate", type=float, default=50.0, help="GetFunction requests/s (AWS: 100/s)")
    run.add_argument(
        "--ec2-rate", type=float, default=10.0,
        help="EC2 Describe* requests/s (AWS: a bucket of 100 refilled at 20/s per API); burst: 5 s worth",
    )  # fmt: skip
    run.add_argument(
        "--reactivation-window", type=float, default=60.0,
        help="seconds a reactivation invoke gets before the next one (doubles per attempt)",
    )  # fmt: skip
    run.add_argument(
        "--stall-after-errors", type=int, default=10,
        help="consecutive failed looks (ReconcileError) before an attachment is Stalled (still retried)",
    )  # fmt: skip
    run.add_argument(
        "--watch-inactivity-timeout", type=_seconds, default=WatchSettings.inactivity_timeout,
        help="seconds a watch stream may carry nothing (not even a BOOKMARK) before it is reopened: "
        "the bound on how long a silently dead connection hides changes",
    )  # fmt: skip
    run.add_argument(
        "--watch-server-timeout", type=_seconds, default=WatchSettings.server_timeout,
        help="seconds the API server is asked to keep each watch stream open (timeoutSeconds)",
    )  # fmt: skip
    run.add_argument(
        "--watch-client-timeout", type=_seconds, default=WatchSettings.client_timeout,
        help="seconds after which we end any watch stream ourselves (above --watch-server-timeout)",
    )  # fmt: skip
    run.add_argument(
        "--watch-connect-timeout", type=_seconds, default=WatchSettings.connect_timeout,
        help="seconds to open a watch connection before trying again",
    )  # fmt: skip
    run.add_argument("--log-format", choices=[f.value for f in LogFormat], default=LogFormat.FULL.value)
    run.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port (e.g. 9090)")
    run.add_argument("--liveness", help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument(
        "--readiness", help="serve a readiness probe (200 once the indexes are loaded), e.g. http://0.0.0.0:8081/readyz"
    )
    run.add_argument("--peering", action="store_true", help="use kopf peering (several replicas)")
    run.add_argument(
        "--priority", type=_priority, default=0,
        help="peering priority, or 'random' (what each replica of a Deployment should use)",
    )  # fmt: skip
    run.add_argument(
        "--peering-lifetime", type=_peering_lifetime, default=OperatorSettings.peering_lifetime,
        help="seconds a replica's peering record counts as alive: the longest a standby waits to take over "
        "from a killed replica (renewed 5-10 s before it runs out; at least 15)",
    )  # fmt: skip
    run.add_argument(
        "--policy-mode", choices=[m.value for m in PolicyMode], default=PolicyMode.ENFORCE.value,
        help="an attachment in a namespace no LambdaVpcPolicy selects: enforce (deny, the default) or allow-all",
    )  # fmt: skip
    run.add_argument(
        "--role-check", choices=[c.value for c in RoleCheck], default=RoleCheck.AUTO.value,
        help="the execution-role preflight (iam:SimulatePrincipalPolicy): auto (a warning, the default), "
        "require (stall until the role allows the ENI actions) or off (no call)",
    )  # fmt: skip
    run.add_argument("--webhook-port", type=int, help="serve the validating admission webhook (HTTPS) on this port")
    run.add_argument("--webhook-host", default="0.0.0.0", help="address the webhook listens on")
    run.add_argument("--webhook-cert", help="PEM certificate of the webhook (re-read when it changes)")
    run.add_argument("--webhook-key", help="PEM private key of the webhook")
    run.add_argument("--webhook-ca", help="PEM CA bundle the API server uses to verify the webhook")
    run.add_argument("--verbose", "-v", action="store_true")
    run.set_defaults(handler=_run)

    crd = commands.add_parser("crd", help="print the CustomResourceDefinitions generated from the models")
    crd.add_argument("--output-dir", type=pathlib.Path, help="write one file per CRD here (crds/) instead")
    crd.set_defaults(handler=_crd)

    policy = commands.add_parser("policy", help="tenant policies (LambdaVpcPolicy)")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    iam = policy_commands.add_parser(
        "iam", help="print the IAM policy statement equivalent to LambdaVpcPolicy objects (docs/policy.md)"
    )
    iam.add_argument("-f", "--file", required=True, help="YAML file with LambdaVpcPolicy objects (- for stdin)")
    iam.add_argument("--partition", default="aws", help="ARN partition of function names (aws, aws-cn, ...)")
    iam.add_argument(
        "--operator-role-arn",
        help="the operator's own role (its IRSA / Pod Identity role), the principal of the trust policies printed "
        "for the roles the policies allow (default: a placeholder to replace)",
    )
    iam.add_argument(
        "--external-id", action="append",
        help="an sts:ExternalId attachments send (spec.externalId); repeatable. Attachments in the file add theirs",
    )  # fmt: skip
    iam.set_defaults(handler=_policy_iam)

    plan = commands.add_parser(
        "plan", help="print what the operator would do for attachments of a file, writing nothing (exit 0 "
        "nothing to do, 2 changes, 1 errors)",
    )  # fmt: skip
    plan.add_argument("-f", "--file", required=True, help="YAML file with LambdaVpcAttachment objects (- for stdin)")
    plan.add_argument("--policy", help="YAML file with the LambdaVpcPolicy objects to check against")
    plan.add_argument(
        "--namespace-label", action="append", type=_label, metavar="KEY=VALUE",
        help="with --policy: a label of the attachment's namespace, for namespaceSelector (repeatable)",
    )  # fmt: skip
    plan.add_argument(
        "--policy-mode", choices=[m.value for m in PolicyMode], default=PolicyMode.ENFORCE.value,
        help="with --policy: an attachment no policy selects is denied (enforce) or allowed (allow-all)",
    )  # fmt: skip
    plan.add_argument("--region", default=_default_region(), help="default AWS region (AWS_REGION, else us-east-1)")
    plan.add_argument(
        "--cluster-name", type=_cluster_name,
        help="the operator's --cluster-name, to read owner tags as it does (default: derived from the kubeconfig)",
    )  # fmt: skip
    plan.add_argument("--role-check", choices=[c.value for c in RoleCheck], default=RoleCheck.AUTO.value)
    plan.add_argument("-o", "--output", choices=["text", "json"], default="text")
    plan.set_defaults(handler=_plan)

    status = commands.add_parser("status", help="a table of the attachments and their state, from the cluster")
    where = status.add_mutually_exclusive_group()
    where.add_argument("-n", "--namespace", help="this namespace (default: the kubeconfig context's)")
    where.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    status.add_argument("-o", "--output", choices=["table", "json"], default="table")
    status.set_defaults(handler=_status)

    commands.add_parser(
        "sandbox", add_help=False,
        help="run everything locally (emulated cluster, simulated AWS, operator, examples); "
        "`sandbox kube` or `sandbox aws` starts one emulator alone; `sandbox --help` for options",
    )  # fmt: skip
    return parser


def _seconds(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{value!r}: a number of seconds above 0")
    return seconds


def _label(value: str) -> str:
    if "=" not in value:
        raise argparse.ArgumentTypeError(f"{value!r}: KEY=VALUE")
    return value


def _peering_lifetime(value: str) -> int:
    """kopf renews a peering record 5-10 s before its lifetime ends: below 15 s it would renew
    almost constantly."""
    seconds = int(value)
    if seconds < 15:
        raise argparse.ArgumentTypeError(f"--peering-lifetime must be at least 15 seconds, not {seconds}")
    return seconds


def _priority(value: str) -> int:
    """An int, or "random": peered replicas must never tie (kopf pauses all operators of equal priority)."""
    if value == "random":
        return random.SystemRandom().randint(1, 2**31 - 1)
    return int(value)


def _default_region() -> str:
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
