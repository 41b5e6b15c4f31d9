"""Our fields on every log line, and no secret in any of them.

With ``--log-format json`` each line carries ``namespace``, ``name``, ``function``, ``action`` and
``outcome`` (null when a line is about no attachment): a log query for one attachment or one
function needs no parsing of messages. The fields live in context variables set by the handlers
(``looking``); asyncio copies them into each task and ``asyncio.to_thread`` into each worker
thread, so the reconciler, the aws layer and boto3 log with them without knowing.

``Redacting`` removes the process's secrets (AWS secret key and session token, the webhook's
private key) from every line, whatever the format: botocore logs request headers at debug level,
the session token among them.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import pathlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("namespace", "name", "function", "action", "outcome")
REDACTED = "[redacted]"
# Environment variables whose values are secrets (boto3's credential chain reads them).
SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
# Shorter values are not redacted: a secret of a few characters would blank ordinary words.
MIN_SECRET_LENGTH = 8

_context: dict[str, contextvars.ContextVar[str | None]] = {
    field: contextvars.ContextVar(f"lvo_{field}", default=None) for field in FIELDS
}


def current() -> dict[str, str | None]:
    return {field: var.get() for field, var in _context.items()}


def set_fields(**values: str | None) -> None:
    """Set some fields for the rest of this task (and the threads it starts)."""
    for field, value in values.items():
        _context[field].set(value)


@contextlib.contextmanager
def looking(namespace: str, name: str, function: str | None, action: str) -> Iterator[None]:
    """The fields of one look (or deletion step, admission request); restored afterwards."""
    tokens = [
        (_context[f], _context[f].set(v))
        for f, v in (("namespace", namespace), ("name", name), ("function", function), ("action", action))
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextJsonFormatter(JsonFormatter):
    """kopf's JSON lines (timestamp, severity, message, the kopf object reference) plus our fields.

    ``name`` is the attachment's; the logger's name moves to ``logger``.
    """

    def __init__(self) -> None:
        super().__init__(timestamp=True, reserved_attrs=[*_RESERVED, "k8s_skip", "k8s_ref", "settings"])

    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["logger"] = record.name
        log_record["severity"] = record.levelname.lower()
        ref = getattr(record, "k8s_ref", None)
        if ref:
            log_record["object"] = ref
        fields = current()
        if fields["name"] is None and isinstance(ref, dict):
            # kopf's own lines about an object (handler started, finalizer added, ...).
            fields["namespace"], fields["name"] = ref.get("namespace"), ref.get("name")
        log_record.update(fields)


_RESERVED = [
    "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName", "levelname", "levelno", "lineno",
    "module", "msecs", "message", "msg", "name", "pathname", "process", "processName", "relativeCreated",
    "stack_info", "thread", "threadName", "taskName",
]  # fmt: skip


class Redacting(logging.Filter):
    """Replace every known secret in a line's message (and arguments) by ``[redacted]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        clean = self.scrub(text)
        if clean != text or record.exc_info:
            record.msg, record.args = clean, None
            if record.exc_info:
                record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


class QuietHandlers(logging.Filter):
    """Drop kopf's lines about the named handlers: kopf logs every successful handler at INFO, and a
    wake-up handler runs on every watch event (install on the ``kopf.objects`` logger)."""

    def __init__(self, *handler_ids: str) -> None:
        super().__init__()
        self.handler_ids = handler_ids

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(handler_id in message for handler_id in self.handler_ids)


def secrets_of(environ: Mapping[str, str], keyfile: str | None) -> list[str]:
    """The secrets this process holds: AWS credentials from the environment, the webhook key."""
    found = [environ.get(name, "") for name in SECRET_VARIABLES]
    if keyfile:
        with contextlib.suppress(OSError):
            key = pathlib.Path(keyfile).read_text()
            # The key's base64 lines: one of them alone in a log would leak part of it.
            found += [line.strip() for line in key.splitlines() if line.strip() and not line.startswith("-----")]
    return [s for s in found if s]


def install(json_format: bool, secrets: Iterable[str]) -> None:
    """After kopf.configure: our JSON formatter (for --log-format json) and the redaction, on every handler."""
    redacting = Redacting(secrets)
    for handler in logging.getLogger().handlers:
        if json_format:
            handler.setFormatter(ContextJsonFormatter())
        handler.addFilter(redacting)
