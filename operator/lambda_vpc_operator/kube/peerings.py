"""Create the kopf peering object this operator's replicas meet in.

kopf's peering (its stand-in for leader election) needs a ClusterKopfPeering (cluster-wide) or a
KopfPeering in each watched namespace, and with peering on it keeps the operator paused until that
object exists. A Helm chart cannot ship it: the CRD and an object of it cannot be created by one
release (Helm maps every manifest before creating anything), and a hook would be deleted and
re-created on every upgrade, letting two replicas run at once. So the operator creates it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import kubernetes

from lambda_vpc_operator.kube.status_writer import load_kube_config

GROUP, VERSION = "kopf.dev", "v1"


class PeeringCrdMissing(Exception):
    """The kopf peering CRDs are not installed (yet): the chart installs them with peering on."""


def _create(api: Any, namespaces: Sequence[str], name: str) -> None:
    try:
        if namespaces:
            for namespace in namespaces:
                api.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, "kopfpeerings",
                    {"apiVersion": f"{GROUP}/{VERSION}", "kind": "KopfPeering", "metadata": {"name": name}},
                )  # fmt: skip
        else:
            api.create_cluster_custom_object(
                GROUP, VERSION, "clusterkopfpeerings",
                {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ClusterKopfPeering", "metadata": {"name": name}},
            )  # fmt: skip
    except kubernetes.client.ApiException as exc:
        if exc.status == 409:
            return  # another replica (or an earlier run) created it
        if exc.status == 404:
            raise PeeringCrdMissing(str(exc.reason)) from None
        raise


async def ensure_peering(namespaces: Sequence[str], name: str, api_client: Any | None = None) -> None:
    """Create the peering object(s) unless they exist; raise PeeringCrdMissing without the CRDs."""
    api: Any = kubernetes.client.CustomObjectsApi(api_client or load_kube_config())
    for namespace in namespaces:
        if any(ch in namespace for ch in "*?[!"):
            raise ValueError(f"peering needs exact namespaces, not the pattern {namespace!r}")
    await asyncio.to_thread(_create, api, namespaces, name)
