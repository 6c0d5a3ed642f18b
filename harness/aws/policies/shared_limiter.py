"""The harness's own policy: botocore retries nothing; every attempt is paced by the limiter all
workers share, and the harness backs off (exponential, full jitter, a per-call deadline) on
throttling and transient errors, sleeping on the run's clock so a stop cuts it short."""

from __future__ import annotations

from harness.aws.policies.base import RetryPolicy


class HarnessPolicy(RetryPolicy):
    name = "harness"
    default_attempts = 8
    uses_limiter = True

    def install(self, events, hooks, client=None) -> None:
        events.register("needs-retry", hooks.needs_retry)
