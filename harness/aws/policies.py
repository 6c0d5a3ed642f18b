"""Retry policies by name, so runs can compare them side by side.

- harness: botocore's retries off; the shared limiter paces every attempt and the harness
  backs off (exponential, full jitter, per-call deadline) on throttling and transient errors.
- botocore-standard, botocore-adaptive, botocore-legacy: botocore's own retry modes.
- none: one attempt, no pacing.
Every policy gets the same attempt budget (`max_attempts`), or with `max_attempts = None`
("sdk-default" in a scenario) each its own default, as a user who sets nothing gets it:
botocore's legacy mode 5 attempts, standard and adaptive 3, the harness 8.
"""
from __future__ import annotations

from dataclasses import dataclass

POLICIES = ("harness", "botocore-standard", "botocore-adaptive", "botocore-legacy", "none")
HARNESS_MAX_ATTEMPTS = 8
SDK_DEFAULT = "sdk-default"


@dataclass(frozen=True)
class RetrySettings:
    policy: str = "harness"
    max_attempts: int | None = HARNESS_MAX_ATTEMPTS  # None: each policy's own default
    base_seconds: float = 1.0  # AWS time: the first backoff is up to this long
    cap_seconds: float = 20.0  # AWS time: no single backoff is longer
    deadline_seconds: float = 600.0  # AWS time: no retry starts after this since the first attempt

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise ValueError(f"retry policy {self.policy!r} is not one of {', '.join(POLICIES)}")

    @property
    def uses_limiter(self) -> bool:
        """Pacing by the shared limiter and queueing for concurrency quota slots."""
        return self.policy == "harness"

    @property
    def per_client_state(self) -> bool:
        """botocore keeps retry state per client (adaptive rate, retry quota)."""
        return self.policy.startswith("botocore-")

    @property
    def harness_attempts(self) -> int:
        return self.max_attempts or HARNESS_MAX_ATTEMPTS

    def botocore_retries(self) -> dict:
        if self.policy.startswith("botocore-"):
            mode = {"mode": self.policy.split("-", 1)[1]}
            # Left out, botocore applies its mode's own default, which is what sdk-default asks for.
            return mode if self.max_attempts is None else {**mode, "total_max_attempts": self.max_attempts}
        return {"mode": "standard", "total_max_attempts": 1}
