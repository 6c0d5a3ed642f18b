"""Retry policies, so runs can compare them side by side: one object each, found by name.

- harness: botocore's retries off; the shared limiter paces every attempt and the harness
  backs off (exponential, full jitter, per-call deadline) on throttling and transient errors.
- botocore-standard, botocore-adaptive, botocore-legacy: botocore's own retry modes.
- none: one attempt, no pacing.

Every policy gets the same attempt budget (`max_attempts`), or with `max_attempts = None`
("sdk-default" in a scenario) each its own default, as a user who sets nothing gets it.
Adding a policy is a class and a line in POLICIES.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.aws.policies.base import RetryPolicy
from harness.aws.policies.botocore_modes import BotocoreMode
from harness.aws.policies.no_retries import NoRetries
from harness.aws.policies.shared_limiter import HarnessPolicy

POLICIES: dict[str, RetryPolicy] = {
    p.name: p
    for p in (
        HarnessPolicy(),
        BotocoreMode("standard", 3),
        BotocoreMode("adaptive", 3),
        BotocoreMode("legacy", 5),
        NoRetries(),
    )
}
SDK_DEFAULT = "sdk-default"
RETRYING = [name for name, p in POLICIES.items() if p.retries]  # what a shoot-out compares by default


def policy_named(name: str) -> RetryPolicy:
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"retry policy {name!r} is not one of {', '.join(POLICIES)}") from None


@dataclass(frozen=True, init=False)
class RetrySettings:
    """How a client retries. `policy` may be given by its name but is always the policy once the
    settings are made: hence their own `__init__`, which takes either (a dataclass's would give
    the field the type it is given in)."""

    policy: RetryPolicy
    max_attempts: int | None  # None: each policy's own default
    base_seconds: float  # AWS time: the first backoff is up to this long
    cap_seconds: float  # AWS time: no single backoff is longer
    deadline_seconds: float  # AWS time: no retry starts after this since the first attempt
    # Wall seconds (on virtual time, the clock's): no retry of an endpoint that did not answer
    # at all (harness.aws.reach) starts after this since the first attempt. A network outage is
    # this machine's, not AWS's, and retrying it until the deadline only hides it.
    unreachable_seconds: float

    def __init__(
        self,
        policy: RetryPolicy | str = "harness",
        max_attempts: int | None = 8,
        base_seconds: float = 1.0,
        cap_seconds: float = 20.0,
        deadline_seconds: float = 600.0,
        unreachable_seconds: float = 30.0,
    ) -> None:
        # frozen: each field set as a dataclass's own __init__ sets it
        object.__setattr__(self, "policy", policy_named(policy) if isinstance(policy, str) else policy)
        object.__setattr__(self, "max_attempts", max_attempts)
        object.__setattr__(self, "base_seconds", base_seconds)
        object.__setattr__(self, "cap_seconds", cap_seconds)
        object.__setattr__(self, "deadline_seconds", deadline_seconds)
        object.__setattr__(self, "unreachable_seconds", unreachable_seconds)

    @property
    def attempts(self) -> int:
        """Attempts per call: the budget every policy shares, or this policy's own default."""
        return self.max_attempts or self.policy.default_attempts


__all__ = [
    "POLICIES",
    "RETRYING",
    "SDK_DEFAULT",
    "BotocoreMode",
    "HarnessPolicy",
    "NoRetries",
    "RetryPolicy",
    "RetrySettings",
    "policy_named",
]
