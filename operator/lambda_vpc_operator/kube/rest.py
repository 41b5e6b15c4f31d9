"""The operator's own Kubernetes requests (status patches, the peering object, kube-system's uid): JSON
over urllib3, with the credentials kopf uses (``logins.login``).

Not the kubernetes client: importing it loads some 800 generated models, 9 MiB of the operator's
memory for the three requests we send ourselves (docs/benchmarks.md "Memory"). kopf sends everything
else (watches, patches of metadata, Events) over its own aiohttp session.

Blocking: callers run it in a worker thread. A 401 logs in again once (the kubelet rotates service
account tokens; an exec plugin's token expires), then the answer stands. No retries here: each
caller knows what a failure means to it (``status_writer``, ``clusters``).
"""

from __future__ import annotations

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
        self._info, self._pool = self._connect()

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
        info, pool = self._info, self._pool
        answer = self._send(info, pool, method, path, body, content_type)
        if answer.status == 401:
            with self._lock:
                if self._info is info:  # not logged in again by another thread meanwhile
                    self._info, self._pool = self._connect()
                info, pool = self._info, self._pool
            answer = self._send(info, pool, method, path, body, content_type)
        text = answer.data.decode("utf-8", "replace")
        if answer.status >= 400:
            raise KubeApiError(answer.status, answer.reason or "", dict(answer.headers), text)
        decoded: dict[str, Any] = json.loads(text) if text else {}
        return decoded

    def _send(
        self,
        info: kopf.ConnectionInfo,
        pool: urllib3.PoolManager,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        content_type: str,
    ) -> urllib3.BaseHTTPResponse:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent, **info.as_http_headers()}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        return pool.request(method, info.server.rstrip("/") + path, body=data, headers=headers, retries=False)

    def _connect(self) -> tuple[kopf.ConnectionInfo, urllib3.PoolManager]:
        info = self._login()
        options: dict[str, Any] = {"maxsize": self._pool_size, "timeout": TIMEOUT}
        if info.server.startswith("https:"):
            options["ssl_context"] = info.as_ssl_context()
            if info.insecure:
                options["cert_reqs"], options["assert_hostname"] = "CERT_NONE", False
        if info.proxy_url:
            return info, urllib3.ProxyManager(info.proxy_url, **options)
        return info, urllib3.PoolManager(**options)
