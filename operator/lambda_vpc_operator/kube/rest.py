"""The operator's own Kubernetes requests (status patches, the peering object, kube-system's uid): JSON
over urllib3, with the credentials kopf uses (``logins.login``).

Not the kubernetes client: importing it loads some 800 generated models, 9 MiB of the operator's
memory for the three requests we send ourselves (docs/benchmarks.md "Memory"). kopf sends everything
else (watches, patches of metadata, Events) over its own aiohttp session.

Blocking: callers run it in a worker thread. A 401 logs in again once (the kubelet rotates service
account tokens; an exec plugin's token expires), then the answer stands; so does reaching the
expiration the login gave (``logins``: before the API server calls a token stale). No retries here: each
caller knows what a failure means to it (``status_writer``, ``clusters``).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

import kopf
import urllib3

from lambda_vpc_operator.kube import logins
from lambda_vpc_operator.models.settings import IO_THREADS

MERGE_PATCH = "application/merge-patch+json"
# A request that neither connects nor answers in this long failed (the kubernetes client waited for ever).
TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)


_Connection = tuple[kopf.ConnectionInfo, urllib3.PoolManager]


def _expired(info: kopf.ConnectionInfo) -> bool:
    """Past the time its login said to log in again (a service account token about to go stale)."""
    if info.expiration is None:
        return False
    expiration = info.expiration if info.expiration.tzinfo else info.expiration.replace(tzinfo=datetime.UTC)
    return datetime.datetime.now(datetime.UTC) >= expiration


class KubeApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str], body: str) -> None:
        super().__init__(f"{status} {reason}: {body[:300]}")
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    @property
    def retry_after(self) -> float | None:
        """The answer's Retry-After in seconds, if it has one in seconds."""
        try:
            return float(self.headers.get("Retry-After", ""))
        except ValueError:
            return None


class KubeApi:
    """JSON requests to one API server. ``login`` gives the credentials (again after a 401)."""

    def __init__(
        self,
        login: Callable[[], kopf.ConnectionInfo] = logins.login,
        *,
        user_agent: str | None = None,
        pool_size: int = IO_THREADS,  # one connection per thread that may send
    ) -> None:
        self._login = login
        self._lock = threading.Lock()
        self._pool_size = pool_size
        version = importlib.metadata.version("lambda-vpc-operator")
        # Who we are in the API server's audit log (kopf's own requests say kopf/<version>).
        self.user_agent = user_agent or f"lambda-vpc-operator/{version}"
        # Logged in at the first request (kopf reports a login that fails, at its start); one attribute:
        # threads read credentials and pool together.
        self._connection: _Connection | None = None

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body)

    def merge_patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", path, body, content_type=MERGE_PATCH)

    def request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, content_type: str = "application/json"
    ) -> dict[str, Any]:
        """Send it; the decoded answer, or KubeApiError. Connection failures raise urllib3's errors."""
        connection = self._connection
        if connection is None or _expired(connection[0]):
            connection = self._reconnect(connection)
        answer = self._send(connection, method, path, body, content_type)
        if answer.status == 401:
            answer = self._send(self._reconnect(connection), method, path, body, content_type)
        text = answer.data.decode("utf-8", "replace")
        if answer.status >= 400:
            raise KubeApiError(answer.status, answer.reason or "", dict(answer.headers), text)
        decoded: dict[str, Any] = json.loads(text) if text else {}
        return decoded

    def _reconnect(self, stale: _Connection | None) -> _Connection:
        """Log in (again), unless another thread has done so since ``stale`` was read."""
        with self._lock:
            if self._connection is stale or self._connection is None:
                self._connection = self._connect()
                if stale is not None:
                    stale[1].clear()
            return self._connection

    def _send(
        self,
        connection: _Connection,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        content_type: str,
    ) -> urllib3.BaseHTTPResponse:
        info, pool = connection
        headers = {"Accept": "application/json", "User-Agent": self.user_agent, **info.as_http_headers()}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        return pool.request(method, info.server.rstrip("/") + path, body=data, headers=headers, retries=False)

    def _connect(self) -> _Connection:
        info = self._login()
        options: dict[str, Any] = {"maxsize": self._pool_size, "timeout": TIMEOUT}
        if info.server.startswith("https:"):
            options["ssl_context"] = info.as_ssl_context()
            if info.insecure:
                options["cert_reqs"], options["assert_hostname"] = "CERT_NONE", False
        if info.proxy_url:
            return info, urllib3.ProxyManager(info.proxy_url, **options)
        return info, urllib3.PoolManager(**options)
