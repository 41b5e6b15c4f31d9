"""The HTTP face of the emulated API server: a `kmock.RawHandler` with its own O(1) routing.

kmock serves it (`kmock.Server` listens on 127.0.0.1 with aiohttp), but we override
``RawHandler.__call__``: stock kmock appends every request to a history and picks a reaction by
re-filtering that whole history for every registered reaction, so each request costs more than the
one before (75 ms per GET after ~300 requests; unusable for thousands of objects). Here each request
is routed from its own method, path and query (`routes.parse`), handled by the `cluster`, and
rendered; nothing is kept per request except the bounded RBAC audit counter.

What is not emulated (each answered with a clear Status where a client could try it):

- server-side apply is emulated (see `applying`), but built-in kinds have no schema: their lists
  are atomic for field management, except the map lists of Deployments and Services;
- protobuf request bodies: only those of Namespaces, Secrets, ConfigMaps and DeleteOptions are
  decoded (``kubectl create namespace``, helm's release Secrets, see `protobuf`), others are 415.
  Responses are always JSON, which clients accept;
- strategic merge patches know the merge keys of ObjectMeta, Deployments and Services only (see
  `strategic`; other lists are replaced), and custom resources refuse them with 415 as real
  servers do;
- aggregated discovery (kubectl falls back to legacy discovery), mutating admission webhooks
  (validating ones are called, see `admission`), RBAC (the audit only records), authentication
  other than bearer tokens (checked only when ``tokens`` is set: else anyone may do anything),
  garbage collection of ownerReferences and propagationPolicy (Foreground/Orphan finalizers are
  not added), the scale subresource;
- controllers of built-in kinds: Deployments, Services, PodDisruptionBudgets, RBAC objects are
  stored and served (what ``helm install`` of the chart creates), nothing runs them;
- a continue token lists the current objects after its key, not a snapshot at its resourceVersion;
- v1 and events.k8s.io/v1 events are stored separately (real servers convert between them);
- built-in kinds are schemaless: no defaults, no validation beyond object names (except the
  defaults and basic checks of ValidatingWebhookConfigurations, and the
  ``kubernetes.io/metadata.name`` label of namespaces); server-printed
  columns exist only for namespaces and v1 events (others: NAME and AGE);
- CRD deletion drops its objects at once (real servers wait for their finalizers), and CRDs are
  Established at once; conversion webhooks are not emulated (versions differ in apiVersion only).

Deliberate fidelity: an expired watch resourceVersion gets an ERROR event with a 410 Status of
reason ``Expired`` (as current servers send, older ones said ``Gone``), and an expired continue
token a 410 ``Expired`` Status; a failed JSON patch
``test`` is 422 ``Invalid`` (kopf relies on it), while a stale resourceVersion in a PUT or merge
patch body is 409 ``Conflict``.

OpenAPI: a minimal ``/openapi/v3`` makes kubectl 1.32 leave validation to the server, so
``kubectl apply -f`` works without ``--validate=false`` (see `openapi`); ``/openapi/v2`` is 404.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

import aiohttp.web
import kmock
import yaml
from multidict import CIMultiDict

from lambda_vpc_sandbox.kube import (
    admission,
    cluster,
    control,
    discovery,
    errors,
    faults,
    objects,
    openapi,
    protobuf,
    rendering,
    resources,
    routes,
    selectors,
    store,
    watching,
)
from lambda_vpc_sandbox.kube.routes import Verb

logger = logging.getLogger(__name__)

Obj = dict[str, Any]
T = TypeVar("T")

# Times a write is retried when the object changed while its webhooks were called (as the real
# server's GuaranteedUpdate retries): the webhooks always judge what is stored.
_ADMISSION_ATTEMPTS = 5

DEFAULT_BOOKMARK_INTERVAL = 30.0  # seconds between BOOKMARKs of an idle watch that allows them

_YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml"})
_PROTOBUF = "application/vnd.kubernetes.protobuf"


class AuditKey(NamedTuple):
    """One line of an RBAC rule: what a request needed permission for."""

    verb: str
    api_group: str
    resource: str
    subresource: str
    namespaced: bool


class KubeEmulator(kmock.RawHandler):
    """
    An in-memory Kubernetes API server; serve it with `kmock.Server` or `running.EmulatorThread`.

    ``async with KubeEmulator() as emulator, emulator.serving() as url: ...``
    """

    def __init__(
        self,
        *,
        history_size: int = store.DEFAULT_HISTORY_SIZE,
        bookmark_interval: float = DEFAULT_BOOKMARK_INTERVAL,
        admit: cluster.AdmitFn | None = None,
    ) -> None:
        super().__init__()
        self.cluster = cluster.Cluster(history_size=history_size, admit=admit)
        # Validating webhooks; map Services to URLs with ``emulator.webhooks.services["ns/name"] = url``.
        self.webhooks = admission.Webhooks()
        self.bookmark_interval = bookmark_interval
        self.audit: collections.Counter[AuditKey] = collections.Counter()
        # The same, by the client's product token (kopf, lambda-vpc-operator, kubectl, ...), so a
        # test can tell the operator's requests from its own.
        self.audit_by_agent: collections.Counter[tuple[str, AuditKey]] = collections.Counter()
        # Injected faults (`faults`); driven by `KubeControl` over HTTP or directly from Python.
        self.faults = faults.Faults()
        # Bearer tokens the API accepts; None: no authentication (the sandbox's kubeconfig has no
        # user). Replace the set to rotate them: a request with any other token is 401, as from a
        # real API server whose service account token expired.
        self.tokens: set[str] | None = None

    # ---- the Python API ----------------------------------------------------------------------

    def install_crd(self, crd: Obj) -> Obj:
        """Create or replace a CustomResourceDefinition; its resources are served right away."""
        return self.cluster.install_crd(crd)

    def close_watches(self) -> None:
        """End all live watch streams, so the HTTP server can shut down without waiting for them."""
        self.cluster.store.close_all()

    def serving(self, host: str = "127.0.0.1", port: int | None = None) -> _Serving:
        """An async context manager that serves this emulator over HTTP and yields its URL."""
        return _Serving(self, host, port)

    # ---- HTTP --------------------------------------------------------------------------------

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """Route from the request alone (O(1)); see the module docstring for why not kmock's way."""
        try:
            return await self._serve(raw)
        except errors.StatusError as e:
            return _json_response(e.as_status(), status=e.code, headers=e.headers)
        except Exception as e:  # a bug here must reach the client as a 500 Status, not a hang
            logger.exception("The Kubernetes emulator failed on %s %s", raw.method, raw.path_qs)
            return _json_response(errors.StatusError(f"emulator error: {e!r}").as_status(), status=500)

    async def _serve(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        query = {key: raw.query[key] for key in raw.query}
        route = routes.parse(raw.method, raw.path, query)
        if route is None and raw.path.startswith(control.PREFIX):  # the test's own door, never authenticated
            call = raw.path[len(control.PREFIX) :].strip("/")
            status, answer = control.handle(self.faults, self.cluster.store, call, await raw.read())
            return _json_response(answer, status=status)
        self._authenticate(raw)
        if route is None:
            return self._serve_non_resource(raw)
        if route.verb is None:
            raise errors.method_not_allowed()
        namespaced = route.namespace is not None
        key = AuditKey(route.verb.value, route.group, route.plural, route.subresource or "", namespaced)
        agent = raw.headers.get("User-Agent", "").split("/", 1)[0]
        self.audit[key] += 1
        self.audit_by_agent[agent, key] += 1

        resource = self.cluster.registry.get(route.group, route.version, route.plural)
        if resource is None:
            raise errors.path_not_found()
        self._check_scope(resource, route)
        request = faults.Request(
            route.verb.value, route.plural, route.group, route.subresource or "", route.namespace or "",
            route.name or "", agent,
        )  # fmt: skip
        fault = self.faults.plan(request)
        if fault.latency:
            await asyncio.sleep(fault.latency)  # the emulator's loop serves other requests meanwhile
        if fault.terminal is not None and not (fault.expired_watch and route.verb is Verb.WATCH):
            raise faults.terminal_error(fault.terminal, request)

        shape = rendering.negotiate(raw.headers.get("Accept", ""))
        options = cluster.WriteOptions(
            dry_run=bool(query.get("dryRun")),
            field_validation=query.get("fieldValidation", "Warn") or "Warn",
            # As real servers: the query's fieldManager, else the User-Agent's product ("kopf").
            field_manager=query.get("fieldManager") or raw.headers.get("User-Agent", "").split("/", 1)[0],
            force=query.get("force", "").lower() in ("true", "1"),
        )
        if route.verb is Verb.PATCH and raw.content_type == cluster.APPLY_PATCH:
            options.field_manager = query.get("fieldManager", "")  # apply needs an explicit manager
        namespace, name, sub = route.namespace, route.name, route.subresource
        c = self.cluster

        if route.verb is Verb.WATCH:
            predicate = _predicate(query, name)
            return await watching.serve(
                raw,
                c.store,
                watching.WatchRequest(
                    resource=resource,
                    namespace=namespace,
                    predicate=predicate,
                    resource_version=query.get("resourceVersion"),
                    send_initial_events=query.get("sendInitialEvents", "").lower() == "true",
                    allow_bookmarks=query.get("allowWatchBookmarks", "").lower() in ("true", "1"),
                    timeout=_float(query.get("timeoutSeconds")),
                    bookmark_interval=self.bookmark_interval,
                    present=lambda obj: self._present_event(resource, obj, shape),
                    expire=fault.expired_watch,
                    drop_after=fault.drop_after,
                    stall=fault.stall,
                    stall_seconds=fault.stall_seconds,
                ),
            )
        if route.verb is Verb.LIST:
            listed = c.list_objects(
                resource,
                namespace,
                _predicate(query, None),
                limit=int(_float(query.get("limit")) or 0),
                continue_token=query.get("continue"),
            )
            body, ctype = rendering.listing(resource, listed, shape)
            return _json_response(body, content_type=ctype)
        if route.verb is Verb.GET:
            assert name is not None
            body, ctype = rendering.single(resource, c.get(resource, namespace, name), shape)
            return _json_response(body, content_type=ctype)
        if route.verb is Verb.CREATE:
            body = await _body(raw)
            obj = await self._write(route, resource, options, lambda o: c.create(resource, namespace, body, o))
            return _json_response(obj, status=201, warnings=options.warnings)
        if route.verb is Verb.UPDATE:
            assert name is not None
            body = await _body(raw)
            obj = await self._write(
                route,
                resource,
                options,
                lambda o: c.update(resource, namespace, name, body, subresource=sub, options=o),
            )
            return _json_response(obj, warnings=options.warnings)
        if route.verb is Verb.PATCH:
            assert name is not None
            patch = await _body(raw, patch=True)
            if raw.content_type == cluster.APPLY_PATCH:
                obj, created = await self._write(
                    route,
                    resource,
                    options,
                    lambda o: c.apply(resource, namespace, name, patch, subresource=sub, options=o),
                )
                return _json_response(obj, status=201 if created else 200, warnings=options.warnings)
            obj = await self._write(
                route,
                resource,
                options,
                lambda o: c.patch(resource, namespace, name, raw.content_type, patch, subresource=sub, options=o),
            )
            return _json_response(obj, warnings=options.warnings)
        if route.verb is Verb.DELETE:
            assert name is not None
            delete_options = await _body(raw, optional=True)
            await self._review_deletes(resource, options, [c.get(resource, namespace, name)])
            obj = c.delete(
                resource,
                namespace,
                name,
                preconditions=delete_options.get("preconditions"),
                options=options,
            )
            return _json_response(obj, warnings=options.warnings)
        if route.verb is Verb.DELETECOLLECTION:
            predicate = _predicate(query, None)
            await self._review_deletes(resource, options, c.list_objects(resource, namespace, predicate)["items"])
            listed = c.delete_collection(resource, namespace, predicate, options)
            return _json_response(listed, warnings=options.warnings)
        raise errors.method_not_allowed()  # pragma: no cover  # all verbs are handled above

    # ---- validating admission webhooks --------------------------------------------------------

    def _hooks(self, resource: resources.Resource, subresource: str, operation: str | None) -> list[Obj]:
        configurations = self.cluster.store.iter_objects(admission.STORAGE_KEY)
        return admission.candidates(configurations, resource, subresource, operation)

    def _namespace_of(self, resource: resources.Resource, obj: Obj) -> Obj | None:
        namespace = obj["metadata"].get("namespace") if resource.namespaced else None
        return self.cluster.store.get(resources.NAMESPACES_STORAGE_KEY, "", namespace) if namespace else None

    async def _write(
        self,
        route: routes.Route,
        resource: resources.Resource,
        options: cluster.WriteOptions,
        run: Callable[[cluster.WriteOptions], T],
    ) -> T:
        """
        A create or update with its webhooks called between validation and storage.

        The write is first run as a dry run to get the object the webhooks judge (validated,
        defaulted); then it runs for real, provided the stored object is still the one judged.
        Without a matching webhook configuration it simply runs.
        """
        sub = route.subresource or ""
        if not self._hooks(resource, sub, None):
            return run(options)
        for _ in range(_ADMISSION_ATTEMPTS):
            seen: list[tuple[Obj, Obj | None]] = []
            probe = dataclasses.replace(options, dry_run=True, warnings=[], admission=_recorder(seen))
            run(probe)
            if not seen:
                return run(options)
            new, old = seen[-1]
            operation = "CREATE" if old is None else "UPDATE"
            attributes = admission.Attributes(
                operation=operation,
                resource=resource,
                subresource=sub,
                namespace=new["metadata"].get("namespace"),
                name=new["metadata"].get("name", ""),
                dry_run=options.dry_run,
                field_manager=options.field_manager,
            )
            hooks = self._hooks(resource, sub, operation)
            warnings = await self.webhooks.review(hooks, attributes, new, old, self._namespace_of(resource, new))
            judged = None if old is None else old["metadata"].get("resourceVersion")

            def unchanged(new: Obj, old: Obj | None, judged: str | None = judged) -> None:
                if (None if old is None else old["metadata"].get("resourceVersion")) != judged:
                    raise _Changed

            real = dataclasses.replace(
                options, warnings=[], admission=unchanged, generated_name=attributes.name if old is None else None
            )
            try:
                result = run(real)
            except _Changed:
                continue
            options.warnings.extend([*real.warnings, *warnings])
            return result
        raise errors.Conflict("the object kept changing while its admission webhooks were called; try again")

    async def _review_deletes(
        self, resource: resources.Resource, options: cluster.WriteOptions, doomed: list[Obj]
    ) -> None:
        hooks = self._hooks(resource, "", "DELETE")
        if not hooks:
            return
        for old in doomed:
            attributes = admission.Attributes(
                operation="DELETE",
                resource=resource,
                subresource="",
                namespace=old["metadata"].get("namespace"),
                name=old["metadata"]["name"],
                dry_run=options.dry_run,
            )
            warnings = await self.webhooks.review(hooks, attributes, None, old, self._namespace_of(resource, old))
            options.warnings.extend(warnings)

    def _present_event(self, resource: resources.Resource, obj: Obj, shape: rendering.Shape) -> Obj:
        body, _ = rendering.single(resource, objects.as_version(resource, obj), shape)
        return body

    @staticmethod
    def _check_scope(resource: resources.Resource, route: routes.Route) -> None:
        """Which URLs exist for a resource: by scope, by subresource, by verb."""
        assert route.verb is not None
        if route.namespace is not None and not resource.namespaced:
            raise errors.path_not_found()
        if resource.namespaced and route.namespace is None:
            if route.name is not None:
                raise errors.path_not_found()
            if route.verb not in (Verb.LIST, Verb.WATCH):
                raise errors.method_not_allowed()  # only all-namespace lists and watches exist
        if route.subresource is not None:
            if route.subresource not in resource.subresources:
                raise errors.path_not_found()
            if route.verb not in (Verb.GET, Verb.UPDATE, Verb.PATCH):
                raise errors.method_not_allowed()

    def _authenticate(self, raw: aiohttp.web.BaseRequest) -> None:
        if self.tokens is None:
            return
        scheme, _, token = raw.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            raise errors.Unauthorized("Unauthorized")

    def _serve_non_resource(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        path = raw.path.rstrip("/") or "/"
        if raw.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed() if _is_known(path) else errors.path_not_found()
        registry = self.cluster.registry
        if path in ("/healthz", "/livez", "/readyz"):
            return aiohttp.web.Response(text="ok", content_type="text/plain")
        document: Obj | None = None
        if path == "/":
            document = discovery.root_paths(registry)
        elif path == "/version":
            document = discovery.version()
        elif path == "/api":
            document = discovery.api_versions(raw.host)
        elif path == "/apis":
            document = discovery.api_group_list(registry)
        elif path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            document = openapi.document(registry, path)
        else:
            parts = path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "api":
                document = discovery.api_resource_list(registry, "", parts[1])
            elif len(parts) == 2 and parts[0] == "apis":
                document = discovery.api_group(registry, parts[1])
            elif len(parts) == 3 and parts[0] == "apis":
                document = discovery.api_resource_list(registry, parts[1], parts[2])
        if document is None:
            raise errors.path_not_found()
        return _json_response(document)


def _is_known(path: str) -> bool:
    return path in ("/", "/version", "/api", "/apis", "/healthz", "/livez", "/readyz")


def _float(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise errors.BadRequest(f"invalid numeric value: {value!r}") from None


def _predicate(query: Mapping[str, str], name: str | None) -> selectors.Predicate:
    field_selector = query.get("fieldSelector") or ""
    if name is not None:  # a watch of one object by URL: `/watch/.../plural/name`
        field_selector = ",".join(filter(None, [field_selector, f"metadata.name={name}"]))
    return selectors.parse(query.get("labelSelector"), field_selector)


async def _body(raw: aiohttp.web.BaseRequest, *, patch: bool = False, optional: bool = False) -> Any:
    """Decode a JSON, YAML or (a few kinds') protobuf request body; 415 for other protobuf, 400 for garbage."""
    data = await raw.read()
    if not data.strip():
        if optional:
            return {}
        raise errors.BadRequest("the request body is empty")
    ctype = raw.content_type
    if ctype == _PROTOBUF:
        try:
            return protobuf.decode(data)
        except protobuf.ProtobufError as e:
            raise errors.UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: "
                f"application/json, application/yaml ({e}: only Namespace, Secret, ConfigMap and DeleteOptions "
                "protobuf bodies are emulated by the sandbox API server; use `kubectl apply -f`, which sends JSON)"
            ) from None
    is_yaml = ctype in _YAML_TYPES or ctype.endswith("+yaml")
    try:
        decoded = yaml.safe_load(data) if is_yaml else json.loads(data)
    except (ValueError, yaml.YAMLError) as e:
        raise errors.BadRequest(f"the object provided is unrecognized: {e}") from None
    if not patch and not isinstance(decoded, dict):
        raise errors.BadRequest("the object provided is unrecognized: not an object")
    return decoded


def _json_response(
    body: Any,
    *,
    status: int = 200,
    content_type: str = rendering.JSON,
    warnings: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> aiohttp.web.Response:
    sent: CIMultiDict[str] = CIMultiDict(headers or {})
    sent["Content-Type"] = content_type
    for warning in warnings or ():
        sent.add("Warning", f"299 - {json.dumps(warning)}")
    return aiohttp.web.Response(body=json.dumps(body).encode(), status=status, headers=sent)


def _recorder(seen: list[tuple[Obj, Obj | None]]) -> cluster.AdmissionHook:
    """An admission hook that only records what it was asked to judge."""

    def record(new: Obj, old: Obj | None) -> None:
        seen.append((new, old))

    return record


class _Changed(Exception):
    """The object changed between its webhooks' verdict and its storage: judge it again."""


class _NoInterception:
    async def __aexit__(self, *exc_info: Any) -> None:
        pass


class _Serving:
    """``async with emulator.serving() as url``: a `kmock.Server`, with watches ended before it stops."""

    def __init__(self, emulator: KubeEmulator, host: str, port: int | None) -> None:
        self._emulator = emulator
        self._server = kmock.Server(emulator, host=host, port=port)

    @property
    def server(self) -> kmock.Server:
        return self._server

    async def __aenter__(self) -> str:
        await self._server.__aenter__()
        await self._drop_interception()
        return str(self._server.url).rstrip("/")

    async def _drop_interception(self) -> None:
        """
        Undo kmock's hostname interception right away: we serve on an IP, it has nothing to do.

        kmock patches aiohttp's resolver process-wide and insists on strictly LIFO exits, which
        emulators in several threads (fixtures of different scopes) cannot promise.
        """
        interceptor = self._server._managed_interceptor
        # If another server's resolver is on top, ours stays chained, resolving 127.0.0.1 to itself.
        with contextlib.suppress(RuntimeError):
            if interceptor is not None:
                await interceptor.__aexit__(None, None, None)
        self._server._managed_interceptor = _NoInterception()  # type: ignore[assignment]

    async def __aexit__(self, *exc_info: Any) -> None:
        self._emulator.close_watches()
        await self._server.__aexit__(*exc_info)
