"""Which AWS operation a request is, read from the request itself.

Why: call counts and request budgets are per operation ("lambda:GetFunction", "ec2:DescribeSubnets"),
and the middleware intercepts a few Lambda operations. Lambda is rest-json: the operation is the
method plus the URI template of the botocore model (``GET /2015-03-31/functions/{FunctionName}``),
so the table is built from that model rather than written by hand. EC2, IAM and STS are query
protocols: the operation is the ``Action`` form parameter. The service and region come from the
SigV4 credential scope (``Credential=KEY/date/region/service/aws4_request``).
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

import botocore.session

LAMBDA = "lambda"


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    required_query: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RouteMatch:
    operation: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestIdentity:
    """Who and where: the service, region and access key of a signed request."""

    service: str | None
    region: str | None
    access_key: str | None


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")


def identify(authorization: str | None) -> RequestIdentity:
    match = _CREDENTIAL.search(authorization or "")
    if not match:
        return RequestIdentity(None, None, None)
    access_key, region, service = match.groups()
    return RequestIdentity(service.lower(), region, access_key)


def _compile(request_uri: str) -> tuple[re.Pattern[str], tuple[tuple[str, str], ...]]:
    path, _, query = request_uri.partition("?")
    regex = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece.strip("{}")
            greedy = name.endswith("+")
            regex += f"(?P<{name.rstrip('+')}>{'.+' if greedy else '[^/]+'})"
        else:
            regex += re.escape(piece)
    required = tuple(
        (key, values[0]) for key, values in urllib.parse.parse_qs(query, keep_blank_values=True).items()
    )
    return re.compile(f"^{regex}/?$"), required


@functools.cache
def lambda_routes() -> tuple[Route, ...]:
    """Every Lambda operation of the botocore model, templates with query requirements first."""
    model = botocore.session.get_session().get_service_model(LAMBDA)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        pattern, required = _compile(http["requestUri"])
        routes.append(Route(name, http["method"], pattern, required))
    return tuple(sorted(routes, key=lambda r: (not r.required_query, r.operation)))


def match_lambda(method: str, path: str, query: Mapping[str, list[str]]) -> RouteMatch | None:
    for route in lambda_routes():
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if not found:
            continue
        if any(query.get(key, [None])[0] != value for key, value in route.required_query):
            continue
        return RouteMatch(route.operation, {k: v for k, v in found.groupdict().items() if v is not None})
    return None


def query_action(body: bytes, query: Mapping[str, list[str]]) -> str | None:
    """The ``Action`` of a query-protocol call (EC2, IAM, STS), from the form body or the URL."""
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body else {}
    values = form.get("Action") or list(query.get("Action", []))
    return values[0] if values else None


def json_target(target: str | None) -> str | None:
    """The operation of a json-protocol call: ``X-Amz-Target: Service_20xx.Operation``."""
    return target.rsplit(".", 1)[-1] if target else None
