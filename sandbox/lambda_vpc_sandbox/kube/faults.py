"""Fault injection: the Kubernetes API server and the path to it misbehaving at a given rate.

Why: an operator must survive what API servers and the network between really do: watch streams
cut mid-stream (a load balancer's idle timeout, an API server rolling), watch streams that stay
open and say nothing (a connection that died silently: kopf's "zombie watch"), 410 Gone for a
resourceVersion older than the server's history, 409 Conflict on writes, 429 from API Priority and
Fairness with Retry-After, 5xx, slow answers. The model mirrors the AWS simulator's
(`lambda_vpc_sandbox.aws.faults`): a list of ``FaultRule``s (which requests: verbs, resources,
namespaces and clients, as globs; a kind; a rate; params), drawn with one seeded RNG so a run can
be replayed, and counted per kind and ``verb:resource``.

The server asks ``plan`` for each resource request, after routing and before serving it: latency is
slept (in the emulator's loop, nothing held), terminal faults are raised as the Status errors a
real server answers, and the watch faults (drop, stall, expired) are given to `watching`.
"""

from __future__ import annotations

import fnmatch
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_vpc_sandbox.kube import errors

#: Every kind, with the params it takes (and their defaults).
KINDS: dict[str, dict[str, Any]] = {
    # Watch: the connection is closed ``after`` seconds into the stream (after its initial events),
    # with no final chunk, as when a load balancer or a restarting API server cuts it.
    "drop": {"after": 0.5},
    # Watch: the answer's headers arrive, then nothing: no events, no BOOKMARKs, no clean end at
    # timeoutSeconds, until the client gives up (``seconds`` None) or for ``seconds``, then closed.
    "stall": {"seconds": None},
    # Watch: an ERROR event carrying a 410 Expired Status; list: a 410 Expired Status (what a list
    # with an expired continue token or an exact resourceVersion older than the history gets).
    "expired": {},
    # Update or patch: 409 Conflict, "the object has been modified".
    "conflict": {},
    # 429 TooManyRequests with Retry-After (None: without it) and details.retryAfterSeconds.
    "throttle": {"retry_after": 1},
    # 500 InternalError, 503 ServiceUnavailable or 504 Timeout (``status``).
    "server_error": {"status": 500},
    # ``seconds`` of real time before the request is served.
    "latency": {"seconds": 1.0},
}

TERMINAL = frozenset({"expired", "conflict", "throttle", "server_error"})
WATCH_ONLY = frozenset({"drop", "stall"})
_VERBS_OF = {"expired": frozenset({"watch", "list"}), "conflict": frozenset({"update", "patch"})}


class FaultError(ValueError):
    """A rule that cannot be: unknown kind or param, rate outside 0..1."""


def _globs(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ("*",)
    return (str(raw),) if isinstance(raw, str) else tuple(str(g) for g in raw)


@dataclass(frozen=True)
class Request:
    """What a rule is matched against: one request to a resource endpoint."""

    verb: str  # RBAC verb: get, list, watch, create, update, patch, delete, deletecollection
    plural: str
    group: str = ""
    subresource: str = ""
    namespace: str = ""  # "" for cluster-scoped and all-namespace requests
    name: str = ""
    client: str = ""  # the User-Agent's product token: kopf, lambda-vpc-operator, kubectl, OpenAPI-Generator

    @property
    def resource(self) -> str:
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural

    @property
    def operation(self) -> str:
        """The key faults are counted by: ``patch:lambdavpcattachments/status``."""
        return f"{self.verb}:{self.resource}"

    def resource_names(self) -> tuple[str, ...]:
        """A rule's resource glob may name ``plural[/sub]`` or ``plural.group[/sub]``."""
        sub = f"/{self.subresource}" if self.subresource else ""
        qualified = f"{self.plural}.{self.group}{sub}" if self.group else self.resource
        return (self.resource, qualified)


@dataclass(frozen=True)
class FaultRule:
    kind: str
    verbs: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)  # globs over "plural", "plural/status", "plural.group/status"
    namespaces: tuple[str, ...] = ("*",)  # globs; cluster-wide requests have the namespace ""
    clients: tuple[str, ...] = ("*",)  # globs over the User-Agent's product token
    rate: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    limit: int | None = None  # injected at most this many times (e.g. one zombie stream), None: no end

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FaultRule:
        kind = str(raw.get("kind", ""))
        if kind not in KINDS:
            raise FaultError(f"Unknown fault kind {kind!r}; known: {sorted(KINDS)}.")
        unknown_keys = set(raw) - {"kind", "verbs", "resources", "namespaces", "clients", "rate", "params", "limit"}
        if unknown_keys:
            raise FaultError(f"Unknown rule keys {sorted(unknown_keys)}.")
        rate = float(raw.get("rate", 1.0))
        if not 0.0 <= rate <= 1.0:
            raise FaultError(f"rate must be between 0 and 1, not {rate}.")
        given = dict(raw.get("params") or {})
        unknown = set(given) - set(KINDS[kind])
        if unknown:
            raise FaultError(f"Unknown params {sorted(unknown)} for {kind}; known: {sorted(KINDS[kind])}.")
        if kind == "server_error" and int(given.get("status", 500)) not in errors.SERVER_ERROR_REASONS:
            raise FaultError(f"server_error status must be one of {sorted(errors.SERVER_ERROR_REASONS)}.")
        limit = raw.get("limit")
        if limit is not None and int(limit) < 0:
            raise FaultError(f"limit must be 0 or more, not {limit}.")
        return cls(
            kind,
            _globs(raw.get("verbs")),
            _globs(raw.get("resources")),
            _globs(raw.get("namespaces")),
            _globs(raw.get("clients")),
            rate,
            {**KINDS[kind], **given},
            None if limit is None else int(limit),
        )

    def applies_to(self, request: Request) -> bool:
        if self.kind in WATCH_ONLY and request.verb != "watch":
            return False
        if self.kind in _VERBS_OF and request.verb not in _VERBS_OF[self.kind]:
            return False
        names = request.resource_names()
        return (
            any(fnmatch.fnmatchcase(request.verb, glob) for glob in self.verbs)
            and any(fnmatch.fnmatchcase(name, glob) for glob in self.resources for name in names)
            and any(fnmatch.fnmatchcase(request.namespace, glob) for glob in self.namespaces)
            and any(fnmatch.fnmatchcase(request.client, glob) for glob in self.clients)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "verbs": list(self.verbs),
            "resources": list(self.resources),
            "namespaces": list(self.namespaces),
            "clients": list(self.clients),
            "rate": self.rate,
            "params": dict(self.params),
            "limit": self.limit,
        }


@dataclass
class Plan:
    """What the drawn faults do to one request."""

    latency: float = 0.0
    terminal: FaultRule | None = None  # raised as its Status (watch "expired": an ERROR event)
    drop_after: float | None = None  # watch: cut this many seconds into the stream
    stall: bool = False  # watch: silence
    stall_seconds: float | None = None

    @property
    def expired_watch(self) -> bool:
        return self.terminal is not None and self.terminal.kind == "expired"


NO_FAULTS = Plan()


class Faults:
    """The active rules, the RNG and the counts (own lock: tests inject from other threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: tuple[FaultRule, ...] = ()
        self.random = random.Random(0)
        self.counts: dict[str, dict[str, int]] = {}
        self._used: list[int] = []  # injections per rule, for their limits

    def inject(self, rules: list[Mapping[str, Any]], seed: int | None = None) -> list[dict[str, Any]]:
        """Replace the rules (in order) and reseed; returns the rules with their params filled in."""
        parsed = tuple(FaultRule.from_dict(rule) for rule in rules)
        with self._lock:
            self.rules = parsed
            self._used = [0] * len(parsed)
            self.random = random.Random(0 if seed is None else seed)
        return [rule.to_dict() for rule in parsed]

    def reset(self) -> None:
        """No rules, counts cleared, RNG reseeded with 0."""
        with self._lock:
            self.rules = ()
            self._used = []
            self.random = random.Random(0)
            self.counts = {}

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_dict() for rule in self.rules]

    def injected(self) -> dict[str, dict[str, int]]:
        """Faults injected so far, by kind and ``verb:resource``."""
        with self._lock:
            return {kind: dict(ops) for kind, ops in self.counts.items()}

    def plan(self, request: Request) -> Plan:
        """Draw every rule matching ``request``, in order; the first terminal or watch fault wins."""
        if not self.rules:
            return NO_FAULTS
        plan = Plan()
        with self._lock:
            for index, rule in enumerate(self.rules):
                if not rule.applies_to(request) or (rule.limit is not None and self._used[index] >= rule.limit):
                    continue
                decided = plan.terminal is not None or plan.stall or plan.drop_after is not None
                if rule.kind != "latency" and decided:
                    continue
                if self.random.random() >= rule.rate:
                    continue
                if rule.kind == "latency":
                    plan.latency += float(rule.params["seconds"])
                elif rule.kind == "drop":
                    plan.drop_after = float(rule.params["after"])
                elif rule.kind == "stall":
                    plan.stall = True
                    seconds = rule.params["seconds"]
                    plan.stall_seconds = None if seconds is None else float(seconds)
                else:
                    plan.terminal = rule
                self._used[index] += 1
                per_kind = self.counts.setdefault(rule.kind, {})
                per_kind[request.operation] = per_kind.get(request.operation, 0) + 1
        return plan


def terminal_error(rule: FaultRule, request: Request) -> errors.StatusError:
    """The Status a real API server answers for a terminal fault."""
    if rule.kind == "conflict":
        qualified = f"{request.plural}.{request.group}" if request.group else request.plural
        return errors.Conflict(
            f'Operation cannot be fulfilled on {qualified} "{request.name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            details=errors.object_details(request.group, request.plural, request.name),
        )
    if rule.kind == "throttle":
        retry_after = rule.params["retry_after"]
        return errors.TooManyRequests(None if retry_after is None else int(retry_after))
    if rule.kind == "expired":
        # What a list with an exact resourceVersion older than the history gets (apiserver's etcd3
        # store); a watch gets the same Status inside an ERROR event (`watching`).
        return errors.Expired("The resourceVersion for the provided list is too old.")
    status = int(rule.params["status"])  # server_error
    messages = {
        500: "Internal error occurred: injected fault",
        503: "the server is currently unable to handle the request",
        504: "the server was unable to return a response in the time allotted, but may still be processing the request",
    }
    return errors.ServerError(status, messages.get(status, "injected fault"))
