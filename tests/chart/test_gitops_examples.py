"""The Argo CD and Flux examples point at what exists and pass values the chart accepts.

No Argo CD or Flux runs here (and their CRD schemas are not available offline), so the examples
are checked for what would break them: paths into this repository, references between the
objects, and chart values, which are validated by the chart's schema and rendered by helm.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
import yaml

from shipping import CHART, ROOT, find

Render = Callable[..., list[dict[str, Any]]]

ARGOCD = ROOT / "examples" / "argocd"
FLUX = ROOT / "examples" / "flux"


def documents(folder: pathlib.Path) -> list[dict[str, Any]]:
    return [doc for path in sorted(folder.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def repo_path(path: str) -> pathlib.Path:
    return ROOT / path.removeprefix("./")


def test_argocd_applications_point_at_the_chart_and_the_attachments(values_schema: dict[str, Any]) -> None:
    applications = {app["metadata"]["name"]: app for app in find(documents(ARGOCD), "Application")}
    operator, attachments = applications["lambda-vpc-operator"], applications["lambda-vpc-attachments"]
    assert repo_path(operator["spec"]["source"]["path"]) == CHART
    assert list(repo_path(attachments["spec"]["source"]["path"]).glob("*.yaml"))
    jsonschema.Draft7Validator(values_schema).validate(operator["spec"]["source"]["helm"]["valuesObject"])
    assert "ServerSideApply=true" in operator["spec"]["syncPolicy"]["syncOptions"]
    # The operator (and its CRD) sync before the attachments.
    waves = {name: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
             for name, app in applications.items()}  # fmt: skip
    assert waves["lambda-vpc-operator"] < waves["lambda-vpc-attachments"]


def test_argocd_values_render(render: Render) -> None:
    (operator,) = find(documents(ARGOCD), "Application", "lambda-vpc-operator")
    manifests = render(operator["spec"]["source"]["helm"]["valuesObject"])
    (account,) = find(manifests, "ServiceAccount")
    assert "eks.amazonaws.com/role-arn" in account["metadata"]["annotations"]


def test_flux_helm_release_uses_the_chart_from_the_git_source(values_schema: dict[str, Any]) -> None:
    docs = documents(FLUX)
    (source,) = find(docs, "GitRepository")
    (release,) = find(docs, "HelmRelease")
    chart = release["spec"]["chart"]["spec"]
    assert chart["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"],
                                  "namespace": source["metadata"]["namespace"]}  # fmt: skip
    assert repo_path(chart["chart"]) == CHART
    # Flux, unlike plain Helm, can keep the CRDs current.
    assert release["spec"]["install"]["crds"] == release["spec"]["upgrade"]["crds"] == "CreateReplace"
    jsonschema.Draft7Validator(values_schema).validate(release["spec"]["values"])
    # The GitRepository's ignore rules must keep what the Kustomizations and the HelmRelease read.
    assert "!/charts/" in source["spec"]["ignore"] and "!/examples/" in source["spec"]["ignore"]


def test_flux_kustomizations_wait_for_the_attachments() -> None:
    docs = documents(FLUX)
    (source,) = find(docs, "GitRepository")
    kustomizations = {k["metadata"]["name"]: k for k in find(docs, "Kustomization")}
    operator, attachments = kustomizations["lambda-vpc-operator"], kustomizations["lambda-vpc-attachments"]
    for kustomization in kustomizations.values():
        assert kustomization["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
        assert repo_path(kustomization["spec"]["path"]).is_dir()
    assert repo_path(operator["spec"]["path"]) == FLUX / "operator"
    (release,) = find(docs, "HelmRelease")
    assert operator["spec"]["healthChecks"] == [{"apiVersion": release["apiVersion"], "kind": "HelmRelease",
                                                 "name": release["metadata"]["name"],
                                                 "namespace": release["metadata"]["namespace"]}]  # fmt: skip
    assert attachments["spec"]["dependsOn"] == [{"name": "lambda-vpc-operator"}]
    assert attachments["spec"]["wait"] is True
    manifests = list((repo_path(attachments["spec"]["path"])).glob("*.yaml"))
    kinds = {doc["kind"] for path in manifests for doc in yaml.safe_load_all(path.read_text()) if doc}
    assert "LambdaVpcAttachment" in kinds
    assert kinds <= {"LambdaVpcAttachment", "LambdaVpcPolicy"}  # our kinds only: kstatus reads them all


@pytest.mark.parametrize("folder", [ARGOCD, FLUX], ids=["argocd", "flux"])
def test_examples_are_commented_yaml(folder: pathlib.Path) -> None:
    for path in sorted(folder.rglob("*.yaml")):
        assert path.read_text().startswith("#"), f"{path.name}: say what it is and how to use it"


# -- Flux 2.5+ healthCheckExprs, evaluated with a CEL implementation over statuses the planner writes --

EXPRS = FLUX / "attachments-health-exprs.yaml"


def _flux_verdict(rules: dict[str, str], obj: dict[str, Any]) -> str:
    """Flux's order: inProgress, then failed, then current; none true: still in progress."""
    import celpy
    from celpy.adapter import json_to_cel

    env = celpy.Environment()
    activation = {key: json_to_cel(obj.get(key) or {}) for key in ("metadata", "spec", "status")}
    for verdict in ("inProgress", "failed", "current"):
        if verdict in rules and bool(env.program(env.compile(rules[verdict])).evaluate(activation)):
            return verdict
    return "inProgress"


def _condition(type_: str, status: str, reason: str = "Any") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": "", "lastTransitionTime": "t"}


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        pytest.param({}, "inProgress", id="no-status-yet"),
        pytest.param({"observedGeneration": 1, "conditions": [_condition("Ready", "Unknown"),
                      _condition("Reconciling", "True")]}, "inProgress", id="reconciling"),
        pytest.param({"observedGeneration": 1, "conditions": [_condition("Ready", "True")]}, "inProgress",
                     id="an-older-generation"),
        pytest.param({"observedGeneration": 2, "conditions": [_condition("Ready", "False", "SubnetNotFound"),
                      _condition("Stalled", "True", "SubnetNotFound")]}, "failed", id="stalled"),
        pytest.param({"observedGeneration": 2, "conditions": [_condition("Ready", "True", "Attached")]}, "current",
                     id="ready"),
        pytest.param({"observedGeneration": 2}, "inProgress", id="no-conditions"),
    ],
)
def test_flux_health_exprs_agree_with_kstatus(status: dict[str, Any], verdict: str) -> None:
    (kustomization,) = find(documents(FLUX), "Kustomization", "lambda-vpc-attachments-cel")
    (rules,) = kustomization["spec"]["healthCheckExprs"]
    obj = {"metadata": {"generation": 2}, "spec": {}, "status": status}
    assert _flux_verdict(rules, obj) == verdict
