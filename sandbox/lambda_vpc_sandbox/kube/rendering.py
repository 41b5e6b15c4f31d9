"""How a response body looks for what the client accepts: objects, Tables or metadata only.

kubectl asks for ``application/json;as=Table;g=meta.k8s.io;v=v1`` and prints the server's columns
(``additionalPrinterColumns`` of CRDs; NAME and AGE for everything else, as real servers do for
resources without columns); `tables` builds the Tables. Metadata-only clients ask for
``as=PartialObjectMetadata(List)``. Anything else gets the objects as JSON.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from lambda_vpc_sandbox.kube import resources, tables

Obj = dict[str, Any]

JSON = "application/json"
META_GROUP_VERSION = "meta.k8s.io/v1"


class Shape(enum.StrEnum):
    """What a client asked to receive instead of plain objects."""

    OBJECT = "Object"
    TABLE = "Table"
    METADATA = "PartialObjectMetadata"


def negotiate(accept: str) -> Shape:
    """The first acceptable shape in the Accept header (kubectl lists Table first, then JSON)."""
    for media_range in accept.split(","):
        params = {}
        for param in media_range.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            params[key] = value
        as_ = params.get("as")
        if as_ == "Table":
            return Shape.TABLE
        if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return Shape.METADATA
        if media_range.strip():
            return Shape.OBJECT
    return Shape.OBJECT


def content_type(shape: Shape, *, listing: bool) -> str:
    if shape is Shape.TABLE:
        return f"{JSON};as=Table;v=v1;g=meta.k8s.io"
    if shape is Shape.METADATA:
        kind = "PartialObjectMetadataList" if listing else "PartialObjectMetadata"
        return f"{JSON};as={kind};v=v1;g=meta.k8s.io"
    return JSON


def partial(obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": META_GROUP_VERSION,
        "metadata": obj.get("metadata", {}),
    }


def table(resource: resources.Resource, items: Sequence[Obj], list_meta: Mapping[str, Any]) -> Obj:
    """A meta.k8s.io/v1 Table: Name, then the printer columns (or Age when there are none)."""
    columns = [dict(column) for column in resource.printer_columns] or None
    rendered = tables.render_table(list(items), columns)
    rendered["metadata"] = dict(list_meta)
    return rendered


def listing(resource: resources.Resource, listed: Obj, shape: Shape) -> tuple[Obj, str]:
    """A list response in the requested shape (plain list if Tables are not available)."""
    if shape is Shape.TABLE:
        return table(resource, listed["items"], listed["metadata"]), content_type(shape, listing=True)
    if shape is Shape.METADATA:
        return {
            "kind": "PartialObjectMetadataList",
            "apiVersion": META_GROUP_VERSION,
            "metadata": listed["metadata"],
            "items": [partial(obj) for obj in listed["items"]],
        }, content_type(shape, listing=True)
    return listed, JSON


def single(resource: resources.Resource, obj: Obj, shape: Shape) -> tuple[Obj, str]:
    """One object in the requested shape (a Table with one row for kubectl get NAME and -w)."""
    if shape is Shape.TABLE:
        rendered = table(
            resource, [obj], {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
        )
        if rendered is not None:
            return rendered, content_type(shape, listing=False)
    if shape is Shape.METADATA:
        return partial(obj), content_type(shape, listing=False)
    return obj, JSON
