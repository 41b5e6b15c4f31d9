"""--log-format json: our fields on every line, and the process's secrets on none."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_vpc_operator.handlers import logs

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.ContextJsonFormatter())
    handler.addFilter(logs.Redacting([SECRET, TOKEN, "short"]))
    logger = logging.getLogger(f"lambda_vpc_operator.test.{id(stream)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_has_the_fields_null_outside_a_look(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("starting")
    with logs.looking("team-a", "orders", "orders-fn", "reconcile"):
        logs.set_fields(outcome="Attached")
        logger.info("looked")
    (outside, inside) = lines(stream)
    assert {k: outside[k] for k in logs.FIELDS} == dict.fromkeys(logs.FIELDS)
    assert {k: inside[k] for k in logs.FIELDS} == {
        "namespace": "team-a", "name": "orders", "function": "orders-fn", "action": "reconcile", "outcome": "Attached",
    }  # fmt: skip
    assert inside["logger"] == logger.name and inside["severity"] == "info" and inside["message"] == "looked"


async def test_the_fields_follow_into_worker_threads(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    with logs.looking("ns", "fn", "f", "release"):
        await asyncio.to_thread(logger.debug, "from boto's thread")
    (line,) = lines(stream)
    assert (line["name"], line["action"]) == ("fn", "release")


def test_kopf_object_lines_name_the_object(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("Handler succeeded.", extra={"k8s_ref": {"namespace": "ns", "name": "obj", "kind": "K"}})
    (line,) = lines(stream)
    assert (line["namespace"], line["name"]) == ("ns", "obj")
    assert line["object"] == {"namespace": "ns", "name": "obj", "kind": "K"}


def test_secrets_never_reach_a_line(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.debug("headers %s", {"X-Amz-Security-Token": TOKEN.encode()})
    try:
        raise RuntimeError(f"credentials {SECRET} refused")
    except RuntimeError:
        logger.exception("failed")
    text = stream.getvalue()
    assert SECRET not in text and TOKEN not in text
    assert text.count(logs.REDACTED) >= 2
    assert "short" not in logs.Redacting(["short"]).secrets  # too short to be told from a word


def test_the_secrets_come_from_the_environment_and_the_webhook_key(tmp_path: Path) -> None:
    key = tmp_path / "tls.key"
    key.write_text(
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\nAwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"
    )
    found = logs.secrets_of({"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN, "HOME": "/root"}, str(key))
    assert found == [SECRET, TOKEN, "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49", "AwEHBG0wawIBAQQg"]
    assert logs.secrets_of({}, str(tmp_path / "missing")) == []
