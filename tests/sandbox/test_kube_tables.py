"""``kubectl get`` tables and JSONPath lookups of the Kubernetes emulator, pinned to kube-apiserver's.

``tables.render_table`` must build the ``meta.k8s.io/v1`` Table the CRD table convertor builds (columns,
cells typed like ``cellForJSONValue``, ages like ``duration.HumanDuration``), and ``jsonpaths.evaluate``
must read printer-column paths the way client-go's JSONPath does.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from lambda_vpc_sandbox.kube import jsonpaths, tables
from lambda_vpc_sandbox.kube.tables import human_age, render_table

Obj = dict[str, Any]

NOW = datetime.datetime(2024, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)

COLUMNS: list[Obj] = [
    {"name": "Function", "type": "string", "jsonPath": ".spec.functionName"},
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {
        "name": "Reason",
        "type": "string",
        "priority": 1,
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def resource(name: str = "a1", created: str = "2024-06-01T11:55:00Z", **status: Any) -> Obj:
    return {
        "apiVersion": "lambdavpc.dev/v1alpha1",
        "kind": "LambdaVpcAttachment",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": created, "uid": "u-1"},
        "spec": {"functionName": "fn", "subnetIds": ["subnet-a", "subnet-b"], "replicas": 3, "ratio": 0.25},
        "status": status,
    }


def cells_of(column: Obj, obj: Obj) -> list[Any]:
    table = render_table([obj], [column], now=NOW)
    cells: list[Any] = table["rows"][0]["cells"]
    return cells[1:]


# ---------------------------------------------------------------------------------------------------------
# human_age
# ---------------------------------------------------------------------------------------------------------

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(45, "45s", id="seconds"),
        pytest.param(119.9, "119s", id="seconds-below-two-minutes"),
        pytest.param(2 * MINUTE, "2m", id="two-minutes"),
        pytest.param(2 * MINUTE + 30, "2m30s", id="minutes-and-seconds"),
        pytest.param(10 * MINUTE - 1, "9m59s", id="below-ten-minutes"),
        pytest.param(10 * MINUTE + 30, "10m", id="ten-minutes-drops-seconds"),
        pytest.param(3 * HOUR - 1, "179m", id="minutes-below-three-hours"),
        pytest.param(3 * HOUR, "3h", id="three-hours"),
        pytest.param(3 * HOUR + 30 * MINUTE, "3h30m", id="hours-and-minutes"),
        pytest.param(8 * HOUR + 30 * MINUTE, "8h", id="eight-hours-drops-minutes"),
        pytest.param(48 * HOUR - 1, "47h", id="hours-below-two-days"),
        pytest.param(2 * DAY, "2d", id="two-days"),
        pytest.param(2 * DAY + 5 * HOUR, "2d5h", id="days-and-hours"),
        pytest.param(8 * DAY + 5 * HOUR, "8d", id="eight-days-drops-hours"),
        pytest.param(2 * YEAR - DAY, "729d", id="days-below-two-years"),
        pytest.param(2 * YEAR, "2y", id="two-years"),
        pytest.param(2 * YEAR + 10 * DAY, "2y10d", id="years-and-days"),
        pytest.param(9 * YEAR + 10 * DAY, "9y", id="years"),
        pytest.param(-0.5, "0s", id="tiny-clock-skew"),
        pytest.param(-1.9, "0s", id="clock-skew-below-two-seconds"),
        pytest.param(-2, "<invalid>", id="future"),
    ],
)
def test_human_age(seconds: float, text: str) -> None:
    assert human_age(seconds) == text


# ---------------------------------------------------------------------------------------------------------
# The Table
# ---------------------------------------------------------------------------------------------------------


def test_table_envelope() -> None:
    table = render_table([], COLUMNS, now=NOW)
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": ""}
    assert table["rows"] == []


def test_name_column_comes_first() -> None:
    first = render_table([], COLUMNS, now=NOW)["columnDefinitions"][0]
    assert first == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": tables.NAME_DESCRIPTION,
        "priority": 0,
    }


def test_printer_columns_become_column_definitions() -> None:
    definitions = render_table([], COLUMNS, now=NOW)["columnDefinitions"][1:]
    assert [(d["name"], d["type"], d["format"], d["priority"]) for d in definitions] == [
        ("Function", "string", "", 0),
        ("Ready", "string", "", 0),
        ("Reason", "string", "", 1),
        ("Age", "date", "", 0),
    ]


def test_column_description_defaults_to_its_json_path() -> None:
    definition = render_table([], COLUMNS, now=NOW)["columnDefinitions"][1]
    assert (
        definition["description"]
        == "Custom resource definition column (in JSONPath format): .spec.functionName"
    )


def test_column_description_and_format_are_passed_through() -> None:
    column = {
        "name": "N",
        "type": "integer",
        "format": "int32",
        "description": "Count.",
        "jsonPath": ".spec.n",
    }
    definition = render_table([], [column], now=NOW)["columnDefinitions"][1]
    assert (definition["format"], definition["description"]) == ("int32", "Count.")


@pytest.mark.parametrize("columns", [pytest.param(None, id="none"), pytest.param([], id="empty")])
def test_resources_without_printer_columns_get_name_and_age(columns: list[Obj] | None) -> None:
    table = render_table([resource()], columns, now=NOW)
    assert [(d["name"], d["type"]) for d in table["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert table["columnDefinitions"][1]["description"] == tables.CREATION_TIMESTAMP_DESCRIPTION
    assert table["rows"][0]["cells"] == ["a1", "5m"]


def test_rows_follow_the_objects() -> None:
    ready = {"type": "Ready", "status": "False", "reason": "SubnetNotFound"}
    table = render_table([resource("a1", conditions=[ready]), resource("a2")], COLUMNS, now=NOW)
    assert [row["cells"] for row in table["rows"]] == [
        ["a1", "fn", "False", "SubnetNotFound", "5m"],
        ["a2", "fn", None, None, "5m"],
    ]


def test_row_object_is_partial_object_metadata() -> None:
    obj = resource()
    row = render_table([obj], COLUMNS, now=NOW)["rows"][0]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }
    assert row["object"]["metadata"] is not obj["metadata"]


def test_filter_picks_the_matching_condition() -> None:
    conditions = [{"type": "Synced", "status": "True"}, {"type": "Ready", "status": "Unknown"}]
    column = {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}
    assert cells_of(column, resource(conditions=conditions)) == ["Unknown"]


@pytest.mark.parametrize(
    ("column_type", "json_path", "cell"),
    [
        pytest.param("string", ".spec.functionName", "fn", id="string"),
        pytest.param("string", ".spec.replicas", "3", id="string-of-integer"),
        pytest.param("string", ".spec.ratio", "0.25", id="string-of-float"),
        pytest.param("string", ".status.ok", "true", id="string-of-boolean"),
        pytest.param("string", ".spec.subnetIds", '["subnet-a","subnet-b"]', id="string-of-array-is-json"),
        pytest.param("string", ".spec.subnetIds[*]", "subnet-a", id="only-the-first-result"),
        pytest.param("string", ".spec.missing", None, id="missing"),
        pytest.param("string", ".status.nothing", None, id="null"),
        pytest.param("integer", ".spec.replicas", 3, id="integer"),
        pytest.param("integer", ".spec.ratio", 0, id="integer-truncates"),
        pytest.param("integer", ".spec.functionName", None, id="integer-of-string"),
        pytest.param("integer", ".status.ok", None, id="integer-of-boolean"),
        pytest.param("number", ".spec.replicas", 3.0, id="number-widens"),
        pytest.param("boolean", ".status.ok", True, id="boolean"),
        pytest.param("boolean", ".spec.functionName", None, id="boolean-of-string"),
        pytest.param("date", ".metadata.creationTimestamp", "5m", id="date"),
        pytest.param("date", ".status.when", "<invalid>", id="date-unparseable"),
        pytest.param("date", ".status.empty", "<unknown>", id="date-empty"),
        pytest.param("date", ".spec.replicas", None, id="date-of-integer"),
        pytest.param("object", ".spec", None, id="unknown-type"),
        pytest.param("string", ".spec[", None, id="malformed-path"),
    ],
)
def test_cells(column_type: str, json_path: str, cell: Any) -> None:
    obj = resource(ok=True, nothing=None, when="yesterday", empty="")
    assert cells_of({"name": "C", "type": column_type, "jsonPath": json_path}, obj) == [cell]


@pytest.mark.parametrize(
    ("created", "age"),
    [
        pytest.param("2024-06-01T11:59:15Z", "45s", id="seconds"),
        pytest.param("2024-06-01T09:00:00Z", "3h", id="hours"),
        pytest.param("2024-05-30T07:00:00Z", "2d5h", id="days-and-hours"),
        pytest.param("2024-06-01T13:55:00+02:00", "5m", id="offset"),
        pytest.param("2024-06-01T11:55:00.123456Z", "4m59s", id="fraction"),
        pytest.param("2024-06-01T12:00:10Z", "<invalid>", id="in-the-future"),
        pytest.param("0001-01-01T00:00:00Z", "<unknown>", id="zero-time"),
        pytest.param("2024-06-01 11:55:00Z", "<invalid>", id="not-rfc3339"),
    ],
)
def test_date_cells(created: str, age: str) -> None:
    column = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    assert cells_of(column, resource(created=created)) == [age]


def test_naive_now_is_utc() -> None:
    column = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    table = render_table([resource()], [column], now=NOW.replace(tzinfo=None))
    assert table["rows"][0]["cells"][1] == "5m"


def test_now_defaults_to_the_current_time() -> None:
    created = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=3)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    table = render_table([resource(created=created)], None)
    assert table["rows"][0]["cells"][1] in ("3m", "3m1s")


# ---------------------------------------------------------------------------------------------------------
# JSONPath
# ---------------------------------------------------------------------------------------------------------

DOC: Obj = {
    "metadata": {"name": "x", "annotations": {"example.com/key": "v"}},
    "spec": {"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}, {"name": "c", "n": 3}], "flag": False},
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Ok"},
            {"type": "Synced", "status": "False", "reason": "Drift"},
        ],
        "empty": None,
    },
}


@pytest.mark.parametrize(
    ("path", "values"),
    [
        pytest.param(".metadata.name", ["x"], id="field"),
        pytest.param("metadata.name", ["x"], id="no-leading-dot"),
        pytest.param("$.metadata.name", ["x"], id="dollar"),
        pytest.param("{.metadata.name}", ["x"], id="braces"),
        pytest.param("{$.metadata.name}", ["x"], id="braces-and-dollar"),
        pytest.param(".spec.items[0].name", ["a"], id="index"),
        pytest.param(".spec.items[-1].name", ["c"], id="negative-index"),
        pytest.param(".spec.items[*].name", ["a", "b", "c"], id="wildcard"),
        pytest.param(".spec.items.*.n", [1, 2, 3], id="dot-wildcard"),
        pytest.param(".spec.items[0:2].name", ["a", "b"], id="slice"),
        pytest.param(".spec.items[::2].name", ["a", "c"], id="slice-step"),
        pytest.param('.status.conditions[?(@.type=="Ready")].status', ["True"], id="filter-double-quotes"),
        pytest.param(".status.conditions[?(@.type=='Synced')].reason", ["Drift"], id="filter-single-quotes"),
        pytest.param('.status.conditions[?(@.type!="Ready")].type', ["Synced"], id="filter-not-equal"),
        pytest.param(".spec.items[?(@.n==2)].name", ["b"], id="filter-number"),
        pytest.param(".spec.items[?(@.n>1)].name", ["b", "c"], id="filter-greater"),
        pytest.param(".spec.items[?(@.n <= 1)].name", ["a"], id="filter-spaces"),
        pytest.param(".status.conditions[?(@.reason)].type", ["Ready", "Synced"], id="filter-exists"),
        pytest.param('.spec.items[?(@.n=="2")].name', [], id="filter-string-is-not-number"),
        pytest.param(".metadata.annotations.example\\.com/key", ["v"], id="escaped-dot"),
        pytest.param(".metadata.annotations['example.com/key']", ["v"], id="bracket-key"),
        pytest.param("..reason", ["Ok", "Drift"], id="recursive-descent"),
        pytest.param(".spec.flag", [False], id="false-value"),
        pytest.param(".status.empty", [None], id="null-value"),
        pytest.param(".status.missing", [], id="missing-key"),
        pytest.param(".spec.items[7].name", [], id="index-out-of-range"),
        pytest.param(".metadata.name.deeper", [], id="field-of-a-string"),
        pytest.param(".spec.flag[0]", [], id="index-of-a-non-list"),
    ],
)
def test_evaluate(path: str, values: list[Any]) -> None:
    assert jsonpaths.evaluate(DOC, path) == values


def test_evaluate_current_object() -> None:
    assert jsonpaths.evaluate(DOC, ".") == [DOC]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(".spec[", id="unterminated-bracket"),
        pytest.param(".spec[abc]", id="bad-subscript"),
        pytest.param(".spec[?@.a]", id="filter-without-parentheses"),
        pytest.param(".spec[?(@.a==nope)]", id="bad-literal"),
        pytest.param(".spec[::0]", id="zero-step"),
    ],
)
def test_malformed_paths_raise_value_error(path: str) -> None:
    with pytest.raises(ValueError, match="JSONPath"):
        jsonpaths.evaluate(DOC, path)
