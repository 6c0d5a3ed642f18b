"""The quota-aware limiter: pacing and concurrency permits shared by every worker of a run.

One concept per module: `adaptation` (a key's rate, learned from AWS's answers), `pacing`
(a key's token queue), `permits` (a key's concurrency leases), `backends` (where that state
lives: this process, `shared` for a run's worker processes, `redis_backend` for runs and hosts
that share an account, with `limiter.lua` its port of the three), `limiter` (what callers use).
"""

from harness.aws.limiter.adaptation import AdaptiveRate, Pace
from harness.aws.limiter.backends import Answer, LimiterBackend, LocalBackend
from harness.aws.limiter.limiter import (
    BURST_SHARE,
    JITTER_SECONDS,
    LEASE_SECONDS,
    PERMIT_LIFE_SECONDS,
    Grant,
    Limiter,
    LimiterTimeout,
    Permit,
)
from harness.aws.limiter.permits import Lease

__all__ = [
    "AdaptiveRate",
    "Answer",
    "BURST_SHARE",
    "Grant",
    "JITTER_SECONDS",
    "LEASE_SECONDS",
    "Lease",
    "Limiter",
    "LimiterBackend",
    "LimiterTimeout",
    "LocalBackend",
    "PERMIT_LIFE_SECONDS",
    "Pace",
    "Permit",
]
