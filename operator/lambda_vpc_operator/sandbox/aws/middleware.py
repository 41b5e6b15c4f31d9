"""The WSGI layer in front of moto: identify, count, budget, then answer or forward.

Why: the operator talks to the simulator exactly as to AWS (boto3 with AWS_ENDPOINT_URL), so the
simulation must sit on the HTTP path. Every request passes here: ``/_sim/`` goes to the control
API; any other request first lets the clock's deadlines pass (``settle``), is counted per
operation, is authorized (``authorization``: the caller's principal policy, and the operations a
test denied), is charged to the Lambda request budget (aws-facts "Rate limits"), and then is either
answered by ``responses.LambdaResponses`` or forwarded untouched to moto's WSGI app. All of it
runs under the backend's one lock, so moto's backends and our state never disagree mid-request.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterable

from . import authorization, control, custom_ids, exceptions, patches, permissions, routing, wire
from .backend import SimulatorBackend, configure_moto
from .config import DEFAULT_ACCOUNT_ID
from .responses import LambdaResponses

DEFAULT_REGION = "us-east-1"


def account_of(access_key: str | None) -> str:
    """The account moto serves an access key from (its default account for unknown keys)."""
    if not access_key:
        return DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(access_key))


def _headers(environ: wire.Environ) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    return headers


class SimulatorMiddleware:
    """WSGI app: our behaviour around moto's ``DomainDispatcherApplication``."""

    def __init__(self, backend: SimulatorBackend, moto_app: wire.WsgiApp) -> None:
        self.backend = backend
        self.moto_app = moto_app
        patches.apply()  # moto's answers the operator's checks read (IPv6 subnets)

    def __call__(self, environ: wire.Environ, start_response: wire.StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(control.PREFIX):
            return control.handle(self.backend, environ).send(start_response)
        return self.handle(environ).send(start_response)

    def handle(self, environ: wire.Environ) -> wire.Response:
        body = wire.read_body(environ)
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", ""))
        query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        headers = _headers(environ)
        identity = routing.identify(headers.get("authorization"))
        self._slow_invoke(identity, method, path, query)
        with self.backend.lock:
            configure_moto()  # cheap; guards against an in-process mock_aws switching it back
            self.backend.settle()
            caller = self._caller(identity)
            if identity.service == routing.LAMBDA:
                return self._lambda(environ, method, path, query, body, headers, identity, caller)
            operation = self._operation(identity, method, body, query, headers)
            if operation is not None:
                self.backend.counter.record(operation)
                if operation == "ec2:DescribeSubnets":
                    self.backend.move_free_addresses(account_of(identity.access_key), identity.region or DEFAULT_REGION)
                request = authorization.query_request(operation, body, query)
                refusal = self._refusal(caller, identity, operation, request)
                if refusal is not None:
                    return refusal
                if operation in self.backend.broken_operations:
                    # Fault injection: the answer of an endpoint that lacks the operation (plain moto).
                    return permissions.html_500()
                if identity.service == "iam" and operation.partition(":")[2] in permissions.ROLE_CHANGES:
                    self.backend.role_changed(permissions.changed_role(body))
                if operation == permissions.SIMULATE:
                    # aws-facts "moto 5.2": iam:SimulatePrincipalPolicy is not implemented; we answer it.
                    return permissions.simulate_principal_policy(account_of(identity.access_key), body)
            with custom_ids.custom_id(body):
                return wire.call_app(self.moto_app, environ, body)

    def _slow_invoke(
        self, identity: routing.RequestIdentity, method: str, path: str, query: dict[str, list[str]]
    ) -> None:
        """Fault injection (``set_invoke_delay``): hold an Invoke of a slow function, outside the lock."""
        if identity.service != routing.LAMBDA or not self.backend.invoke_delays:
            return
        match = routing.match_lambda(method, path, query)
        if match is None or match.operation != "Invoke":
            return
        name = urllib.parse.unquote(str(match.params.get("FunctionName", "")))
        name = name.split(":function:")[-1].split(":")[0]
        seconds = self.backend.invoke_delays.get(name)
        if seconds:
            time.sleep(seconds)

    def _caller(self, identity: routing.RequestIdentity) -> authorization.Caller:
        return authorization.Caller(
            account=account_of(identity.access_key),
            statements=self.backend.principal_policies.get(identity.access_key or ""),
            denied_operations=frozenset(self.backend.denied_operations),
        )

    def _refusal(
        self,
        caller: authorization.Caller,
        identity: routing.RequestIdentity,
        operation: str,
        request: authorization.Request,
    ) -> wire.Response | None:
        refusal = caller.refusal(operation, request)
        if refusal is None:
            return None
        if refusal.by_policy:
            self.backend.record_refusal(identity.access_key or "", refusal.action)
        return refusal.response

    @staticmethod
    def _operation(
        identity: routing.RequestIdentity,
        method: str,
        body: bytes,
        query: dict[str, list[str]],
        headers: dict[str, str],
    ) -> str | None:
        if identity.service is None:
            return None
        # EC2, IAM and STS speak the query protocol (Action); json protocols name X-Amz-Target.
        action = routing.query_action(body, query) or routing.json_target(headers.get("x-amz-target"))
        return f"{identity.service}:{action or method}"

    def _lambda(
        self,
        environ: wire.Environ,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        headers: dict[str, str],
        identity: routing.RequestIdentity,
        caller: authorization.Caller,
    ) -> wire.Response:
        match = routing.match_lambda(method, path, query)
        operation = match.operation if match is not None else "Unknown"
        account = caller.account
        region = identity.region or DEFAULT_REGION
        params = match.params if match is not None else {}
        request = authorization.lambda_request(operation, params, query, body, account, region)
        refusal = self._refusal(caller, identity, f"lambda:{operation}", request)
        if refusal is not None:
            self.backend.counter.record(f"lambda:{operation}")
            return refusal
        wait = self.backend.budgets.take(account, region, operation)
        if wait > 0:
            # aws-facts "Rate limits" / "Errors": over budget -> TooManyRequestsException (429).
            self.backend.counter.record(f"lambda:{operation}", throttled=True)
            return exceptions.TooManyRequests(wait).to_response()
        self.backend.counter.record(f"lambda:{operation}")
        if match is None:
            return wire.call_app(self.moto_app, environ, body)
        if f"lambda:{operation}" in self.backend.garbled_operations:
            # Fault injection: a 200 whose body lacks every field the API promises.
            return wire.Response(200, [("Content-Type", "application/json")], b"{}")

        def forward(new_body: bytes | None) -> wire.Response:
            return wire.call_app(self.moto_app, environ, body if new_body is None else new_body)

        state = self.backend.region(account, region)
        return LambdaResponses(self.backend, state, match, body, query, headers, forward, caller).dispatch()
