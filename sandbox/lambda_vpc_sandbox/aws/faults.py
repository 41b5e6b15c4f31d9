"""Fault injection: AWS and the network misbehaving at a given rate, exactly as botocore sees it.

Why: the operator must survive what AWS and the path to it really do (aws-facts "Fault kinds on
the wire"): throttles with and without Retry-After, 5xx, a proxy's HTML page, a body cut short, a
slow or reset connection, update conflicts it did not cause, describes that lag behind a write, an
IAM API an endpoint lacks. One small model serves tests and chaos runs: a list of ``FaultRule``s
(an operation glob such as ``lambda:*`` or ``ec2:DescribeSubnets``, a kind, a rate, params), drawn
with one seeded RNG so a run can be replayed, and counted per kind and operation.

The middleware asks ``plan`` before a request (outside the backend lock: latency never holds it),
answers a terminal fault itself with the wire answer built here (``terminal_answer``), and gives
the answer of a forwarded request to ``after`` (truncation, stale reads, a reset after the write).
"""

from __future__ import annotations

import fnmatch
import http
import random
import socket
import struct
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from . import exceptions, permissions, wire

#: Every kind, with the params it takes (and their defaults).
KINDS: dict[str, dict[str, Any]] = {
    # Lambda TooManyRequestsException 429 (retry_after None: no Retry-After header), EC2
    # RequestLimitExceeded 503, IAM/STS Throttling 400.
    "throttle": {"retry_after": 1, "reason": "CallerRateLimitExceeded"},
    # Lambda ServiceException, EC2 InternalError, IAM ServiceFailure; ``status`` 500 by default.
    "server_error": {"status": 500},
    # An HTML error page, as a proxy or load balancer in front of the endpoint answers.
    "html": {"status": 502},
    # The request is served, its answer's body cut to ``keep`` of its length.
    "truncated": {"keep": 0.5},
    # ``seconds`` of real time before the request is served (no lock held meanwhile).
    "latency": {"seconds": 1.0},
    # The connection is closed with no answer: before the request is served, or ``after`` it.
    "reset": {"after": False},
    # Lambda ResourceConflictException 409 (an update in progress someone else started).
    "conflict": {},
    # The endpoint lacks the operation: ``style`` "aws" (query protocol InvalidAction 400, what an
    # AWS endpoint answers for an Action it does not have) or "moto" (plain moto's HTML 500).
    "not_implemented": {"style": "aws"},
    # Reads answer what they answered ``seconds`` of simulated time ago (eventual consistency).
    "stale": {"seconds": 5.0},
}

TERMINAL = frozenset({"throttle", "server_error", "html", "conflict", "not_implemented"})


class FaultError(ValueError):
    """A rule that cannot be: unknown kind or param, rate outside 0..1."""


@dataclass(frozen=True)
class FaultRule:
    operations: tuple[str, ...]  # fnmatch globs over "service:Operation" (any of them)
    kind: str
    rate: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FaultRule:
        kind = str(raw.get("kind", ""))
        if kind not in KINDS:
            raise FaultError(f"Unknown fault kind {kind!r}; known: {sorted(KINDS)}.")
        rate = float(raw.get("rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise FaultError(f"rate must be between 0 and 1, not {rate}.")
        given = dict(raw.get("params") or {})
        unknown = set(given) - set(KINDS[kind])
        if unknown:
            raise FaultError(f"Unknown params {sorted(unknown)} for {kind}; known: {sorted(KINDS[kind])}.")
        globs = raw.get("operations", "*")
        operations = (str(globs),) if isinstance(globs, str) else tuple(str(g) for g in globs)
        return cls(operations, kind, rate, {**KINDS[kind], **given})

    def applies_to(self, operation: str) -> bool:
        service = operation.partition(":")[0]
        if self.kind == "conflict" and service != "lambda":
            return False  # a Lambda error; other services have no such conflict
        if self.kind == "not_implemented" and service == "lambda":
            return False  # query protocols only (IAM, STS, EC2)
        return any(fnmatch.fnmatchcase(operation, glob) for glob in self.operations)

    def to_dict(self) -> dict[str, Any]:
        return {"operations": list(self.operations), "kind": self.kind, "rate": self.rate, "params": dict(self.params)}


@dataclass
class Plan:
    """What the drawn faults do to one request."""

    operation: str
    latency: float = 0.0
    terminal: FaultRule | None = None
    reset_before: bool = False
    reset_after: bool = False
    truncate: float | None = None
    stale: float | None = None  # drawn: answer as of this many seconds ago
    watched: bool = False  # a stale rule matches: the answer joins the history, drawn or not


NO_FAULTS = Plan("")


class Faults:
    """The active rules, the RNG, the counts and the stale reads' history (own lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.rules: tuple[FaultRule, ...] = ()
        self.random = random.Random(0)
        self.counts: dict[str, dict[str, int]] = {}
        self._history: dict[tuple[str, ...], list[tuple[float, wire.Response]]] = {}

    def inject(self, rules: list[Mapping[str, Any]], seed: int | None = None) -> list[dict[str, Any]]:
        """Replace the rules (in order) and reseed; returns the rules with their params filled in."""
        parsed = tuple(FaultRule.from_dict(rule) for rule in rules)
        with self._lock:
            self.rules = parsed
            self.random = random.Random(0 if seed is None else seed)
            self._history.clear()
        return [rule.to_dict() for rule in parsed]

    def reset(self) -> None:
        with self._lock:
            self.clear()

    def injected(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {kind: dict(ops) for kind, ops in self.counts.items()}

    def _count(self, kind: str, operation: str) -> None:
        per_kind = self.counts.setdefault(kind, {})
        per_kind[operation] = per_kind.get(operation, 0) + 1

    def plan(self, operation: str | None) -> Plan:
        """Draw every rule matching ``operation``, in order; the first terminal fault drawn wins."""
        if not operation or not self.rules:
            return NO_FAULTS
        plan = Plan(operation)
        with self._lock:
            for rule in self.rules:
                if not rule.applies_to(operation):
                    continue
                plan.watched = plan.watched or rule.kind == "stale"
                if rule.kind in TERMINAL and (plan.terminal is not None or plan.reset_before):
                    continue
                if self.random.random() >= rule.rate:
                    continue
                if rule.kind == "latency":
                    plan.latency += float(rule.params["seconds"])
                elif rule.kind == "reset":
                    if bool(rule.params["after"]):
                        plan.reset_after = True
                    else:
                        plan.reset_before = True
                elif rule.kind == "truncated":
                    plan.truncate = float(rule.params["keep"])
                elif rule.kind == "stale":
                    plan.stale = float(rule.params["seconds"])
                    continue  # counted when a stale answer is served
                else:
                    plan.terminal = rule
                self._count(rule.kind, operation)
        return plan

    def after(self, plan: Plan, key: tuple[str, ...], response: wire.Response, now: float) -> wire.Response:
        """A served answer, stale and/or truncated as ``plan`` says."""
        if plan.watched and response.ok:
            response = self._stale(plan, key, response, now)
        if plan.truncate is not None:
            response = wire.Response(
                response.status, response.headers, response.body[: int(len(response.body) * plan.truncate)]
            )
        return response

    def _stale(self, plan: Plan, key: tuple[str, ...], fresh: wire.Response, now: float) -> wire.Response:
        """The answer as of ``now - lag``: the last distinct answer first seen by then. An answer
        that changed is recorded when a read first sees it, so it shows ``lag`` after that read."""
        with self._lock:
            history = self._history.setdefault(key, [])
            if not history or history[-1][1].body != fresh.body:
                history.append((now, fresh))
            if plan.stale is None:
                return fresh  # not drawn this time: recorded only
            lag, served = plan.stale, fresh
            for index in range(len(history) - 1, -1, -1):
                if history[index][0] <= now - lag:
                    served = history[index][1]
                    del history[:index]  # older answers can never be served again
                    break
            if served is not fresh and served.body != fresh.body:
                self._count("stale", plan.operation)
        return served


# -- the answers ---------------------------------------------------------------------------------


def query_error(status: int, code: str, message: str, service: str, sender: bool = True) -> wire.Response:
    """EC2's ``<Response><Errors>`` or IAM/STS's ``<ErrorResponse>`` (query protocols)."""
    if service == "ec2":
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>"
        )
        return wire.Response(status, [("Content-Type", "text/xml;charset=UTF-8")], xml.encode())
    if sender:
        return permissions.iam_error(status, code, message)
    xml = (
        f'<ErrorResponse xmlns="{permissions.IAM_NAMESPACE}"><Error><Type>Receiver</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
    return wire.Response(status, [("Content-Type", "text/xml")], xml.encode())


def request_limit_exceeded() -> wire.Response:
    """aws-facts "EC2 request buckets and paging": RequestLimitExceeded, HTTP 503, EC2's XML."""
    return query_error(503, "RequestLimitExceeded", "Request limit exceeded.", "ec2")


def html_page(status: int) -> wire.Response:
    """What a proxy or load balancer answers (aws-facts "Fault kinds on the wire"): not AWS' format."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return wire.Response(status, [("Content-Type", "text/html")], body.encode())


def terminal_answer(rule: FaultRule, operation: str, function_arn: Callable[[], str]) -> wire.Response:
    """The wire answer of a terminal fault for ``service:Operation``."""
    service, _, action = operation.partition(":")
    params = rule.params
    if rule.kind == "html":
        return html_page(int(params["status"]))
    if rule.kind == "not_implemented":
        if params["style"] == "moto":
            return permissions.html_500()
        # aws-facts "Fault kinds on the wire": an Action the endpoint does not have.
        return query_error(400, "InvalidAction", f"Could not find operation {action} for version", service)
    if rule.kind == "conflict":
        return exceptions.update_in_progress(function_arn()).to_response()
    if rule.kind == "throttle":
        if service == "lambda":
            retry_after = params["retry_after"]
            return exceptions.TooManyRequests(
                None if retry_after is None else float(retry_after), str(params["reason"])
            ).to_response()
        if service == "ec2":
            return request_limit_exceeded()
        return query_error(400, "Throttling", "Rate exceeded", service)
    status = int(params["status"])  # server_error
    if service == "lambda":
        return exceptions.ServiceError("An internal error occurred.", status).to_response()
    if service == "ec2":
        return query_error(status, "InternalError", "An internal error has occurred", service)
    return query_error(status, "ServiceFailure", "An internal error occurred.", service, sender=False)


def reset_connection(environ: wire.Environ) -> ConnectionResetError:
    """Close the client's connection with no answer (RST on close: SO_LINGER 0); the error returned
    is for the caller to raise, which werkzeug takes as a dropped connection."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return ConnectionResetError("fault injection: connection reset")
