"""Stored objects, the resourceVersion counter, and the watch history and subscribers.

One global integer counter gives every write its resourceVersion, as etcd's revision does, so a
list's resourceVersion can start a watch that misses nothing. Each resource keeps a bounded history
of its events: a watch from a resourceVersion replays what followed it, or gets 410 when that part
of the history is gone (as after an etcd compaction).

Stored objects are never mutated after they are stored: every write stores a new dict. So events,
list items and responses can share them without copying.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import enum
from collections.abc import Callable, Iterator
from typing import Any

from lambda_vpc_sandbox.kube import resources

Obj = dict[str, Any]
ObjectKey = tuple[str, str]  # (namespace or "", name)

DEFAULT_HISTORY_SIZE = 4096


class EventType(enum.StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclasses.dataclass(frozen=True)
class Event:
    rv: int
    type: EventType
    obj: Obj
    old: Obj | None  # the state before a MODIFIED, so watches with selectors can tell ADDED/DELETED


class Subscription:
    """A live watch: events arrive in its queue; ``None`` tells the watch to end."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()


class Bucket:
    """All objects of one resource (all its versions), its event history and live watches."""

    def __init__(self, history_size: int) -> None:
        self.objects: dict[ObjectKey, Obj] = {}
        self.history: collections.deque[Event] = collections.deque()
        self.history_size = history_size
        # Watches from before this resourceVersion cannot be replayed: the events are gone.
        self.expired_rv = 0
        self.subscriptions: set[Subscription] = set()

    def record(self, event: Event) -> None:
        if len(self.history) >= self.history_size:
            self.expired_rv = self.history.popleft().rv
        self.history.append(event)
        for subscription in self.subscriptions:
            subscription.queue.put_nowait(event)

    def events_after(self, rv: int) -> list[Event] | None:
        """The events after a resourceVersion; ``None`` if some of them are no longer kept."""
        if rv < self.expired_rv:
            return None
        # Histories are short and ordered; walk from the newest end until we pass `rv`.
        found: list[Event] = []
        for event in reversed(self.history):
            if event.rv <= rv:
                break
            found.append(event)
        found.reverse()
        return found

    def close(self) -> None:
        for subscription in self.subscriptions:
            subscription.queue.put_nowait(None)
        self.subscriptions.clear()


class Store:
    """The objects of all resources, keyed by storage key; writes go through `put` and `remove`."""

    def __init__(self, history_size: int = DEFAULT_HISTORY_SIZE) -> None:
        self.rv = 0
        self.history_size = history_size
        self._buckets: dict[resources.StorageKey, Bucket] = {}
        self._closed = False  # after `close_all`: new watches end at once (the server is stopping)

    def bucket(self, key: resources.StorageKey) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(self.history_size)
        return bucket

    def drop(self, key: resources.StorageKey) -> None:
        """Forget a resource's storage entirely and end its watches (as when its CRD is gone)."""
        bucket = self._buckets.pop(key, None)
        if bucket is not None:
            bucket.close()

    def get(self, key: resources.StorageKey, namespace: str, name: str) -> Obj | None:
        bucket = self._buckets.get(key)
        return None if bucket is None else bucket.objects.get((namespace, name))

    def iter_objects(self, key: resources.StorageKey) -> Iterator[Obj]:
        bucket = self._buckets.get(key)
        return iter(()) if bucket is None else iter(list(bucket.objects.values()))

    def storage_keys(self) -> list[resources.StorageKey]:
        return list(self._buckets)

    def put(self, key: resources.StorageKey, obj: Obj, *, old: Obj | None) -> Obj:
        """Store a new or changed object under a fresh resourceVersion (set into it); notify watches."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        meta = obj["metadata"]
        bucket = self.bucket(key)
        bucket.objects[(meta.get("namespace", ""), meta["name"])] = obj
        kind = EventType.ADDED if old is None else EventType.MODIFIED
        bucket.record(Event(self.rv, kind, obj, old))
        return obj

    def remove(self, key: resources.StorageKey, obj: Obj) -> Obj:
        """Delete an object; the DELETED event carries its final state under a fresh resourceVersion."""
        self.rv += 1
        meta = obj["metadata"]
        final = {**obj, "metadata": {**meta, "resourceVersion": str(self.rv)}}
        bucket = self.bucket(key)
        bucket.objects.pop((meta.get("namespace", ""), meta["name"]), None)
        bucket.record(Event(self.rv, EventType.DELETED, final, obj))
        return final

    def subscribe(self, key: resources.StorageKey) -> Subscription:
        subscription = Subscription()
        if self._closed:
            subscription.queue.put_nowait(None)
        else:
            self.bucket(key).subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, key: resources.StorageKey, subscription: Subscription) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.subscriptions.discard(subscription)

    @property
    def closed(self) -> bool:
        return self._closed

    def compact(self) -> int:
        """Forget every kept event, as an etcd compaction at the current revision: a watch or a
        continue token from an older resourceVersion then gets 410 Expired. Returns that revision."""
        for bucket in self._buckets.values():
            bucket.history.clear()
            bucket.expired_rv = self.rv
        return self.rv

    def close_all(self) -> None:
        """End every live watch (before the HTTP server shuts down and waits for its handlers)."""
        self._closed = True
        for bucket in self._buckets.values():
            bucket.close()

    def count(self, key: resources.StorageKey, predicate: Callable[[Obj], bool] | None = None) -> int:
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0
        return sum(1 for obj in bucket.objects.values() if predicate is None or predicate(obj))
