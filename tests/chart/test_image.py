"""The container image, as far as it can be tested without a container engine.

There is no Docker here, so: the Dockerfile is parsed and held to its promises (multi-stage, the
final stage installs only the wheel, no build tools, non-root uid 65532, the console script as
ENTRYPOINT), and the image's build is replayed in miniature: the builder's `pip wheel` of the
project and its dependencies, from the build context the Dockerfile sees (.dockerignore applied);
the final stage's offline install of those wheels alone into a clean virtualenv; and the
entrypoint's commands, run from it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile

import pytest

from shipping import ROOT

DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "clang", "cargo", "rustc", "python3-dev", "libc6-dev")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text()
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    parsed = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        parsed.append((keyword.upper(), rest.strip()))
    return parsed


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


def console_script() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (name,) = pyproject["project"]["scripts"]
    return str(name)


def test_multi_stage_from_slim_python() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE))
    for stage in all_stages:
        base = stage[0][1].split()[0]
        base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base), base
    assert " AS builder" in all_stages[0][0][1]


def test_builder_builds_the_wheel_with_pip_wheel() -> None:
    runs = " ".join(rest for keyword, rest in stages()[0] if keyword == "RUN")
    assert "pip wheel" in runs


def test_final_stage_installs_only_the_wheel_without_build_tools() -> None:
    final = stages()[-1]
    runs = " ".join(rest for keyword, rest in final if keyword == "RUN")
    copies = [rest for keyword, rest in final if keyword in ("COPY", "ADD")]
    assert "pip install" in runs
    assert "--no-index" in runs  # from the builder's wheels only, nothing fetched
    assert copies == []  # no source tree, no wheels left in a layer (they come from a bind mount)
    words = set(re.split(r"[\s;&|]+", runs))
    assert not [tool for tool in BUILD_TOOLS if tool in words]
    assert "apt-get" not in words


def test_final_stage_runs_as_uid_65532() -> None:
    final = stages()[-1]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] == "65532"
    # The uid the chart's securityContext names; an image running as root would fail runAsNonRoot.
    chart_values = (ROOT / "charts" / "lambda-vpc-operator" / "values.yaml").read_text()
    assert "runAsUser: 65532" in chart_values


def test_entrypoint_is_the_console_script_and_cmd_runs_the_operator() -> None:
    final = dict((keyword, rest) for keyword, rest in stages()[-1] if keyword in ("ENTRYPOINT", "CMD"))
    assert json.loads(final["ENTRYPOINT"]) == [console_script()]
    assert json.loads(final["CMD"]) == ["run"]


def test_dockerignore_keeps_only_the_build_inputs() -> None:
    context = build_context_files()
    tops = {path.parts[0] for path in context}
    assert tops == {"pyproject.toml", "README.md", "operator"}
    assert not [p for p in context if "__pycache__" in p.parts or p.suffix == ".pyc"]


def build_context_files() -> list[pathlib.Path]:
    """The files `docker build .` would send: .dockerignore's patterns applied, last match wins."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]

    def ignored(relative: str) -> bool:
        verdict = False
        parts = relative.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        for pattern in patterns:
            negate = pattern.startswith("!")
            body = pattern[1:] if negate else pattern
            body = body.rstrip("/")
            if body.startswith("**/"):
                matched = any(fnmatch.fnmatch(part, body[3:]) for part in parts)
            else:
                matched = any(fnmatch.fnmatch(prefix, body) for prefix in prefixes)
            if matched:
                verdict = not negate
        return verdict

    files = []
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".git", ".venv", ".tools") or not path.is_file():
            continue
        if not ignored(relative.as_posix()):
            files.append(relative)
    return files


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_wheel_installs_into_a_clean_venv_and_the_entrypoint_runs(tmp_path: pathlib.Path) -> None:
    # The Docker build context, copied: the wheel must build from it alone.
    context = tmp_path / "context"
    for relative in build_context_files():
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    # The builder stage: `pip wheel` of the project and of every dependency.
    wheels = tmp_path / "wheels"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels), str(context)],
        check=True, env=env, timeout=120,
    )  # fmt: skip
    (wheel,) = wheels.glob("lambda_vpc_operator-*.whl")
    # The operator alone: the emulator and the simulator are their own distribution (sandbox/).
    with zipfile.ZipFile(wheel) as archive:
        modules = {name: archive.read(name).decode() for name in archive.namelist() if name.endswith(".py")}
    assert "lambda_vpc_operator/cli.py" in modules
    assert not [name for name in modules if name.startswith(("lambda_vpc_operator/sandbox/", "lambda_vpc_sandbox/"))]
    sandbox_stack = re.compile(r"^\s*(?:from|import)\s+(?:moto|kmock|celpy|werkzeug)\b", re.MULTILINE)
    assert not [name for name, source in modules.items() if sandbox_stack.search(source)]
    assert not [p.name for p in wheels.iterdir() if p.suffix != ".whl"]  # nothing to compile in the image

    # The final stage: a clean Python, the wheels only (no index, no pip configuration of this machine).
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    python = target / "bin" / "python"
    offline = {**env, "PIP_CONFIG_FILE": os.devnull}
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", f"--find-links={wheels}", "lambda-vpc-operator"],
        check=True, env=offline, timeout=180,
    )  # fmt: skip

    entrypoint = target / "bin" / console_script()
    clean_env = {"PATH": f"{target / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    shown = subprocess.run([str(entrypoint), "--help"], capture_output=True, text=True, env=clean_env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "run" in shown.stdout and "crd" in shown.stdout
    run_help = subprocess.run([str(entrypoint), "run", "--help"], capture_output=True, text=True, env=clean_env)
    assert run_help.returncode == 0, run_help.stderr  # `CMD ["run"]` parses its options in the clean install
    printed = subprocess.run([str(entrypoint), "crd"], capture_output=True, text=True, env=clean_env, timeout=60)
    assert printed.returncode == 0, printed.stderr
    in_tree = subprocess.run([sys.executable, "-m", "lambda_vpc_operator", "crd"], capture_output=True, text=True)
    assert printed.stdout == in_tree.stdout, "the installed wheel prints other CRDs than the source tree"
    # Nothing of the sandbox's extras (moto, kmock) came along: the image stays lean.
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True)
    names = {item["name"].lower() for item in json.loads(installed.stdout)}
    assert not names & {"moto", "kmock", "pytest", "lambda-vpc-operator-sandbox"}
    # `sandbox` without the sandbox installed: a clear message naming the fix, not a traceback.
    sandbox = subprocess.run([str(entrypoint), "sandbox"], capture_output=True, text=True, env=clean_env, timeout=60)
    assert sandbox.returncode == 2, sandbox.stderr
    assert "separate distribution" in sandbox.stderr and "make sandbox" in sandbox.stderr
    assert "Traceback" not in sandbox.stderr
