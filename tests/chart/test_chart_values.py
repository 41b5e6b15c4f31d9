"""values.yaml and values.schema.json: every value documented, typed, strict, and understood by the CLI.

The schema is draft-07 with ``additionalProperties: false`` on every object (Helm 3 and 4 enforce
it on install, upgrade, template and lint); Kubernetes-typed values (resources, affinity, env, ...)
refer to copies of Kubernetes' own strict schemas, kept current by
deploy/values_schema_definitions.py. The operator flags the chart renders must parse with the
operator's real argument parser, and the defaults must be the CLI's defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from lambda_vpc_operator import cli
from lambda_vpc_operator.models.settings import (
    DEFAULT_ALIAS_INTERVAL,
    DEFAULT_LIFECYCLE_INTERVAL,
    DEFAULT_RESYNC_INTERVAL,
)
from shipping import CHART, ROOT, HelmFailed, find

Render = Callable[..., list[dict[str, Any]]]

# Flags the chart passes that the operator does not accept yet, and why they are already there.
# Remove an entry when the CLI gains the flag (test_rendered_args_parse_with_the_operator_cli
# then checks it for real).
PENDING_FLAGS = {
    "--priority=random": "replicas > 1 needs a different priority per pod; proposed CLI change (issue 6)",
    "--policy-mode": "tenant policy comes with issue 5",
    "--webhook-port": "the admission webhook server comes with issue 5 (preview in the chart)",
    "--webhook-cert": "the admission webhook server comes with issue 5 (preview in the chart)",
    "--webhook-key": "the admission webhook server comes with issue 5 (preview in the chart)",
}


def schema_nodes(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every sub-schema, with a path for messages."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key in ("properties", "definitions"):
                for name, sub in value.items():
                    yield from schema_nodes(sub, f"{path}.{key}.{name}")
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                yield from schema_nodes(value, f"{path}.{key}")
            elif key in ("oneOf", "anyOf", "allOf"):
                for i, sub in enumerate(value):
                    yield from schema_nodes(sub, f"{path}.{key}[{i}]")


Path = tuple[str, ...]


def chart_properties(schema: dict[str, Any], prefix: Path = ()) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The chart's own keys (not the inside of Kubernetes types), as paths."""
    for name, sub in schema.get("properties", {}).items():
        path = (*prefix, name)
        yield path, sub
        if "$ref" not in sub:
            yield from chart_properties(sub, path)


def values_keys(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(values, dict):
        for key, value in values.items():
            path = (*prefix, key)
            yield path
            yield from values_keys(value, path)


def test_schema_is_draft_07(values_schema: dict[str, Any]) -> None:
    assert values_schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(values_schema)


def test_every_object_refuses_unknown_keys(values_schema: dict[str, Any]) -> None:
    """additionalProperties false wherever properties are listed; maps must type their values."""
    loose = []
    for path, node in schema_nodes(values_schema):
        if path == "$" or "properties" in node:
            if node.get("additionalProperties") is not False:
                loose.append(path)
        elif "object" in (node.get("type") or ()) and not isinstance(node.get("additionalProperties"), dict):
            loose.append(path)
    assert loose == []


def test_every_chart_value_is_in_the_schema_with_a_description(
    values_schema: dict[str, Any], default_values: dict[str, Any]
) -> None:
    own = dict(chart_properties(values_schema))
    undescribed = [".".join(path) for path, sub in own.items() if not sub.get("description")]
    assert undescribed == []
    # The chart's own keys in values.yaml (not the inside of Kubernetes-typed values).
    in_values = {path for path in values_keys(default_values)
                 if all(path[:i] in own and "$ref" not in own[path[:i]] for i in range(1, len(path)))}  # fmt: skip
    assert in_values - set(own) == set()
    # Every schema key has its default in values.yaml, except inside an optional map left empty.
    optional = {path for path in own if path[:-1] in in_values and _at(default_values, path[:-1]) == {}}
    assert set(own) - in_values - optional == set()


def _at(values: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        values = values[key]
    return values


def test_defaults_satisfy_the_schema(values_schema: dict[str, Any], default_values: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(values_schema).validate(default_values)


def test_values_yaml_documents_every_key(values_schema: dict[str, Any]) -> None:
    """Each of the chart's own keys has a comment right above it (Kubernetes-typed contents excepted)."""
    own = dict(chart_properties(values_schema))
    stack: list[tuple[int, str]] = []
    previous = ""
    undocumented = []
    for line in (CHART / "values.yaml").read_text().splitlines():
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if match:
            indent = len(match.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match.group(2)))
            path = tuple(name for _, name in stack)
            if path in own and not previous.lstrip().startswith("#"):
                undocumented.append(".".join(path))
        if line.strip():
            previous = line
    assert undocumented == []


def test_install_guide_lists_every_value(values_schema: dict[str, Any]) -> None:
    """docs/install.md's values table names every value a user can set (down to the chart's own leaves)."""
    guide = (ROOT / "docs" / "install.md").read_text()
    own = dict(chart_properties(values_schema))
    leaves = [path for path, sub in own.items() if "$ref" in sub or not any(p[:-1] == path for p in own)]
    missing = [".".join(path) for path in leaves if f"| `{'.'.join(path)}` |" not in guide]
    assert missing == []


def test_kubernetes_definitions_are_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "values_schema_definitions.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"replicas": "abc"}, id="replicas-not-a-number"),
        pytest.param({"replicas": 0}, id="no-replicas"),
        pytest.param({"bogus": 1}, id="unknown-top-level-key"),
        pytest.param({"image": {"repository": "x", "tags": "1"}}, id="unknown-nested-key"),
        pytest.param({"logFormat": "xml"}, id="unknown-log-format"),
        pytest.param({"policyMode": "audit"}, id="unknown-policy-mode"),
        pytest.param({"roleCheck": "maybe"}, id="unknown-role-check"),
        pytest.param({"watchNamespaces": ["Team_A"]}, id="invalid-namespace"),
        pytest.param({"watchNamespaces": "team-a"}, id="namespaces-not-a-list"),
        pytest.param({"controlRate": 20}, id="control-rate-above-the-account-limit"),
        pytest.param({"ec2Rate": 25}, id="ec2-rate-above-the-refill"),
        pytest.param({"resyncInterval": 0}, id="resync-zero"),
        pytest.param({"region": "Europe"}, id="invalid-region"),
        pytest.param({"env": [{"name": "A", "valu": "typo"}]}, id="kubernetes-type-unknown-key"),
        pytest.param({"tolerations": [{"key": "k", "effect": 1}]}, id="kubernetes-type-wrong-type"),
        pytest.param({"resources": {"request": {"cpu": "1"}}}, id="resources-typo"),
        pytest.param({"serviceAccount": {"annotations": {"a": 1}}}, id="annotation-not-a-string"),
        pytest.param({"webhook": {"failurePolicy": "Maybe"}}, id="webhook-failure-policy"),
        pytest.param({"webhook": {"certManager": {"issuerRef": {"kind": "Vault", "name": "x"}}}}, id="issuer-kind"),
        pytest.param({"metrics": {"serviceMonitor": {"interval": "often"}}}, id="interval"),
    ],
)
def test_schema_rejects_bad_values(
    values_schema: dict[str, Any], default_values: dict[str, Any], values: dict[str, Any]
) -> None:
    merged = _merged(default_values, values)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(values_schema).validate(merged)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param(["replicas=abc"], "replicas: Invalid type. Expected: integer, given: string", id="type"),
        pytest.param(["unknown=1"], "Additional property unknown is not allowed", id="unknown-key"),
        pytest.param(["image.tags=1"], "Additional property tags is not allowed", id="unknown-nested-key"),
        pytest.param(["env[0].name=A", "env[0].valu=b"], "Additional property valu is not allowed", id="k8s-type"),
        pytest.param(["logFormat=xml"], "logFormat", id="enum"),
    ],
)
def test_helm_enforces_the_schema(render: Render, sets: list[str], message: str) -> None:
    with pytest.raises(HelmFailed, match=re.escape(message)):
        render(sets=sets)


def test_openshift_can_unset_the_fixed_uid(render: Render) -> None:
    """null removes a default key in Helm; the schema allows it where Kubernetes does."""
    manifests = render({"podSecurityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None},
                        "securityContext": {"runAsUser": None, "runAsGroup": None}})  # fmt: skip
    (deployment,) = find(manifests, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert "runAsUser" not in pod["securityContext"]
    assert "runAsUser" not in pod["containers"][0]["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_defaults_are_the_clis_defaults(default_values: dict[str, Any], values_schema: dict[str, Any]) -> None:
    run = _run_parser()
    defaults = run.parse_args([])
    assert default_values["resyncInterval"] == defaults.resync_interval == DEFAULT_RESYNC_INTERVAL
    assert default_values["lifecycleInterval"] == defaults.lifecycle_interval == DEFAULT_LIFECYCLE_INTERVAL
    assert default_values["aliasInterval"] == defaults.alias_interval == DEFAULT_ALIAS_INTERVAL
    assert default_values["controlRate"] == defaults.control_rate
    assert default_values["getFunctionRate"] == defaults.get_function_rate
    assert default_values["ec2Rate"] == defaults.ec2_rate
    (log_format,) = [action for action in run._actions if action.dest == "log_format"]
    assert log_format.choices is not None
    assert default_values["logFormat"] in log_format.choices
    policy_mode = [action for action in run._actions if action.dest == "policy_mode"]
    if policy_mode:  # issue 5
        assert default_values["policyMode"] == policy_mode[0].default
        assert set(values_schema["properties"]["policyMode"]["enum"]) == set(policy_mode[0].choices or ())
    (role_check,) = [action for action in run._actions if action.dest == "role_check"]
    assert default_values["roleCheck"] == role_check.default
    assert set(values_schema["properties"]["roleCheck"]["enum"]) == set(role_check.choices or ())


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="default"),
        pytest.param({"watchNamespaces": ["a", "b"], "region": "eu-west-1", "extraArgs": ["--verbose"]}, id="flags"),
        pytest.param({"replicas": 3}, id="ha"),
        pytest.param({"webhook": {"enabled": True}}, id="webhook"),
    ],
)
def test_rendered_args_parse_with_the_operator_cli(render: Render, values: dict[str, Any]) -> None:
    (deployment,) = find(render(values), "Deployment")
    args = [str(arg) for arg in deployment["spec"]["template"]["spec"]["containers"][0]["args"]]
    error = _parse_error(args)
    if error is None:
        return
    pending = [arg for arg in args if any(arg == flag or arg.startswith(f"{flag}=") for flag in PENDING_FLAGS)]
    assert pending, f"the operator CLI refuses the chart's arguments {args}: {error}"
    rest = [arg for arg in args if arg not in pending]
    still_failing = _parse_error(rest)
    assert still_failing is None, f"the operator CLI refuses the chart's arguments {args}: {still_failing}"
    refused = [arg for arg in pending if _parse_error([*rest, arg]) is not None]
    reasons = sorted({PENDING_FLAGS[_flag(arg)] for arg in refused})
    pytest.xfail(f"the CLI does not accept {refused} yet: {'; '.join(reasons)}")


def _flag(arg: str) -> str:
    return arg if arg in PENDING_FLAGS else arg.split("=", 1)[0]


def _run_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    run: argparse.ArgumentParser = subparsers.choices["run"]
    return run


def _parse_error(args: list[str]) -> str | None:
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            cli.build_parser().parse_args(args)
    except SystemExit:
        return stderr.getvalue().strip().splitlines()[-1]
    return None


def _merged(base: Any, override: Any) -> Any:
    """Helm's coalescing of user values over defaults (maps merge, everything else replaces)."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merged(base.get(key), value) if key in base else value
        return merged
    return override


def test_chart_and_operator_versions_agree() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()
    (version,) = re.findall(r'^version = "([^"]+)"', pyproject, flags=re.MULTILINE)
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == version
