"""One observer per place (today a region; an opaque key): every managed function for a few requests.

Before, each attachment's look sent a GetFunction at each resync, one request per attachment, as
per-object polling does. Here a sweep per place, at most once per ``sweep_interval`` (the resync
interval), pages ListFunctions (50 functions a request, VpcConfig and RevisionId included, from the
shared control budget: aws-facts "Lambda function configuration", "Rate limits") and keeps the
items of the functions the looks asked about. A look then gets the last GetFunction's answer at no
cost unless ``planner.sweeps.read_reason`` says otherwise: the look asks for a fresh reading (a new
generation, a transition, a wake-up), the listing shows another RevisionId or VpcConfig, the last
reading was Pending or InProgress, we wrote to the function since, or its State was not read for
``lifecycle_interval`` (ListFunctions omits State, LastUpdateStatus and Tags). When the account
holds many more functions than are managed, listing it costs more than a GetFunction per managed
function from GetFunction's own bucket: the sweep then reads those instead (``sweeps.choose_way``,
re-counted by a listing once per ``lifecycle_interval``) and says so in a metric and a log line.

Concurrent looks at one function share one GetFunction, and a place has one sweep at a time, which
no look waits for: a steady look takes the last sweep's word and starts the next when it is due.
Only observation is shared: writes stay per attachment.

Other accounts: one observer per account, shared by every role session in it (``through``), so an
account is swept once per interval however many namespaces reach it through however many roles.
Each request goes out with the credentials of the session whose look asked for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from lambda_vpc_operator.aws import errors, metrics, sharing
from lambda_vpc_operator.aws import functions as aws_functions
from lambda_vpc_operator.models.functions import FunctionObservation, FunctionRef, VpcSettings
from lambda_vpc_operator.models.settings import DEFAULT_LIFECYCLE_INTERVAL
from lambda_vpc_operator.planner import sweeps

logger = logging.getLogger(__name__)

# A function no look asked about for this many sweep intervals (and for the lifecycle interval) is no
# longer managed here. Not shorter: a look may wait a long while for the control budget (a burst of
# new attachments), and a function forgotten meanwhile costs a GetFunction at its next look.
FORGET_AFTER_SWEEPS = 3

_Key = tuple[str, str]  # (place, function name)


@dataclasses.dataclass
class _Place:
    """What the observer knows of one place: the way it sweeps it and the last listing."""

    way: sweeps.Way = sweeps.Way.LIST
    swept_at: float | None = None
    account_functions: int | None = None  # from the last listing
    counted_at: float | None = None
    listed: dict[str, sweeps.Fingerprint | None] = dataclasses.field(default_factory=dict)
    listed_at: float | None = None

    def listing(self, name: str) -> sweeps.Listed | None:
        if self.listed_at is None or name not in self.listed:
            return None  # not managed when the place was last listed
        return sweeps.Listed(self.listed[name], self.listed_at)


class SweepingObserver:
    """``observing.Observer`` from one sweep per place; a GetFunction only where a function moved."""

    def __init__(
        self,
        functions: aws_functions.LambdaFunctions,
        *,
        sweep_interval: float,
        lifecycle_interval: float = DEFAULT_LIFECYCLE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.functions = functions
        self.sweep_interval = sweep_interval
        self.lifecycle_interval = lifecycle_interval
        self.clock = clock
        self._known: dict[_Key, sweeps.Known] = {}
        self._asked: dict[_Key, float] = {}
        self._written: dict[_Key, float] = {}
        self._places: dict[str, _Place] = {}
        # Shared tasks hold their exception as their value (aws.sharing): kopf re-raises a failed one at exit.
        self._reading: sharing.SingleFlight[_Key, FunctionObservation | None] = sharing.SingleFlight()
        self._sweeping: sharing.SingleFlight[str, None] = sharing.SingleFlight()
        functions.listeners.append(self.wrote)

    def place_of(self, ref: FunctionRef) -> str:
        """The key of the observer that sees ``ref`` (its region, today)."""
        return self.functions.region_of(ref)

    def way(self, place: str) -> sweeps.Way:
        state = self._places.get(place)
        return state.way if state is not None else sweeps.Way.LIST

    def wrote(self, place: str, name: str) -> None:
        """A write of ours went through: the next look reads the function again."""
        self._written[place, name] = self.clock()

    def through(self, functions: aws_functions.LambdaFunctions) -> Through:
        """This observer as one role session sees it: its requests signed with that session's credentials."""
        if self.wrote not in functions.listeners:
            functions.listeners.append(self.wrote)
        return Through(self, functions)

    async def observe(
        self, ref: FunctionRef, *, fresh: bool = True, reader: aws_functions.LambdaFunctions | None = None
    ) -> FunctionObservation | None:
        """``observing.Observer.observe``; ``reader``: whose clients send any request (default: ours)."""
        reader = reader or self.functions
        place = self.place_of(ref)
        key = (place, ref.name)
        now = self.clock()
        self._asked[key] = now
        known = self._known.get(key)
        state = self._places.get(place)
        reason = self._reason(key, known, state, now, fresh)
        if known is not None and reason in (None, sweeps.ReadReason.POLLED):
            # Only a decision the sweep could change needs one (at most one per interval): the listing,
            # or (Way.GET) the periodic recount that may switch back to listing. It is started here and
            # never waited for: this look takes the last sweep's word, the looks after it the new one's.
            # A look waiting for the sweep held its whole state meanwhile, and the sweep's pages wait
            # behind the writes queued in the control budget: during the 5,000 benchmark's owner tags,
            # thousands of steady looks waited minutes for one sweep (most of its peak memory).
            self._sweep_if_due(place, reader)
        if reason is None and known is not None:
            metrics.observer.serve()
            return known.observation
        metrics.observer.read((reason or sweeps.ReadReason.FIRST).value)
        return await self._read(ref, key, reader)

    def _reason(
        self, key: _Key, known: sweeps.Known | None, state: _Place | None, now: float, fresh: bool
    ) -> sweeps.ReadReason | None:
        return sweeps.read_reason(
            known,
            state.listing(key[1]) if state is not None else None,
            way=state.way if state is not None else sweeps.Way.LIST,
            now=now,
            lifecycle_interval=self.lifecycle_interval,
            fresh=fresh,
            written_at=self._written.get(key),
        )

    # -- GetFunction, one in flight per function --------------------------------------------

    async def _read(
        self, ref: FunctionRef, key: _Key, reader: aws_functions.LambdaFunctions
    ) -> FunctionObservation | None:
        return await self._reading.run(key, lambda: self._get(ref, key, reader), f"observing {key[0]}/{key[1]}")

    async def _get(
        self, ref: FunctionRef, key: _Key, reader: aws_functions.LambdaFunctions
    ) -> FunctionObservation | None:
        started = self.clock()  # the answer is at least as fresh as the moment it was asked for
        try:
            observation: FunctionObservation | None = await reader.get(ref)
        except errors.FunctionNotFound:
            observation = None
        self._known[key] = sweeps.Known(observation, started)
        return observation

    # -- the sweep, one in flight per place ---------------------------------------------------

    def _sweep_if_due(self, place: str, reader: aws_functions.LambdaFunctions) -> None:
        """Start the place's sweep unless one ran less than ``sweep_interval`` ago or runs now."""
        state = self._places.setdefault(place, _Place())
        if state.swept_at is not None and self.clock() - state.swept_at < self.sweep_interval:
            return
        self._sweeping.start(place, lambda: self._sweep(place, state, reader), f"sweeping {place}")

    def sweeps_in_flight(self) -> list[asyncio.Task[sharing.Settled[None]]]:
        """The sweeps running now (nobody waits for them: ``observe``)."""
        return self._sweeping.tasks()

    async def _sweep(self, place: str, state: _Place, reader: aws_functions.LambdaFunctions) -> None:
        started = self.clock()
        managed = self._managed(place, started)
        control = reader.budgets.control(place).rate
        get_function = reader.budgets.get_function(place).rate
        recount = state.counted_at is None or started - state.counted_at >= self.lifecycle_interval
        if state.account_functions is None and not recount:
            way = sweeps.Way.GET  # the last listing was refused: each function is read until the recount
        else:
            way = sweeps.choose_way(state.account_functions, len(managed), control, get_function)
        if way == sweeps.Way.LIST or recount:
            try:
                total, listed = await self._list(place, managed, reader)
            except errors.AwsError as exc:
                if exc.failure.transient:
                    # A throttle or a 5xx says nothing about whether listing works here (the 5,000
                    # benchmark: one throttled page turned the observer to a GetFunction per function
                    # for an hour). The last listing stands; the next sweep, an interval on, lists again.
                    logger.info("Observer for %s: ListFunctions failed for now (%s); listing again at the "
                                "next sweep", place, exc.failure.code)  # fmt: skip
                    state.swept_at = started
                    return
                # Refused (a permission, a double without it): never a hot loop, nor a warning per sweep:
                # each function is read with GetFunction until the next recount (--lifecycle-interval).
                logger.warning("Observer for %s: ListFunctions failed (%s); reading each function with "
                               "GetFunction until the next try in %g s", place, exc.failure.code,
                               self.lifecycle_interval)  # fmt: skip
                way, state.account_functions, state.counted_at = sweeps.Way.GET, None, started
            else:
                state.account_functions, state.counted_at = total, started
                state.listed, state.listed_at = listed, started
                way = sweeps.choose_way(total, len(managed), control, get_function)
        if way != state.way or state.swept_at is None:
            pages = sweeps.list_pages(state.account_functions or 0)
            logger.info(
                "Observer for %s sweeps by %s: %s functions in the account (%d ListFunctions pages at %g/s), "
                "%d managed (GetFunction at %g/s)",
                place, "ListFunctions" if way == sweeps.Way.LIST else "GetFunction per managed function",
                state.account_functions if state.account_functions is not None else "?", pages, control,
                len(managed), get_function,
            )  # fmt: skip
        state.way, state.swept_at = way, started
        metrics.observer.way(place, way.value)

    async def _list(
        self, place: str, managed: set[str], reader: aws_functions.LambdaFunctions
    ) -> tuple[int, dict[str, sweeps.Fingerprint | None]]:
        """Page through ListFunctions: the account's function count, and the managed functions' items
        (their fingerprints: a configuration shared by many functions is kept once)."""
        found: dict[str, sweeps.Fingerprint | None] = dict.fromkeys(managed)
        configurations: dict[VpcSettings, VpcSettings] = {}
        total, marker = 0, None
        while True:
            items, marker = await reader.list_page(place, marker)
            total += len(items)
            for item in items:
                if item.name in found:
                    vpc = configurations.setdefault(item.vpc, item.vpc)
                    found[item.name] = sweeps.Fingerprint(item.revision_id, vpc, item.vpc_id or None, item.arn)
            if marker is None:
                return total, found

    def _managed(self, place: str, now: float) -> set[str]:
        """The functions of ``place`` looks asked about lately; the others are forgotten."""
        horizon = now - max(FORGET_AFTER_SWEEPS * self.sweep_interval, self.lifecycle_interval)
        for key in [k for k, asked in self._asked.items() if k[0] == place and asked < horizon]:
            for table in (self._asked, self._known, self._written):
                table.pop(key, None)
        return {name for (where, name) in self._asked if where == place}


@dataclasses.dataclass(frozen=True)
class Through:
    """``observing.Observer`` of one role session: the account's shared observer, asked with its clients."""

    shared: SweepingObserver
    functions: aws_functions.LambdaFunctions

    async def observe(self, ref: FunctionRef, *, fresh: bool = True) -> FunctionObservation | None:
        return await self.shared.observe(ref, fresh=fresh, reader=self.functions)
