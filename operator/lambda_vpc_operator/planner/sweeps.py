"""Observing an account cheaply: which way to sweep it, and which functions need a GetFunction.

Pure decisions for ``aws.observer`` (no I/O, times are plain seconds). aws-facts "Lambda function
configuration": ListFunctions gives 50 functions a page with VpcConfig and RevisionId but without
State and LastUpdateStatus (nor Tags), from the 15/s budget the whole account shares; GetFunction
gives everything, one function a request, from a 100/s bucket of its own. So a sweep lists the
account (or, when the account holds many more functions than we manage, reads each managed function
instead), and a function gets a GetFunction only when the listing says it changed or its lifecycle
may have moved: everything else is served from the last reading.
"""

from __future__ import annotations

import dataclasses
import enum
import math

from lambda_vpc_operator.models.functions import FunctionObservation, VpcSettings

# aws-facts "Lambda function configuration": ListFunctions returns at most 50 functions a page.
LIST_PAGE_SIZE = 50


class Way(enum.StrEnum):
    """How a sweep observes one account and region."""

    LIST = "list"  # ListFunctions pages (shared control budget), GetFunction only where needed
    GET = "get"  # one GetFunction per managed function per sweep (its own bucket)


class ReadReason(enum.StrEnum):
    """Why a function gets a GetFunction rather than the last reading (a metric's label)."""

    ASKED = "asked"  # the look wants a fresh reading: a new generation, a transition, a wake-up
    FIRST = "first"  # never read since the operator started
    WRITTEN = "written"  # we wrote to it (VpcConfig, tags) since the last reading
    POLLED = "polled"  # the sweep reads each managed function (Way.GET)
    TRANSITION = "transition"  # the last reading was Pending or InProgress: it is moving
    LIFECYCLE = "lifecycle"  # State not read for --lifecycle-interval (Inactive comes after idle days)
    CHANGED = "changed"  # the listing shows another RevisionId or VpcConfig
    UNLISTED = "unlisted"  # the listing no longer holds it: deleted, or renamed


def list_pages(functions: int) -> int:
    """ListFunctions requests to list ``functions`` (one even for an empty account)."""
    return max(1, math.ceil(functions / LIST_PAGE_SIZE))


def choose_way(account_functions: int | None, managed: int, control_rate: float, get_function_rate: float) -> Way:
    """The cheaper way to sweep, in seconds of each budget: pages of the shared control budget against
    a GetFunction per managed function from its own bucket. Ties list (one request, every change seen)."""
    if account_functions is None:
        return Way.LIST  # the account's size is learnt by listing it once
    listing = list_pages(account_functions) / control_rate
    reading = managed / get_function_rate
    return Way.LIST if listing <= reading else Way.GET


@dataclasses.dataclass(frozen=True)
class Known:
    """The last GetFunction of a function: its answer (None: not found) and when it was asked."""

    observation: FunctionObservation | None
    read_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a listing's item is compared by (``changed``): all the observer keeps of it, a function's
    whole ListFunctions item being several times larger, for every managed function."""

    revision_id: str | None
    vpc: VpcSettings
    vpc_id: str | None
    arn: str

    @classmethod
    def of(cls, item: FunctionObservation) -> Fingerprint:
        return cls(item.revision_id, item.vpc, item.vpc_id or None, item.arn)


@dataclasses.dataclass(frozen=True)
class Listed:
    """What the last ListFunctions sweep said of a function (None: not in the listing), and when."""

    item: Fingerprint | None
    swept_at: float


def read_reason(
    known: Known | None,
    listed: Listed | None,
    *,
    way: Way,
    now: float,
    lifecycle_interval: float,
    fresh: bool = False,
    written_at: float | None = None,
) -> ReadReason | None:
    """Why this function needs a GetFunction now; None when the last reading still stands."""
    if fresh:
        return ReadReason.ASKED
    if known is None:
        return ReadReason.FIRST
    if written_at is not None and written_at >= known.read_at:
        return ReadReason.WRITTEN
    if way == Way.GET:
        return ReadReason.POLLED
    observed = known.observation
    if observed is not None and observed.busy:
        return ReadReason.TRANSITION
    if now - known.read_at >= lifecycle_interval:
        return ReadReason.LIFECYCLE
    if listed is None or listed.swept_at <= known.read_at:
        return None  # the reading is newer than any listing
    if listed.item is None:
        # Gone from the listing: GetFunction says whether it is (a function not found stays so).
        return None if observed is None else ReadReason.UNLISTED
    if observed is None or changed(observed, listed.item):
        return ReadReason.CHANGED
    return None


def changed(observed: FunctionObservation, item: Fingerprint) -> bool:
    """The listing's configuration is not the one GetFunction read (another revision or VpcConfig)."""
    return Fingerprint.of(observed) != item
