"""Other accounts: an attachment's role (sts:AssumeRole), its credentials, and its pooled gateway.

Why: a function in another account is reached through a role there (``spec.roleArn``, or the
namespace policy's ``defaultRoleArn``); the operator's own identity stays boto3's default chain
(IRSA, EKS Pod Identity), which is also what calls sts:AssumeRole.

Session reuse (docs/design.md "Other accounts"): one role session per (role ARN, external id,
namespace), named after the namespace (``session_name``), so the role's account sees in CloudTrail
which tenant acted, and every attachment of that namespace naming that role (usually through the
policy's defaultRoleArn) shares its clients and Describe caches. Its credentials are botocore
``DeferredRefreshableCredentials``: assumed at the session's first use, refreshed by botocore
before they expire (advisory 15 minutes, mandatory 10 minutes before; sessions last
``DURATION_SECONDS``), never per look. Each session has its ``AwsGateway``, built once and kept in
an LRU of ``MAX_SESSIONS``. Pooled per account (per region inside): the request budgets, as AWS
meters Lambda's 15/s per account and region whichever role or session sends the request, and the
observer (``aws.observer``), so an account is swept once per interval for all its sessions.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, DeferredRefreshableCredentials

from lambda_vpc_operator.aws import budgets, clients, errors, metrics

# botocore sts model, AssumeRole.RoleSessionName (roleSessionNameType): 2 to 64 of [\w+=,.@-].
MAX_SESSION_NAME = 64
_NOT_IN_SESSION_NAME = re.compile(r"[^\w+=,.@-]", re.ASCII)
# Before the namespace in a session name: the operator's sessions are told apart in CloudTrail, and a
# one-letter namespace still makes the 2 characters AWS requires.
SESSION_PREFIX = "lvo."
# Hex digits of the digest that keeps a truncated session name unique.
DIGEST_LENGTH = 8
# botocore sts model, AssumeRole.DurationSeconds: 900 to 43200, at most the role's MaxSessionDuration
# (1 hour by default): ask for the default, which every role allows.
DURATION_SECONDS = 3600
# Role sessions (with their clients) kept; the least recently used is dropped past this and
# assumed again at its next look.
MAX_SESSIONS = 512

class _QuietRefusal(logging.Filter):
    """botocore logs a refused refresh with its traceback at WARNING, at every retry; the refusal is
    an AssumeRoleFailed condition and one line of ours (reconciliation), so keep the line, drop the trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and "Refreshing temporary credentials failed" in record.getMessage():
            record.exc_info, record.exc_text = None, None
        return True


logging.getLogger("botocore.credentials").addFilter(_QuietRefusal())

_ROLE_ARN = re.compile(r"^arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):role/(?P<name>.+)$")


def session_name(namespace: str) -> str:
    """``lvo.<namespace>`` in AWS' RoleSessionName alphabet, at most 64 characters.

    A namespace is a DNS label of at most 63 characters: a longer one than fits keeps its start and
    ends with a digest of the whole, so two namespaces never share a session name.
    """
    full = _NOT_IN_SESSION_NAME.sub("-", f"{SESSION_PREFIX}{namespace}")
    if len(full) <= MAX_SESSION_NAME:
        return full
    digest = hashlib.sha256(namespace.encode()).hexdigest()[:DIGEST_LENGTH]
    return f"{full[: MAX_SESSION_NAME - DIGEST_LENGTH - 1]}-{digest}"


def account_of(role_arn: str) -> str:
    """The account of ``arn:PARTITION:iam::ACCOUNT:role/...``; ValueError for anything else."""
    match = _ROLE_ARN.match(role_arn)
    if match is None:
        raise ValueError(f"not an IAM role ARN: {role_arn}")
    return match["account"]


@dataclasses.dataclass(frozen=True)
class RoleSession:
    """One role session: what AssumeRole is called with (and what its credentials are cached by)."""

    role_arn: str
    external_id: str | None
    session_name: str

    @property
    def account(self) -> str:
        return account_of(self.role_arn)


class _Provider(CredentialProvider):  # type: ignore[misc]
    """Hands botocore the session's refreshable credentials (the public way to give a session its own)."""

    METHOD = "assume-role"
    CANONICAL_NAME = "lambda-vpc-operator-assume-role"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials


class Accounts:
    """The gateways of role sessions, built once each, with one budget pool and one observer per account.

    ``build(session, request_budgets, observer)`` makes an ``AwsGateway`` from a boto3 session (the
    caller passes ``AwsGateway.create``), observing through the account's shared ``observer`` (None
    for the account's first session: its gateway's observer becomes the account's); ``home`` is the
    operator's own clients (its STS client assumes).
    """

    def __init__(
        self,
        home: clients.AwsClients,
        build: Callable[[boto3.Session, budgets.RequestBudgets, Any], Any],
        *,
        control_rate: float = budgets.DEFAULT_CONTROL_RATE,
        get_function_rate: float = budgets.DEFAULT_GET_FUNCTION_RATE,
        ec2_rate: float = budgets.DEFAULT_EC2_RATE,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self.home = home
        self._build = build
        self._control_rate = control_rate
        self._get_function_rate = get_function_rate
        self._ec2_rate = ec2_rate
        self._max_sessions = max_sessions
        self._gateways: collections.OrderedDict[RoleSession, tuple[Any, DeferredRefreshableCredentials]] = (
            collections.OrderedDict()
        )
        self._budgets: dict[str, budgets.RequestBudgets] = {}
        self._observers: dict[str, Any] = {}  # account -> its shared aws.observer.SweepingObserver
        self._lock = threading.Lock()

    def budgets(self, account: str) -> budgets.RequestBudgets:
        """The Lambda budgets of ``account`` (per region inside), shared by every session in it."""
        with self._lock:
            if account not in self._budgets:
                self._budgets[account] = budgets.RequestBudgets(
                    self._control_rate, self._get_function_rate, self._ec2_rate
                )
            return self._budgets[account]

    def gateway(self, role: RoleSession) -> Any:
        """The role session's gateway (built at its first use; no AWS call until a request is sent)."""
        with self._lock:
            found = self._gateways.get(role)
            if found is not None:
                self._gateways.move_to_end(role)
                return found[0]
        credentials = DeferredRefreshableCredentials(refresh_using=self._refresher(role), method="assume-role")
        with self._lock:
            shared = self._observers.get(role.account)
        gateway = self._build(self._session(credentials), self.budgets(role.account), shared)
        with self._lock:
            if shared is None:
                self._observers.setdefault(role.account, gateway.observer.shared)
            self._gateways[role] = (gateway, credentials)
            while len(self._gateways) > self._max_sessions:
                self._gateways.popitem(last=False)
            return gateway

    async def assume(self, role: RoleSession) -> Any:
        """The gateway, with credentials in hand: AssumeRole now if they are missing or about to
        expire. Raises ``errors.AssumeRoleFailed`` (refused) or another ``AwsError`` (STS away)."""
        gateway = self.gateway(role)
        with self._lock:
            credentials = self._gateways[role][1] if role in self._gateways else None
        if credentials is not None:
            with errors.translating():
                await asyncio.to_thread(credentials.get_frozen_credentials)
        return gateway

    def _session(self, credentials: DeferredRefreshableCredentials) -> boto3.Session:
        session = botocore.session.Session()
        # The service models are loaded once, for the home session and every role session.
        session.register_component("data_loader", self.home.session._session.get_component("data_loader"))
        session.register_component("credential_provider", CredentialResolver([_Provider(credentials)]))
        return boto3.Session(botocore_session=session, region_name=self.home.default_region)

    def _refresher(self, role: RoleSession) -> Callable[[], dict[str, str]]:
        def refresh() -> dict[str, str]:
            # Called by botocore (in whatever thread signs a request) when the credentials are
            # missing or near expiry; botocore's own errors propagate, aws.errors names them.
            sts = self.home.sts()
            params: dict[str, Any] = {
                "RoleArn": role.role_arn,
                "RoleSessionName": role.session_name,
                "DurationSeconds": DURATION_SECONDS,
            }
            if role.external_id:
                params["ExternalId"] = role.external_id
            try:
                response = sts.assume_role(**params)
            except Exception as exc:
                metrics.calls.count("sts", "AssumeRole", errors.translate(exc).failure.kind.value)
                raise
            metrics.calls.count("sts", "AssumeRole")
            found = response["Credentials"]
            return {
                "access_key": found["AccessKeyId"],
                "secret_key": found["SecretAccessKey"],
                "token": found["SessionToken"],
                "expiry_time": found["Expiration"].isoformat(),
            }

        return refresh
