"""Keep the Kubernetes types in the chart's values.schema.json equal to Kubernetes' own schemas.

Values such as ``resources``, ``affinity`` or ``env`` are passed to the Deployment unchanged. To
check them as strictly as the chart's own values (``additionalProperties: false`` at every level),
values.schema.json refers to ``#/definitions/io.k8s...`` copies of the Kubernetes 1.32 "strict"
JSON schemas that the kubernetes-validate package ships. This script writes those copies: every
definition the chart's schema refers to, and everything they refer to, with descriptions, formats
and ``x-kubernetes-*`` hints dropped (draft-07 validators ignore them; Helm's would only get slower).

    python deploy/values_schema_definitions.py          # rewrite the definitions in place
    python deploy/values_schema_definitions.py --check  # exit 1 if they are out of date

tests/chart/test_chart_values.py runs the check.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

KUBERNETES_VERSION = "1.32.0"
SCHEMA_PATH = pathlib.Path(__file__).resolve().parents[1] / "charts" / "lambda-vpc-operator" / "values.schema.json"
PREFIX = "#/definitions/"
# The keywords a definition keeps: what draft-07 validates, nothing descriptive.
KEPT = frozenset({"type", "properties", "items", "additionalProperties", "required", "oneOf", "enum", "$ref"})


def kubernetes_definitions(version: str = KUBERNETES_VERSION) -> dict[str, Any]:
    import kubernetes_validate  # a dev dependency; imported late so that --help works without it

    root = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    path = root / f"v{version}-local-strict" / "_definitions.json"
    definitions: dict[str, Any] = json.loads(path.read_text())["$defs"]
    return definitions


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _trimmed(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref":
                out[key] = PREFIX + value.rsplit("/", 1)[-1]
            elif key == "properties":
                out[key] = {name: _trimmed(prop) for name, prop in value.items()}
            elif key in KEPT:
                out[key] = _trimmed(value)
        return out
    if isinstance(node, list):
        return [_trimmed(value) for value in node]
    return node


def definitions_for(schema: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """The definitions ``schema`` refers to outside its own ``definitions``, with their closure."""
    outside = {key: value for key, value in schema.items() if key != "definitions"}
    wanted = sorted(set(_refs(outside)))
    found: dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name in found:
            continue
        if name not in source:
            raise KeyError(f"values.schema.json refers to {name!r}, which Kubernetes {KUBERNETES_VERSION} lacks")
        found[name] = _trimmed(source[name])
        wanted.extend(ref for ref in _refs(found[name]) if ref not in found)
    return dict(sorted(found.items()))


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if out of date")
    parser.add_argument("--schema", type=pathlib.Path, default=SCHEMA_PATH)
    args = parser.parse_args(argv)

    text = args.schema.read_text()
    schema = json.loads(text)
    schema["definitions"] = definitions_for(schema, kubernetes_definitions())
    wanted = render(schema)
    if args.check:
        if wanted != text:
            print(f"{args.schema} is out of date: run python {pathlib.Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.schema.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
