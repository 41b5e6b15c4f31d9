"""`plan`'s exit codes and output, `status`'s table, and the annotations that steer an attachment."""

from __future__ import annotations

import io
import json

from lambda_vpc_operator.commands import plans, statuses
from lambda_vpc_operator.handlers import controls


def result(**fields: object) -> plans.Result:
    return plans.Result("ns", "fn", "orders", **fields)  # type: ignore[arg-type]


def test_plan_exit_codes_are_for_ci() -> None:
    nothing, change = result(), result(writes=[{"operation": "UpdateFunctionConfiguration"}])
    error = result(errors=["SubnetNotFound (spec.subnetIds): ..."], writes=[{"operation": "TagResource"}])
    assert plans.exit_code([nothing]) == plans.NOTHING == 0
    assert plans.exit_code([nothing, change]) == plans.CHANGES == 2
    assert plans.exit_code([change, error]) == plans.ERRORS == 1  # an error wins: CI must not apply


def test_plan_text_names_the_diff_the_enis_and_the_writes() -> None:
    out = io.StringIO()
    plans.print_text([result(
        outcome="Update", policy="allowed",
        current={"state": "Active", "lastUpdateStatus": "Successful", "vpcId": None},
        subnets={"add": ["subnet-a", "subnet-b"], "remove": [], "keep": []},
        security_groups={"add": ["sg-1"], "remove": [], "keep": []},
        enis=[{"subnetId": "subnet-a", "action": "reuse", "networkInterfaceId": "eni-1", "status": "in-use"},
              {"subnetId": "subnet-b", "action": "create", "detail": "Lambda creates one"}],
        writes=[{"operation": "UpdateFunctionConfiguration", "FunctionName": "orders"}],
    )], out)  # fmt: skip
    text = out.getvalue()
    assert "subnets:    + subnet-a, subnet-b   - -   = -" in text
    assert "ENI subnet-a: reuse eni-1 (in-use)" in text and "ENI subnet-b: create Lambda creates one" in text
    assert 'would send  UpdateFunctionConfiguration {"FunctionName": "orders"}' in text
    assert text.endswith("Plan: 1 to change, 0 with errors, 0 unchanged.\n")


def test_status_row_counts_ready_enis_and_shows_the_last_reactivation() -> None:
    obj = {
        "metadata": {"namespace": "ns", "name": "fn"},
        "spec": {"functionName": "orders", "subnetIds": ["subnet-a", "subnet-b"]},
        "status": {
            "vpcId": "vpc-1", "state": "Active",
            "networkInterfaces": [{"subnetId": "subnet-a", "status": "in-use"}, {"subnetId": "subnet-b"}],
            "reactivation": {"lastAttemptTime": "2026-12-04T10:00:00Z", "lastResult": "Reactivated"},
            "conditions": [{"type": "Ready", "status": "False", "reason": "WaitingForNetworkInterfaces"}],
        },
    }  # fmt: skip
    row = statuses.row(obj)
    assert (row["enisReady"], row["subnets"], row["enis"]) == (1, 2, {"subnet-a": True, "subnet-b": False})
    header, line = statuses.table([row])
    assert header == statuses.COLUMNS
    assert line == ("ns", "fn", "orders", "vpc-1", "Active", "1/2", "2026-12-04T10:00:00Z Reactivated",
                    "Ready=False(WaitingForNetworkInterfaces)")  # fmt: skip
    assert json.dumps(row)  # -o json


def test_paused_means_the_string_true() -> None:
    assert controls.paused({controls.PAUSED_ANNOTATION: "true"})
    assert controls.paused({controls.PAUSED_ANNOTATION: " True "})
    assert not controls.paused({controls.PAUSED_ANNOTATION: "false"})
    assert not controls.paused({})


def test_a_reconcile_request_is_new_until_status_records_it() -> None:
    annotations = {controls.RECONCILE_ANNOTATION: "2026-12-04T10:00:00Z"}
    assert controls.reconcile_request(annotations, {}) == "2026-12-04T10:00:00Z"
    assert controls.reconcile_request(annotations, {controls.HANDLED_RECONCILE: "2026-12-04T10:00:00Z"}) is None
    assert controls.reconcile_request({}, {}) is None
