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

from lambda_vpc_operator.kube.rest import KubeApi, KubeApiError

GROUP, VERSION = "kopf.dev", "v1"


class PeeringCrdMissing(Exception):
    """The kopf peering CRDs are not installed (yet): the chart installs them with peering on."""


def _create(api: KubeApi, namespaces: Sequence[str], name: str) -> None:
    try:
        if namespaces:
            for namespace in namespaces:
                api.post(
                    f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/kopfpeerings",
                    {"apiVersion": f"{GROUP}/{VERSION}", "kind": "KopfPeering", "metadata": {"name": name}},
                )
        else:
            api.post(
                f"/apis/{GROUP}/{VERSION}/clusterkopfpeerings",
                {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ClusterKopfPeering", "metadata": {"name": name}},
            )
    except KubeApiError as exc:
        if exc.status == 409:
            return  # another replica (or an earlier run) created it
        if exc.status == 404:
            raise PeeringCrdMissing(str(exc.reason)) from None
        raise


async def ensure_peering(namespaces: Sequence[str], name: str, api: KubeApi | None = None) -> None:
    """Create the peering object(s) unless they exist; raise PeeringCrdMissing without the CRDs."""
    api = api or KubeApi()
    for namespace in namespaces:
        if any(ch in namespace for ch in "*?[!"):
            raise ValueError(f"peering needs exact namespaces, not the pattern {namespace!r}")
    await asyncio.to_thread(_create, api, namespaces, name)
