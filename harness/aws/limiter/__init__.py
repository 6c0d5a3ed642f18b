"""The quota-aware limiter: pacing and concurrency slots shared by every worker of a run.

One concept per module: `adaptation` (a key's rate, learned from AWS's answers), `pacing`
(a key's token queue), `slots` (a key's concurrency leases), `stores` (where that state
lives: this process, `shared` for a run's worker processes, `redis_store` for runs and hosts
that share an account, with `limiter.lua` its port of the three), `limiter` (what callers use).
"""

from harness.aws.limiter.adaptation import AdaptiveRate, Pace
from harness.aws.limiter.stores import Answer, LimiterStore, LocalStore
from harness.aws.limiter.limiter import (
    BURST_SHARE,
    JITTER_SECONDS,
    LEASE_SECONDS,
    SLOT_LIFE_SECONDS,
    Grant,
    Limiter,
    LimiterTimeout,
    Slot,
)
from harness.aws.limiter.slots import Lease

__all__ = [
    "AdaptiveRate",
    "Answer",
    "BURST_SHARE",
    "Grant",
    "JITTER_SECONDS",
    "LEASE_SECONDS",
    "Lease",
    "Limiter",
    "LimiterStore",
    "LimiterTimeout",
    "LocalStore",
    "SLOT_LIFE_SECONDS",
    "Pace",
    "Slot",
]
