"""botocore's service models cut down to the operations the operator calls, loaded instead of the full ones.

Why: a client parses its service's whole model, documentation included, and keeps it for the life of
the process. EC2's has 830 operations and costs a process about 17 MiB, Lambda's 11 MiB, IAM's
4 MiB (docs/benchmarks.md "Memory"), for the handful of operations we send. Trimming a loaded model
saves nothing (the full one was parsed first), so the trimmed models are files in ``botocore_data/``,
put first on the session's data path, where botocore looks before its own (its ``AWS_DATA_PATH``
mechanism). Endpoint rules, paginators and waiters still come from botocore's own files.

The files are made from the pinned botocore by ``make trimmed-models`` (``write``). A unit test makes
them again and fails when they differ, another when the ``aws`` package names an operation missing
here: neither a botocore upgrade nor a new call can drift silently.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session

DATA_PATH = Path(__file__).parent / "botocore_data"

# The operations the operator sends, per service (their IAM actions: docs/iam-policy.json).
OPERATIONS: Mapping[str, frozenset[str]] = {
    "lambda": frozenset({
        "GetFunction", "GetFunctionConfiguration", "Invoke", "ListAliases", "ListFunctions",
        "ListTags", "TagResource", "UntagResource", "UpdateFunctionConfiguration",
    }),
    "ec2": frozenset({
        "DescribeNetworkInterfaces", "DescribeRouteTables", "DescribeSecurityGroups", "DescribeSubnets",
        "DescribeVpcs",
    }),
    "iam": frozenset({"SimulatePrincipalPolicy"}),
    # AssumeRole is sent by botocore's refreshable credentials (aws.accounts), from this session's model.
    "sts": frozenset({"AssumeRole", "GetCallerIdentity"}),
}  # fmt: skip

# Only read to make docstrings; dropping them is most of the saving.
_DOCUMENTATION = frozenset({"documentation", "documentationUrl"})


def session() -> botocore.session.Session:
    """A botocore session whose clients load the trimmed models (AWS_DATA_PATH, if set, comes after)."""
    new = botocore.session.Session()
    user_paths = new.get_config_variable("data_path")
    new.set_config_variable("data_path", os.pathsep.join(filter(None, [str(DATA_PATH), user_paths])))
    return new


def trim(model: Mapping[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """The model with only ``operations`` and the shapes they reach, without documentation."""
    wanted = sorted(operations)
    missing = [name for name in wanted if name not in model["operations"]]
    if missing:
        raise KeyError(f"not operations of {model['metadata'].get('serviceId')}: {', '.join(missing)}")
    kept_operations = {name: _undocumented_operation(model["operations"][name]) for name in wanted}
    shapes: dict[str, Any] = {}
    pending = [ref for operation in kept_operations.values() for ref in _operation_shapes(operation)]
    while pending:
        name = pending.pop()
        if name in shapes:
            continue
        shape = _undocumented_shape(model["shapes"][name])
        shapes[name] = shape
        pending.extend(_shape_references(shape))
    trimmed = {key: value for key, value in model.items() if key not in {"operations", "shapes", *_DOCUMENTATION}}
    trimmed["operations"] = kept_operations
    trimmed["shapes"] = dict(sorted(shapes.items()))
    return trimmed


def _operation_shapes(operation: Mapping[str, Any]) -> list[str]:
    refs = [operation[part]["shape"] for part in ("input", "output") if part in operation]
    return refs + [error["shape"] for error in operation.get("errors", ())]


def _shape_references(shape: Mapping[str, Any]) -> list[str]:
    refs = [member["shape"] for member in shape.get("members", {}).values()]
    return refs + [shape[part]["shape"] for part in ("member", "key", "value") if part in shape]


def _undocumented(part: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in part.items() if key not in _DOCUMENTATION}


def _undocumented_operation(operation: Mapping[str, Any]) -> dict[str, Any]:
    kept = _undocumented(operation)
    for part in ("input", "output"):
        if part in kept:
            kept[part] = _undocumented(kept[part])
    if "errors" in kept:
        kept["errors"] = [_undocumented(error) for error in kept["errors"]]
    return kept


def _undocumented_shape(shape: Mapping[str, Any]) -> dict[str, Any]:
    """Documentation dropped where botocore puts it (a member may be named anything, even "documentation")."""
    kept = _undocumented(shape)
    if "members" in kept:
        kept["members"] = {name: _undocumented(member) for name, member in kept["members"].items()}
    for part in ("member", "key", "value"):
        if part in kept:
            kept[part] = _undocumented(kept[part])
    return kept


def generated() -> dict[Path, str]:
    """The files ``botocore_data/`` should hold, made from the installed botocore's full models."""
    # botocore's own data only: never ours, nor the user's ~/.aws/models.
    full = botocore.loaders.Loader(
        extra_search_paths=[botocore.loaders.Loader.BUILTIN_DATA_PATH], include_default_search_paths=False
    )
    files: dict[Path, str] = {}
    for service, operations in OPERATIONS.items():
        version = full.determine_latest_version(service, "service-2")
        model = full.load_service_model(service, "service-2", version)
        text = json.dumps(trim(model, operations), indent=1, sort_keys=False) + "\n"
        files[Path(service) / version / "service-2.json"] = text
    return files


def write(root: Path = DATA_PATH) -> list[Path]:
    written = []
    for relative, text in generated().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
