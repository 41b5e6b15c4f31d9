"""The API server's semantics without HTTP: what get, list, create, update, patch and delete do.

The HTTP layer (`server`) parses requests and renders responses; everything a real API server
decides about the objects happens here: server-managed metadata, preconditions and conflicts,
status-subresource separation, schema admission of custom resources, no-op writes that change
nothing, finalizers and deletion, and the two controllers whose effects clients wait for
synchronously: CRD registration (Established) and namespace termination.

All methods are synchronous and run in the emulator's event loop, so each write is atomic with
respect to watches and other requests.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from lambda_vpc_sandbox.kube import (
    admission,
    applying,
    celrules,
    errors,
    fieldsets,
    objects,
    patching,
    resources,
    schemas,
    store,
    strategic,
)

Obj = dict[str, Any]
AdmitFn = Callable[[Obj, dict[str, Any]], tuple[Obj, Sequence[objects.FieldErrorLike]]]
# Validating admission: called with (new, old or None) once a write is validated, before it is stored.
AdmissionHook = Callable[[Obj, Obj | None], None]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
UNDELETABLE_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})  # as real servers refuse

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

# The manager of writes through the Python API (HTTP requests name theirs or send a User-Agent).
DEFAULT_MANAGER = "sandbox"

# Attempts at a free generated name before answering 409 as a real server would.
_GENERATE_NAME_ATTEMPTS = 8


@dataclasses.dataclass
class WriteOptions:
    """Per-request write options: ``?dryRun=All``, ``?fieldValidation=`` (Ignore/Warn/Strict),
    ``?fieldManager=`` (or the User-Agent's product, as real servers default it) and ``?force=``."""

    dry_run: bool = False
    field_validation: str = "Warn"
    field_manager: str = ""
    force: bool = False
    admission: AdmissionHook | None = None  # the server's webhook calls (see `server`)
    # The name generateName gave the object its webhooks judged (the dry run before the write).
    generated_name: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)


class Cluster:
    """Resources, objects and their semantics; the state behind one emulated API server."""

    def __init__(
        self, *, history_size: int = store.DEFAULT_HISTORY_SIZE, admit: AdmitFn | None = None
    ) -> None:
        self.registry = resources.Registry(resources.builtin_resources())
        self.store = store.Store(history_size=history_size)
        self._admit_fn: AdmitFn = admit if admit is not None else schemas.admit
        self._bulk_terminating: set[str] = set()  # namespaces whose contents are being deleted now
        for name in INITIAL_NAMESPACES:
            self.create(self._namespaces(), None, {"metadata": {"name": name}})

    # ---- lookups -----------------------------------------------------------------------------

    def _namespaces(self) -> resources.Resource:
        resource = self.registry.get("", "v1", "namespaces")
        assert resource is not None
        return resource

    def _crds(self) -> resources.Resource:
        resource = self.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert resource is not None
        return resource

    def _key(self, resource: resources.Resource, namespace: str | None) -> str:
        return (namespace or "") if resource.namespaced else ""

    def _existing(self, resource: resources.Resource, namespace: str | None, name: str) -> Obj:
        obj = self.store.get(resource.storage_key, self._key(resource, namespace), name)
        if obj is None:
            raise errors.NotFound(
                f'{resource.group_resource} "{name}" not found',
                details=errors.object_details(resource.group, resource.plural, name),
            )
        return obj

    def get(self, resource: resources.Resource, namespace: str | None, name: str) -> Obj:
        return objects.as_version(resource, self._existing(resource, namespace, name))

    def list_objects(
        self,
        resource: resources.Resource,
        namespace: str | None,
        predicate: Callable[[Obj], bool],
        *,
        limit: int = 0,
        continue_token: str | None = None,
    ) -> Obj:
        """A ``<Kind>List``, sorted by namespace and name (as etcd keys), paged by limit/continue."""
        rv = self.store.rv
        start: tuple[str, str] | None = None
        if continue_token:
            rv, start = _decode_continue(continue_token)
            if rv < self.store.bucket(resource.storage_key).expired_rv:
                # As the real server once etcd compacted past the token's revision.
                raise errors.Expired(CONTINUE_EXPIRED)
        matching = sorted(
            (
                obj
                for obj in self.store.iter_objects(resource.storage_key)
                if (namespace is None or obj["metadata"].get("namespace") == namespace) and predicate(obj)
            ),
            key=_sort_key,
        )
        if start is not None:
            matching = [obj for obj in matching if _sort_key(obj) > start]
        metadata: Obj = {"resourceVersion": str(rv)}
        if limit > 0 and len(matching) > limit:
            metadata["continue"] = _encode_continue(rv, _sort_key(matching[limit - 1]))
            metadata["remainingItemCount"] = len(matching) - limit
            matching = matching[:limit]
        return {
            "apiVersion": resource.api_version,
            "kind": resource.effective_list_kind,
            "metadata": metadata,
            "items": [objects.as_version(resource, obj) for obj in matching],
        }

    # ---- writes ------------------------------------------------------------------------------

    def create(
        self,
        resource: resources.Resource,
        namespace: str | None,
        body: Obj,
        options: WriteOptions | None = None,
        *,
        managed: list[Obj] | None = None,
    ) -> Obj:
        options = options or WriteOptions()
        _check_body(resource, body)
        meta = body.get("metadata") or {}
        if resource.namespaced:
            body_namespace = meta.get("namespace")
            if body_namespace and namespace and body_namespace != namespace:
                raise errors.BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            namespace = namespace or body_namespace
            self._check_namespace_open(resource, namespace, meta.get("name") or meta.get("generateName", ""))

        name = meta.get("name") or ""
        if not name:
            prefix = meta.get("generateName") or ""
            if not prefix:
                raise objects.invalid(
                    resource,
                    "",
                    [
                        objects.Cause(
                            "metadata.name",
                            "FieldValueRequired",
                            "Required value: name or generateName is required",
                        )
                    ],
                )
            name = options.generated_name or self._free_name(resource, namespace, prefix)

        obj = objects.prepare_create(resource, body, namespace)
        obj["metadata"]["name"] = name
        causes: list[objects.FieldErrorLike] = []
        if not (resource.custom and resource.schema is not None):  # schema admission checks CR names
            causes.extend(objects.name_errors(resource, name))
        if resource.storage_key == resources.CRD_STORAGE_KEY:
            causes.extend(_crd_errors(obj))
        obj = _builtin_defaults(resource, obj)
        causes.extend(_builtin_errors(resource, obj))
        obj = self._admitted(resource, obj, causes, options)
        if managed is None:
            managed = applying.record_update(_manager(resource, None, options), None, obj)
        _set_managed(obj, managed)

        key = self._key(resource, namespace)
        if self.store.get(resource.storage_key, key, name) is not None:
            raise errors.AlreadyExists(
                f'{resource.group_resource} "{name}" already exists',
                details=errors.object_details(resource.group, resource.plural, name),
            )

        if resource.storage_key == resources.NAMESPACES_STORAGE_KEY:
            obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            obj["status"] = {"phase": "Active"}
        elif resource.storage_key == resources.CRD_STORAGE_KEY:
            obj["status"] = _crd_status(obj)
        if options.admission is not None:
            options.admission(objects.as_version(resource, obj), None)
        if options.dry_run:
            return objects.as_version(resource, obj)

        stored = self.store.put(resource.storage_key, obj, old=None)
        if resource.storage_key == resources.CRD_STORAGE_KEY:
            self._register(stored)
        return objects.as_version(resource, stored)

    def update(
        self,
        resource: resources.Resource,
        namespace: str | None,
        name: str,
        body: Obj,
        *,
        subresource: str | None = None,
        options: WriteOptions | None = None,
    ) -> Obj:
        options = options or WriteOptions()
        old = self._existing(resource, namespace, name)
        _check_body(resource, body)
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.BadRequest(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if resource.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        # Custom resources (and CRDs) do not allow unconditional updates.
        if not meta.get("resourceVersion") and (resource.custom or resource.storage_key == resources.CRD_STORAGE_KEY):
            raise objects.invalid(
                resource,
                name,
                [
                    objects.Cause(
                        "metadata.resourceVersion",
                        "FieldValueInvalid",
                        'Invalid value: "": must be specified for an update',
                    )
                ],
            )
        return self._write(resource, old, body, subresource, options)

    def patch(
        self,
        resource: resources.Resource,
        namespace: str | None,
        name: str,
        content_type: str,
        patch: Any,
        *,
        subresource: str | None = None,
        options: WriteOptions | None = None,
    ) -> Obj:
        options = options or WriteOptions()
        accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
        if not resource.custom:
            accepted.insert(2, STRATEGIC_MERGE_PATCH)
        if content_type not in accepted:
            raise errors.UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: "
                + ", ".join(accepted)
            )
        if content_type == APPLY_PATCH:
            return self.apply(resource, namespace, name, patch, subresource=subresource, options=options)[0]
        if options.force:
            raise _invalid_options(
                "PatchOptions", "force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch"
            )
        old = self._existing(resource, namespace, name)
        current = objects.as_version(resource, old)
        try:
            if content_type == JSON_PATCH:
                candidate = patching.json_patch(current, patch)
            else:
                if not isinstance(patch, dict):
                    raise errors.BadRequest("invalid JSON Patch")
                if content_type == STRATEGIC_MERGE_PATCH:
                    strategy = strategic.strategy_of(resource.group, resource.kind)
                    candidate = strategic.patch(current, patch, strategy)
                else:
                    candidate = patching.merge_patch(current, patch)
        except patching.PatchFormatError as e:
            raise errors.BadRequest(str(e)) from None
        except patching.PatchError as e:
            raise errors.Invalid(
                "the server rejected our request due to an error in our request",
                details={"causes": [{"reason": "UnexpectedServerResponse", "message": str(e)}]},
            ) from None
        if not isinstance(candidate, dict):
            raise errors.BadRequest("the patch did not produce an object")
        meta = candidate.get("metadata") or {}
        if meta.get("name") != name or (resource.namespaced and meta.get("namespace") != namespace):
            raise errors.BadRequest("the name or namespace of the object cannot be changed by a patch")
        return self._write(resource, old, candidate, subresource, options)

    def apply(
        self,
        resource: resources.Resource,
        namespace: str | None,
        name: str,
        config: Any,
        *,
        subresource: str | None = None,
        options: WriteOptions | None = None,
    ) -> tuple[Obj, bool]:
        """Server-side apply (see `applying`); the result, and whether it created the object."""
        options = options or WriteOptions()
        if not options.field_manager:
            raise _invalid_options(
                "PatchOptions", "fieldManager", "FieldValueRequired", "Required value: is required for apply patch"
            )
        if len(options.field_manager) > applying.MAX_MANAGER_LENGTH:
            raise _invalid_options(
                "PatchOptions", "fieldManager", "FieldValueTooLong", "Too long: may not be more than 128 bytes"
            )
        if not isinstance(config, dict):
            raise errors.BadRequest("error decoding YAML: the apply configuration is not an object")
        if not config.get("apiVersion") or not config.get("kind"):
            missing = "Kind" if not config.get("kind") else "apiVersion"
            raise errors.BadRequest(f"Object '{missing}' is missing in '{json.dumps(config)[:200]}'")
        _check_body(resource, config)
        meta = config.get("metadata") or {}
        if meta.get("managedFields") is not None:
            raise errors.BadRequest("metadata.managedFields must be nil")
        if meta.get("name") and meta["name"] != name:
            raise errors.BadRequest(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if resource.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        request = _manager(resource, subresource, options)
        old = self.store.get(resource.storage_key, self._key(resource, namespace), name)
        if old is None:
            if subresource is not None:
                self._existing(resource, namespace, name)  # 404: a subresource is never created
            merged, managed = applying.apply(request, None, config, force=options.force)
            merged.setdefault("metadata", {})["name"] = name
            return self.create(resource, namespace, merged, options, managed=managed), True
        current = objects.as_version(resource, old)
        merged, managed = applying.apply(request, current, config, force=options.force)
        return self._write(resource, old, merged, subresource, options, managed=managed), False

    def delete(
        self,
        resource: resources.Resource,
        namespace: str | None,
        name: str,
        *,
        preconditions: Mapping[str, Any] | None = None,
        options: WriteOptions | None = None,
    ) -> Obj:
        options = options or WriteOptions()
        old = self._existing(resource, namespace, name)
        _check_preconditions(resource, old, preconditions or {})
        if resource.storage_key == resources.NAMESPACES_STORAGE_KEY and name in UNDELETABLE_NAMESPACES:
            raise errors.Forbidden(
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                details=errors.object_details("", "namespaces", name),
            )
        if old["metadata"].get("deletionTimestamp"):
            return objects.as_version(resource, old)  # already marked: nothing more to do
        finalizers = old["metadata"].get("finalizers") or []
        if resource.storage_key == resources.NAMESPACES_STORAGE_KEY:
            finalizers = [*finalizers, *old.get("spec", {}).get("finalizers", [])]
        if options.dry_run:
            return objects.as_version(resource, old)
        if not finalizers:
            return objects.as_version(resource, self._remove(resource, old))

        marked = objects.mark_deleting(resource, old)
        if resource.storage_key == resources.NAMESPACES_STORAGE_KEY:
            marked["status"] = {"phase": "Terminating"}
        stored = self.store.put(resource.storage_key, marked, old=old)
        if resource.storage_key == resources.NAMESPACES_STORAGE_KEY:
            self._terminate_namespace(name)
            stored = self.store.get(resource.storage_key, "", name) or stored
        return objects.as_version(resource, stored)

    def delete_collection(
        self,
        resource: resources.Resource,
        namespace: str | None,
        predicate: Callable[[Obj], bool],
        options: WriteOptions | None = None,
    ) -> Obj:
        listed = self.list_objects(resource, namespace, predicate)
        for obj in listed["items"]:
            meta = obj["metadata"]
            self.delete(resource, meta.get("namespace"), meta["name"], options=options)
        return listed

    def install_crd(self, crd: Obj) -> Obj:
        """Create a CRD, or replace the spec of an existing one (as `kubectl apply` would)."""
        crds = self._crds()
        name = (crd.get("metadata") or {}).get("name", "")
        existing = self.store.get(crds.storage_key, "", name)
        if existing is None:
            return self.create(crds, None, crd)
        body = copy.deepcopy(crd)
        body.setdefault("metadata", {})["resourceVersion"] = existing["metadata"]["resourceVersion"]
        return self.update(crds, None, name, body)

    # ---- the write pipeline ------------------------------------------------------------------

    def _write(
        self,
        resource: resources.Resource,
        old: Obj,
        candidate: Obj,
        subresource: str | None,
        options: WriteOptions,
        *,
        managed: list[Obj] | None = None,
    ) -> Obj:
        """Store the result of an update or patch, unless it changes nothing (then no event, same RV)."""
        name = old["metadata"]["name"]
        meta = candidate.get("metadata") or {}
        rv = meta.get("resourceVersion")
        if rv and str(rv) != old["metadata"]["resourceVersion"]:
            raise _conflict(resource, name)
        if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
            raise errors.Conflict(
                f"Precondition failed: UID in precondition: {meta['uid']}, "
                f"UID in object meta: {old['metadata']['uid']}",
                details=errors.object_details(resource.group, resource.plural, name),
            )

        requested = meta.get("managedFields") if subresource is None and managed is None else None
        new = objects.prepare_update(resource, old, candidate, subresource)
        causes: list[objects.FieldErrorLike] = []
        if subresource is None:
            causes.extend(objects.finalizer_errors(old, new))
        if resource.storage_key == resources.CRD_STORAGE_KEY:
            causes.extend(_crd_errors(new))
        if subresource is None:
            new = _builtin_defaults(resource, new)
            causes.extend(_builtin_errors(resource, new))
        new = self._admitted(resource, new, causes, options, old=old)
        if managed is None:
            managed = applying.record_update(_manager(resource, subresource, options), old, new, requested=requested)
        _set_managed(new, managed)
        objects.bump_generation(resource, old, new)
        if resource.storage_key == resources.CRD_STORAGE_KEY and subresource is None:
            new["status"] = _crd_status(new)
        if options.admission is not None:  # real servers call webhooks for no-op updates too
            options.admission(objects.as_version(resource, new), objects.as_version(resource, old))
        if patching.json_equal(new, old):
            return objects.as_version(resource, old)
        if options.dry_run:
            return objects.as_version(resource, new)
        if objects.is_released(new) and resource.storage_key != resources.NAMESPACES_STORAGE_KEY:
            # The last finalizer is gone from an object marked for deletion: it goes now, and
            # watchers see exactly one DELETED (no MODIFIED for the finalizer removal itself).
            return objects.as_version(resource, self._remove(resource, new))
        stored = self.store.put(resource.storage_key, new, old=old)
        if resource.storage_key == resources.CRD_STORAGE_KEY:
            self._register(stored)
        return objects.as_version(resource, stored)

    def _admitted(
        self,
        resource: resources.Resource,
        obj: Obj,
        causes: list[objects.FieldErrorLike],
        options: WriteOptions,
        *,
        old: Obj | None = None,
    ) -> Obj:
        """Run schema admission of a custom resource; raise 422 with all causes, or 400 if Strict.

        CEL rules run on what the schema admitted (pruned, defaulted), with the stored object as
        ``oldSelf`` on an update, and only when the schema found nothing wrong.
        """
        name = obj["metadata"].get("name", "")
        if resource.custom and resource.schema is not None:
            admitted, schema_errors = self._admit_fn(obj, dict(resource.schema))
            if not schema_errors:
                schema_errors = celrules.validate(admitted, old, dict(resource.schema))
            causes = [*causes, *schema_errors]
            # Top-level metadata is never pruned by real servers (and apiVersion/kind are ours).
            admitted = {
                **admitted,
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "metadata": obj["metadata"],
            }
            unknown = [path for path in objects.dropped_fields(obj, admitted)]
            if unknown and options.field_validation == "Strict" and not causes:
                listed = ", ".join(f'unknown field "{path}"' for path in unknown)
                raise errors.BadRequest(
                    f'{resource.kind} in version "{resource.version}" '
                    f"cannot be handled as a {resource.kind}: "
                    f"strict decoding error: {listed}"
                )
            if options.field_validation in ("Warn", "Strict"):
                options.warnings.extend(f'unknown field "{path}"' for path in unknown)
            obj = admitted
        if causes:
            raise objects.invalid(resource, name, causes)
        return obj

    def _remove(self, resource: resources.Resource, obj: Obj) -> Obj:
        final = self.store.remove(resource.storage_key, obj)
        meta = obj["metadata"]
        if resource.storage_key == resources.CRD_STORAGE_KEY:
            self._unregister(obj)
        elif resource.namespaced:
            self._finish_namespace_if_empty(meta.get("namespace", ""))
        return final

    def _free_name(self, resource: resources.Resource, namespace: str | None, prefix: str) -> str:
        key = self._key(resource, namespace)
        for _ in range(_GENERATE_NAME_ATTEMPTS):
            name = objects.generate_name(prefix)
            if self.store.get(resource.storage_key, key, name) is None:
                return name
        raise errors.AlreadyExists(
            f'{resource.group_resource} "{name}" already exists',
            details=errors.object_details(resource.group, resource.plural, name),
        )

    # ---- the namespace controller ------------------------------------------------------------

    def _check_namespace_open(self, resource: resources.Resource, namespace: str | None, name: str) -> None:
        """Creating in a missing namespace is 404, in a terminating one 403 (NamespaceLifecycle)."""
        if not namespace:
            raise errors.BadRequest(f"a namespace is required to create {resource.group_resource}")
        ns = self.store.get(resources.NAMESPACES_STORAGE_KEY, "", namespace)
        if ns is None:
            raise errors.NotFound(
                f'namespaces "{namespace}" not found',
                details=errors.object_details("", "namespaces", namespace),
            )
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.Forbidden(
                f'{resource.group_resource} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                details=errors.object_details(resource.group, resource.plural, name),
            )

    def _terminate_namespace(self, namespace: str) -> None:
        """Delete everything in a namespace; the namespace goes once nothing is left in it."""
        for key in self.store.storage_keys():
            resource = self._any_version(key)
            if resource is None or not resource.namespaced:
                continue
            self._bulk_terminating.add(namespace)  # check emptiness once at the end, not per object
            try:
                for obj in list(self.store.iter_objects(key)):
                    if obj["metadata"].get("namespace") == namespace:
                        self.delete(resource, namespace, obj["metadata"]["name"])
            finally:
                self._bulk_terminating.discard(namespace)
        self._finish_namespace_if_empty(namespace)

    def _finish_namespace_if_empty(self, namespace: str) -> None:
        ns = self.store.get(resources.NAMESPACES_STORAGE_KEY, "", namespace)
        if ns is None or not ns["metadata"].get("deletionTimestamp") or namespace in self._bulk_terminating:
            return
        for key in self.store.storage_keys():
            resource = self._any_version(key)
            if resource is None or not resource.namespaced:
                continue
            if any(obj["metadata"].get("namespace") == namespace for obj in self.store.iter_objects(key)):
                return
        self.store.remove(resources.NAMESPACES_STORAGE_KEY, ns)

    def _any_version(self, key: resources.StorageKey) -> resources.Resource | None:
        versions = self.registry.versions_of(key)
        return versions[0] if versions else None

    # ---- the CRD controller ------------------------------------------------------------------

    def _register(self, crd: Obj) -> None:
        """Serve every served version of a CRD (again, after a change of versions or names)."""
        new = resources.resources_from_crd(crd)
        if not new:
            return
        self.registry.remove(new[0].storage_key)
        for resource in new:
            self.registry.add(resource)
        self.store.bucket(new[0].storage_key)

    def _unregister(self, crd: Obj) -> None:
        """Stop serving a CRD's resource and drop its objects (their watches end)."""
        key = (crd["spec"]["group"], resources.crd_names(crd)["plural"])
        self.registry.remove(key)
        for obj in list(self.store.iter_objects(key)):
            self.store.remove(key, obj)  # watchers see the objects go before their streams end
        self.store.drop(key)


# ---- module-level helpers (pure) -------------------------------------------------------------


def _sort_key(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])


def _encode_continue(rv: int, start: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(start)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may show "
    "up in the list."
)


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (binascii.Error, ValueError, KeyError, IndexError, TypeError):
        raise errors.BadRequest("continue key is not valid: incorrect encoded start resourceVersion") from None


def _check_body(resource: resources.Resource, body: Obj) -> None:
    """Custom resources need `kind` (unstructured decoding); apiVersion must be one of the group's."""
    api_version = body.get("apiVersion")
    kind = body.get("kind")
    if resource.custom and not kind:
        raise errors.BadRequest(f"Object 'Kind' is missing in '{json.dumps(body)[:200]}'")
    if kind and kind != resource.kind:
        raise errors.BadRequest(f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})")
    if api_version and api_version.rpartition("/")[0] != resource.group:
        raise errors.BadRequest(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({resource.api_version})"
        )


def _check_preconditions(resource: resources.Resource, old: Obj, preconditions: Mapping[str, Any]) -> None:
    name = old["metadata"]["name"]
    details = errors.object_details(resource.group, resource.plural, name)
    uid = preconditions.get("uid")
    if uid and uid != old["metadata"]["uid"]:
        raise errors.Conflict(
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: {old['metadata']['uid']}",
            details=details,
        )
    rv = preconditions.get("resourceVersion")
    if rv and str(rv) != old["metadata"]["resourceVersion"]:
        raise errors.Conflict(
            f'Operation cannot be fulfilled on {resource.group_resource} "{name}": '
            "the ResourceVersion in the "
            f"precondition ({rv}) does not match the ResourceVersion in record "
            f"({old['metadata']['resourceVersion']}). The object might have been modified",
            details=details,
        )


def _builtin_defaults(resource: resources.Resource, obj: Obj) -> Obj:
    """What real servers set on the built-ins whose fields clients rely on."""
    if resource.storage_key == resources.NAMESPACES_STORAGE_KEY:
        # Since Kubernetes 1.21 every namespace carries its name as a label (webhooks select on it).
        name = obj["metadata"].get("name", "")
        labels = obj["metadata"].get("labels") or {}
        if labels.get(NAMESPACE_NAME_LABEL) != name:
            obj = {**obj, "metadata": {**obj["metadata"], "labels": {**labels, NAMESPACE_NAME_LABEL: name}}}
    elif resource.storage_key == admission.STORAGE_KEY:
        obj = admission.defaulted(obj)
    return obj


def _builtin_errors(resource: resources.Resource, obj: Obj) -> list[objects.Cause]:
    if resource.storage_key == admission.STORAGE_KEY:
        return admission.configuration_errors(obj)
    return []


def _set_managed(obj: Obj, managed: list[Obj]) -> None:
    """Real servers omit an empty managedFields."""
    if managed:
        obj["metadata"]["managedFields"] = managed
    else:
        obj["metadata"].pop("managedFields", None)


def _manager(resource: resources.Resource, subresource: str | None, options: WriteOptions) -> applying.Request:
    return applying.Request(
        manager=options.field_manager or DEFAULT_MANAGER,
        api_version=resource.api_version,
        subresource=subresource or "",
        has_status=resource.has_status,
        schema=resource.schema if resource.custom else fieldsets.BUILTIN_SCHEMAS.get((resource.group, resource.kind)),
    )


def _invalid_options(kind: str, field: str, reason: str, message: str) -> errors.Invalid:
    """422 about a query option, worded as real servers word it: ``PatchOptions.meta.k8s.io "" ...``."""
    return errors.Invalid(
        f'{kind}.meta.k8s.io "" is invalid: {field}: {message}',
        details={
            "group": "meta.k8s.io",
            "kind": kind,
            "causes": [{"reason": reason, "message": message, "field": field}],
        },
    )


def _conflict(resource: resources.Resource, name: str) -> errors.Conflict:
    return errors.Conflict(
        f'Operation cannot be fulfilled on {resource.group_resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details=errors.object_details(resource.group, resource.plural, name),
    )


def _crd_errors(crd: Obj) -> list[objects.Cause]:
    """The basics of CRD validation that our own CRDs and typos in tests could trip over."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    causes: list[objects.Cause] = []

    def required(path: str) -> None:
        causes.append(objects.Cause(path, "FieldValueRequired", "Required value"))

    for field, value in (
        ("spec.group", spec.get("group")),
        ("spec.names.plural", names.get("plural")),
        ("spec.names.kind", names.get("kind")),
    ):
        if not value:
            required(field)
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            objects.Cause(
                "spec.scope",
                "FieldValueNotSupported",
                f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", "Namespaced"',
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            objects.Cause(
                "spec.versions",
                "FieldValueInvalid",
                "Invalid value: null: must have exactly one version marked as storage version",
            )
        )
    elif sum(1 for version in versions if version.get("storage")) != 1:
        causes.append(
            objects.Cause(
                "spec.versions",
                "FieldValueInvalid",
                "Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: "
                "must have exactly one version marked as storage version",
            )
        )
    expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
    if names.get("plural") and spec.get("group") and crd["metadata"].get("name") != expected:
        causes.append(
            objects.Cause(
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{crd["metadata"].get("name")}": must be spec.names.plural+"."+spec.group',
            )
        )
    return causes


def _crd_status(crd: Obj) -> Obj:
    """Established and NamesAccepted at once: clients (kopf, kubectl wait) see a ready CRD."""
    now = objects.now()
    names = resources.crd_names(crd)
    storage = [v["name"] for v in crd["spec"].get("versions", []) if v.get("storage")]
    previous: Iterable[str] = (crd.get("status") or {}).get("storedVersions") or []
    stored_versions = list(dict.fromkeys([*previous, *storage]))
    old_conditions = {c.get("type"): c for c in (crd.get("status") or {}).get("conditions") or []}

    def condition(kind: str, reason: str, message: str) -> Obj:
        since = old_conditions.get(kind, {}).get("lastTransitionTime", now)
        return {
            "type": kind,
            "status": "True",
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }

    return {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": {key: value for key, value in names.items() if value},
        "storedVersions": stored_versions,
    }
