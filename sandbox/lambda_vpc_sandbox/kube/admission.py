"""Validating admission webhooks: the emulator calls them as kube-apiserver does.

A ``admissionregistration.k8s.io/v1`` ValidatingWebhookConfiguration is stored (with the real
defaults and the basic validation), and every create, update (PUT, patch, apply, subresources) and
delete of an object its rules match is sent to each matching webhook as an ``admission.k8s.io/v1``
AdmissionReview, over HTTPS verified with the ``caBundle``, within ``timeoutSeconds``, after
schema validation and CEL rules and before the object is stored -- so the chart's webhook
configuration and the operator's webhook are tested together, as in a cluster.

Reproduced from kube-apiserver (apiserver/pkg/admission/plugin/webhook):

- matching: ``rules`` (operations, apiGroups, apiVersions, resources with ``*``, ``x/status``,
  ``*/*``, scope), ``namespaceSelector`` (the namespace's labels; a Namespace's own labels;
  other cluster-scoped objects always match), ``objectSelector`` (the new or the old object);
  configurations of admissionregistration.k8s.io itself are never sent to webhooks;
- the call: ``clientConfig.url``, or ``clientConfig.service`` as ``https://<name>.<namespace>.svc:<port><path>``
  with ``?timeout=<n>s`` appended; the emulator has no Service endpoints, so a service is reached
  through the URL it is mapped to in `Webhooks.services` (``"namespace/name"``), while the
  certificate is still verified for the service's DNS name; an unmapped service fails as a
  service without endpoints would;
- the answers: a denial is ``admission webhook "<name>" denied the request: <message>`` with the
  webhook's ``status.code`` (at least 400) and reason; ``warnings`` become Warning headers; a
  failed call (refused connection, TLS failure, timeout, a non-200 answer, a wrong uid) is 500
  ``Internal error occurred: failed calling webhook "<name>": failed to call webhook: ...`` with
  ``failurePolicy: Fail`` and lets the request through with ``Ignore``; a dry-run request is
  sent with ``dryRun: true`` (v1 allows only ``sideEffects`` None and NoneOnDryRun, so no webhook
  refuses dry runs).

Not emulated: mutating webhooks (MutatingWebhookConfiguration is not served), ``matchConditions``,
``matchPolicy`` (each CRD here serves its objects in one version at a time, so Equivalent and
Exact agree), ``reinvocationPolicy``, authentication of the API server to the webhook, and the
audit annotations of ``Ignore``d failures. Webhooks of one request are called one after another
(real servers call them in parallel; the first denial or failure wins either way).
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import json
import ssl
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from lambda_vpc_sandbox.kube import errors, objects, resources

Obj = dict[str, Any]

GROUP = "admissionregistration.k8s.io"
STORAGE_KEY: resources.StorageKey = (GROUP, "validatingwebhookconfigurations")
REVIEW_VERSION = "admission.k8s.io/v1"
DEFAULT_TIMEOUT = 10  # seconds, as real servers default timeoutSeconds
# The identity the emulator reports for every request (it does not authenticate clients).
USER_INFO = {"username": "system:admin", "groups": ["system:masters", "system:authenticated"]}


# ---- the configuration objects ----------------------------------------------------------------


def defaulted(config: Obj) -> Obj:
    """A ValidatingWebhookConfiguration with the defaults real servers store."""
    config = copy.deepcopy(config)
    for hook in config.get("webhooks") or []:
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", DEFAULT_TIMEOUT)
        service = (hook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)
        for rule in hook.get("rules") or []:
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
    return config


def configuration_errors(config: Obj) -> list[objects.Cause]:
    """The validation of admissionregistration/v1 a typo in a chart would trip over."""
    causes: list[objects.Cause] = []
    names: set[str] = set()
    for index, hook in enumerate(config.get("webhooks") or []):
        at = f"webhooks[{index}]"
        name = str(hook.get("name", ""))
        if name.count(".") < 2:
            causes.append(
                objects.Cause(
                    f"{at}.name",
                    "FieldValueInvalid",
                    f'Invalid value: "{name}": should be a domain with at least three segments separated by dots',
                )
            )
        if name in names:
            causes.append(objects.Cause(f"{at}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"'))
        names.add(name)
        if hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            causes.append(
                objects.Cause(
                    f"{at}.sideEffects",
                    "FieldValueNotSupported" if hook.get("sideEffects") else "FieldValueRequired",
                    f'Unsupported value: "{hook.get("sideEffects", "")}": supported values: "None", "NoneOnDryRun"'
                    if hook.get("sideEffects")
                    else "Required value",
                )
            )
        if not hook.get("admissionReviewVersions"):
            causes.append(objects.Cause(f"{at}.admissionReviewVersions", "FieldValueRequired", "Required value"))
        if hook.get("failurePolicy") not in ("Fail", "Ignore"):
            causes.append(
                objects.Cause(
                    f"{at}.failurePolicy",
                    "FieldValueNotSupported",
                    f'Unsupported value: "{hook.get("failurePolicy")}": supported values: "Fail", "Ignore"',
                )
            )
        timeout = hook.get("timeoutSeconds")
        if not isinstance(timeout, int) or not 1 <= timeout <= 30:
            causes.append(
                objects.Cause(
                    f"{at}.timeoutSeconds",
                    "FieldValueInvalid",
                    f"Invalid value: {timeout}: the timeout value must be between 1 and 30 seconds",
                )
            )
        client = hook.get("clientConfig") or {}
        if ("url" in client) == ("service" in client):
            causes.append(
                objects.Cause(
                    f"{at}.clientConfig",
                    "FieldValueRequired",
                    "Required value: exactly one of url or service is required",
                )
            )
        elif "url" in client and not str(client["url"]).startswith("https://"):
            causes.append(
                objects.Cause(
                    f"{at}.clientConfig.url",
                    "FieldValueInvalid",
                    f"Invalid value: \"{client['url']}\": 'https' is the only allowed URL scheme",
                )
            )
    return causes


# ---- matching ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What a request does to which object: what rules match and an AdmissionReview tells."""

    operation: str  # CREATE, UPDATE or DELETE
    resource: resources.Resource
    subresource: str
    namespace: str | None
    name: str
    dry_run: bool
    field_manager: str = ""


def _rule_matches(
    rule: Mapping[str, Any], resource: resources.Resource, subresource: str, operation: str | None
) -> bool:
    def has(field: str, value: str) -> bool:
        listed = rule.get(field) or []
        return "*" in listed or value in listed

    if operation is not None and not has("operations", operation):
        return False
    if not (has("apiGroups", resource.group) and has("apiVersions", resource.version)):
        return False
    scope = rule.get("scope", "*")
    if scope != "*" and scope != ("Namespaced" if resource.namespaced else "Cluster"):
        return False
    wanted = f"{resource.plural}/{subresource}" if subresource else resource.plural
    for pattern in rule.get("resources") or []:
        head, _, tail = str(pattern).partition("/")
        if pattern in ("*/*", wanted) or (head == "*" and tail == subresource):
            return True
        if head == resource.plural and tail == "*":
            return True
    return False


def candidates(
    configurations: Iterable[Obj], resource: resources.Resource, subresource: str, operation: str | None
) -> list[Obj]:
    """The webhooks whose rules match (``operation`` ``None``: any operation); selectors come later."""
    if resource.group == GROUP:
        return []
    found: list[Obj] = []
    for config in configurations:
        for hook in config.get("webhooks") or []:
            if any(_rule_matches(rule, resource, subresource, operation) for rule in hook.get("rules") or []):
                found.append(hook)
    return found


def label_selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    """A metav1.LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _labels(obj: Obj | None) -> dict[str, Any]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


def selected(hook: Obj, attributes: Attributes, obj: Obj | None, old: Obj | None, namespace: Obj | None) -> bool:
    """Whether a webhook's namespaceSelector and objectSelector let a request through to it."""
    if attributes.resource.storage_key == resources.NAMESPACES_STORAGE_KEY:
        namespace_labels: dict[str, Any] | None = _labels(obj or old)
    elif attributes.resource.namespaced:
        namespace_labels = _labels(namespace)
    else:
        namespace_labels = None  # other cluster-scoped objects are never skipped by namespace
    if namespace_labels is not None and not label_selector_matches(hook.get("namespaceSelector"), namespace_labels):
        return False
    selector = hook.get("objectSelector")
    return any(
        label_selector_matches(selector, _labels(candidate)) for candidate in (obj, old) if candidate is not None
    )


# ---- calling ----------------------------------------------------------------------------------


class WebhookDenied(errors.StatusError):
    """A webhook's denial: its own code (at least 400), reason and details, the message prefixed."""

    def __init__(self, name: str, result: Mapping[str, Any] | None) -> None:
        result = dict(result or {})
        denied_by = f"admission webhook {json.dumps(name)} denied the request"
        if result.get("message"):
            message = f"{denied_by}: {result['message']}"
        elif result.get("reason"):
            message = f"{denied_by}: {result['reason']}"
        else:
            message = f"{denied_by} without explanation"
        super().__init__(message, details=result.get("details"))
        code = result.get("code")
        self.code = code if isinstance(code, int) and code >= 400 else 400
        self.reason = str(result.get("reason") or "")

    def as_status(self) -> dict[str, Any]:
        status = super().as_status()
        if not self.reason:
            del status["reason"]
        if self.details is None:
            del status["details"]
        return status


class _CallFailed(Exception):
    """The call did not give an answer (kube-apiserver's ErrCallingWebhook): its reason."""


def review_request(hook: Obj, attributes: Attributes, obj: Obj | None, old: Obj | None) -> Obj:
    resource = attributes.resource
    kind = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    gvr = {"group": resource.group, "version": resource.version, "resource": resource.plural}
    options_kind = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}[
        attributes.operation
    ]
    options: Obj = {"kind": options_kind, "apiVersion": "meta.k8s.io/v1"}
    if attributes.field_manager and attributes.operation != "DELETE":
        options["fieldManager"] = attributes.field_manager
    request: Obj = {
        "uid": str(uuid.uuid4()),
        "kind": kind,
        "resource": gvr,
        "requestKind": kind,
        "requestResource": gvr,
        "name": attributes.name,
        "operation": attributes.operation,
        "userInfo": copy.deepcopy(USER_INFO),
        "object": obj,
        "oldObject": old,
        "dryRun": attributes.dry_run,
        "options": options,
    }
    if attributes.subresource:
        request["subResource"] = request["requestSubResource"] = attributes.subresource
    if attributes.namespace:
        request["namespace"] = attributes.namespace
    return {"apiVersion": REVIEW_VERSION, "kind": "AdmissionReview", "request": request}


class Webhooks:
    """Calls the webhooks of a request; ``services`` maps ``"namespace/name"`` to a base URL."""

    def __init__(self) -> None:
        self.services: dict[str, str] = {}

    async def review(
        self, hooks: list[Obj], attributes: Attributes, obj: Obj | None, old: Obj | None, namespace: Obj | None
    ) -> list[str]:
        """Call each selected webhook; its warnings, or raise its denial or its failure."""
        warnings: list[str] = []
        for hook in hooks:
            if not selected(hook, attributes, obj, old, namespace):
                continue
            name = str(hook.get("name", ""))
            try:
                response = await self._call(hook, review_request(hook, attributes, obj, old))
            except _CallFailed as e:
                if hook.get("failurePolicy", "Fail") == "Ignore":
                    continue
                text = f"failed calling webhook {json.dumps(name)}: {e}"
                raise errors.StatusError(
                    f"Internal error occurred: {text}", details={"causes": [{"message": text}]}
                ) from None
            warnings.extend(str(w) for w in response.get("warnings") or [])
            if not response.get("allowed"):
                raise WebhookDenied(name, response.get("status"))
        return warnings

    def _address(self, hook: Obj, suffix: str) -> tuple[str, str, str | None]:
        """(URL as the error messages name it, URL to connect to, hostname to verify or None)."""
        client = hook.get("clientConfig") or {}
        if client.get("url"):
            url = str(client["url"])
            url += ("&" if "?" in url else "?") + suffix
            return url, url, None
        service = client.get("service") or {}
        host = f"{service.get('name')}.{service.get('namespace')}.svc"
        path = str(service.get("path") or "")
        shown = f"https://{host}:{service.get('port', 443)}{path}?{suffix}"
        base = self.services.get(f"{service.get('namespace')}/{service.get('name')}")
        if base is None:
            raise _CallFailed(f'failed to call webhook: Post "{shown}": service "{service.get("name")}" not found')
        return shown, f"{base.rstrip('/')}{path}?{suffix}", host

    async def _call(self, hook: Obj, review: Obj) -> Obj:
        timeout = int(hook.get("timeoutSeconds") or DEFAULT_TIMEOUT)
        shown, url, hostname = self._address(hook, f"timeout={timeout}s")
        versions = hook.get("admissionReviewVersions") or []
        if "v1" not in versions:
            raise _CallFailed(f"webhook does not accept known AdmissionReview versions ({', '.join(versions)})")
        context = _tls_context((hook.get("clientConfig") or {}).get("caBundle"))
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.post(url, json=review, ssl=context, server_hostname=hostname) as answer,
            ):
                if answer.status != 200:
                    raise _CallFailed(
                        f"failed to call webhook: the server responded with the status code {answer.status} "
                        "but did not return more information"
                    )
                body = await answer.json(content_type=None)
        except TimeoutError:
            raise _CallFailed(f'failed to call webhook: Post "{shown}": context deadline exceeded') from None
        except aiohttp.ClientConnectorCertificateError as e:
            raise _CallFailed(
                f'failed to call webhook: Post "{shown}": tls: failed to verify certificate: {e.certificate_error}'
            ) from None
        except aiohttp.ClientConnectorError as e:
            raise _CallFailed(
                f'failed to call webhook: Post "{shown}": dial tcp {e.host}:{e.port}: connect: connection refused'
            ) from None
        except (aiohttp.ClientError, ValueError) as e:
            raise _CallFailed(f'failed to call webhook: Post "{shown}": {e}') from None
        return _verified(body, review["request"]["uid"])


def _tls_context(ca_bundle: Any) -> ssl.SSLContext:
    if not ca_bundle:
        return ssl.create_default_context()
    try:
        pem = base64.b64decode(str(ca_bundle), validate=True).decode()
        return ssl.create_default_context(cadata=pem)
    except (binascii.Error, UnicodeDecodeError, ssl.SSLError, ValueError):
        raise _CallFailed(
            "failed to call webhook: unable to load root certificates: unable to parse bytes as PEM block"
        ) from None


def _verified(body: Any, uid: str) -> Obj:
    """The response of an AdmissionReview, checked as kube-apiserver's VerifyAdmissionResponse does."""
    if not isinstance(body, dict) or (body.get("apiVersion"), body.get("kind")) != (REVIEW_VERSION, "AdmissionReview"):
        got = (
            f"{(body or {}).get('apiVersion', '')}, Kind={(body or {}).get('kind', '')}"
            if isinstance(body, dict)
            else "?"
        )
        raise _CallFailed(
            "received invalid webhook response: expected webhook response of admission.k8s.io/v1, "
            f"Kind=AdmissionReview, got {got}"
        )
    response = body.get("response")
    if not isinstance(response, dict):
        raise _CallFailed("received invalid webhook response: webhook response was absent")
    if response.get("uid") != uid:
        raise _CallFailed(
            f'received invalid webhook response: expected response.uid="{uid}", got "{response.get("uid", "")}"'
        )
    return response
