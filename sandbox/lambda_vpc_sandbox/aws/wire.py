"""HTTP responses as plain data, and the few WSGI moves the middleware needs.

Why: the middleware answers some requests itself, forwards others to moto and rewrites some of
moto's answers. Holding every answer as one ``Response`` value (status, headers, body) makes the
three cases the same to the code around them, and keeps WSGI details (start_response, iterables,
Content-Length) in this one place.
"""

from __future__ import annotations

import http
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def with_json(self, payload: Any) -> Response:
        """The same response with a new JSON body (Content-Length and checksums dropped)."""
        dropped = {"content-length", "x-amz-crc32", "content-type"}
        headers = [(k, v) for k, v in self.headers if k.lower() not in dropped]
        headers.append(("Content-Type", "application/json"))
        return Response(self.status, headers, json.dumps(payload).encode())

    def send(self, start_response: StartResponse) -> list[bytes]:
        try:
            reason = http.HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Unknown"
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(self.body))))
        start_response(f"{self.status} {reason}", headers)
        return [self.body]


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = b"" if payload is None else json.dumps(payload).encode()
    return Response(status, [("Content-Type", "application/json"), *(headers or [])], body)


def read_body(environ: Environ) -> bytes:
    """Read the request body and put it back, so that moto can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def call_app(app: WsgiApp, environ: Environ, body: bytes | None = None) -> Response:
    """Run a WSGI app (moto) on this environ, optionally with a replaced body; collect its answer."""
    environ = dict(environ)
    if body is not None:
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    else:
        environ["wsgi.input"] = io.BytesIO(read_body(environ))
    captured: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = list(headers)
        return written.append

    chunks = app(environ, start_response)
    try:
        for chunk in chunks:
            written.append(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return Response(captured.get("status", 500), captured.get("headers", []), b"".join(written))
