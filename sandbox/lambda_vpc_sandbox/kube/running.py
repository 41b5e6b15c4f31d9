"""Running the emulator for synchronous code: in its own event-loop thread, with a kubeconfig.

Synchronous tests, the `kubernetes` client, kubectl subprocesses, kopf in another thread and
`make sandbox` all need an API server that runs beside them rather than in their event loop.
`EmulatorThread` runs one `KubeEmulator` on 127.0.0.1 in a daemon thread, writes a kubeconfig that
points at it (context ``lambda-vpc-sandbox``, no authentication) and runs calls in its loop
thread-safely. `main` is ``lambda-vpc-operator sandbox kube``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import pathlib
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Self

import yaml

from lambda_vpc_sandbox.kube import control, server

CONTEXT = "lambda-vpc-sandbox"
STARTUP_TIMEOUT = 30.0  # seconds; starting takes milliseconds, this only catches a stuck loop
CALL_TIMEOUT = 60.0


def kubeconfig(url: str, *, namespace: str = "default", token: str | None = None) -> dict[str, Any]:
    """A kubeconfig for a plain-HTTP server, with a bearer token if it wants one."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {"token": token} if token else {}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
        "preferences": {},
    }


def load_crds(folder: pathlib.Path) -> list[dict[str, Any]]:
    """All CustomResourceDefinitions in the YAML files of a folder (other documents are skipped)."""
    found: list[dict[str, Any]] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        with path.open() as f:
            for document in yaml.safe_load_all(f):
                if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                    found.append(document)
    return found


class EmulatorThread:
    """
    A `KubeEmulator` served over HTTP from its own thread; a context manager or start()/stop().

    ``with EmulatorThread(kubeconfig_path=tmp_path / "kubeconfig") as kube: ...``
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        kubeconfig_path: str | pathlib.Path | None = None,
        crds: Iterable[dict[str, Any]] = (),
        emulator: server.KubeEmulator | None = None,
        token: str | None = None,
    ) -> None:
        self.emulator = emulator if emulator is not None else server.KubeEmulator()
        # With a token, the API answers 401 to anyone without it (``KubeEmulator.tokens``), and the
        # kubeconfig carries it, as a real cluster's does.
        self._token = token
        if token is not None:
            self.emulator.tokens = {token}
        self._host = host
        self._port = port
        self._crds = list(crds)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if kubeconfig_path is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="lambda-vpc-kube-")
            kubeconfig_path = pathlib.Path(self._tempdir.name) / "kubeconfig"
        self.kubeconfig_path = pathlib.Path(kubeconfig_path)
        self._url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("The emulator is not running.")
        return self._url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("The emulator thread can be started only once.")
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT):
            raise RuntimeError("The Kubernetes emulator did not start in time.")
        if self._error is not None:
            raise RuntimeError("The Kubernetes emulator failed to start.") from self._error
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None or self._stopping is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(STARTUP_TIMEOUT)
        self._thread = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = CALL_TIMEOUT) -> Any:
        """Run ``fn(*args)`` in the emulator's loop (awaited if it is a coroutine); return its result."""
        if self._loop is None:
            raise RuntimeError("The emulator is not running.")

        async def invoke() -> Any:
            result = fn(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout)

    @property
    def control(self) -> control.KubeControl:
        """The control API over HTTP (fault injection), as another process would use it."""
        return control.KubeControl(self.url)

    def install_crd(self, crd: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call(self.emulator.install_crd, crd)
        return result

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as e:  # reported to start(); the thread itself has nobody to tell
            self._error = e
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        port = self._port or None
        async with self.emulator, self.emulator.serving(self._host, port) as url:
            for crd in self._crds:
                self.emulator.install_crd(crd)
            self._url = url
            self.kubeconfig_path.parent.mkdir(parents=True, exist_ok=True)
            self.kubeconfig_path.write_text(yaml.safe_dump(kubeconfig(url, token=self._token), sort_keys=False))
            self._ready.set()
            await self._stopping.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """``lambda-vpc-operator sandbox kube [--port N] [--kubeconfig PATH] [--crds DIR] [--faults FILE]``."""
    parser = argparse.ArgumentParser(
        prog="lambda-vpc-operator sandbox kube",
        description="Run the in-memory Kubernetes API emulator until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--kubeconfig", type=pathlib.Path, default=None, help="where to write the kubeconfig")
    parser.add_argument("--crds", type=pathlib.Path, default=None, help="a folder of CRD YAML files to install")
    parser.add_argument(
        "--faults",
        metavar="FILE",
        type=pathlib.Path,
        help='fault rules to inject from the start: JSON {"rules": [...], "seed": N} (docs/reliability.md)',
    )
    args = parser.parse_args(argv)

    # SIGINT stops it even when started in the background by a non-interactive shell, which leaves
    # SIGINT ignored (bash: "&" without job control) for every program it starts.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    crds = load_crds(args.crds) if args.crds is not None else []
    emulator = EmulatorThread(port=args.port, kubeconfig_path=args.kubeconfig, crds=crds)
    if args.faults is not None:
        spec = json.loads(args.faults.read_text(encoding="utf-8"))
        emulator.emulator.faults.inject(list(spec["rules"]), spec.get("seed"))  # checked before serving
    with emulator:
        # Ctrl-C may come as soon as the lines are out (a test reads them, then interrupts): be ready first.
        try:
            print(f"Kubernetes API emulator at {emulator.url}", flush=True)
            print(f"KUBECONFIG={emulator.kubeconfig_path}", flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopping.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
