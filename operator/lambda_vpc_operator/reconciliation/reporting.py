"""How the reconciler tells the cluster what it found: status patches and Events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from lambda_vpc_operator.planner.plans import Event


class Reporter(Protocol):
    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        """Merge-patch .status; return the status as stored afterwards."""

    def post(self, event: Event) -> None:
        """Post a Kubernetes Event about the attachment (fire and forget)."""
