"""The WSGI layer in front of moto: identify, inject faults, count, budget, then answer or forward.

Why: the operator talks to the simulator exactly as to AWS (boto3 with AWS_ENDPOINT_URL), so the
simulation must sit on the HTTP path. Every request passes here: ``/_sim/`` goes to the control
API; any other request first draws its injected faults (``faults``: latency is slept and terminal
faults answered before the backend's lock is taken), then lets the clock's deadlines pass
(``settle``), is counted per operation, is charged to EC2's buckets (aws-facts "EC2 request buckets
and paging"), is authorized (``authorization``: the caller's principal policy, and the operations a
test denied), is charged to the Lambda request budget (aws-facts "Rate limits"), and then is either
answered by ``responses.LambdaResponses`` (or ``paging``) or forwarded untouched to moto's WSGI
app. All of that runs under the backend's one lock, so moto's backends and our state never disagree
mid-request; a served answer may then be made stale or truncated, or its connection reset.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterable

from . import (
    authorization,
    control,
    custom_ids,
    exceptions,
    faults,
    paging,
    patches,
    permissions,
    routing,
    trust,
    wire,
)
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


def _function_arn(method: str, path: str, query: dict[str, list[str]], account: str, region: str) -> str:
    """The function a Lambda request names (for the message of an injected conflict)."""
    match = routing.match_lambda(method, path, query)
    params = match.params if match is not None else {}
    name = urllib.parse.unquote(params.get("FunctionName") or params.get("Resource") or "function")
    if name.startswith("arn:"):
        return name
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


class _Reset(Exception):
    """A fault drew a connection reset (raised to ``handle``, which records, then resets)."""


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
        operation = self._name(identity, method, path, query, body, headers)
        status = 0  # a reset: no answer
        try:
            response = self._answer(environ, body, method, path, query, headers, identity, operation)
            status = response.status
            return response
        except _Reset:
            pass  # recorded below, then the connection is reset
        finally:
            # Recorded before a reset closes the connection: a client that saw it finds it here.
            self.backend.journal.record(
                operation, status, headers.get("user-agent", ""), identity.access_key or "",
                self._function(identity, method, path, query), body, query, identity.region or "",
            )  # fmt: skip
        raise faults.reset_connection(environ)

    def _answer(
        self,
        environ: wire.Environ,
        body: bytes,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        identity: routing.RequestIdentity,
        operation: str | None,
    ) -> wire.Response:
        plan = self.backend.faults.plan(operation)
        if plan is faults.NO_FAULTS:
            return self._serve(environ, body, method, path, query, headers, identity)
        if plan.latency > 0:
            time.sleep(plan.latency)  # aws-facts "Fault kinds on the wire": slow, with no lock held
        if plan.reset_before:
            raise _Reset
        if plan.terminal is not None:
            account, region = account_of(identity.access_key), identity.region or DEFAULT_REGION
            return faults.terminal_answer(
                plan.terminal, plan.operation, lambda: _function_arn(method, path, query, account, region)
            )
        response = self._serve(environ, body, method, path, query, headers, identity)
        text = body.decode("utf-8", "replace")
        key = (identity.access_key or "", method, path, str(environ.get("QUERY_STRING", "")), text)
        response = self.backend.faults.after(plan, key, response, self.backend.clock.now())
        if plan.reset_after:
            raise _Reset  # served (a write is done), the answer lost
        return response

    @staticmethod
    def _function(
        identity: routing.RequestIdentity, method: str, path: str, query: dict[str, list[str]]
    ) -> str:
        """The function a Lambda request names (FunctionName, or a TagResource's Resource ARN)."""
        if identity.service != routing.LAMBDA:
            return ""
        match = routing.match_lambda(method, path, query)
        params = match.params if match is not None else {}
        return str(params.get("FunctionName") or params.get("Resource") or params.get("ARN") or "")

    @staticmethod
    def _name(
        identity: routing.RequestIdentity,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        headers: dict[str, str],
    ) -> str | None:
        """``service:Operation`` of a request, read without any lock (fault rules match it)."""
        if identity.service == routing.LAMBDA:
            match = routing.match_lambda(method, path, query)
            return f"lambda:{match.operation if match is not None else 'Unknown'}"
        return SimulatorMiddleware._operation(identity, method, body, query, headers)

    def _serve(
        self,
        environ: wire.Environ,
        body: bytes,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        identity: routing.RequestIdentity,
    ) -> wire.Response:
        with self.backend.lock:
            configure_moto()  # cheap; guards against an in-process mock_aws switching it back
            self.backend.settle()
            caller = self._caller(identity)
            if identity.service == routing.LAMBDA:
                return self._lambda(environ, method, path, query, body, headers, identity, caller)
            operation = self._operation(identity, method, body, query, headers)
            if operation is not None:
                form = {**query, **urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)}
                if identity.service == "ec2" and self._ec2_throttled(identity, operation, form):
                    # aws-facts "EC2 request buckets and paging": over the API's bucket.
                    self.backend.counter.record(operation, throttled=True)
                    return faults.request_limit_exceeded()
                self.backend.counter.record(operation)
                if operation == "ec2:DescribeSubnets":
                    self.backend.move_free_addresses(account_of(identity.access_key), identity.region or DEFAULT_REGION)
                request = authorization.query_request(operation, body, query)
                refusal = self._refusal(caller, identity, operation, request)
                if refusal is not None:
                    return refusal
                if operation == trust.ACTION:
                    # aws-facts "Trust policies": moto assumes any role, even a missing one; AWS does not.
                    denied = trust.refusal(identity.access_key, account_of(identity.access_key), form)
                    if denied is not None:
                        return denied  # the role's trust policy refused, not the caller's own policy
                if operation in self.backend.broken_operations:
                    # Fault injection: the answer of an endpoint that lacks the operation (plain moto).
                    return permissions.html_500()
                if identity.service == "ec2":
                    answer = self._ec2(environ, body, form, operation)
                    if answer is not None:
                        return answer
                if identity.service == "iam" and operation.partition(":")[2] in permissions.ROLE_CHANGES:
                    self.backend.role_changed(permissions.changed_role(body))
                if operation == permissions.SIMULATE:
                    # aws-facts "moto 5.2": iam:SimulatePrincipalPolicy is not implemented; we answer it.
                    return permissions.simulate_principal_policy(account_of(identity.access_key), body)
            with custom_ids.custom_id(body):
                return wire.call_app(self.moto_app, environ, body)

    def _ec2_throttled(self, identity: routing.RequestIdentity, operation: str, form: dict[str, list[str]]) -> bool:
        account, region = account_of(identity.access_key), identity.region or DEFAULT_REGION
        return self.backend.budgets.take_ec2(account, region, operation.partition(":")[2], form) > 0

    def _ec2(
        self, environ: wire.Environ, body: bytes, form: dict[str, list[str]], operation: str
    ) -> wire.Response | None:
        """The paging moto lacks (aws-facts "EC2 request buckets and paging"); None: forward as is."""
        if operation != "ec2:DescribeNetworkInterfaces":
            return None
        refusal = paging.refusal(form)
        if refusal is not None:
            return refusal
        with custom_ids.custom_id(body):
            return paging.page(form, wire.call_app(self.moto_app, environ, body))

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
        account = account_of(identity.access_key)
        statements = self.backend.principal_policies.get(identity.access_key or "")
        role = trust.assumed_role(identity.access_key, account) if statements is None else None
        if role is not None:
            # aws-facts "Trust policies": a role session may do what the role's policies allow, no more.
            statements = tuple(permissions.role_statements(account, role) or ())
        return authorization.Caller(
            account=account,
            statements=statements,
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
        elsewhere = _arn_region(params)
        if elsewhere is not None and elsewhere != region:
            # aws-facts "Regions": a full ARN of another region is refused, never looked up here by its
            # name (moto would find a function of the same name in this region).
            message = f"Functions from '{elsewhere}' are not reachable in this region ('{region}')"
            return exceptions.ResourceNotFound(message).to_response()
        if f"lambda:{operation}" in self.backend.garbled_operations:
            # Fault injection: a 200 whose body lacks every field the API promises.
            return wire.Response(200, [("Content-Type", "application/json")], b"{}")

        def forward(new_body: bytes | None) -> wire.Response:
            return wire.call_app(self.moto_app, environ, body if new_body is None else new_body)

        state = self.backend.region(account, region)
        return LambdaResponses(self.backend, state, match, body, query, headers, forward, caller).dispatch()


def _arn_region(params: dict[str, str]) -> str | None:
    """The region of the full function ARN a Lambda request names (FunctionName, or a tag request's
    Resource); None for a name or a partial ARN."""
    named = urllib.parse.unquote(str(params.get("FunctionName") or params.get("Resource") or params.get("ARN") or ""))
    parts = named.split(":")
    return parts[3] if len(parts) > 6 and parts[0] == "arn" and parts[3] else None
