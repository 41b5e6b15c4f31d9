"""Which resource a request addresses and what it wants done, decided from the request alone.

kmock decides this by matching each request against its whole request history, which makes every
request slower than the one before; here one split of the URL path gives the answer in O(1). The
result is a small immutable `Route`, so the server, the audit and the tests all speak of the same
thing: (verb, group, version, plural, namespace, name, subresource), with verbs spelled as in RBAC.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping


class Verb(enum.StrEnum):
    """The RBAC verbs; a str-enum to prevent typos in comparisons and keys."""

    GET = "get"
    LIST = "list"
    WATCH = "watch"
    CREATE = "create"
    UPDATE = "update"
    PATCH = "patch"
    DELETE = "delete"
    DELETECOLLECTION = "deletecollection"


@dataclasses.dataclass(frozen=True)
class Route:
    """A request to a resource endpoint: ``/api/v1/...`` or ``/apis/{group}/{version}/...``."""

    verb: Verb | None  # None: an HTTP method the endpoint does not support (405)
    group: str  # "" for the core group
    version: str
    plural: str
    namespace: str | None = None  # from the URL only
    name: str | None = None
    subresource: str | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# The namespace object has subresources whose URLs look like a namespaced collection.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

_TRUE = frozenset({"true", "1"})


def is_watch(query: Mapping[str, str]) -> bool:
    return query.get("watch", "").lower() in _TRUE


def parse(method: str, path: str, query: Mapping[str, str]) -> Route | None:
    """
    Split a resource URL into a `Route`; ``None`` for anything else (discovery, unknown paths).

    A purely computational function: whether the resource exists is decided later by the server.
    """
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None

    # Legacy `/watch/` prefix (deprecated, still served by real servers): same as `?watch=true`.
    watch = is_watch(query)
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    if not rest:
        return None

    # `/namespaces/{ns}/{plural}...` is a namespaced collection, but `/namespaces/{ns}/status` is
    # the namespace's own subresource.
    namespace: str | None = None
    if (
        rest[0] == "namespaces"
        and len(rest) >= 3
        and not (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    ):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None

    plural = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) >= 3 else None
    verb = _verb(method.upper(), has_name=name is not None, watch=watch)
    return Route(verb, group, version, plural, namespace, name, subresource)


def _verb(method: str, *, has_name: bool, watch: bool) -> Verb | None:
    if method in ("GET", "HEAD"):
        if watch:
            return Verb.WATCH
        return Verb.GET if has_name else Verb.LIST
    if has_name:
        return {"PUT": Verb.UPDATE, "PATCH": Verb.PATCH, "DELETE": Verb.DELETE}.get(method)
    return {"POST": Verb.CREATE, "DELETE": Verb.DELETECOLLECTION}.get(method)
