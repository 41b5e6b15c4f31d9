"""The simulator's control API: HTTP routes under ``/_sim/`` and the ``SimulatorControl`` client.

Why: tests, benchmarks and the sandbox must move the simulated clock, inject faults and read the
call counts of a simulator that may run in another thread or another process. One JSON route per
control call, on the same port as the AWS endpoint, serves all of them; the client is urllib only,
so it adds no dependency to whoever drives the simulator.

Every route is ``POST /_sim/<name>`` with a JSON object of keyword arguments (``GET`` works for the
ones without arguments) and answers ``{"result": ...}``, or ``{"error": ...}`` with 4xx.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from . import wire
from .backend import ControlError, SimulatorBackend
from .config import DEFAULT_ACCOUNT_ID

PREFIX = "/_sim/"
DEFAULT_REGION = "us-east-1"

Route = Callable[[SimulatorBackend, dict[str, Any]], Any]


def _scope(args: dict[str, Any]) -> dict[str, str]:
    return {
        "region": str(args.get("region", DEFAULT_REGION)),
        "account": str(args.get("account", DEFAULT_ACCOUNT_ID)),
    }


def _create_account_role(backend: SimulatorBackend, args: dict[str, Any]) -> str:
    """A role in any account, made as that account's administrator would (an Organizations account
    comes with OrganizationAccountAccessRole): the way into an account nobody can sign for yet."""
    from moto.iam.models import iam_backends

    iam = iam_backends[str(args["account"])]["aws"]
    name = str(args["role_name"])
    trust = args["trust_policy"]
    role = iam.create_role(name, trust if isinstance(trust, str) else json.dumps(trust), "/", None, "", [], None)
    policy = args.get("policy")
    if policy is not None:
        iam.put_role_policy(name, "inline", policy if isinstance(policy, str) else json.dumps(policy))
    return str(role.arn)


def _calls(backend: SimulatorBackend, args: dict[str, Any]) -> Any:
    return dict(backend.counter.served)


def _throttled(backend: SimulatorBackend, args: dict[str, Any]) -> Any:
    return dict(backend.counter.throttled)


ROUTES: dict[str, Route] = {
    "now": lambda b, a: b.clock.now(),
    "advance": lambda b, a: b.advance(float(a["seconds"])),
    "config": lambda b, a: b.config.to_dict(),
    "set_delays": lambda b, a: b.set_delays(
        create=a.get("create"),
        update=a.get("update"),
        eni_create=a.get("eni_create"),
        eni_delete=a.get("eni_delete"),
    ),
    "set_rate_limits": lambda b, a: b.set_rate_limits(
        bool(a["enabled"]), **{key: value for key, value in a.items() if key != "enabled"}
    ),
    "inject_update_failure": lambda b, a: b.inject_update_failure(
        a["function"],
        a["reason_code"],
        str(a.get("reason", a["reason_code"])),
        int(a.get("count", 1)),
        **_scope(a),
    ),
    "inject_subnet_failure": lambda b, a: b.inject_subnet_failure(
        a["subnet_id"], a.get("reason_code"), str(a.get("reason", a.get("reason_code") or ""))
    ),
    "set_subnet_free_addresses": lambda b, a: b.set_subnet_free_addresses(a["subnet_id"], a.get("n")),
    "set_eni_quota": lambda b, a: b.set_eni_quota(a["vpc_id"], int(a["n"])),
    "set_role_checks": lambda b, a: b.set_role_checks(a.get("at_call"), a.get("propagation_delay")),
    "break": lambda b, a: b.broken_operations.update(a["operations"]),
    "unbreak": lambda b, a: (
        b.broken_operations.difference_update(a["operations"]) if a.get("operations") else b.broken_operations.clear()
    ),
    "garble": lambda b, a: b.garbled_operations.update(a["operations"]),
    "ungarble": lambda b, a: (
        b.garbled_operations.difference_update(a["operations"]) if a.get("operations") else b.garbled_operations.clear()
    ),
    "set_invoke_delay": lambda b, a: (
        b.invoke_delays.__setitem__(a["function"], float(a["seconds"]))
        if a.get("seconds") else b.invoke_delays.pop(a["function"], None)
    ),
    "set_free_address_jitter": lambda b, a: b.set_free_address_jitter(int(a["n"])),
    "set_state": lambda b, a: b.set_state(
        a["function"], str(a["state"]), a.get("reason_code"), a.get("reason"), **_scope(a)
    ),
    "make_idle": lambda b, a: b.make_idle(a["function"], **_scope(a)),
    "fail_next_rebuild": lambda b, a: b.fail_next_rebuild(
        a["function"],
        a.get("reason_code", "InternalError"),
        a.get("reason", "Lambda could not restore the resources of the function."),
        **_scope(a),
    ),
    "replace_eni": lambda b, a: b.replace_eni(a["subnet_id"], list(a["group_ids"]), float(a.get("delay", 0.0))),
    "set_combination_delay": lambda b, a: b.set_combination_delay(
        a["subnet_id"], list(a["group_ids"]), None if a.get("seconds") is None else float(a["seconds"])
    ),
    "calls": _calls,
    "throttled": _throttled,
    "reset_calls": lambda b, a: b.counter.reset(),
    "invocations": lambda b, a: [i.to_dict() for i in b.invocations],
    "enis": lambda b, a: b.enis(),
    "functions": lambda b, a: b.functions(),
    "reset": lambda b, a: b.reset(),
    "deny": lambda b, a: b.denied_operations.update(a["operations"]),
    "allow": lambda b, a: (
        b.denied_operations.difference_update(a["operations"]) if a.get("operations") else b.denied_operations.clear()
    ),
    "create_account_role": _create_account_role,
    "set_principal_policy": lambda b, a: b.set_principal_policy(str(a["access_key"]), a["document"]),
    "clear_principal_policy": lambda b, a: b.clear_principal_policy(a.get("access_key")),
    "refused": lambda b, a: {key: dict(counts) for key, counts in b.refused.items()},
    "inject_faults": lambda b, a: b.faults.inject(list(a["rules"]), a.get("seed")),
    "clear_faults": lambda b, a: b.faults.reset(),
    "injected": lambda b, a: b.faults.injected(),
    "journal": lambda b, a: b.journal.entries(int(a.get("since", 0)), bool(a.get("writes_only", False))),
    "clear_journal": lambda b, a: b.journal.reset(),
}


def handle(backend: SimulatorBackend, environ: wire.Environ) -> wire.Response:
    name = str(environ.get("PATH_INFO", ""))[len(PREFIX) :].strip("/")
    route = ROUTES.get(name)
    if route is None:
        return wire.json_response(404, {"error": f"No control route {name!r}; known: {sorted(ROUTES)}"})
    raw = wire.read_body(environ)
    try:
        args = json.loads(raw) if raw else {}
        if not isinstance(args, dict):
            raise ValueError("the body must be a JSON object")
    except ValueError as error:
        return wire.json_response(400, {"error": f"Bad JSON: {error}"})
    with backend.lock:
        backend.settle()
        try:
            result = route(backend, args)
        except ControlError as error:
            return wire.json_response(error.status, {"error": str(error)})
        except (KeyError, TypeError, ValueError) as error:
            return wire.json_response(400, {"error": f"{type(error).__name__}: {error}"})
    return wire.json_response(200, {"result": result})


class SimulatorControlError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class SimulatorControl:
    """Client of the control API (urllib only). ``region`` defaults to us-east-1 everywhere."""

    def __init__(self, endpoint_url: str, timeout: float = 30.0) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout = timeout
        # Never through an HTTP proxy from the environment: the simulator is local.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, name: str, **args: Any) -> Any:
        body = json.dumps({k: v for k, v in args.items() if v is not None}).encode()
        request = urllib.request.Request(
            f"{self.endpoint_url}{PREFIX}{name}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return json.loads(response.read())["result"]
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, KeyError, TypeError):
                detail = json.loads(detail)["error"]
            raise SimulatorControlError(error.code, detail) from None

    # -- the clock ---------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated time, epoch seconds."""
        return float(self._call("now"))

    def advance(self, seconds: float) -> float:
        """Move simulated time forward; every deadline passed is applied at once. Returns now()."""
        return float(self._call("advance", seconds=seconds))

    # -- settings ----------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return dict(self._call("config"))

    def set_delays(
        self,
        create: float | None = None,
        update: float | None = None,
        eni_create: float | None = None,
        eni_delete: float | None = None,
    ) -> dict[str, Any]:
        """Change the simulated delays (seconds); None keeps a delay. Returns the config."""
        return dict(
            self._call(
                "set_delays", create=create, update=update, eni_create=eni_create, eni_delete=eni_delete
            )
        )

    def set_rate_limits(
        self,
        enabled: bool,
        control_per_s: float | None = None,
        get_function_per_s: float | None = None,
        ec2_non_mutating_per_s: float | None = None,
        ec2_unfiltered_per_s: float | None = None,
    ) -> dict[str, Any]:
        """Switch the request budgets on/off and set their refill rates (buckets start full)."""
        return dict(
            self._call(
                "set_rate_limits",
                enabled=enabled,
                control_per_s=control_per_s,
                get_function_per_s=get_function_per_s,
                ec2_non_mutating_per_s=ec2_non_mutating_per_s,
                ec2_unfiltered_per_s=ec2_unfiltered_per_s,
            )
        )

    # -- faults ------------------------------------------------------------------------------------

    def inject_update_failure(
        self,
        function: str,
        reason_code: str,
        reason: str | None = None,
        count: int = 1,
        region: str = DEFAULT_REGION,
    ) -> None:
        """The next ``count`` changes (create or update) of ``function`` end Failed with this code."""
        self._call(
            "inject_update_failure",
            function=function,
            reason_code=reason_code,
            reason=reason,
            count=count,
            region=region,
        )

    def inject_subnet_failure(
        self, subnet_id: str, reason_code: str | None, reason: str | None = None
    ) -> None:
        """Every change into ``subnet_id`` ends Failed with this code, until called with None."""
        self._call("inject_subnet_failure", subnet_id=subnet_id, reason_code=reason_code, reason=reason)

    def set_subnet_free_addresses(self, subnet_id: str, n: int | None) -> None:
        """How many more ENIs the subnet can take (0: SubnetOutOfIPAddresses); None: unlimited.
        DescribeSubnets' AvailableIpAddressCount says the same (None: the CIDR's own count)."""
        self._call("set_subnet_free_addresses", subnet_id=subnet_id, n=n)

    def set_free_address_jitter(self, n: int) -> dict[str, Any]:
        """From now on every DescribeSubnets moves each subnet's AvailableIpAddressCount down by a
        random 0..n from its own count (pods sharing the subnet); 0 stops it. Returns the config."""
        return dict(self._call("set_free_address_jitter", n=n))

    def set_state(
        self,
        function: str,
        state: str,
        reason_code: str | None = None,
        reason: str | None = None,
        region: str = DEFAULT_REGION,
    ) -> None:
        """Set the function's State (e.g. Deactivated, ActiveNonInvocable; Active to bring it back)."""
        self._call("set_state", function=function, state=state, reason_code=reason_code, reason=reason, region=region)

    def set_eni_quota(self, vpc_id: str, n: int) -> None:
        """The VPC's Hyperplane ENI quota (default 500); beyond it creation fails EniLimitExceeded."""
        self._call("set_eni_quota", vpc_id=vpc_id, n=n)

    def set_role_checks(self, at_call: bool | None = None, propagation_delay: float | None = None) -> dict[str, Any]:
        """``at_call``: refuse a VpcConfig whose execution role may not create ENIs at the call
        (InvalidParameterValueException, the default) or let the change fail later
        (InsufficientRolePermissions). ``propagation_delay``: simulated seconds during which a role
        just created or changed is seen without the change (IAM propagation). Returns the config."""
        return dict(self._call("set_role_checks", at_call=at_call, propagation_delay=propagation_delay))

    def make_idle(self, function: str, region: str = DEFAULT_REGION) -> None:
        """Make the function Inactive (Idle) now and reclaim the ENIs no Active function uses."""
        self._call("make_idle", function=function, region=region)

    def fail_next_rebuild(
        self,
        function: str,
        reason_code: str = "InternalError",
        reason: str | None = None,
        region: str = DEFAULT_REGION,
    ) -> None:
        """The next restore of the Inactive function fails: it goes back to Inactive."""
        self._call(
            "fail_next_rebuild", function=function, reason_code=reason_code, reason=reason, region=region
        )

    def replace_eni(self, subnet_id: str, group_ids: list[str], delay: float = 0.0) -> dict[str, str]:
        """Replace the ENI of a combination (new id at once, ``attaching`` for ``delay`` simulated
        seconds, then ``in-use``); returns old_eni_id, new_eni_id."""
        return dict(self._call("replace_eni", subnet_id=subnet_id, group_ids=list(group_ids), delay=delay))

    def set_combination_delay(self, subnet_id: str, group_ids: list[str], seconds: float | None) -> None:
        """How long creating the ENI of this (subnet, security-group set) takes (simulated seconds);
        None: back to the default ``eni_create_delay``."""
        self._call("set_combination_delay", subnet_id=subnet_id, group_ids=list(group_ids), seconds=seconds)

    # -- observations ------------------------------------------------------------------------------

    def calls(self) -> dict[str, int]:
        """Served calls per ``service:Operation`` (throttled calls are in ``throttled()``)."""
        return {str(k): int(v) for k, v in self._call("calls").items()}

    def throttled(self) -> dict[str, int]:
        """Calls refused with 429 per ``lambda:Operation``."""
        return {str(k): int(v) for k, v in self._call("throttled").items()}

    def reset_calls(self) -> None:
        self._call("reset_calls")

    def invocations(self) -> list[dict[str, Any]]:
        """Every Invoke: function, region, invocation_type, payload, at (simulated), status, result."""
        return list(self._call("invocations"))

    def enis(self) -> list[dict[str, Any]]:
        """The simulator's Hyperplane ENI bookkeeping (creating, ready, deleting, failed)."""
        return list(self._call("enis"))

    def functions(self) -> list[dict[str, Any]]:
        """The simulator's lifecycle records of the functions."""
        return list(self._call("functions"))

    def deny(self, *operations: str) -> None:
        """Answer these ``service:Operation``s AccessDenied (UnauthorizedOperation for EC2), as if the
        caller's role lacked them, e.g. ``deny("iam:SimulatePrincipalPolicy")``."""
        self._call("deny", operations=list(operations))

    def allow(self, *operations: str) -> None:
        """Undo ``deny`` for these operations, or for every operation when none is named."""
        self._call("allow", operations=list(operations))

    def set_principal_policy(self, access_key: str, document: str | dict[str, Any]) -> None:
        """Answer every request signed with ``access_key`` as IAM would for a principal holding
        exactly this policy document (JSON text or dict): AccessDenied for an action it does not
        allow on the request's resource, no ``Tags`` in GetFunction without lambda:ListTags.
        Keys without a principal policy may do everything. ``deny`` still applies on top."""
        self._call("set_principal_policy", access_key=access_key, document=document)

    def create_account_role(
        self, account: str, name: str, trust_policy: str | dict[str, Any], policy: str | dict[str, Any] | None = None
    ) -> str:
        """Create role ``name`` in ``account`` (its trust policy, an inline permission policy); its ARN.
        Assume it (sts:AssumeRole, from a principal its trust policy names) to act in that account."""
        return str(self._call("create_account_role", account=account, role_name=name, trust_policy=trust_policy,
                              policy=policy))  # fmt: skip

    def clear_principal_policy(self, access_key: str | None = None) -> None:
        """Drop the principal policy of ``access_key`` (of every key when None)."""
        self._call("clear_principal_policy", access_key=access_key)

    def refused(self) -> dict[str, dict[str, int]]:
        """Requests a principal policy refused, by access key and IAM action (those refused by
        ``deny`` are not here): what an e2e run asserts is empty for the operator's key."""
        return {str(k): {str(a): int(n) for a, n in v.items()} for k, v in self._call("refused").items()}
    def break_operations(self, *operations: str) -> None:
        """Answer these ``service:Operation``s (not Lambda's) with an HTML 500, as a plain moto server
        does for what it does not implement, e.g. ``break_operations("iam:SimulatePrincipalPolicy")``."""
        self._call("break", operations=list(operations))

    def garble(self, *operations: str) -> None:
        """Answer these ``lambda:Operation``s with HTTP 200 and an empty JSON object: an answer that
        parses but lacks what the API promises (e.g. GetFunction without Configuration)."""
        self._call("garble", operations=list(operations))

    def ungarble(self, *operations: str) -> None:
        """Undo ``garble`` for these operations, or for every one when none is named."""
        self._call("ungarble", operations=list(operations))

    def set_invoke_delay(self, function: str, seconds: float | None) -> None:
        """Each Invoke of ``function`` takes ``seconds`` real seconds before it is answered (None: none),
        as a slow function does in RequestResponse mode; other requests are served meanwhile."""
        self._call("set_invoke_delay", function=function, seconds=seconds)

    def unbreak(self, *operations: str) -> None:
        """Undo ``break_operations`` for these operations, or for every one when none is named."""
        self._call("unbreak", operations=list(operations))

    def inject_faults(self, rules: list[dict[str, Any]], seed: int | None = None) -> list[dict[str, Any]]:
        """Replace the fault rules (docs/testing.md "Fault injection"). Each rule is a dict:
        ``operations`` (a glob over "service:Operation", e.g. "lambda:*", "ec2:DescribeSubnets", or a list),
        ``kind`` (throttle, server_error, html, truncated, latency, reset, conflict, not_implemented,
        stale), ``rate`` (probability per request, default 1) and ``params``. The RNG is reseeded
        with ``seed``, so the same requests draw the same faults. Returns the rules, params filled."""
        return list(self._call("inject_faults", rules=list(rules), seed=seed))

    def clear_faults(self) -> None:
        """No fault rules any more; the counts and the stale reads' history are cleared too."""
        self._call("clear_faults")

    def injected(self) -> dict[str, dict[str, int]]:
        """Faults injected so far, by kind and ``service:Operation``."""
        return {str(k): {str(o): int(n) for o, n in v.items()} for k, v in self._call("injected").items()}

    def journal(self, since: int = 0, writes_only: bool = False) -> list[dict[str, Any]]:
        """Requests answered so far (``aws.journal``), from sequence number ``since`` on: seq, at
        (wall clock), operation, status (0: reset), agent (the User-Agent's ``app/<id>``), operator,
        access_key, and for Lambda requests function, write, body (VpcConfig, RevisionId, Tags)."""
        return list(self._call("journal", since=since, writes_only=writes_only or None))

    def clear_journal(self) -> None:
        self._call("clear_journal")

    def reset(self) -> None:
        """moto's backends and all simulator state back to new (config, clock, counters and
        principal policies too)."""
        self._call("reset")
