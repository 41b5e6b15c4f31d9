"""The Lambda operations the simulator answers differently from moto: parameters and wire format.

Why (aws-facts "moto 5.2 against these facts"): moto's VpcId is a constant, it validates no VPC
input, has no lifecycle (State, LastUpdateStatus, RevisionId), never conflicts, returns every
function in one ListFunctions page and answers Invoke of a missing function with 200. Each handler
here checks what AWS checks first, lets moto store what it stores well (code, role, description),
then rewrites moto's answer from the simulator's record. Operations not listed go to moto as they
are. Like moto's own ``responses.py``, this module is about the wire; the rules are in the backend.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import exceptions, wire
from .backend import RegionState, SimulatorBackend
from .functions import LIFECYCLE_FIELDS, FunctionRecord
from .routing import RouteMatch

if TYPE_CHECKING:
    from .authorization import Caller

Forward = Callable[[bytes | None], wire.Response]
LATEST = "$LATEST"
MAX_TAG_KEY, MAX_TAG_VALUE = 128, 256
# \p{L}\p{Z}\p{N} of the model's pattern: Python's \w covers letters and digits (and _); \p{Z} is the
# space separators (no tab, no newline: those are control characters).
_TAG_CHARS = re.compile(r"[\w .:/=+\-@\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*")


def split_function_name(raw: str) -> tuple[str, str | None]:
    """Name and qualifier of a FunctionName: a name, ``name:qualifier``, an ARN or a partial ARN."""
    parts = raw.split(":")
    if raw.startswith("arn:") and len(parts) >= 7:
        return parts[6], parts[7] if len(parts) > 7 else None
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2], parts[3] if len(parts) > 3 else None
    return parts[0], parts[1] if len(parts) > 1 else None


class LambdaResponses:
    """One Lambda request: ``dispatch`` answers it, with or without moto."""

    def __init__(
        self,
        backend: SimulatorBackend,
        region: RegionState,
        match: RouteMatch,
        body: bytes,
        query: dict[str, list[str]],
        headers: dict[str, str],
        forward: Forward,
        caller: Caller | None = None,
    ) -> None:
        self.backend = backend
        self.region = region
        self.match = match
        self.body = body
        self.query = query
        self.headers = headers
        self.forward = forward
        self.caller = caller

    def dispatch(self) -> wire.Response:
        handler = getattr(self, _snake(self.match.operation), None)
        try:
            return handler() if handler is not None else self.forward(None)
        except exceptions.LambdaError as error:
            return error.to_response()

    # -- helpers -----------------------------------------------------------------------------------

    def _json_body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError as error:
            raise exceptions.InvalidParameterValue(f"The request body is not JSON: {error}") from None
        if not isinstance(data, dict):
            raise exceptions.InvalidParameterValue("The request body must be a JSON object.")
        return data

    def _arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region.region}:{self.region.account}:function:{name}"

    def _name(self, param: str = "FunctionName") -> tuple[str, str | None]:
        return split_function_name(self.match.params.get(param, ""))

    def _function(self) -> FunctionRecord:
        name, _ = self._name()
        fn = self.backend.record(self.region, name)
        if fn is None:
            raise exceptions.not_found(self._arn(name))
        return fn

    def _qualifier(self) -> str | None:
        return self.query.get("Qualifier", [None])[0] or self._name()[1]

    @staticmethod
    def _render(cfg: dict[str, Any], fn: FunctionRecord | None, *, lifecycle: bool = True) -> dict[str, Any]:
        """moto's configuration with our VpcConfig, lifecycle and RevisionId ($LATEST), or with the
        VpcConfig a published version was published with."""
        cfg = dict(cfg)
        version = str(cfg.get("Version", LATEST))
        if fn is not None and version != LATEST and version in fn.versions:
            # aws-facts "Lambda function configuration": a version keeps the VpcConfig it was
            # published with (moto's copy has the constant VpcId).
            published = fn.versions[version]
            if published is None:
                cfg.pop("VpcConfig", None)
            else:
                cfg["VpcConfig"] = published.to_wire()
        if fn is None or version != LATEST:
            if not lifecycle:
                for key in LIFECYCLE_FIELDS:
                    cfg.pop(key, None)
            return cfg
        for key in LIFECYCLE_FIELDS:
            cfg.pop(key, None)
        shown = fn.shown_vpc()
        if shown is None:
            cfg.pop("VpcConfig", None)
        else:
            cfg["VpcConfig"] = shown.to_wire()
        if lifecycle:
            cfg.update(fn.lifecycle())
        cfg["RevisionId"] = fn.revision_id
        return cfg

    # -- operations --------------------------------------------------------------------------------

    def create_function(self) -> wire.Response:
        body = self._json_body()
        name, _ = split_function_name(str(body.get("FunctionName", "")))
        checked = None
        if body.get("VpcConfig") is not None:
            checked = self.backend.check_vpc_config(self.region, body["VpcConfig"])
            if checked.settings.attached:
                # aws-facts "Refusals": an execution role that may not create ENIs is refused at once.
                self.backend.check_role(self.region, str(body.get("Role") or "") or None)
        response = self.forward(None)
        if response.status != 201:
            return response
        cfg = response.json()
        fn = self.backend.accept_create(
            self.region, name, str(cfg.get("FunctionArn", self._arn(name))), checked
        )
        return response.with_json(self._render(cfg, fn))

    def get_function(self) -> wire.Response:
        fn = self._function()
        response = self.forward(None)
        if not response.ok:
            return response
        data = response.json()
        data["Configuration"] = self._render(data.get("Configuration", {}), fn)
        # aws-facts "IAM: what the operator's own policy allows": "Lambda returns tag data only if
        # you have explicit allow permissions for lambda:ListTags" (GetFunctionResponse.Tags).
        if self.caller is not None and not self.caller.sees_tags(fn.arn):
            data.pop("Tags", None)
        return response.with_json(data)

    def get_function_configuration(self) -> wire.Response:
        fn = self._function()
        response = self.forward(None)
        if not response.ok:
            return response
        return response.with_json(self._render(response.json(), fn))

    def update_function_configuration(self) -> wire.Response:
        fn = self._function()
        body = self._json_body()
        checked = None
        if body.get("VpcConfig") is not None:
            checked = self.backend.check_vpc_config(self.region, body["VpcConfig"], fn)
        self.backend.check_can_change(fn, body.get("RevisionId"))
        if checked is not None and checked.settings.attached:
            # aws-facts "Refusals": an execution role that may not create ENIs is refused at once
            # (the role sent with this request, else the function's).
            role = str(body.get("Role") or "") or self.backend.role_of(self.region, fn.name)
            self.backend.check_role(self.region, role)
        response = self.forward(None)
        if not response.ok:
            return response
        self.backend.accept_update(self.region, fn, checked)
        return response.with_json(self._render(response.json(), fn))

    def update_function_code(self) -> wire.Response:
        fn = self._function()
        self.backend.check_can_change(fn, self._json_body().get("RevisionId"))
        response = self.forward(None)
        if not response.ok:
            return response
        self.backend.accept_update(self.region, fn, None)
        return response.with_json(self._render(response.json(), fn))

    def publish_version(self) -> wire.Response:
        fn = self._function()
        # aws-facts "Errors": PublishVersion conflicts while an update is InProgress (or Pending).
        self.backend.check_can_change(fn, self._json_body().get("RevisionId"))
        response = self.forward(None)
        if response.status != 201:
            return response
        cfg = response.json()
        self.backend.published(self.region, fn, str(cfg.get("Version", "")))
        return response.with_json(self._render(cfg, fn))

    def list_versions_by_function(self) -> wire.Response:
        fn = self._function()
        response = self.forward(None)
        if not response.ok:
            return response
        data = response.json()
        data["Versions"] = [self._render(cfg, fn, lifecycle=False) for cfg in data.get("Versions") or ()]
        return response.with_json(data)

    def list_aliases(self) -> wire.Response:
        self._function()
        response = self.forward(None)
        if not response.ok:
            return response
        aliases = sorted(response.json().get("Aliases") or [], key=lambda a: str(a.get("Name", "")))
        version = self.query.get("FunctionVersion", [None])[0]
        if version:
            # botocore model, ListAliases FunctionVersion: "only list aliases that invoke that version"
            # (moto ignores it).
            aliases = [a for a in aliases if a.get("FunctionVersion") == version]
        # botocore model: ListAliases pages with Marker/NextMarker (moto answers one page); the
        # simulator pages like ListFunctions so that a reader that ignores NextMarker misses aliases.
        size = self._page_size()
        marker = self.query.get("Marker", [None])[0]
        if marker:
            after = _decode_marker(marker)[0]
            aliases = [a for a in aliases if str(a.get("Name", "")) > after]
        page, rest = aliases[:size], aliases[size:]
        result: dict[str, Any] = {"Aliases": page}
        if rest:
            result["NextMarker"] = _encode_marker((str(page[-1].get("Name", "")), ""))
        return response.with_json(result)

    def _page_size(self) -> int:
        size = self.backend.config.list_page_size
        max_items = self.query.get("MaxItems", [None])[0]
        if max_items is not None:
            try:
                size = max(1, min(size, int(max_items)))
            except ValueError:
                raise exceptions.InvalidParameterValue(f"MaxItems must be a number: {max_items}") from None
        return size

    def tag_resource(self) -> wire.Response:
        resource = self.match.params.get("Resource", "")
        for key, value in (self._json_body().get("Tags") or {}).items():
            # botocore lambda model, TagKey (1..128) and TagValue (0..256), pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*:
            # moto stores any tag; AWS refuses the request.
            if not (1 <= len(str(key)) <= MAX_TAG_KEY and len(str(value)) <= MAX_TAG_VALUE) or not all(
                _TAG_CHARS.fullmatch(str(text)) for text in (key, value)
            ):
                raise exceptions.InvalidParameterValue(
                    f"Tag {key!r}: keys have 1 to {MAX_TAG_KEY} and values at most {MAX_TAG_VALUE} characters of "
                    "letters, digits, spaces and _.:/=+-@"
                )
        if ":function:" in resource:
            fn = self.backend.record(self.region, split_function_name(resource)[0])
            if fn is not None:
                # aws-facts "Errors": TagResource also conflicts while an update is in progress.
                self.backend.check_can_change(fn)
        return self.forward(None)

    def delete_function(self) -> wire.Response:
        name, _ = self._name()
        response = self.forward(None)
        qualifier = self._qualifier()
        if response.ok and qualifier is None:
            self.backend.forget(self.region, name)
        elif response.ok and qualifier is not None:
            fn = self.backend.record(self.region, name)
            if fn is not None:
                self.backend.forget_version(self.region, fn, qualifier)
        return response

    def invoke(self) -> wire.Response:
        name, _ = self._name()
        invocation_type = self.headers.get("x-amz-invocation-type", "RequestResponse")
        status = self.backend.invoke(self.region, name, self._arn(name), invocation_type, self.body)
        headers = [("X-Amz-Executed-Version", LATEST)]
        if status != 200:
            return wire.Response(status, headers, b"")
        payload = {"statusCode": 200, "functionName": name, "simulated": True}
        return wire.json_response(200, payload, headers)

    def list_functions(self) -> wire.Response:
        # aws-facts "Lambda function configuration": at most 50 a page, Marker/NextMarker.
        size = self.backend.config.list_page_size
        max_items = self.query.get("MaxItems", [None])[0]
        if max_items is not None:
            try:
                size = max(1, min(size, int(max_items)))
            except ValueError:
                raise exceptions.InvalidParameterValue(f"MaxItems must be a number: {max_items}") from None
        marker = self.query.get("Marker", [None])[0]
        after = _decode_marker(marker) if marker else None
        if self.query.get("FunctionVersion", [None])[0] is not None:
            return self._list_versions(size, after)
        # $LATEST only (the default): a page costs its own 50 functions, not the account's. Only
        # the names are sorted; moto renders just the page (its ListFunctions renders them all).
        latest = sorted(self.region.lambdas.list_functions(), key=lambda f: str(f.function_name))
        names = [str(f.function_name) for f in latest]
        # Past the marker's function ($LATEST sorts before that function's versions: _list_key).
        start = bisect.bisect_right(names, after[0]) if after is not None else 0
        page, rest = latest[start : start + size], latest[start + size :]
        functions = []
        for moto_fn in page:
            fn = self.backend.record(self.region, str(moto_fn.function_name))
            # aws-facts: ListFunctions includes VpcConfig and RevisionId but NOT State / LastUpdateStatus.
            functions.append(self._render(moto_fn.get_configuration(), fn, lifecycle=False))
        result: dict[str, Any] = {"Functions": functions}
        if rest:
            result["NextMarker"] = _encode_marker((names[start + len(page) - 1], ""))
        return wire.json_response(200, result)

    def _list_versions(self, size: int, after: tuple[str, str] | None) -> wire.Response:
        """FunctionVersion=ALL: every version too, from moto's full answer (the operator never asks)."""
        response = self.forward(None)
        if not response.ok:
            return response
        items = sorted(response.json().get("Functions", []), key=_list_key)
        if after is not None:
            items = [item for item in items if _list_key(item) > after]
        page, rest = items[:size], items[size:]
        functions = []
        for cfg in page:
            fn = self.backend.record(self.region, str(cfg.get("FunctionName", "")))
            functions.append(self._render(cfg, fn, lifecycle=False))
        result: dict[str, Any] = {"Functions": functions}
        if rest:
            result["NextMarker"] = _encode_marker(_list_key(page[-1]))
        return response.with_json(result)


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _list_key(cfg: dict[str, Any]) -> tuple[str, str]:
    version = str(cfg.get("Version", LATEST))
    return str(cfg.get("FunctionName", "")), "" if version == LATEST else version.zfill(12)


def _encode_marker(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_marker(marker: str) -> tuple[str, str]:
    try:
        name, version = json.loads(base64.urlsafe_b64decode(marker.encode()))
        return str(name), str(version)
    except (ValueError, TypeError, binascii.Error):
        raise exceptions.InvalidParameterValue(f"Invalid Marker: {marker}") from None
