"""Who owns a Lambda function: the value of the ``lambdavpc.dev/owner`` tag the operator puts on it.

The tag names the installation as well as the attachment (``<cluster>/<namespace>/<name>``), so two
clusters that share an AWS account never take each other's functions: a tag naming another
cluster is never overwritten. AWS limits a tag value to 256 characters (Lambda TagResource: tag
values 0..256), while a namespace (63) and a name (253) alone can exceed it; a value that would be
longer keeps its readable head and ends in ``+`` and a digest of the whole, so it stays unique and
stable (``+`` is among the characters a tag value may hold: letters, digits, spaces, ``_.:/=+-@``).

Tags written before the cluster was part of the value (``<namespace>/<name>``) parse as
``cluster=None``: the installation that wrote them is unknown.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

TAG = "lambdavpc.dev/owner"
# Lambda TagResource: a tag value is at most 256 characters.
MAX_TAG_VALUE = 256
_DIGEST_CHARS = 16
# A cluster name is one path segment of the tag value, and readable in an AWS console.
CLUSTER_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"
_CLUSTER_NAME_RE = re.compile(CLUSTER_NAME_PATTERN)


def valid_cluster_name(name: str) -> bool:
    return bool(_CLUSTER_NAME_RE.match(name))


@dataclasses.dataclass(frozen=True)
class Owner:
    """An attachment of one installation: what the tag says, or what we would write."""

    cluster: str | None  # None: a tag of an older release, which did not name the installation
    namespace: str
    name: str

    @property
    def key(self) -> str:
        """The attachment as ``namespace/name`` (how the claims index names it)."""
        return f"{self.namespace}/{self.name}"

    @property
    def tag_value(self) -> str:
        """``cluster/namespace/name``, shortened with a digest to fit AWS' 256 characters."""
        full = f"{self.cluster}/{self.key}" if self.cluster else self.key
        if len(full) <= MAX_TAG_VALUE:
            return full
        digest = hashlib.sha256(full.encode()).hexdigest()[:_DIGEST_CHARS]
        return f"{full[: MAX_TAG_VALUE - _DIGEST_CHARS - 1]}+{digest}"

    def describe(self) -> str:
        where = f"cluster {self.cluster}" if self.cluster else "an unknown cluster (a tag of an older release)"
        return f"LambdaVpcAttachment {self.key} of {where}"


def parse(value: str) -> Owner | None:
    """The owner a tag value names; None for a value no release of this operator writes."""
    parts = value.split("/")
    if len(parts) == 3 and all(parts):
        return Owner(parts[0], parts[1], parts[2])
    if len(parts) == 2 and all(parts):
        return Owner(None, parts[0], parts[1])
    return None


def tag_holds(value: str | None, owner: Owner) -> bool:
    """Whether a tag value names ``owner`` (shortened values included)."""
    return value is not None and value == owner.tag_value
