"""Running the simulator: moto's WSGI app behind our middleware, on a threaded werkzeug server.

Why: the operator reaches AWS over HTTP (boto3 with AWS_ENDPOINT_URL), so the simulator must be a
real HTTP server; a background thread lets a test or the sandbox run it in-process and still reach
it like AWS. This follows moto's ``ThreadedMotoServer`` (same dispatcher app, same request
handler), with ``SimulatorMiddleware`` wrapped around the app.

moto's backends are process-global (aws-facts "moto 5.2"): two simulators in one process share
moto's state (each keeps its own lifecycle state), so run one at a time, or share one.
"""

from __future__ import annotations

import argparse
import json
import signal
import socketserver
import sys
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from .backend import SimulatorBackend, configure_moto
from .config import SimConfig
from .control import SimulatorControl
from .middleware import SimulatorMiddleware
from .partners import seed_second_account
from .seeding import seed_demo_account


class AwsSimulator:
    """The AWS simulator on ``host:port`` (port 0: any free port). Context manager or start/stop."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, config: SimConfig | None = None, *, quiet: bool = True
    ) -> None:
        self.host = host
        self.port = port
        self.quiet = quiet
        self.backend = SimulatorBackend(config)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> AwsSimulator:
        if self._server is not None:
            return self
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        # aws-facts "moto 5.2": use_docker false BEFORE any function is created.
        configure_moto()
        handler = MotoRequestHandler
        if self.quiet:

            class QuietRequestHandler(MotoRequestHandler):
                """No access log line per request (the call counters say what was called)."""

                def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                    pass

            handler = QuietRequestHandler
        app = SimulatorMiddleware(self.backend, DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=handler)
        if isinstance(self._server, socketserver.ThreadingMixIn):
            # boto3 keeps connections alive: do not wait for their threads when stopping.
            self._server.daemon_threads = True
            self._server.block_on_close = False
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"aws-simulator-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> AwsSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def control(self) -> SimulatorControl:
        return SimulatorControl(self.endpoint_url)


def main(argv: Sequence[str] | None = None) -> int:
    """``lambda-vpc-operator sandbox aws [--port N] [--no-seed]``: run until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="lambda-vpc-operator sandbox aws", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--no-seed", action="store_true", help="start empty: no demo account")
    parser.add_argument("--realistic", action="store_true", help="AWS-like delays (SimConfig.realistic)")
    parser.add_argument("--no-rate-limits", action="store_true", help="no Lambda or EC2 request budgets")
    parser.add_argument(
        "--faults",
        metavar="FILE",
        help='fault rules to inject from the start: JSON {"rules": [...], "seed": N} (docs/testing.md)',
    )
    args = parser.parse_args(argv)

    # SIGINT stops it even when started in the background by a non-interactive shell, which leaves
    # SIGINT ignored (bash: "&" without job control) for every program it starts.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    config = SimConfig.realistic() if args.realistic else SimConfig()
    config.rate_limits_enabled = not args.no_rate_limits
    simulator = AwsSimulator(args.host, args.port, config).start()
    try:
        if args.faults:
            with open(args.faults, encoding="utf-8") as source:
                spec = json.load(source)
            simulator.backend.faults.inject(list(spec["rules"]), spec.get("seed"))
        output: dict[str, Any] = {"endpoint_url": simulator.endpoint_url, "region": args.region}
        if not args.no_seed:
            output["demo"] = seed_demo_account(simulator.endpoint_url, args.region).to_dict()
            # The second account of examples/kubectl/06-cross-account.yaml (its roles may do anything).
            output["partner"] = seed_second_account(simulator.endpoint_url, args.region).to_dict()
        print(json.dumps(output, indent=2), flush=True)
        print("AWS simulator running; Ctrl-C stops it.", file=sys.stderr, flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    return 0
