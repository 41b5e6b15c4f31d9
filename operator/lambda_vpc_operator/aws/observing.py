"""What the reconciler asks of an observer: a function's current state, as frugally as the rate limits ask.

The operator's is ``aws.observer.SweepingObserver`` (ListFunctions pages, GetFunction only where a
function moved), and ``aws.observer.Through`` for a role session; ``aws.dryrun`` previews through them.
"""

from __future__ import annotations

from typing import Protocol

from lambda_vpc_operator.models.functions import FunctionObservation, FunctionRef


class Observer(Protocol):
    async def observe(self, ref: FunctionRef, *, fresh: bool = True) -> FunctionObservation | None:
        """The function as AWS reports it; None if it does not exist.

        ``fresh``: read it now; False lets a batched observer (aws.observer) answer from its last
        sweep when nothing says the function moved (a steady look at resync).
        """
        ...
