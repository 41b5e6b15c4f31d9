"""Schema admission of custom resources in the Kubernetes emulator, pinned to kube-apiserver's behaviour.

Each test checks one behaviour of ``schemas.admit``: pruning, null handling, defaulting, and validation with
the paths, reasons and messages a real API server puts in the causes of a 422 (kube-openapi messages as
converted by apiextensions-apiserver).
"""

from __future__ import annotations

import copy
import pathlib
import time
from typing import Any

import pytest
import yaml

from lambda_vpc_sandbox.kube import schemas
from lambda_vpc_sandbox.kube.schemas import FieldError, admit

Obj = dict[str, Any]

# A realistic CRD schema, shaped like the operator's own LambdaVpcAttachment.
CRD_SCHEMA: Obj = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["functionName", "subnetIds"],
            "properties": {
                "functionName": {"type": "string", "minLength": 1, "maxLength": 140},
                "subnetIds": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 16,
                    "x-kubernetes-list-type": "set",
                    "items": {"type": "string", "pattern": "^subnet-[0-9a-z]+$"},
                },
                "deletionPolicy": {"type": "string", "enum": ["Detach", "Retain"], "default": "Detach"},
                "ipv6AllowedForDualStack": {"type": "boolean", "default": False},
                "region": {"type": "string", "nullable": True},
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "observedGeneration": {"type": "integer", "nullable": True},
                "conditions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "status"],
                        "properties": {
                            "type": {"type": "string"},
                            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                            "reason": {"type": "string"},
                            "message": {"type": "string", "default": ""},
                        },
                    },
                },
            },
        },
    },
}


def attachment(**spec: Any) -> Obj:
    """A valid resource of CRD_SCHEMA, with spec fields overridden (``...`` removes a field)."""
    body: Obj = {"functionName": "my-function", "subnetIds": ["subnet-a1", "subnet-b2"]}
    body.update(spec)
    return {
        "apiVersion": "lambdavpc.dev/v1alpha1",
        "kind": "LambdaVpcAttachment",
        "metadata": {"name": "my-attachment", "namespace": "default"},
        "spec": {k: v for k, v in body.items() if v is not ...},
    }


def triples(errors: list[FieldError]) -> list[tuple[str, str, str]]:
    return [(e.path, e.kind, e.message) for e in errors]


def single(schema: Obj, value: Any) -> list[tuple[str, str, str]]:
    """Errors of ``{"spec": {"x": value}}`` against a ``spec.x`` schema."""
    root = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": schema}}}}
    _, errors = admit({"metadata": {"name": "n"}, "spec": {"x": value}}, root)
    return triples(errors)


def admitted_spec(schema: Obj, spec: Any) -> Any:
    root = {"type": "object", "properties": {"spec": schema}}
    out, errors = admit({"metadata": {"name": "n"}, "spec": spec}, root)
    assert errors == []
    return out.get("spec", "<absent>")


# ---------------------------------------------------------------------------------------------------------
# FieldError
# ---------------------------------------------------------------------------------------------------------


def test_field_error_str_is_path_colon_message() -> None:
    error = FieldError("spec.functionName", "FieldValueRequired", "Required value")
    assert str(error) == "spec.functionName: Required value"


def test_field_error_is_frozen_and_hashable() -> None:
    error = FieldError("a", "FieldValueInvalid", "m")
    with pytest.raises(AttributeError):
        error.path = "b"  # type: ignore[misc]
    assert {error, FieldError("a", "FieldValueInvalid", "m")} == {error}


# ---------------------------------------------------------------------------------------------------------
# The realistic CRD
# ---------------------------------------------------------------------------------------------------------


def test_valid_resource_is_admitted_with_defaults() -> None:
    out, errors = admit(attachment(), CRD_SCHEMA)
    assert errors == []
    assert out["spec"] == {
        "functionName": "my-function",
        "subnetIds": ["subnet-a1", "subnet-b2"],
        "deletionPolicy": "Detach",
        "ipv6AllowedForDualStack": False,
    }


def test_explicit_values_win_over_defaults() -> None:
    out, _ = admit(attachment(deletionPolicy="Retain", ipv6AllowedForDualStack=True), CRD_SCHEMA)
    assert out["spec"]["deletionPolicy"] == "Retain"
    assert out["spec"]["ipv6AllowedForDualStack"] is True


def test_input_object_is_not_modified() -> None:
    obj = attachment(unknown=1)
    before = copy.deepcopy(obj)
    out, _ = admit(obj, CRD_SCHEMA)
    assert obj == before
    out["spec"]["subnetIds"].append("subnet-zz")
    assert obj == before


def test_type_meta_and_metadata_are_kept_verbatim() -> None:
    obj = attachment()
    obj["metadata"]["labels"] = {"app": "x"}
    obj["metadata"]["somethingUnknown"] = {"deep": [1]}
    out, _ = admit(obj, CRD_SCHEMA)
    assert out["apiVersion"] == "lambdavpc.dev/v1alpha1"
    assert out["kind"] == "LambdaVpcAttachment"
    assert out["metadata"] == obj["metadata"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"functionName": ...},
            [("spec.functionName", "FieldValueRequired", "Required value")],
            id="required-missing",
        ),
        pytest.param(
            {"functionName": ""},
            [
                (
                    "spec.functionName",
                    "FieldValueInvalid",
                    'Invalid value: "": spec.functionName in body should be at least 1 chars long',
                )
            ],
            id="min-length",
        ),
        pytest.param(
            {"functionName": "f" * 141},
            [("spec.functionName", "FieldValueTooLong", "Too long: may not be more than 140 bytes")],
            id="max-length",
        ),
        pytest.param(
            {"subnetIds": ["subnet-a", "foo"]},
            [
                (
                    "spec.subnetIds[1]",
                    "FieldValueInvalid",
                    "Invalid value: \"foo\": spec.subnetIds[1] in body should match '^subnet-[0-9a-z]+$'",
                )
            ],
            id="pattern",
        ),
        pytest.param(
            {"subnetIds": [f"subnet-{i}" for i in range(17)]},
            [("spec.subnetIds", "FieldValueTooMany", "Too many: 17: must have at most 16 items")],
            id="max-items",
        ),
        pytest.param(
            {"subnetIds": []},
            [
                (
                    "spec.subnetIds",
                    "FieldValueInvalid",
                    "Invalid value: 0: spec.subnetIds in body should have at least 1 items",
                )
            ],
            id="min-items",
        ),
        pytest.param(
            {"subnetIds": ["subnet-a", "subnet-b", "subnet-a"]},
            [("spec.subnetIds[2]", "FieldValueDuplicate", 'Duplicate value: "subnet-a"')],
            id="list-type-set-duplicate",
        ),
        pytest.param(
            {"deletionPolicy": "Delete"},
            [
                (
                    "spec.deletionPolicy",
                    "FieldValueNotSupported",
                    'Unsupported value: "Delete": supported values: "Detach", "Retain"',
                )
            ],
            id="enum",
        ),
        pytest.param(
            {"ipv6AllowedForDualStack": "yes"},
            [
                (
                    "spec.ipv6AllowedForDualStack",
                    "FieldValueTypeInvalid",
                    'Invalid value: "string": spec.ipv6AllowedForDualStack in body must be of type boolean: '
                    '"string"',
                )
            ],
            id="type",
        ),
    ],
)
def test_invalid_spec_is_reported_like_kube_apiserver(
    spec: Obj, expected: list[tuple[str, str, str]]
) -> None:
    _, errors = admit(attachment(**spec), CRD_SCHEMA)
    assert triples(errors) == expected


def test_missing_spec_is_required_at_the_root() -> None:
    obj = attachment()
    del obj["spec"]
    _, errors = admit(obj, CRD_SCHEMA)
    assert triples(errors) == [("spec", "FieldValueRequired", "Required value")]


def test_required_field_of_an_array_item_has_the_indexed_path() -> None:
    obj = attachment()
    obj["status"] = {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced"}]}
    _, errors = admit(obj, CRD_SCHEMA)
    assert triples(errors) == [("status.conditions[1].status", "FieldValueRequired", "Required value")]


def test_defaults_apply_inside_array_items() -> None:
    obj = attachment()
    obj["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    out, _ = admit(obj, CRD_SCHEMA)
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True", "message": ""}]


def test_all_errors_are_reported_in_a_stable_order() -> None:
    obj = attachment(functionName=..., subnetIds=["bad", "bad"], deletionPolicy="X")
    obj["metadata"]["name"] = "Not_A_Name"
    first = triples(admit(obj, CRD_SCHEMA)[1])
    assert [(path, kind) for path, kind, _ in first] == [
        ("metadata.name", "FieldValueInvalid"),
        ("spec.subnetIds[0]", "FieldValueInvalid"),
        ("spec.subnetIds[1]", "FieldValueInvalid"),
        ("spec.deletionPolicy", "FieldValueNotSupported"),
        ("spec.functionName", "FieldValueRequired"),
        ("spec.subnetIds[1]", "FieldValueDuplicate"),
    ]
    assert triples(admit(copy.deepcopy(obj), CRD_SCHEMA)[1]) == first


# ---------------------------------------------------------------------------------------------------------
# Pruning
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "spec", "expected"),
    [
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {"a": "x", "b": "y"},
            {"a": "x"},
            id="unknown-field",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"o": {"type": "object", "properties": {"a": {"type": "string"}}}},
            },
            {"o": {"a": "x", "deep": {"er": 1}}},
            {"o": {"a": "x"}},
            id="unknown-nested-field",
        ),
        pytest.param(
            {"type": "object", "properties": {"o": {"type": "object"}}},
            {"o": {"a": 1}},
            {"o": {}},
            id="object-without-properties-is-emptied",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "xs": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"a": {"type": "integer"}}},
                    }
                },
            },
            {"xs": [{"a": 1, "b": 2}, {"c": 3}]},
            {"xs": [{"a": 1}, {}]},
            id="unknown-field-in-array-items",
        ),
        pytest.param(
            {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
            {"k1": {"a": "x", "b": "y"}},
            {"k1": {"a": "x"}},
            id="additional-properties-values-are-pruned",
        ),
        pytest.param(
            {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            {"anything": {"goes": [1, {"x": None}]}},
            {"anything": {"goes": [1, {"x": None}]}},
            id="preserve-unknown-fields",
        ),
        pytest.param(
            {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}},
            },
            {"known": {"a": "x", "b": "pruned"}, "unknown": {"b": "kept"}},
            {"known": {"a": "x"}, "unknown": {"b": "kept"}},
            id="preserve-unknown-fields-still-prunes-known-fields",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "template": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": True,
                        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
                    }
                },
            },
            {
                "template": {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "x", "labels": {"a": "b"}},
                    "spec": {"a": "x", "b": "y"},
                    "data": {"k": "v"},
                }
            },
            {
                "template": {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "x", "labels": {"a": "b"}},
                    "spec": {"a": "x"},
                }
            },
            id="embedded-resource-keeps-type-meta-and-metadata",
        ),
    ],
)
def test_pruning(schema: Obj, spec: Obj, expected: Obj) -> None:
    assert admitted_spec(schema, spec) == expected


def test_unknown_top_level_fields_are_pruned() -> None:
    obj = attachment()
    obj["extra"] = {"x": 1}
    out, errors = admit(obj, CRD_SCHEMA)
    assert errors == []
    assert "extra" not in out


# ---------------------------------------------------------------------------------------------------------
# Nulls and defaulting
# ---------------------------------------------------------------------------------------------------------


def test_null_non_nullable_field_with_a_default_gets_the_default() -> None:
    out, errors = admit(attachment(deletionPolicy=None), CRD_SCHEMA)
    assert errors == []
    assert out["spec"]["deletionPolicy"] == "Detach"


def test_null_non_nullable_field_without_a_default_is_dropped() -> None:
    out, errors = admit(attachment(functionName=None), CRD_SCHEMA)
    assert "functionName" not in out["spec"]
    assert triples(errors) == [("spec.functionName", "FieldValueRequired", "Required value")]


def test_null_nullable_field_is_kept() -> None:
    out, errors = admit(attachment(region=None), CRD_SCHEMA)
    assert errors == []
    assert out["spec"]["region"] is None


def test_null_array_item_of_a_non_nullable_type_is_invalid() -> None:
    assert single({"type": "array", "items": {"type": "string"}}, ["a", None]) == [
        (
            "spec.x[1]",
            "FieldValueTypeInvalid",
            'Invalid value: "null": spec.x[1] in body must be of type string: "null"',
        )
    ]


def test_null_array_item_gets_the_item_default() -> None:
    schema = {
        "type": "object",
        "properties": {"xs": {"type": "array", "items": {"type": "string", "default": "d"}}},
    }
    assert admitted_spec(schema, {"xs": ["a", None]}) == {"xs": ["a", "d"]}


def test_null_array_item_of_a_nullable_type_is_kept() -> None:
    schema = {
        "type": "object",
        "properties": {"xs": {"type": "array", "items": {"type": "string", "nullable": True}}},
    }
    assert admitted_spec(schema, {"xs": [None]}) == {"xs": [None]}


NESTED_DEFAULTS: Obj = {
    "type": "object",
    "properties": {
        "plain": {"type": "object", "properties": {"a": {"type": "string", "default": "A"}}},
        "defaulted": {
            "type": "object",
            "default": {},
            "properties": {"b": {"type": "integer", "default": 2}},
        },
    },
}


def test_absent_object_without_default_is_not_created() -> None:
    assert "plain" not in admitted_spec(NESTED_DEFAULTS, {})


def test_absent_object_with_default_is_created_and_defaulted_inside() -> None:
    assert admitted_spec(NESTED_DEFAULTS, {})["defaulted"] == {"b": 2}


def test_defaults_apply_inside_an_existing_object() -> None:
    assert admitted_spec(NESTED_DEFAULTS, {"plain": {}})["plain"] == {"a": "A"}


def test_default_values_are_copied_not_shared() -> None:
    schema: Obj = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}, "default": []}},
    }
    first = admitted_spec(schema, {})
    first["tags"].append("mutated")
    assert admitted_spec(schema, {}) == {"tags": []}
    assert schema["properties"]["tags"]["default"] == []


def test_defaults_are_validated_like_user_values() -> None:
    schema = {"type": "string", "default": "bad", "pattern": "^good$"}
    root = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": schema}}}}
    out, errors = admit({"metadata": {"name": "n"}, "spec": {}}, root)
    assert out["spec"] == {"x": "bad"}
    assert [e.path for e in errors] == ["spec.x"]


# ---------------------------------------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------------------------------------


def type_error(found: str, expected: str) -> list[tuple[str, str, str]]:
    message = f'Invalid value: "{found}": spec.x in body must be of type {expected}: "{found}"'
    return [("spec.x", "FieldValueTypeInvalid", message)]


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param({"type": "integer"}, 3, [], id="integer-accepts-int"),
        pytest.param({"type": "integer"}, 3.0, [], id="integer-accepts-integral-float"),
        pytest.param(
            {"type": "integer"}, 3.5, type_error("number", "integer"), id="integer-rejects-fraction"
        ),
        pytest.param({"type": "integer"}, "3", type_error("string", "integer"), id="integer-rejects-string"),
        pytest.param({"type": "integer"}, True, type_error("boolean", "integer"), id="integer-rejects-bool"),
        pytest.param({"type": "number"}, 3, [], id="number-accepts-int"),
        pytest.param({"type": "number"}, 3.5, [], id="number-accepts-float"),
        pytest.param({"type": "string"}, 5, type_error("integer", "string"), id="string-rejects-int"),
        pytest.param({"type": "boolean"}, 0, type_error("integer", "boolean"), id="boolean-rejects-int"),
        pytest.param({"type": "array"}, {}, type_error("object", "array"), id="array-rejects-object"),
        pytest.param({"type": "object"}, [], type_error("array", "object"), id="object-rejects-array"),
        pytest.param({"x-kubernetes-int-or-string": True}, 80, [], id="int-or-string-accepts-int"),
        pytest.param({"x-kubernetes-int-or-string": True}, "http", [], id="int-or-string-accepts-string"),
        pytest.param(
            {"x-kubernetes-int-or-string": True},
            1.5,
            type_error("number", "integer,string"),
            id="int-or-string-rejects-float",
        ),
        pytest.param({"x-kubernetes-preserve-unknown-fields": True}, 1.5, [], id="untyped-accepts-anything"),
    ],
)
def test_types(schema: Obj, value: Any, expected: list[tuple[str, str, str]]) -> None:
    assert single(schema, value) == expected


# ---------------------------------------------------------------------------------------------------------
# Strings, numbers, arrays, objects, enums, formats
# ---------------------------------------------------------------------------------------------------------


def invalid(value: str, detail: str) -> list[tuple[str, str, str]]:
    return [("spec.x", "FieldValueInvalid", f"Invalid value: {value}: spec.x in body {detail}")]


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param({"type": "string", "maxLength": 3}, "abc", [], id="max-length-ok"),
        pytest.param(
            {"type": "string", "maxLength": 3},
            "abcd",
            [("spec.x", "FieldValueTooLong", "Too long: may not be more than 3 bytes")],
            id="max-length-exceeded",
        ),
        pytest.param({"type": "string", "maxLength": 3}, "ééé", [], id="length-counts-runes-not-bytes"),
        pytest.param(
            {"type": "string", "minLength": 2},
            "a",
            invalid('"a"', "should be at least 2 chars long"),
            id="min-length",
        ),
        pytest.param(
            {"type": "string", "maxLength": 1, "minLength": 5, "pattern": "^z"},
            "abc",
            [("spec.x", "FieldValueTooLong", "Too long: may not be more than 1 byte")],
            id="first-string-failure-only",
        ),
        pytest.param({"type": "string", "pattern": "b"}, "abc", [], id="pattern-is-unanchored"),
        pytest.param(
            {"type": "string", "pattern": "^a$"},
            "a\n",
            invalid('"a\\n"', "should match '^a$'"),
            id="pattern-dollar-is-end-of-text",
        ),
        pytest.param(
            {"type": "string", "pattern": r"^\d+$"},
            "١٢",
            invalid('"١٢"', "should match '^\\d+$'"),
            id="pattern-digit-class-is-ascii",
        ),
        pytest.param({"type": "string", "pattern": "^[[:alpha:]]+$"}, "abC", [], id="pattern-posix-class"),
        pytest.param({"type": "string", "pattern": r"^a\z"}, "a", [], id="pattern-backslash-z"),
    ],
)
def test_strings(schema: Obj, value: Any, expected: list[tuple[str, str, str]]) -> None:
    assert single(schema, value) == expected


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param({"type": "integer", "minimum": 1}, 1, [], id="minimum-inclusive-ok"),
        pytest.param(
            {"type": "integer", "minimum": 1},
            0,
            invalid("0", "should be greater than or equal to 1"),
            id="minimum",
        ),
        pytest.param(
            {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
            1,
            invalid("1", "should be greater than 1"),
            id="exclusive-minimum",
        ),
        pytest.param(
            {"type": "integer", "maximum": 10},
            11,
            invalid("11", "should be less than or equal to 10"),
            id="maximum",
        ),
        pytest.param(
            {"type": "integer", "maximum": 10, "exclusiveMaximum": True},
            10,
            invalid("10", "should be less than 10"),
            id="exclusive-maximum",
        ),
        pytest.param(
            {"type": "number", "maximum": 1.5},
            2.5,
            invalid("2.5", "should be less than or equal to 1.5"),
            id="maximum-float",
        ),
        pytest.param(
            {"type": "number", "maximum": 1000000},
            1234567.5,
            invalid("1.2345675e+06", "should be less than or equal to 1e+06"),
            id="floats-print-like-go",
        ),
        pytest.param(
            {"type": "integer", "multipleOf": 5},
            7,
            invalid("7", "should be a multiple of 5"),
            id="multiple-of",
        ),
        pytest.param({"type": "number", "multipleOf": 0.5}, 1.5, [], id="multiple-of-float-ok"),
        pytest.param(
            {"type": "number", "multipleOf": 0.5},
            1.25,
            invalid("1.25", "should be a multiple of 0.5"),
            id="multiple-of-float",
        ),
        pytest.param({"type": "integer", "format": "int32"}, 2**40, [], id="int32-is-not-range-checked"),
    ],
)
def test_numbers(schema: Obj, value: Any, expected: list[tuple[str, str, str]]) -> None:
    assert single(schema, value) == expected


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param(
            {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
            [1, 2, 1],
            invalid('""', "shouldn't contain duplicates"),
            id="unique-items",
        ),
        pytest.param(
            {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            ["a", "b", "c"],
            [("spec.x", "FieldValueTooMany", "Too many: 3: must have at most 2 items")],
            id="max-items",
        ),
        pytest.param(
            {"type": "object", "minProperties": 2, "additionalProperties": {"type": "string"}},
            {"a": "1"},
            invalid("1", "should have at least 2 properties"),
            id="min-properties",
        ),
        pytest.param(
            {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
            {"a": "1", "b": "2"},
            [("spec.x", "FieldValueTooMany", "Too many: 2: must have at most 1 item")],
            id="max-properties",
        ),
        pytest.param(
            {"type": "object", "additionalProperties": {"type": "string", "maxLength": 1}},
            {"ok": "a", "key": "long"},
            [("spec.x.key", "FieldValueTooLong", "Too long: may not be more than 1 byte")],
            id="additional-properties-schema-path",
        ),
        pytest.param(
            {
                "type": "object",
                "required": ["b", "a"],
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            },
            {},
            [
                ("spec.x.b", "FieldValueRequired", "Required value"),
                ("spec.x.a", "FieldValueRequired", "Required value"),
            ],
            id="required-in-declared-order",
        ),
    ],
)
def test_arrays_and_objects(schema: Obj, value: Any, expected: list[tuple[str, str, str]]) -> None:
    assert single(schema, value) == expected


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param({"type": "integer", "enum": [1, 2]}, 2.0, [], id="numbers-compare-numerically"),
        pytest.param(
            {"type": "integer", "enum": [1, 2]},
            3,
            [("spec.x", "FieldValueNotSupported", 'Unsupported value: 3: supported values: "1", "2"')],
            id="non-string-values-are-json",
        ),
        pytest.param(
            {"type": "boolean", "enum": [True]},
            False,
            [("spec.x", "FieldValueNotSupported", 'Unsupported value: false: supported values: "true"')],
            id="booleans",
        ),
        pytest.param(
            {"x-kubernetes-int-or-string": True, "enum": [1, "1"]},
            True,
            [
                *type_error("boolean", "integer,string"),
                ("spec.x", "FieldValueNotSupported", 'Unsupported value: true: supported values: "1", "1"'),
            ],
            id="true-is-not-one-and-every-error-is-reported",
        ),
    ],
)
def test_enums(schema: Obj, value: Any, expected: list[tuple[str, str, str]]) -> None:
    assert single(schema, value) == expected


@pytest.mark.parametrize(
    ("fmt", "value", "valid"),
    [
        pytest.param("date-time", "2024-05-01T10:20:30Z", True, id="date-time"),
        pytest.param("date-time", "2024-05-01T10:20:30.123+02:00", True, id="date-time-fraction-offset"),
        pytest.param("date-time", "2024-05-01 10:20:30Z", False, id="date-time-needs-t"),
        pytest.param("date-time", "2024-05-01T10:20:30", False, id="date-time-needs-zone"),
        pytest.param("date-time", "2024-02-30T10:20:30Z", False, id="date-time-checks-the-day"),
        pytest.param("date", "2024-02-29", True, id="date"),
        pytest.param("date", "2023-02-29", False, id="date-not-leap"),
        pytest.param("uuid", "123e4567-e89b-12d3-a456-426614174000", True, id="uuid"),
        pytest.param("uuid", "nope", False, id="uuid-invalid"),
        pytest.param("ipv4", "10.0.0.1", True, id="ipv4"),
        pytest.param("ipv4", "10.0.0.256", False, id="ipv4-invalid"),
        pytest.param("cidr", "10.0.0.0/16", True, id="cidr"),
        pytest.param("cidr", "10.0.0.0", False, id="cidr-needs-prefix"),
        pytest.param("byte", "aGVsbG8=", True, id="byte"),
        pytest.param("byte", "not base64!", False, id="byte-invalid"),
        pytest.param("hostname", "example.com", True, id="hostname"),
        pytest.param("hostname", "-bad-", False, id="hostname-invalid"),
        pytest.param("int32", "not checked", True, id="int32-ignored-on-strings"),
        pytest.param("my-own-format", "anything", True, id="unknown-format-ignored"),
    ],
)
def test_formats(fmt: str, value: str, valid: bool) -> None:
    errors = single({"type": "string", "format": fmt}, value)
    if valid:
        assert errors == []
    else:
        message = f'Invalid value: "{value}": spec.x in body must be of type {fmt}: "{value}"'
        assert errors == [("spec.x", "FieldValueTypeInvalid", message)]


# ---------------------------------------------------------------------------------------------------------
# x-kubernetes-list-type
# ---------------------------------------------------------------------------------------------------------

LIST_MAP: Obj = {
    "type": "array",
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
    "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}},
}


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param(
            {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            ["a", "a", "a", "b", "b"],
            [
                ("spec.x[1]", "FieldValueDuplicate", 'Duplicate value: "a"'),
                ("spec.x[4]", "FieldValueDuplicate", 'Duplicate value: "b"'),
            ],
            id="set-reports-each-repeated-value-once",
        ),
        pytest.param(
            {"type": "array", "x-kubernetes-list-type": "set", "items": {"x-kubernetes-int-or-string": True}},
            [1, "1"],
            [],
            id="set-distinguishes-types",
        ),
        pytest.param(
            {
                "type": "array",
                "x-kubernetes-list-type": "set",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
            [{"a": 1}, {"a": 1}],
            [("spec.x[1]", "FieldValueDuplicate", 'Duplicate value: map[string]interface {}{"a":1}')],
            id="set-of-objects",
        ),
        pytest.param(
            LIST_MAP,
            [{"name": "a", "v": 1}, {"name": "b"}, {"name": "a", "v": 2}],
            [("spec.x[2]", "FieldValueDuplicate", 'Duplicate value: map[string]interface {}{"name":"a"}')],
            id="map-duplicate-key",
        ),
        pytest.param(
            {**LIST_MAP, "x-kubernetes-list-map-keys": ["name", "v"]},
            [{"name": "a", "v": 1}, {"name": "a", "v": 2}, {"name": "a", "v": 1}],
            [
                (
                    "spec.x[2]",
                    "FieldValueDuplicate",
                    'Duplicate value: map[string]interface {}{"name":"a", "v":1}',
                )
            ],
            id="map-composite-key",
        ),
        pytest.param(
            {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "string"}},
            ["a", "a"],
            [],
            id="atomic-allows-duplicates",
        ),
    ],
)
def test_list_types(schema: Obj, value: Any, expected: list[tuple[str, str, str]]) -> None:
    assert single(schema, value) == expected


def test_list_type_errors_come_after_schema_errors() -> None:
    schema = {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string", "maxLength": 1}}
    assert [kind for _, kind, _ in single(schema, ["aa", "aa"])] == [
        "FieldValueTooLong",
        "FieldValueTooLong",
        "FieldValueDuplicate",
    ]


# ---------------------------------------------------------------------------------------------------------
# oneOf / anyOf / allOf / not
# ---------------------------------------------------------------------------------------------------------

EITHER: Obj = {
    "type": "object",
    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
}


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param(
            {**EITHER, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, {"a": "1"}, [], id="one-of-ok"
        ),
        pytest.param(
            {**EITHER, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
            {},
            [
                (
                    "<nil>",
                    "FieldValueInvalid",
                    'Invalid value: "": "spec.x" must validate one and only one schema (oneOf). '
                    "Found none valid",
                ),
                ("spec.x.a", "FieldValueRequired", "Required value"),
            ],
            id="one-of-none",
        ),
        pytest.param(
            {**EITHER, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
            {"a": "1", "b": "2"},
            [
                (
                    "<nil>",
                    "FieldValueInvalid",
                    'Invalid value: "": "spec.x" must validate one and only one schema (oneOf). '
                    "Found 2 valid alternatives",
                )
            ],
            id="one-of-two",
        ),
        pytest.param(
            {**EITHER, "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}, {"b": "2"}, [], id="any-of-ok"
        ),
        pytest.param(
            {**EITHER, "anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
            {},
            [
                (
                    "<nil>",
                    "FieldValueInvalid",
                    'Invalid value: "": "spec.x" must validate at least one schema (anyOf)',
                ),
                ("spec.x.a", "FieldValueRequired", "Required value"),
            ],
            id="any-of-none",
        ),
        pytest.param(
            {**EITHER, "allOf": [{"required": ["a"]}, {"required": ["b"]}]},
            {"a": "1"},
            [
                ("spec.x.b", "FieldValueRequired", "Required value"),
                (
                    "<nil>",
                    "FieldValueInvalid",
                    'Invalid value: "": "spec.x" must validate all the schemas (allOf)',
                ),
            ],
            id="all-of",
        ),
        pytest.param(
            {**EITHER, "not": {"required": ["a"]}},
            {"a": "1"},
            [
                (
                    "<nil>",
                    "FieldValueInvalid",
                    'Invalid value: "": "spec.x" must not validate the schema (not)',
                )
            ],
            id="not",
        ),
    ],
)
def test_logical_junctors(schema: Obj, value: Any, expected: list[tuple[str, str, str]]) -> None:
    assert single(schema, value) == expected


def test_identical_errors_are_reported_once() -> None:
    schema = {**EITHER, "allOf": [{"required": ["a"]}, {"required": ["a"]}]}
    assert single(schema, {}) == [
        ("spec.x.a", "FieldValueRequired", "Required value"),
        (
            "<nil>",
            "FieldValueInvalid",
            'Invalid value: "": "spec.x" must validate all the schemas (allOf). None validated',
        ),
    ]


# ---------------------------------------------------------------------------------------------------------
# Embedded resources, metadata, what is not evaluated
# ---------------------------------------------------------------------------------------------------------

EMBEDDED: Obj = {
    "type": "object",
    "x-kubernetes-embedded-resource": True,
    "x-kubernetes-preserve-unknown-fields": True,
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, [], id="complete"),
        pytest.param(
            {"metadata": {"name": "x"}},
            [
                ("spec.x.apiVersion", "FieldValueRequired", "Required value: must not be empty"),
                ("spec.x.kind", "FieldValueRequired", "Required value: must not be empty"),
            ],
            id="type-meta-required",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a/b"}},
            [("spec.x.metadata.name", "FieldValueInvalid", "Invalid value: \"a/b\": may not contain '/'")],
            id="metadata-name",
        ),
    ],
)
def test_embedded_resources(value: Obj, expected: list[tuple[str, str, str]]) -> None:
    assert single(EMBEDDED, value) == expected


DNS_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param({"name": "my.attachment-1"}, [], id="dns-subdomain"),
        pytest.param(
            {"name": "My_Attachment"},
            [("metadata.name", "FieldValueInvalid", f'Invalid value: "My_Attachment": {DNS_MESSAGE}')],
            id="invalid-name",
        ),
        pytest.param(
            {"name": "a" * 254},
            [
                (
                    "metadata.name",
                    "FieldValueInvalid",
                    f'Invalid value: "{"a" * 254}": must be no more than 253 characters',
                )
            ],
            id="name-too-long",
        ),
        pytest.param({"generateName": "attachment-"}, [], id="generate-name-with-trailing-dash"),
        pytest.param(
            {},
            [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")],
            id="no-name",
        ),
    ],
)
def test_resource_name(metadata: Obj, expected: list[tuple[str, str, str]]) -> None:
    obj = attachment()
    obj["metadata"] = metadata
    assert triples(admit(obj, CRD_SCHEMA)[1]) == expected


def test_cel_validation_rules_are_not_evaluated() -> None:
    schema = copy.deepcopy(CRD_SCHEMA)
    schema["properties"]["spec"]["x-kubernetes-validations"] = [{"rule": "false", "message": "never"}]
    assert admit(attachment(), schema)[1] == []


def test_metadata_constraints_of_the_schema_are_validated() -> None:
    schema = copy.deepcopy(CRD_SCHEMA)
    schema["properties"]["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 5}},
    }
    assert triples(admit(attachment(), schema)[1]) == [
        ("metadata.name", "FieldValueTooLong", "Too long: may not be more than 5 bytes")
    ]


# ---------------------------------------------------------------------------------------------------------
# Helpers with Go semantics
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(0.5, "0.5", id="fraction"),
        pytest.param(100.0, "100", id="integral"),
        pytest.param(123456.0, "123456", id="six-digits"),
        pytest.param(1e6, "1e+06", id="exponent-from-seven-digits"),
        pytest.param(1.5e-5, "1.5e-05", id="small"),
        pytest.param(-2.25, "-2.25", id="negative"),
    ],
)
def test_go_float(value: float, text: str) -> None:
    assert schemas.go_float(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param({"b": 1, "a": [True, None]}, '{"a":[true,null],"b":1}', id="sorted-keys"),
        pytest.param(1e6, "1000000", id="float-fixed"),
        pytest.param(1e21, "1e+21", id="float-exponent"),
        pytest.param(1e-7, "1e-7", id="float-small"),
        pytest.param("<&>", '"\\u003c\\u0026\\u003e"', id="html-escaped"),
    ],
)
def test_go_json(value: Any, text: str) -> None:
    assert schemas.go_json(value) == text


# ---------------------------------------------------------------------------------------------------------
# The project's CRD, and speed
# ---------------------------------------------------------------------------------------------------------

CRD_FILE = pathlib.Path(__file__).resolve().parents[2] / "crds" / "lambdavpcattachments.yaml"


def project_schema() -> Obj:
    if not CRD_FILE.exists():
        pytest.skip("the project's CRD is not generated")
    crd = yaml.safe_load(CRD_FILE.read_text())
    schema: Obj = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_project_crd_admits_a_valid_attachment() -> None:
    obj = attachment(
        securityGroupIds=["sg-0123abcd"], functionName="arn:aws:lambda:eu-west-1:123456789012:function:f"
    )
    out, errors = admit(obj, project_schema())
    assert errors == []
    assert out["spec"]["deletionPolicy"] == "Detach"


def test_project_crd_rejects_duplicate_condition_types() -> None:
    obj = attachment(securityGroupIds=["sg-1"])
    condition = {
        "type": "Ready",
        "status": "True",
        "reason": "Ok",
        "lastTransitionTime": "2024-01-01T00:00:00Z",
    }
    obj["status"] = {"conditions": [condition, dict(condition)]}
    _, errors = admit(obj, project_schema())
    assert triples(errors) == [
        (
            "status.conditions[1]",
            "FieldValueDuplicate",
            'Duplicate value: map[string]interface {}{"type":"Ready"}',
        )
    ]


def test_thousands_of_admissions_are_fast() -> None:
    obj = attachment()
    obj["status"] = {"conditions": [{"type": t, "status": "True", "reason": "R"} for t in ("A", "B", "C")]}
    started = time.perf_counter()
    for _ in range(2000):
        admit(obj, CRD_SCHEMA)
    assert time.perf_counter() - started < 5.0
