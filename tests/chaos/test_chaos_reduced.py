"""The chaos run (tests/chaos/chaos_run.py) at a size CI affords: 30 attachments, 6 kills, AWS faults.

``make chaos`` runs the full size (docs/reliability.md holds its figures). This one proves the same
properties on every ``make test``: AWS ends up as the specs say, nothing unmanaged or partial is
written, status tells the truth, no finalizer is stuck, no look ends in a raw exception, and of two
peered replicas one acts at a time and the other takes over when it stops.
"""

from __future__ import annotations

import json
from pathlib import Path

import chaos_run
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.simulator]


@pytest.mark.timeout(420)
def test_reduced_chaos_run_keeps_every_promise(tmp_path: Path) -> None:
    settings = chaos_run.Settings(
        attachments=30, unmanaged=4, operations=60, kills=6, seed=7, ops_per_second=2.0,
        resync_interval=5.0, quiesce_timeout=150.0, takeovers=("SIGTERM",), workdir=tmp_path,
    )  # fmt: skip
    summary = chaos_run.run(settings)
    text = json.dumps(summary, indent=2, default=str)
    assert summary["quiesced"], text
    violations = {k: v for k, v in summary["checks"].items() if k.startswith("violations_") and v}
    assert not violations, text
    # The run did what it says: the kills, the faults and the operations happened.
    assert summary["kills"]["total"] == settings.kills, text
    assert summary["faults_injected_total"] > 0, text
    assert summary["operations_total"] >= settings.attachments + settings.operations, text
    assert summary["checks"]["aws_writes"]["accepted_changing_the_config"] > 0, text
    assert [t.get("seconds") is not None for t in summary["peering"]["takeovers"]] == [True], text
    assert summary["ok"], text
