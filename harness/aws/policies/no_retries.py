"""One attempt per call, nothing paced: what a client without any retry logic does."""

from __future__ import annotations

from harness.aws.policies.base import RetryPolicy


class NoRetries(RetryPolicy):
    name = "none"
    default_attempts = 1
    retries = False
