"""Waiting on AWS with a deadline, recording what was waited for.

Two kinds of wait:
- `wait_until`: a resource still in its normal lifecycle (Creating, InProgress, Deleting).
- `wait_for_parts`: a resource that says it is built while parts of it are missing (partial
  state). It records partial_state_detected, then partial_state_resolved or
  partial_state_failed, and raises PartialStateError naming what is missing.
Poll intervals and deadlines are AWS seconds; the context scales them to wall time.
"""

from __future__ import annotations

import itertools
from typing import Callable

from harness.artifacts.context import AwsContext
from harness.artifacts.errors import NotReady, PartialStateError


def _polls(ctx: AwsContext, slot=None):
    """Poll intervals (AWS seconds), growing. While the wait holds a concurrency slot that others
    queue for, no longer than slot_poll: the slot is only handed on once the holder sees its
    resource done, and a 60-second look would leave it idle for half a minute on average."""
    interval = ctx.deadlines.poll
    while True:
        if slot is not None and slot.contended():
            yield min(interval, ctx.deadlines.slot_poll)
        else:
            yield interval
        interval = min(ctx.deadlines.poll_cap, interval * 1.5)


def record_lifecycle(ctx: AwsContext, resource: str, described: dict, start: str, end: str) -> None:
    """How long AWS took to bring a resource to where it is, by AWS's own timestamps (not by when
    a poll saw it): the `lifecycle` event `harness calibrate` reads."""
    began, ended = described.get(start), described.get(end)
    if began is None or ended is None:
        return
    seconds = (ended - began).total_seconds() if hasattr(ended, "timestamp") else float(ended) - float(began)
    if seconds >= 0:
        ctx.record("lifecycle", resource=resource, duration=ctx.clock.wall(seconds))


def wait_until(
    ctx: AwsContext, what: str, done: Callable[[], bool], deadline: float, slot=None, interval: float | None = None
) -> float:
    """Poll `done()` until true; return AWS seconds waited; NotReady past the deadline. Pass the
    concurrency `slot` the resource holds, if any, so a contended slot is watched closely.
    interval: poll this often (AWS seconds), as a client with a fixed cadence does (the SageMaker
    SDK's `wait_for_status`: 5 s); None: growing polls."""
    clock = ctx.clock
    start = clock.now()
    polls = _polls(ctx, slot) if interval is None else itertools.repeat(interval)
    for wait in polls:
        if done():
            return clock.now() - start
        waited = clock.now() - start
        if waited >= deadline:
            raise NotReady(f"{what} not reached after {waited:.0f} s (AWS time)")
        ctx.sleep(min(wait, max(0.0, deadline - waited) + 1e-3))
    raise AssertionError("unreachable")


def wait_for_parts(ctx: AwsContext, artifact: str, missing_parts: Callable[[], list[str]], deadline: float) -> float:
    """Poll `missing_parts()` until it is empty; return AWS seconds waited."""
    missing = missing_parts()
    if not missing:
        return 0.0
    clock = ctx.clock
    start = clock.now()
    ctx.record("partial_state_detected", artifact=artifact, missing=missing)
    for interval in _polls(ctx):
        waited = clock.now() - start
        if waited >= deadline:
            ctx.record("partial_state_failed", duration=clock.wall(waited), artifact=artifact, missing=missing)
            raise PartialStateError(artifact, missing, waited)
        ctx.sleep(min(interval, max(0.0, deadline - waited) + 1e-3))
        missing = missing_parts()
        if not missing:
            waited = clock.now() - start
            ctx.record("partial_state_resolved", duration=clock.wall(waited), artifact=artifact)
            return waited
    raise AssertionError("unreachable")


def error_code(err: Exception) -> str:
    return getattr(err, "response", {}).get("Error", {}).get("Code", "")


def take_slot(ctx: AwsContext, operation: str, service: str = "sagemaker"):
    """A limiter slot for a call that has a concurrency quota (a SageMaker create, an Athena
    query; None when the policy has no limiter or the call no such quota); a wait is recorded."""
    if ctx.limiter is None:
        return None
    slot = ctx.limiter.slot(service, operation, ctx.deadlines.quota_slot)
    if slot is not None and slot.waited > 0:
        ctx.record("quota_wait", service=service, operation=operation, duration=ctx.wall(slot.waited))
    return slot


def create_within_quota(ctx: AwsContext, operation: str, create: Callable[[], object]):
    """Call `create()`; while AWS answers ResourceLimitExceeded (the account's concurrency quota
    is full), wait a poll interval and try again, up to the quota-slot deadline."""
    start = ctx.clock.now()
    while True:
        try:
            return create()
        except Exception as err:
            waited = ctx.clock.now() - start
            if error_code(err) != "ResourceLimitExceeded" or waited > ctx.deadlines.quota_slot:
                raise
            ctx.record(
                "quota_wait",
                service="sagemaker",
                operation=operation,
                duration=ctx.wall(ctx.deadlines.poll),
                error_code="ResourceLimitExceeded",
            )
            ctx.sleep(ctx.deadlines.poll)
