"""kopf glue for the guardrails: policy and namespace indexes, wake-ups, and the admission webhook.

- ``lambda_vpc_policies`` indexes every LambdaVpcPolicy (cluster-wide), ``namespace_labels`` every
  namespace's labels; with ``function_claims`` (handlers.attachments) they make the
  ``guarding.Context`` each look and each admission request is judged in.
- A policy or a namespace's labels changing wakes only the attachments whose verdict may flip
  (``Guard.flipped``, no I/O), so editing a policy does not re-read a thousand functions.
- With ``--webhook-port``, kopf's WebhookServer serves a validating webhook for attachments over
  HTTPS: a create or spec change that a policy refuses, or that names a function another
  attachment manages, fails at ``kubectl apply`` with the rule's message.

The decisions are in ``reconciliation.guarding`` and the planner; nothing is decided here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kopf

from lambda_vpc_operator.handlers import logs, metrics
from lambda_vpc_operator.models import attachments, policies
from lambda_vpc_operator.models.functions import spec_claim_key
from lambda_vpc_operator.models.settings import OperatorSettings, WebhookSettings
from lambda_vpc_operator.planner import policies as policy_rules
from lambda_vpc_operator.reconciliation.guarding import Context, Guard
from lambda_vpc_operator.reconciliation.memories import AttachmentMemory
from lambda_vpc_operator.reconciliation.reconciler import AttachmentView

POLICY_RESOURCE = (policies.GROUP, policies.VERSION, policies.PLURAL)
ATTACHMENT_RESOURCE = (attachments.GROUP, attachments.VERSION, attachments.PLURAL)
NAMESPACE_RESOURCE = ("v1", "namespaces")
POLICIES_INDEX = "lambda_vpc_policies"
LABELS_INDEX = "namespace_labels"
CLAIMS_INDEX = "function_claims"  # handlers.attachments
POLICIES_KEY = "*"  # every policy under one key: all of them apply to every look
WEBHOOK_ID = "validate-attachment"  # the webhook's URL path: https://HOST:PORT/validate-attachment
_QUIET = ("wake_on_policy_change", "wake_on_namespace_change")

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class _Live:
    memory: AttachmentMemory
    namespace: str
    packed_spec: bytes  # the spec as JSON: read only when a policy or namespace changes, kept small

    @property
    def spec(self) -> Mapping[str, Any]:
        spec: Mapping[str, Any] = json.loads(self.packed_spec)
        return spec


class Guardrails:
    """The attachments' looks register here; policy and namespace changes wake them."""

    def __init__(self, guard: Guard, settings: OperatorSettings) -> None:
        self.guard = guard
        self.settings = settings
        self.live: dict[str, _Live] = {}
        # kopf runs non-index handlers only once every index is loaded (on a peering standby: never):
        # the first namespace event says this replica's indexes are complete (handlers.readiness).
        self.indexed = False
        # Looks at one attachment now (handlers.looks, set by handlers.attachments).
        self.waker: Callable[[str], None] = lambda key: None

    # -- for handlers.attachments --

    def context(self, indexes: Mapping[str, Any], namespace: str, spec: Mapping[str, Any]) -> Context:
        """The cluster's side of one look or one admission request, from the kopf indexes."""
        policy_index = indexes.get(POLICIES_INDEX) or {}
        label_index = indexes.get(LABELS_INDEX) or {}
        found = tuple(policy_index.get(POLICIES_KEY, ()))
        labels = {namespace: dict(next(iter(label_index.get(namespace, ())), {}))}
        claimants: frozenset[str] = frozenset()
        claims = indexes.get(CLAIMS_INDEX) or {}
        key = spec_claim_key(spec, self.settings.default_region)
        if key is not None and key in claims:
            claimants = frozenset(claim.key for claim in claims[key])
        return Context(policy_rules.PolicySet(found, labels, self.settings.policy_mode), claimants)

    def track(self, view: AttachmentView, memory: AttachmentMemory) -> None:
        self.live[view.key] = _Live(memory, view.namespace, json.dumps(view.spec, separators=(",", ":")).encode())

    def untrack(self, key: str) -> None:
        self.live.pop(key, None)

    # -- wake-ups --

    def wake(self, indexes: Mapping[str, Any], namespaces: Iterable[str] | None = None) -> int:
        """Wake the attachments (of ``namespaces``, or all) whose policy verdict may have flipped."""
        wanted = set(namespaces) if namespaces is not None else None
        woken = 0
        for key, live in list(self.live.items()):
            if wanted is not None and live.namespace not in wanted:
                continue
            spec = live.spec
            context = self.context(indexes, live.namespace, spec)
            if self.guard.flipped(live.namespace, spec, context, live.memory.policy_denied):
                self.waker(key)
                woken += 1
        return woken


def register(registry: kopf.OperatorRegistry, guardrails: Guardrails) -> None:
    settings = guardrails.settings
    logging.getLogger("kopf.objects").addFilter(logs.QuietHandlers(*_QUIET))

    @kopf.index(*POLICY_RESOURCE, id=POLICIES_INDEX, registry=registry)
    def lambda_vpc_policies(name: str, spec: kopf.Spec, body: kopf.Body, **_: Any) -> dict[str, Any]:
        try:
            parsed = policies.PolicySpec.model_validate(dict(spec))
        except ValueError as exc:
            # A policy only ever allows: ignoring a broken one can only deny more (fail closed).
            logger.warning("LambdaVpcPolicy %s is ignored: %s", name, exc)
            kopf.warn(body, reason="InvalidPolicy", message=f"Ignored: {exc}"[:1024])
            return {}
        return {POLICIES_KEY: policy_rules.Policy(name, parsed)}

    @kopf.index(*NAMESPACE_RESOURCE, id=LABELS_INDEX, registry=registry)
    def namespace_labels(name: str, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
        return {name: dict(labels)}

    # async, like every wake-up: kopf runs sync handlers in a thread pool, and asyncio.Event.set()
    # (and the live-attachment table the looks update) must only be touched from the event loop.
    @kopf.on.event(*POLICY_RESOURCE, id="wake_on_policy_change", registry=registry)
    async def wake_on_policy_change(name: str, **kwargs: Any) -> None:
        woken = guardrails.wake(kwargs)
        if woken:
            logger.info("LambdaVpcPolicy %s changed: %d attachment(s) to look at again", name, woken)

    @kopf.on.event(*NAMESPACE_RESOURCE, id="wake_on_namespace_change", registry=registry)
    async def wake_on_namespace_change(name: str, **kwargs: Any) -> None:
        guardrails.indexed = True
        guardrails.wake(kwargs, [name])

    if settings.webhook is not None:
        _register_webhook(registry, guardrails, settings.webhook)


def _register_webhook(registry: kopf.OperatorRegistry, guardrails: Guardrails, webhook: WebhookSettings) -> None:
    @kopf.on.startup(id="serve_admission", registry=registry)
    def serve_admission(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.admission.server = kopf.WebhookServer(
            addr=webhook.host,
            port=webhook.port,
            certfile=webhook.certfile,
            pkeyfile=webhook.keyfile,
            cafile=webhook.cafile,
        )

    @kopf.on.validate(
        *ATTACHMENT_RESOURCE, id=WEBHOOK_ID, operations=["CREATE", "UPDATE"], registry=registry
    )
    async def validate_attachment(
        namespace: str | None, name: str, spec: kopf.Spec, warnings: list[str], **kwargs: Any
    ) -> None:
        namespace = namespace or ""
        old: kopf.Body | None = kwargs.get("old")
        if old is not None and (old.get("metadata") or {}).get("deletionTimestamp"):
            return  # a terminating attachment: its finalizer and deletionPolicy are never refused
        if not guardrails.indexed:
            # kopf serves admission before its indexes are loaded, and on a peering standby that never
            # loads them: no policy known is not a denial. The reconcile-time check stays authoritative.
            warnings.append(
                "This operator replica has not loaded its LambdaVpcPolicy index yet: the policy was not checked "
                "at admission; the operator checks it before touching AWS"
            )
            return
        context = guardrails.context(kwargs, namespace, spec)
        old_spec = dict(old.get("spec") or {}) if old is not None else None
        with logs.looking(namespace, name, spec.get("functionName"), "admit"):
            answer = await guardrails.guard.admit(namespace, name, dict(spec), old_spec, context)
        warnings.extend(answer.warnings)
        outcome = "denied" if not answer.allowed else "warned" if answer.warnings else "allowed"
        metrics.webhook_decisions.labels(outcome).inc()
        if not answer.allowed:
            raise kopf.AdmissionError(answer.message, code=403)
