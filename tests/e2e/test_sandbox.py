"""`lambda-vpc-operator sandbox --once`: the README's first command converges every example and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness import REPO

pytestmark = pytest.mark.e2e

TIMEOUT = 120.0


def test_sandbox_once_converges_the_examples(tmp_path: Path) -> None:
    # Run from the repository root, as `make sandbox` does, so that examples/kubectl is found.
    done = subprocess.run(
        [sys.executable, "-m", "lambda_vpc_operator", "sandbox", "--once", "--dir", str(tmp_path),
         "--timeout", str(TIMEOUT)],
        cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT + 60,
    )  # fmt: skip

    log = tmp_path / "operator.log"
    context = f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}\n" + (
        f"operator log:\n{log.read_text()[-4000:]}" if log.exists() else ""
    )
    assert done.returncode == 0, context
    assert "All attachments settled." in done.stdout, context
    # ... with the operator held to its IAM policy by the simulator, as in every e2e test.
    assert f"{REPO / 'docs' / 'iam-policy.json'} (enforced by the simulator)" in done.stdout, context
    assert (tmp_path / "kubeconfig").exists()
