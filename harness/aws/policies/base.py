"""What a retry policy is: how many attempts it makes by default, whether the shared limiter
paces it, where its state lives, what botocore is told, and what it adds to a client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.hooks import BaseEventHooks

    from harness.aws.hooks import CallHooks


class RetryPolicy:
    name: str = ""
    default_attempts: int = 1  # attempts per call when a scenario leaves the budget to each policy
    uses_limiter: bool = False  # paced by the shared limiter, queueing for concurrency slots
    per_client_state: bool = False  # its retry state lives in each client (so each worker has its own)
    retries: bool = True  # a contender in a shoot-out by default (one that never retries is a baseline)

    def botocore_retries(self, max_attempts: int | None) -> dict[str, Any]:
        """botocore's `retries` config. Default: botocore retries nothing; the policy decides."""
        return {"mode": "standard", "total_max_attempts": 1}

    def install(self, events: BaseEventHooks, hooks: CallHooks, client: BaseClient | None = None) -> None:
        """Hang what the policy needs on a client's events (or a session's: client None)."""

    def __repr__(self) -> str:
        return f"<retry policy {self.name}>"
