"""What the reconciler remembers about one attachment between two looks (in memory only).

Everything here can be lost at a restart without harm: the durable truth is the object's status
and AWS itself. It only saves work (a preflight per generation) and keeps delays growing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from lambda_vpc_operator.planner.validation import Problem


@dataclasses.dataclass
class AttachmentMemory:
    attempt: int = 0  # consecutive waits, for growing delays
    status: Mapping[str, Any] | None = None  # the status as we last wrote it (fresher than the watch)
    preflight_generation: int | None = None  # the generation the problems below belong to
    problems: tuple[Problem, ...] = ()
    resync_due: bool = False  # the next look is a scheduled re-check
    detach_sent: bool = False
    wake: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    seen_generation: int | None = None  # what the daemon last looked at: a change wakes it
    seen_request: str | None = None  # the lambdavpc.dev/reactivate annotation, likewise
