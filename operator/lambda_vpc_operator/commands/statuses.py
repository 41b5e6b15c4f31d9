"""``lambda-vpc-operator status [-n NS | -A] [-o json]``: every attachment on one screen.

Read from the cluster only (the attachments' status, as the operator wrote it): function, VPC,
state, ENIs ready per subnet, the last reactivation and the conditions that are not as they
should be. No AWS call.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from lambda_vpc_operator.kube.rest import KubeApi
from lambda_vpc_operator.models import attachments
from lambda_vpc_operator.models.enis import USABLE_STATUSES

COLUMNS = ("NAMESPACE", "NAME", "FUNCTION", "VPC", "STATE", "ENIS", "LAST REACTIVATION", "CONDITIONS")


def row(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    conditions = {str(c.get("type")): c for c in status.get("conditions") or ()}
    rows = status.get("networkInterfaces") or []
    ready = {r.get("subnetId"): r.get("status") in USABLE_STATUSES for r in rows}
    revival = status.get("reactivation") or {}
    return {
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "function": spec.get("functionName", ""),
        "vpcId": status.get("vpcId"),
        "state": status.get("state"),
        "lastUpdateStatus": status.get("lastUpdateStatus"),
        "enisReady": sum(ready.values()),
        "subnets": len(spec.get("subnetIds") or ()),
        "enis": {subnet: ok for subnet, ok in sorted(ready.items())},
        "lastReactivation": {"time": revival.get("lastAttemptTime"), "result": revival.get("lastResult")}
        if revival else None,
        "conditions": {t: {"status": c.get("status"), "reason": c.get("reason"), "message": c.get("message")}
                       for t, c in conditions.items()},
        "paused": "Paused" in conditions,
    }  # fmt: skip


def _conditions(r: Mapping[str, Any]) -> str:
    parts = []
    for type_, c in r["conditions"].items():
        parts.append(f"{type_}={c['status']}({c['reason']})")
    return " ".join(parts) or "-"


def table(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    lines: list[tuple[str, ...]] = [COLUMNS]
    for r in rows:
        revival = r["lastReactivation"]
        lines.append((
            r["namespace"], r["name"], r["function"], r["vpcId"] or "-", r["state"] or "-",
            f"{r['enisReady']}/{r['subnets']}",
            f"{revival['time']} {revival['result']}" if revival and revival["time"] else "-",
            _conditions(r),
        ))  # fmt: skip
    return lines


def print_table(lines: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS) - 1)]
    for line in lines:
        out.write("   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "   " + line[-1] + "\n")


def cli_client() -> KubeApi:
    """The kubeconfig's credentials, saying in the audit log that a human's command asks, not the operator."""
    client = KubeApi(pool_size=1)
    client.user_agent = client.user_agent.replace("lambda-vpc-operator/", "lambda-vpc-operator-cli/", 1)
    return client


def list_attachments(namespace: str | None, api: KubeApi | None = None) -> list[dict[str, Any]]:
    group, version, plural = attachments.GROUP, attachments.VERSION, attachments.PLURAL
    where = f"/namespaces/{namespace}" if namespace is not None else ""
    listing = (api or cli_client()).get(f"/apis/{group}/{version}{where}/{plural}")
    items: list[dict[str, Any]] = listing.get("items") or []
    return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


def run(namespace: str | None, output: str, out: TextIO = sys.stdout, api: KubeApi | None = None) -> int:
    rows = [row(obj) for obj in list_attachments(namespace, api)]
    if output == "json":
        out.write(json.dumps({"attachments": rows}, indent=2) + "\n")
    elif not rows:
        out.write(f"No {attachments.KIND} found{' in ' + namespace if namespace else ''}.\n")
    else:
        print_table(table(rows), out)
    return 0
