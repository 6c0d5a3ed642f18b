"""Which AWS answers are throttling: botocore's own list, the one table the harness reads."""

from __future__ import annotations

from typing import Any

from botocore.retries import standard

THROTTLE_CODES = frozenset(standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES)


def concurrency_refused(code: str | None, parsed_response: dict[str, Any] | None) -> bool:
    """AWS refused the call because a concurrency quota is full (Athena's active queries), which
    botocore files under throttling: no rate is too high, so the rate must not be cut, and a
    retry cannot help until a slot frees; the caller waits for one (artifacts/athena.py)."""
    return (
        code == "TooManyRequestsException"
        and (parsed_response or {}).get("Reason") == "CONCURRENT_QUERY_LIMIT_EXCEEDED"
    )
