"""``lambda-vpc-operator plan -f attachment.yaml``: what the operator would do, like ``terraform plan``.

The look is the operator's own (``Reconciler.preview``: preflight, policy, GetFunction, ownership,
the planner), on the user's AWS credentials, with every write recorded instead of sent
(``aws.dryrun``). Exit codes for CI: 0 nothing to do, 2 changes, 1 errors (the operator would
stall, or AWS could not be read).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pathlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import pydantic
import yaml

from lambda_vpc_operator.aws import AwsGateway, dryrun
from lambda_vpc_operator.models import attachments, policies
from lambda_vpc_operator.models.enis import EniFacts, interfaces_by_subnet
from lambda_vpc_operator.models.settings import OperatorSettings
from lambda_vpc_operator.planner import planning
from lambda_vpc_operator.planner import policies as policy_rules
from lambda_vpc_operator.planner.plans import Outcome
from lambda_vpc_operator.planner.validation import Severity
from lambda_vpc_operator.reconciliation import guarding
from lambda_vpc_operator.reconciliation.reconciler import AttachmentView, InvalidSpec, Preview, Reconciler

NOTHING, ERRORS, CHANGES = 0, 1, 2


@dataclasses.dataclass
class Result:
    """One attachment's plan, as printed (and as ``-o json`` writes it)."""

    namespace: str
    name: str
    function: str
    outcome: str = ""
    message: str = ""
    errors: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    policy: str = "not checked (no --policy)"
    current: dict[str, Any] | None = None  # the function as AWS holds it
    subnets: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # add, remove, keep
    security_groups: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    enis: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    writes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    conditions: list[dict[str, str]] = dataclasses.field(default_factory=list)
    events: list[dict[str, str]] = dataclasses.field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.errors:
            return ERRORS
        return CHANGES if self.writes else NOTHING


def load(path: str, kind: str) -> list[dict[str, Any]]:
    text = sys.stdin.read() if path == "-" else pathlib.Path(path).read_text()
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and d.get("kind") == kind]


def policy_set(documents: Sequence[Mapping[str, Any]], mode: policies.PolicyMode) -> policy_rules.PolicySet:
    found = []
    for n, document in enumerate(documents, 1):
        name = str((document.get("metadata") or {}).get("name") or f"policy{n}")
        try:
            found.append(policy_rules.Policy(name, policies.PolicySpec.model_validate(document.get("spec") or {})))
        except pydantic.ValidationError as exc:
            raise SystemExit(f"LambdaVpcPolicy {name}: {exc}") from None
    return policy_rules.PolicySet(tuple(found), {}, mode)


def _diff(desired: frozenset[str], current: frozenset[str]) -> dict[str, list[str]]:
    return {"add": sorted(desired - current), "remove": sorted(current - desired), "keep": sorted(desired & current)}


def _enis(preview: Preview) -> list[dict[str, Any]]:
    desired = planning.desired_vpc(preview.spec)
    if not desired.attached:
        return []
    found: dict[str, EniFacts] = {}
    if preview.enis is not None:
        found = interfaces_by_subnet(preview.enis, desired.subnet_ids, desired.security_group_ids)
    rows = []
    for subnet in sorted(desired.subnet_ids):
        eni = found.get(subnet)
        if preview.enis is None:
            rows.append({"subnetId": subnet, "action": "unknown", "detail": "the VPC's ENIs could not be read"})
        elif eni is not None:
            rows.append({"subnetId": subnet, "action": "reuse", "networkInterfaceId": eni.interface_id,
                         "status": eni.status})  # fmt: skip
        else:
            rows.append({"subnetId": subnet, "action": "create",
                         "detail": "Lambda creates a Hyperplane ENI for this subnet and group set (can take minutes)"})
    return rows


def result_of(view: AttachmentView, preview: Preview, writes: Sequence[dryrun.Write], policy_checked: bool) -> Result:
    result = Result(view.namespace, view.name, preview.spec.function_name, outcome=preview.plan.outcome.value)
    situation, plan = preview.situation, preview.plan
    denied = [p for p in situation.problems if p.reason == "PolicyDenied"]
    if policy_checked:
        result.policy = f"denied: {denied[0].message}" if denied else "allowed"
    for problem in situation.problems:
        line = f"{problem.reason} ({problem.field}): {problem.message}"
        (result.errors if problem.severity == Severity.ERROR else result.warnings).append(line)
    if situation.read_failure is not None:
        failure = situation.read_failure
        result.errors.append(f"reading AWS failed: {failure.code}: {failure.message}")
    if plan.outcome == Outcome.STALLED and not result.errors:
        stalled = [c for c in plan.conditions or () if c.type == "Stalled"]
        result.errors.append(f"{stalled[0].reason}: {stalled[0].message}" if stalled else "the operator would stall")
    observed = situation.observed
    desired = planning.desired_vpc(preview.spec)
    if observed is not None:
        result.current = {
            "functionArn": observed.arn, "state": observed.state.value if observed.state else None,
            "lastUpdateStatus": observed.last_update_status.value if observed.last_update_status else None,
            "vpcId": observed.vpc_id, "subnetIds": sorted(observed.vpc.subnet_ids),
            "securityGroupIds": sorted(observed.vpc.security_group_ids),
        }  # fmt: skip
        result.subnets = _diff(desired.subnet_ids, observed.vpc.subnet_ids)
        result.security_groups = _diff(desired.security_group_ids, observed.vpc.security_group_ids)
    result.enis = _enis(preview)
    result.writes = [{"operation": w.operation, **w.params} for w in writes]
    if plan.action is not None:
        result.writes.append({
            "operation": "UpdateFunctionConfiguration", "FunctionName": preview.ref.api_name,
            "VpcConfig": plan.action.vpc.to_aws(), "RevisionId": plan.action.revision_id,
        })  # fmt: skip
    result.conditions = [
        {"type": str(c.type), "status": str(c.status), "reason": str(c.reason), "message": c.message}
        for c in plan.conditions or ()
    ]
    result.events = [{"type": str(e.type), "reason": e.reason, "message": e.message}
                     for e in (*preview.events, *plan.events)]  # fmt: skip
    ready = [c for c in plan.conditions or () if c.type == "Ready"]
    result.message = ready[0].message if ready else ""
    return result


async def plan_all(
    documents: Sequence[Mapping[str, Any]],
    settings: OperatorSettings,
    policy: policy_rules.PolicySet | None,
    gateway: AwsGateway | None = None,
    namespace_labels: Mapping[str, str] | None = None,
) -> list[Result]:
    aws = gateway or AwsGateway.create(
        settings.default_region, control_rate=settings.control_rate, get_function_rate=settings.get_function_rate,
        ec2_rate=settings.ec2_rate,
    )  # fmt: skip
    results = []
    for n, document in enumerate(documents, 1):
        meta = document.get("metadata") or {}
        view = AttachmentView(
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta.get("name") or f"attachment{n}"),
            generation=int(meta.get("generation") or 1),
            spec=dict(document.get("spec") or {}),
            status=dict(document.get("status") or {}),
            annotations=dict(meta.get("annotations") or {}),
        )
        recorder = dryrun.DryRunFunctions(aws.functions)
        reconciler = Reconciler(dataclasses.replace(aws, functions=recorder), settings)
        rules = policy_rules.PolicySet(mode=policies.PolicyMode.ALLOW_ALL)
        if policy is not None:
            # The namespace's labels as given (--namespace-label): what namespaceSelector matches.
            rules = dataclasses.replace(policy, namespace_labels={view.namespace: dict(namespace_labels or {})})
        context = guarding.Context(rules, frozenset({view.key}))
        try:
            preview = await reconciler.preview(view, context)
        except InvalidSpec as exc:
            results.append(Result(view.namespace, view.name, str(view.spec.get("functionName") or ""),
                                  outcome=Outcome.STALLED.value, errors=[f"InvalidSpec: {exc}"]))  # fmt: skip
            continue
        results.append(result_of(view, preview, recorder.writes, policy is not None))
    return results


def _ids(ids: Sequence[str]) -> str:
    return ", ".join(ids) if ids else "-"


def print_text(results: Sequence[Result], out: TextIO) -> None:
    for r in results:
        out.write(f"LambdaVpcAttachment {r.namespace}/{r.name} -> function {r.function}\n")
        out.write(f"  policy:     {r.policy}\n")
        for line in r.errors:
            out.write(f"  ERROR       {line}\n")
        for line in r.warnings:
            out.write(f"  warning     {line}\n")
        if r.current is not None:
            out.write(f"  function:   {r.current['state']}, LastUpdateStatus {r.current['lastUpdateStatus']}, "
                      f"VPC {r.current['vpcId'] or '-'}\n")  # fmt: skip
            for label, diff in (("subnets", r.subnets), ("groups", r.security_groups)):
                out.write(f"  {label + ':':<11} + {_ids(diff['add'])}   - {_ids(diff['remove'])}   "
                          f"= {_ids(diff['keep'])}\n")  # fmt: skip
        for eni in r.enis:
            eni_id = eni.get("networkInterfaceId")
            what = f"{eni_id} ({eni['status']})" if eni_id else eni["detail"]
            out.write(f"  ENI {eni['subnetId']}: {eni['action']} {what}\n")
        for write in r.writes:
            params = {k: v for k, v in write.items() if k != "operation"}
            out.write(f"  would send  {write['operation']} {json.dumps(params, sort_keys=True)}\n")
        if not r.writes and not r.errors:
            out.write("  no change: the operator would write nothing to AWS\n")
        out.write(f"  outcome:    {r.outcome}{': ' + r.message if r.message else ''}\n\n")
    changes = sum(1 for r in results if r.writes and not r.errors)
    errors = sum(1 for r in results if r.errors)
    out.write(f"Plan: {changes} to change, {errors} with errors, {len(results) - changes - errors} unchanged.\n")


def exit_code(results: Sequence[Result]) -> int:
    codes = {r.exit_code for r in results}
    return ERRORS if ERRORS in codes else CHANGES if CHANGES in codes else NOTHING


def run(
    file: str,
    policy_file: str | None,
    output: str,
    settings: OperatorSettings,
    out: TextIO = sys.stdout,
    namespace_labels: Mapping[str, str] | None = None,
) -> int:
    documents = load(file, attachments.KIND)
    if not documents:
        print(f"no {attachments.KIND} in {file}", file=sys.stderr)
        return ERRORS
    policy = policy_set(load(policy_file, policies.KIND), settings.policy_mode) if policy_file else None
    results = asyncio.run(plan_all(documents, settings, policy, namespace_labels=namespace_labels))
    if output == "json":
        out.write(json.dumps({"attachments": [dataclasses.asdict(r) for r in results],
                              "exitCode": exit_code(results)}, indent=2) + "\n")  # fmt: skip
    else:
        print_text(results, out)
    return exit_code(results)
