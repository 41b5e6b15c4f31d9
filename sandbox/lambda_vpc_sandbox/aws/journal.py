"""The simulator's request journal: who sent which request, when, and what it was answered.

Why: a chaos run must prove things the call counts cannot show: that no write ever carried a
partial VpcConfig (the body of every UpdateFunctionConfiguration, whatever it was answered), that
no function outside the managed set was written, and that of two peered replicas only one talked
to AWS at a time (the sender of each request, told apart by the ``app/<id>`` token botocore adds to
its User-Agent from ``AWS_SDK_UA_APP_ID``); and that a function of another region was reached
there, never in the operator's default region (the region each request was signed for). Every
request that reaches the middleware is recorded once it is answered, faults included (a reset is
status 0), with a sequence number so a reader can fetch only what is new (``entries(since)``).
Reads are kept short (no body); Lambda writes keep the parts of their body a check needs.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass
from typing import Any

# Lambda operations that change nothing (everything else a function is named in is a write).
READS = frozenset({"GetFunction", "GetFunctionConfiguration", "ListFunctions", "ListAliases", "ListTags",
                   "ListVersionsByFunction", "GetAlias", "GetPolicy", "Invoke", "GetAccountSettings"})  # fmt: skip
_APP_ID = re.compile(r"(?:^|\s)app/(\S+)")
# What is kept: enough for a long chaos run, bounded so a forgotten sandbox cannot grow for ever.
LIMIT = 2_000_000


@dataclass(frozen=True)
class Entry:
    seq: int
    at: float  # wall-clock seconds (time.time()): comparable with the driver's own clock
    operation: str  # "service:Operation"
    status: int  # the HTTP status answered; 0: the connection was reset without an answer
    agent: str  # the User-Agent's app/<id> token, or "" (an unnamed client)
    operator: bool  # the User-Agent names lambda-vpc-operator
    access_key: str
    region: str = ""  # the SigV4 credential scope's region: where the request went
    function: str = ""  # a Lambda request's function name (an ARN shortened to the name)
    write: bool = False
    body: dict[str, Any] | None = None  # Lambda writes: VpcConfig, RevisionId, Tags, TagKeys

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


def function_name(raw: str) -> str:
    """``my-fn``, ``arn:aws:lambda:r:a:function:my-fn`` and ``...:my-fn:alias`` all name ``my-fn``."""
    name = urllib.parse.unquote(raw)
    if ":function:" in name:
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


def _kept_body(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {"unparsable": True}
    if not isinstance(parsed, dict):
        return None
    kept = {k: parsed[k] for k in ("VpcConfig", "RevisionId", "Tags", "TagKeys") if k in parsed}
    return kept or None


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._next = 0

    def record(
        self,
        operation: str | None,
        status: int,
        user_agent: str,
        access_key: str,
        function: str = "",
        body: bytes = b"",
        query: dict[str, list[str]] | None = None,
        region: str = "",
    ) -> None:
        if not operation:
            return
        service, _, action = operation.partition(":")
        write = service == "lambda" and bool(function) and action not in READS
        kept = _kept_body(body) if write else None
        if write and action == "UntagResource" and query:
            kept = {**(kept or {}), "TagKeys": query.get("tagKeys", [])}
        match = _APP_ID.search(user_agent)
        with self._lock:
            entry = Entry(
                seq=self._next, at=time.time(), operation=operation, status=status,
                agent=match.group(1) if match else "", operator="lambda-vpc-operator" in user_agent,
                access_key=access_key, region=region, function=function_name(function) if function else "",
                write=write, body=kept,
            )  # fmt: skip
            self._next += 1
            self._entries.append(entry)
            if len(self._entries) > LIMIT:
                del self._entries[: len(self._entries) - LIMIT]

    def entries(self, since: int = 0, writes_only: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            chosen = [e for e in self._entries if e.seq >= since and (e.write or not writes_only)]
        return [e.to_dict() for e in chosen]

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
