"""Every request the operator made during the end-to-end suite must be allowed by the Helm chart.

The Kubernetes emulator audits each request with the client's product token (``kopf`` for kopf's
own requests, ``lambda-vpc-operator`` for the status writer and the peering object). At the end of
the session the requests of those two agents are checked against the RBAC the chart renders, for
the deployments the suite runs: cluster-wide, cluster-wide with peering, and a watched namespace
with peering (the peering tests use a namespaced operator). tests/chart/test_rbac_matches_operator.py
checks the other direction (no rule unused) on scenarios of its own.
"""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from lambda_vpc_sandbox.kube.server import AuditKey

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "chart"))

from shipping import CHART, HELM, NAMESPACE, RELEASE, SERVICE_ACCOUNT, Rule, grants_of  # noqa: E402

OPERATOR_AGENTS = ("kopf", "lambda-vpc-operator")
DEPLOYMENTS: tuple[tuple[str, ...], ...] = (
    (),
    ("--set", "replicas=2"),
    ("--set", "replicas=2", "--set", "watchNamespaces={e2e-any}"),
)


def operator_requests(audit_by_agent: collections.Counter[tuple[str, AuditKey]]) -> collections.Counter[AuditKey]:
    requests: collections.Counter[AuditKey] = collections.Counter()
    for (agent, key), n in audit_by_agent.items():
        if agent in OPERATOR_AGENTS:
            requests[key] += n
    return requests


def chart_rules() -> set[Rule]:
    """The rules of every deployment above, cluster-wide and namespaced together."""
    rules: set[Rule] = set()
    for args in DEPLOYMENTS:
        command = [str(HELM), "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args]
        rendered: list[dict[str, Any]] = [
            d for d in yaml.safe_load_all(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            if d
        ]
        rules |= grants_of(rendered, SERVICE_ACCOUNT).all_rules()
    return rules


def refused(requests: collections.Counter[AuditKey]) -> list[str]:
    """Requests no rendered rule allows (rules with resourceNames count for verbs that name one)."""
    rules = chart_rules()
    missing = []
    for key, count in sorted(requests.items()):
        resource = f"{key.resource}/{key.subresource}" if key.subresource else key.resource
        if not any(
            (r.api_group, r.resource, r.verb) == (key.api_group, resource, key.verb)
            and (not r.resource_names or key.verb in ("get", "patch", "update", "delete"))
            for r in rules
        ):
            missing.append(f"{count}x {key.verb} {key.api_group or 'core'}/{resource}")
    return missing


def helm_available() -> bool:
    return HELM.exists()
