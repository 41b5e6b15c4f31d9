"""This cluster's identity, for the owner tag when ``--cluster-name`` is not given.

Two clusters that share an AWS account must never take each other's functions, so the owner tag
names the installation (models.owners). The uid of the ``kube-system`` namespace is the usual
stable identity of a cluster: it exists from the first day, is never deleted (the API server
refuses), and differs between clusters. It changes only if the cluster is rebuilt, and then an
explicit ``--cluster-name`` (the chart's ``clusterName``) keeps the tags valid.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import urllib3

from lambda_vpc_operator.kube.rest import KubeApi, KubeApiError

IDENTITY_NAMESPACE = "kube-system"
# Read once at startup, when an API server may be restarting or shedding load (API Priority and
# Fairness): a transient answer is retried (0.5 s doubling, about 15 s in all, Retry-After honoured up
# to 10 s) rather than stopping the operator with advice about permissions (found by the chaos run).
TRANSIENT = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 6
FIRST_DELAY = 0.5
MAX_RETRY_AFTER = 10.0


class ClusterIdentityUnknown(Exception):
    """The identity could not be read (no permission, no API server): ask for --cluster-name."""


def cluster_identity(api: KubeApi | None = None) -> str:
    """The uid of the kube-system namespace (needs ``get`` on that one namespace)."""
    client = api or KubeApi()
    namespace = _read_with_retries(lambda: client.get(f"/api/v1/namespaces/{IDENTITY_NAMESPACE}"), time.sleep)
    uid = (namespace.get("metadata") or {}).get("uid")
    if not uid:
        raise ClusterIdentityUnknown(f"namespace {IDENTITY_NAMESPACE} has no uid")
    return str(uid)


def _read_with_retries(read: Callable[[], Any], sleep: Callable[[float], None]) -> Any:
    delay = FIRST_DELAY
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return read()
        except KubeApiError as exc:
            if exc.status not in TRANSIENT:
                raise ClusterIdentityUnknown(
                    f"reading namespace {IDENTITY_NAMESPACE}: {exc.status} {exc.reason}"
                ) from None
            failure, wait = f"{exc.status} {exc.reason}", exc.retry_after or delay
        except urllib3.exceptions.HTTPError as exc:  # no answer at all (the client's own retries spent)
            failure, wait = f"{type(exc).__name__}: {exc}", delay
        if attempt == ATTEMPTS:
            raise ClusterIdentityUnknown(
                f"reading namespace {IDENTITY_NAMESPACE}: {failure} ({ATTEMPTS} attempts)"
            ) from None
        sleep(min(wait, MAX_RETRY_AFTER))
        delay *= 2
    raise AssertionError("unreachable")


def derived_cluster_name(namespaces: Sequence[str] = (), api: KubeApi | None = None) -> str:
    """kube-system's uid; a namespaced installation adds a digest of the namespaces it watches, so that
    two of them in one cluster (each with its own namespaces) never see each other's tags as their own."""
    uid = cluster_identity(api)
    if not namespaces:
        return uid
    return f"{uid}-{hashlib.sha256(' '.join(sorted(namespaces)).encode()).hexdigest()[:8]}"
