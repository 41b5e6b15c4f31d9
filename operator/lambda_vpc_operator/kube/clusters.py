"""This cluster's identity, for the owner tag when ``--cluster-name`` is not given.

Two clusters that share an AWS account must never take each other's functions, so the owner tag
names the installation (models.owners). The uid of the ``kube-system`` namespace is the usual
stable identity of a cluster: it exists from the first day, is never deleted (the API server
refuses), and differs between clusters. It changes only if the cluster is rebuilt, and then an
explicit ``--cluster-name`` (the chart's ``clusterName``) keeps the tags valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import kubernetes

from lambda_vpc_operator.kube.statuses import load_kube_config

IDENTITY_NAMESPACE = "kube-system"


class ClusterIdentityUnknown(Exception):
    """The identity could not be read (no permission, no API server): ask for --cluster-name."""


def cluster_identity(api_client: kubernetes.client.ApiClient | None = None) -> str:
    """The uid of the kube-system namespace (needs ``get`` on that one namespace)."""
    api: Any = kubernetes.client.CoreV1Api(api_client or load_kube_config())
    try:
        namespace = api.read_namespace(IDENTITY_NAMESPACE)
    except kubernetes.client.ApiException as exc:
        raise ClusterIdentityUnknown(f"reading namespace {IDENTITY_NAMESPACE}: {exc.status} {exc.reason}") from None
    uid = namespace.metadata.uid if namespace.metadata is not None else None
    if not uid:
        raise ClusterIdentityUnknown(f"namespace {IDENTITY_NAMESPACE} has no uid")
    return str(uid)


def derived_cluster_name(namespaces: Sequence[str] = (), api_client: kubernetes.client.ApiClient | None = None) -> str:
    """kube-system's uid; a namespaced installation adds a digest of the namespaces it watches, so that
    two of them in one cluster (each with its own namespaces) never see each other's tags as their own."""
    uid = cluster_identity(api_client)
    if not namespaces:
        return uid
    return f"{uid}-{hashlib.sha256(' '.join(sorted(namespaces)).encode()).hexdigest()[:8]}"
