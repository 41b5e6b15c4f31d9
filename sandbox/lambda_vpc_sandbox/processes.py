"""The operator, unmodified, as a child process pointed at a kubeconfig and an AWS endpoint.

Tests, benchmarks and the sandbox all start it this way, so what they exercise is exactly what
runs in a cluster: the ``lambda-vpc-operator run`` command, boto3 honouring AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

# Fake but well-formed credentials: the simulator accepts anything, botocore insists on some.
SIMULATED_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_SESSION_TOKEN": "sandbox",
}
# The operator's key: the simulator can hold it to docs/iam-policy.json (set_principal_policy).
OPERATOR_ACCESS_KEY = SIMULATED_CREDENTIALS["AWS_ACCESS_KEY_ID"]


def simulated_aws_env(endpoint_url: str, region: str = "us-east-1") -> dict[str, str]:
    """Environment that points boto3 (and so the operator) at the simulator."""
    return {
        **SIMULATED_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


class OperatorProcess:
    def __init__(
        self,
        kubeconfig: str | Path,
        env: Mapping[str, str],
        args: Sequence[str] = (),
        log_path: str | Path | None = None,
    ) -> None:
        self.kubeconfig = str(kubeconfig)
        self.env = dict(env)
        self.args = list(args)
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen[bytes] | None = None
        self._log: object | None = None

    def start(self) -> OperatorProcess:
        env = {**os.environ, **self.env, "KUBECONFIG": self.kubeconfig, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "lambda_vpc_operator", "run", *self.args]
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            self._log = log
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        else:
            self.process = subprocess.Popen(command, env=env)
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGINT first (kopf stops gracefully), SIGKILL if it does not exit in time."""
        process, self.process = self.process, None
        code: int | None = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                deadline = time.monotonic() + timeout
                while process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                if process.poll() is None:
                    process.kill()
            code = process.wait()
        log, self._log = self._log, None
        if log is not None:
            log.close()  # type: ignore[attr-defined]
        return code

    def dump_tasks(self, settle: float = 0.5) -> None:
        """SIGUSR1: the operator logs the stack of each of its asyncio tasks (handlers.diagnostics)."""
        if self.running and hasattr(signal, "SIGUSR1"):
            assert self.process is not None
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(settle)  # the log line is written by the operator's loop

    def restart(self) -> OperatorProcess:
        self.stop()
        return self.start()

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
