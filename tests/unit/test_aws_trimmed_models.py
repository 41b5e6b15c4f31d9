"""The trimmed service models: what the operator loads instead of botocore's, and that they cannot drift."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import pytest

from lambda_vpc_operator.aws import clients, trimmed_models

AWS_PACKAGE = Path(trimmed_models.__file__).parent


def test_the_committed_models_are_the_pinned_botocore_trimmed() -> None:
    """Fails after a botocore upgrade (or a change of OPERATIONS) until the files are made again."""
    for relative, text in trimmed_models.generated().items():
        path = trimmed_models.DATA_PATH / relative
        assert path.exists() and path.read_text() == text, (
            f"{path} is stale: run `make trimmed-models`"
        )


def test_every_operation_the_aws_package_names_is_kept() -> None:
    """A new call (its operation's name, a string in aws/) without its model would fail only at run time."""
    full = botocore.loaders.Loader()
    known = {
        name
        for service in trimmed_models.OPERATIONS
        for name in full.load_service_model(service, "service-2")["operations"]
    }
    named = {
        node.value
        for path in AWS_PACKAGE.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known
    }
    kept = set().union(*trimmed_models.OPERATIONS.values())
    assert named, "no operation found: the scan is broken"
    assert named <= kept, f"named in aws/ but not trimmed_models.OPERATIONS: {sorted(named - kept)}"


@pytest.mark.parametrize("service", sorted(trimmed_models.OPERATIONS))
def test_the_operators_clients_load_the_trimmed_models(service: str) -> None:
    aws = clients.AwsClients("eu-west-1")
    client = {"lambda": aws.lambda_, "ec2": aws.ec2, "iam": aws.iam, "sts": aws.sts}[service]()
    assert set(client.meta.service_model.operation_names) == trimmed_models.OPERATIONS[service]


@pytest.mark.parametrize("service", sorted(trimmed_models.OPERATIONS))
def test_every_shape_a_kept_operation_reaches_is_there(service: str) -> None:
    """botocore resolves shapes lazily: walk each input and output to its leaves (a missing one raises)."""
    model = boto3.Session(botocore_session=trimmed_models.session()).client(
        service, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    ).meta.service_model
    for name in model.operation_names:
        operation = model.operation_model(name)
        for shape in (operation.input_shape, operation.output_shape, *operation.error_shapes):
            _walk(shape, set())


def _walk(shape: Any, seen: set[str]) -> None:
    if shape is None or shape.name in seen:
        return
    seen.add(shape.name)
    for member in getattr(shape, "members", {}).values():
        _walk(member, seen)
    for part in ("member", "key", "value"):
        _walk(getattr(shape, part, None), seen)


def test_trim_keeps_reachable_shapes_and_drops_only_documentation() -> None:
    model = {
        "version": "2.0",
        "metadata": {"serviceId": "Demo", "protocol": "rest-json"},
        "documentation": "the service",
        "operations": {
            "Get": {"name": "Get", "input": {"shape": "GetIn", "documentation": "in"}, "documentation": "gets",
                    "errors": [{"shape": "Oops"}]},
            "Put": {"name": "Put", "input": {"shape": "PutIn"}},
        },
        "shapes": {
            "GetIn": {"type": "structure", "members": {
                "documentation": {"shape": "Names", "documentation": "a member named documentation"},
                "Tags": {"shape": "TagMap"},
            }, "documentation": "input"},
            "Names": {"type": "list", "member": {"shape": "Name"}},
            "Name": {"type": "string", "max": 64},
            "TagMap": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Value"}},
            "Value": {"type": "string"},
            "Oops": {"type": "structure", "members": {}, "exception": True},
            "PutIn": {"type": "structure", "members": {}},
        },
    }  # fmt: skip
    trimmed = trimmed_models.trim(model, ["Get"])
    assert list(trimmed["operations"]) == ["Get"]
    assert set(trimmed["shapes"]) == {"GetIn", "Names", "Name", "TagMap", "Value", "Oops"}
    assert "documentation" not in trimmed and "documentation" not in trimmed["operations"]["Get"]
    assert trimmed["operations"]["Get"]["input"] == {"shape": "GetIn"}
    assert trimmed["shapes"]["GetIn"]["members"] == {"documentation": {"shape": "Names"}, "Tags": {"shape": "TagMap"}}
    assert trimmed["shapes"]["Name"] == {"type": "string", "max": 64}


def test_trim_refuses_an_operation_the_service_lacks() -> None:
    model = {"metadata": {"serviceId": "Demo"}, "operations": {}, "shapes": {}}
    with pytest.raises(KeyError, match="Nope"):
        trimmed_models.trim(model, ["Nope"])


def test_a_users_aws_data_path_still_applies_after_ours(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    paths = trimmed_models.session().get_component("data_loader").search_paths
    assert paths[:2] == [str(trimmed_models.DATA_PATH), str(tmp_path)]
