"""The harness's own policy: botocore retries nothing; every attempt is paced by the limiter all
workers share, and the harness backs off (exponential, full jitter, a per-call deadline) on
throttling and transient errors, sleeping on the run's clock so a stop cuts it short."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.aws.policies.base import RetryPolicy

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.hooks import BaseEventHooks

    from harness.aws.hooks import CallHooks


class HarnessPolicy(RetryPolicy):
    name = "harness"
    default_attempts = 8
    uses_limiter = True

    def install(self, events: BaseEventHooks, hooks: CallHooks, client: BaseClient | None = None) -> None:
        events.register("needs-retry", hooks.needs_retry)
