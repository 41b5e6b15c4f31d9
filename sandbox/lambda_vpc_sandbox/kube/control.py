"""The emulator's control API: HTTP routes under ``/_kube/`` and the ``KubeControl`` client.

Why: tests and chaos runs must inject faults into an emulator that may run in another thread or
another process (``lambda-vpc-sandbox kube``), as they do into the AWS simulator
(`lambda_vpc_sandbox.aws.control`, whose shape this mirrors). Every route is ``POST /_kube/<name>``
with a JSON object of keyword arguments (``GET`` for those without) and answers ``{"result": ...}``,
or ``{"error": ...}`` with 4xx. These paths are not Kubernetes API paths, so no client trips on them.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from lambda_vpc_sandbox.kube import faults, store

PREFIX = "/_kube/"

Route = Callable[[faults.Faults, store.Store, dict[str, Any]], Any]

ROUTES: dict[str, Route] = {
    "inject_faults": lambda f, s, a: f.inject(list(a["rules"]), a.get("seed")),
    "clear_faults": lambda f, s, a: f.reset(),
    "faults": lambda f, s, a: f.active(),
    "injected": lambda f, s, a: f.injected(),
    "compact": lambda f, s, a: s.compact(),
}


def handle(injected: faults.Faults, data: store.Store, name: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    """Run one control call (in the emulator's loop); returns the HTTP status and the JSON body."""
    route = ROUTES.get(name)
    if route is None:
        return 404, {"error": f"No control route {name!r}; known: {sorted(ROUTES)}"}
    try:
        args = json.loads(raw) if raw.strip() else {}
        if not isinstance(args, dict):
            raise ValueError("the body must be a JSON object")
    except ValueError as error:
        return 400, {"error": f"Bad JSON: {error}"}
    try:
        return 200, {"result": route(injected, data, args)}
    except (faults.FaultError, KeyError, TypeError, ValueError) as error:
        return 400, {"error": f"{type(error).__name__}: {error}"}


class KubeControlError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class KubeControl:
    """Client of the control API (urllib only), given the emulator's URL (``EmulatorThread.url``)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        # Never through an HTTP proxy from the environment: the emulator is local.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, name: str, **args: Any) -> Any:
        body = json.dumps({k: v for k, v in args.items() if v is not None}).encode()
        request = urllib.request.Request(
            f"{self.url}{PREFIX}{name}", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return json.loads(response.read())["result"]
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, KeyError, TypeError):
                detail = json.loads(detail)["error"]
            raise KubeControlError(error.code, detail) from None

    def inject_faults(self, rules: list[dict[str, Any]], seed: int | None = None) -> list[dict[str, Any]]:
        """Replace the fault rules (docs/reliability.md "Kubernetes API faults"). Each rule is a dict:
        ``kind`` (drop, stall, expired, conflict, throttle, server_error, latency), ``verbs``,
        ``resources`` (``plural``, ``plural/status`` or ``plural.group``), ``namespaces`` and
        ``clients`` (User-Agent product: kopf, lambda-vpc-operator, ...), each a glob or a list of
        globs (default ``*``), ``rate`` (probability per request, default 1), ``params`` and ``limit``
        (injected at most that many times, e.g. one zombie stream; default no end). The RNG
        is reseeded with ``seed``, so the same requests draw the same faults. Returns the rules."""
        return list(self._call("inject_faults", rules=list(rules), seed=seed))

    def clear_faults(self) -> None:
        """No fault rules any more; the counts are cleared too. Live stalled watches stay stalled
        until their client gives up (as a dead connection would)."""
        self._call("clear_faults")

    def faults(self) -> list[dict[str, Any]]:
        """The active rules, params filled in."""
        return list(self._call("faults"))

    def injected(self) -> dict[str, dict[str, int]]:
        """Faults injected so far, by kind and ``verb:resource`` (``patch:lambdavpcattachments/status``)."""
        return {str(k): {str(o): int(n) for o, n in v.items()} for k, v in self._call("injected").items()}

    def compact(self) -> int:
        """Forget the watch history, as an etcd compaction: watches and continue tokens from an older
        resourceVersion get a genuine 410 Expired from now on. Returns the current resourceVersion."""
        return int(self._call("compact"))
