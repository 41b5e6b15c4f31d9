"""The watch-stream timeouts of ``lambda-vpc-operator run`` (models.settings.WatchSettings)."""

from __future__ import annotations

import pytest

from lambda_vpc_operator import cli
from lambda_vpc_operator.models.settings import WatchSettings


def _watching(*flags: str) -> WatchSettings:
    return cli._watching(cli.build_parser().parse_args(["run", *flags]))


def test_defaults_bound_a_silent_stream_below_the_server_timeout() -> None:
    watching = _watching()
    assert watching == WatchSettings()
    # A silently dead stream is reopened long before the clean server-side end or our backstop,
    # and not before an idle healthy stream's next BOOKMARK (about every 60 s on real servers).
    assert 60 < watching.inactivity_timeout < watching.server_timeout < watching.client_timeout


def test_flags_set_every_timeout() -> None:
    watching = _watching(
        "--watch-inactivity-timeout", "5", "--watch-server-timeout", "20",
        "--watch-client-timeout", "25", "--watch-connect-timeout", "2",
    )  # fmt: skip
    assert watching == WatchSettings(server_timeout=20, client_timeout=25, inactivity_timeout=5, connect_timeout=2)


def test_a_client_timeout_below_the_server_timeout_is_refused() -> None:
    with pytest.raises(SystemExit, match="--watch-client-timeout must be longer"):
        _watching("--watch-server-timeout", "60", "--watch-client-timeout", "30")


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_timeouts_must_be_positive(value: str) -> None:
    with pytest.raises(SystemExit):
        _watching("--watch-inactivity-timeout", value)
