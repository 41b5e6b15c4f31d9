"""How long to wait before looking at a function again, each number with the fact behind it."""

from __future__ import annotations

# botocore's function_updated_v2 waiter polls GetFunction every 1 s; an update that reuses an
# existing Hyperplane ENI takes seconds. Start a little slower than the waiter to stay frugal.
FIRST_WAIT = 2.0
# Creating a new Hyperplane ENI "can take several minutes" (aws-facts): back off to this ceiling
# so a slow ENI costs at most two GetFunction calls a minute per function.
MAX_WAIT = 30.0
GROWTH = 1.6
# A stale RevisionId only means "read again": someone wrote between our read and our write.
REREAD = 0.5
# A missing function is usually a typo or an ordering problem in a GitOps repo; look again now
# and then, not at the pace of a transition.
FUNCTION_NOT_FOUND_RECHECK = 300.0
# Steady looks are spread over this fraction of the resync interval (upwards only: never sooner than
# asked): a thousand attachments woken together by a restart do not all resync together for ever.
RESYNC_JITTER = 0.1
# Lambda's TooManyRequestsException says how long to wait; when it does not, wait this long.
THROTTLE_FALLBACK = 5.0


# Lambda refused the execution role at the call (aws-facts "Refusals"). Someone must fix the role, or
# IAM is still propagating a role just created or changed (seconds, sometimes a minute or two):
# retry without a human, slowly, 10 s doubling up to 5 minutes; each retry costs one write.
ROLE_FIRST_WAIT = 10.0
ROLE_MAX_WAIT = 300.0


def role_delay(attempt: int) -> float:
    """Delay before writing again after a refused execution role: 10 s doubling to 5 minutes."""
    return min(ROLE_MAX_WAIT, ROLE_FIRST_WAIT * 2.0 ** max(0, attempt))


def wait_delay(attempt: int) -> float:
    """Delay before the next look at a transition in progress: 2 s growing to 30 s."""
    return min(MAX_WAIT, FIRST_WAIT * GROWTH ** max(0, attempt))


def resync_delay(interval: float, jitter: float) -> float:
    """The resync ``interval`` stretched by up to RESYNC_JITTER; ``jitter`` in [0, 1)."""
    return interval * (1.0 + RESYNC_JITTER * jitter)
