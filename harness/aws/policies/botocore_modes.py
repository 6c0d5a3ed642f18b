"""botocore's own retry modes: standard, adaptive and legacy, each with its own default attempt
budget (legacy 5, standard and adaptive 3, as a user who sets nothing gets them).

botocore keeps their state per client (adaptive mode's rate, standard mode's retry quota), so
under them each worker gets its own clients. On a simulator in scaled AWS time their clocks must
run at the run's scale (`scale_botocore_time`), or they would back off 30 times longer than they
do against AWS: an unfair fight with the harness policy, which scales its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.retries import adaptive, bucket, standard, throttling

from harness.aws.policies.base import RetryPolicy
from harness.clock import Clock

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from botocore.hooks import BaseEventHooks

    from harness.aws.hooks import CallHooks


class BotocoreMode(RetryPolicy):
    per_client_state = True

    def __init__(self, mode: str, default_attempts: int) -> None:
        self.mode, self.name, self.default_attempts = mode, f"botocore-{mode}", default_attempts

    def botocore_retries(self, max_attempts: int | None) -> dict[str, Any]:
        # Left out, botocore applies its mode's own default, which is what sdk-default asks for.
        settings: dict[str, Any] = {"mode": self.mode}
        return settings if max_attempts is None else {**settings, "total_max_attempts": max_attempts}

    def install(self, events: BaseEventHooks, hooks: CallHooks, client: BaseClient | None = None) -> None:
        if client is not None:
            scale_botocore_time(client, hooks)


def scale_botocore_time(client: BaseClient, hooks: CallHooks) -> None:
    """botocore sleeps and measures in wall time. On a simulator running in scaled AWS time its
    clocks must run at the same scale, or botocore's modes would back off 30 times longer (and
    adaptive mode refill its rate 30 times slower) than they do against AWS: an unfair fight
    with the harness policy, which scales its own. Its retry delay is slept on the run's clock
    (so a stopping run cuts it short, at any scale) and, in adaptive mode, the client-side rate
    limiter runs on an AWS-time clock. An endpoint that does not answer at all is retried no
    longer than the harness policy retries it (`CallHooks.past_unreachable_budget`)."""
    clock = hooks.clock
    _sleep_retry_delay_on(client, hooks)
    if clock.time_scale != 1.0 or clock.virtual:
        _scale_adaptive_clock(client, clock)


def _emitter(client: BaseClient) -> BaseEventHooks:
    """The emitter under the client's EventAliaser (the events themselves where there is none)."""
    return getattr(client.meta.events, "_emitter", client.meta.events)


def _sleep_retry_delay_on(client: BaseClient, hooks: CallHooks) -> None:
    """botocore registers its retry handler under a known unique id; we swap in a wrapper that
    sleeps the delay it decides (AWS seconds) on the run's clock and tells botocore to sleep 0,
    or says no retry once an unreachable endpoint has had its time.
    (This reaches into botocore's emitter; checked by a test.)"""
    clock = hooks.clock
    name = client.meta.service_model.service_id.hyphenize()
    event, unique_id = f"needs-retry.{name}", f"retry-config-{name}"
    entry = getattr(_emitter(client), "_unique_id_handlers", {}).get(unique_id)
    if entry is None:
        raise RuntimeError(f"botocore's retry handler for {name} was not found; cannot scale its backoff")
    original = entry["handler"]

    def slept_here(**kwargs: Any) -> float | None:
        delay = original(**kwargs)
        if delay is None or delay is False:
            return delay
        caught = kwargs.get("caught_exception")
        context = (kwargs.get("request_dict") or {}).get("context") or {}
        if caught is not None and hooks.past_unreachable_budget(type(caught).__name__, context, clock.wall(delay)):
            return None
        clock.sleep(delay)  # Stopped when the run stops meanwhile
        return 0

    client.meta.events.unregister(event, unique_id=unique_id)
    client.meta.events.register(event, slept_here, unique_id=unique_id)


class RunClock:
    """botocore's retry clock (bucket.Clock's interface) on the run's clock: AWS seconds, scaled
    to the wall or virtual."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def current_time(self) -> float:
        return self.clock.now()

    def sleep(self, amount: float) -> None:
        self.clock.sleep(amount)


class RunClockTokenBucket(bucket.TokenBucket):  # type: ignore[misc]  # botocore ships no type information
    """botocore's TokenBucket, waiting on the run's clock: botocore's waits on a condition
    variable for its sleep amount (wall seconds, holding the bucket's lock), which neither a
    scaled nor a virtual clock would see. Here the lock is let go for the wait, and a stopping
    run cuts it short."""

    _clock: RunClock

    def acquire(self, amount: float = 1, block: bool = True) -> bool:
        while True:
            with self._new_fill_rate_condition:
                self._refill()
                if amount <= self._current_capacity:
                    self._current_capacity -= amount
                    return True
                if not block:
                    raise bucket.CapacityNotAvailableError()
                wait: float = self._sleep_amount(amount)  # AWS seconds
            self._clock.sleep(wait)


def _scale_adaptive_clock(client: BaseClient, run_clock: Clock) -> None:
    """Adaptive mode's ClientRateLimiter (token bucket, cubic rate, measured send rate) shares
    one wall clock. Replace it with an identical limiter built on an AWS-time clock, made the
    way botocore's adaptive.register_retry_handler makes it."""
    emitter = _emitter(client)
    found = [
        h
        for h in emitter._handlers.prefix_search("before-send")
        if isinstance(getattr(h, "__self__", None), adaptive.ClientRateLimiter)
    ]
    if not found:
        return  # not adaptive mode
    old = found[0].__self__
    clock = RunClock(run_clock)
    limiter = adaptive.ClientRateLimiter(
        rate_adjustor=throttling.CubicCalculator(starting_max_rate=0, start_time=clock.current_time()),
        rate_clocker=adaptive.RateClocker(clock),
        token_bucket=RunClockTokenBucket(max_rate=1, clock=clock),
        throttling_detector=standard.ThrottlingErrorDetector(retry_event_adapter=standard.RetryEventAdapter()),
        clock=clock,
    )
    client.meta.events.unregister("before-send", old.on_sending_request)
    client.meta.events.unregister("needs-retry", old.on_receiving_response)
    # first, as botocore's was: its pacing happens before our hook times the attempt
    client.meta.events.register_first("before-send", limiter.on_sending_request)
    client.meta.events.register("needs-retry", limiter.on_receiving_response)
