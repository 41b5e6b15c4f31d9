"""Write an attachment's .status through the status subresource, as a JSON merge patch."""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from collections.abc import Mapping
from typing import Any

import kubernetes

from lambda_vpc_operator.models import attachments

logger = logging.getLogger(__name__)


def load_kube_config() -> kubernetes.client.ApiClient:
    """The same credentials kopf uses: in-cluster service account, else KUBECONFIG."""
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    client = kubernetes.client.ApiClient(configuration)
    # Say who we are in the API server's audit log (kopf's own requests say kopf/<version>).
    client.user_agent = f"lambda-vpc-operator/{importlib.metadata.version('lambda-vpc-operator')}"
    return client


class StatusWriter:
    def __init__(self, api_client: kubernetes.client.ApiClient | None = None) -> None:
        self._api: Any = kubernetes.client.CustomObjectsApi(api_client or load_kube_config())

    async def patch(self, namespace: str, name: str, status_patch: Mapping[str, Any]) -> Mapping[str, Any]:
        """Apply the patch; return the stored status (empty if the object is gone)."""
        try:
            stored = await asyncio.to_thread(
                self._api.patch_namespaced_custom_object_status,
                attachments.GROUP,
                attachments.VERSION,
                namespace,
                attachments.PLURAL,
                name,
                {"status": dict(status_patch)},
            )
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                logger.debug("%s/%s is gone; status not written", namespace, name)
                return {}
            raise
        status: Mapping[str, Any] = stored.get("status") or {}
        return status
