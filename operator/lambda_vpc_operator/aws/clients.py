"""The boto3 clients of the operator: built once per (service, region) from one session.

Clients are thread-safe and expensive to build (they load the service model), sessions are
neither, so one session builds them all under a lock and every call reuses them. The endpoint is
not configured here: boto3 reads ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_LAMBDA`` itself, which is
how the same code talks to AWS and to our simulator.

Retries: botocore's standard mode (3 attempts) retries throttles and 5xx with backoff but ignores
Retry-After, so ``budgets`` honours it instead. Invoke gets a client of its own with retries off:
standard mode retries a 502 ResourceNotReadyException by itself, which would turn one reactivation
into three invocations (aws-facts "moto 5.2" and "Inactive functions").
"""

from __future__ import annotations

import importlib.metadata
import threading
from typing import Any

import boto3
from botocore.config import Config

from lambda_vpc_operator.aws import trimmed_models
from lambda_vpc_operator.models.settings import IO_THREADS

USER_AGENT_NAME = "lambda-vpc-operator"
# AWS' default for standard mode: the first attempt and two retries.
TOTAL_MAX_ATTEMPTS = 3
# Reach an endpoint quickly or count it as down (botocore's default is 60 s).
CONNECT_TIMEOUT = 10.0
# Control-plane answers take well under a second; 30 s leaves room for a slow region.
READ_TIMEOUT = 30.0
# A RequestResponse invoke holds the connection for as long as the function runs (at most 900 s).
INVOKE_READ_TIMEOUT = 905.0
# One connection per thread that may send a request (models.settings.IO_THREADS).
MAX_POOL_CONNECTIONS = IO_THREADS


def _version() -> str:
    try:
        return importlib.metadata.version("lambda-vpc-operator")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"{USER_AGENT_NAME}/{_version()}"

CONTROL_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": TOTAL_MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=READ_TIMEOUT,
    max_pool_connections=MAX_POOL_CONNECTIONS,
    user_agent_extra=USER_AGENT,
)
# Lambda's control plane answers 429 with a Retry-After that botocore's standard mode ignores: it
# would resend at once, twice, into the same exhausted 15/s account budget (aws-facts "Errors").
# So Lambda requests are sent once; the budget pauses for Retry-After and the reconciler, which
# treats throttles and 5xx as "wait and look again", is the retry loop.
LAMBDA_CONFIG = CONTROL_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
INVOKE_CONFIG = CONTROL_CONFIG.merge(
    Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=INVOKE_READ_TIMEOUT)
)


class AwsClients:
    """Cached boto3 clients: ``lambda_``, ``lambda_invoke`` and ``ec2`` per region; ``iam``, ``sts``."""

    def __init__(self, default_region: str, session: boto3.Session | None = None) -> None:
        self.default_region = default_region
        # Its clients load only the operations we send (aws.trimmed_models): 30 MiB less than full models.
        self._session = session or boto3.Session(botocore_session=trimmed_models.session())
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> boto3.Session:
        """The boto3 session the clients are built from (aws.accounts shares its service models)."""
        return self._session

    def lambda_(self, region: str | None = None) -> Any:
        """Lambda control plane (GetFunction, UpdateFunctionConfiguration, ...), standard retries."""
        return self._client("lambda", region, "control", LAMBDA_CONFIG)

    def lambda_invoke(self, region: str | None = None) -> Any:
        """Lambda Invoke only: no retries, so one call is one invocation."""
        return self._client("lambda", region, "invoke", INVOKE_CONFIG)

    def ec2(self, region: str | None = None) -> Any:
        return self._client("ec2", region, "control", CONTROL_CONFIG)

    def iam(self) -> Any:
        """IAM is global: one client, in the default region (boto3 picks the global endpoint)."""
        return self._client("iam", None, "control", CONTROL_CONFIG)

    def sts(self) -> Any:
        return self._client("sts", None, "control", CONTROL_CONFIG)

    def _client(self, service: str, region: str | None, purpose: str, config: Config) -> Any:
        key = (service, region or self.default_region, purpose)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(service, region_name=key[1], config=config)
            return self._clients[key]
