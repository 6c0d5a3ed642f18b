"""Athena queries through the artifacts layer, on a manual-time simulator so every figure is exact:
what a query's quota hold covers (and so what a run infers the account enforced), that a query
the harness stops waiting for is stopped on the account, and what a query waiting too long for
its slot is told."""

from __future__ import annotations

import heapq
import itertools
import threading

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from harness import stopping
from harness.artifacts import AwsContext
from harness.artifacts.athena import query
from harness.aws import Target, ClientFactory, Limiter, RetrySettings
from harness.clock import ManualClock
from harness.quotas import Quota, QuotaTable
from harness.report.enforced import observed
from simhelpers import write_profile

ACCOUNT = """
jitter = 0.0
[[quota]]
service = "athena"
operation = "StartQueryExecution"
concurrency = {limit}
[lifecycle.athena_query]
queued_seconds = 1
select_seconds = 40
"""


class Lockstep(ManualClock):
    """AWS time shared by several threads, run as a discrete-event simulation: one thread runs at
    a time, and a sleep ends when every other thread sleeps (or is done) and none is due sooner.
    The manual-time simulator's clock moves with it (time scale 1: wall seconds are AWS seconds)."""

    def __init__(self, simulator):
        super().__init__(time_scale=1.0)
        self.simulator = simulator
        self._turns = threading.Condition()
        self._due: list[tuple[float, int]] = []
        self._order = itertools.count()
        self._turn: int | None = None
        self._running = 0

    def run(self, bodies) -> None:
        """Run each body in its own thread on this clock until all are done; raise the first error."""
        failures = []

        def joined(body):
            try:
                self.sleep(0)  # wait for its turn
                body()
            except BaseException as err:  # noqa: BLE001 - raised below, in the test's thread
                failures.append(err)
            finally:
                with self._turns:
                    self._running -= 1
                    self._next()

        self._running = len(bodies)
        threads = [threading.Thread(target=joined, args=(body,)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]

    def sleep(self, aws_seconds: float) -> None:
        stopping.check()
        with self._turns:
            self.slept.append(aws_seconds)
            mine = next(self._order)
            heapq.heappush(self._due, (self._now + max(0.0, aws_seconds), mine))
            self._running -= 1
            self._next()
            while self._turn != mine:
                self._turns.wait()

    def _next(self) -> None:
        """With every thread asleep, wake the one due first, moving time (and the simulator) to it."""
        if self._running or not self._due:
            return
        due, self._turn = heapq.heappop(self._due)
        if due > self._now:
            self.simulator.advance(due - self._now)
            with self._lock:
                self._now = due
        self._running = 1
        self._turns.notify_all()


class ClockRecorder:
    """The run's events, timed by the run's clock (a manual clock's AWS seconds, at time scale 1)."""

    def __init__(self, clock):
        self.clock, self.rows = clock, []

    def record(self, kind: str, **fields) -> None:
        self.rows.append({"kind": kind, "mono_time": self.clock.now(), **fields})

    def events(self, kind: str | None = None) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows)
        return frame if kind is None else frame[frame.kind == kind]


@pytest.fixture
def account(simulator, tmp_path):
    """make(limit, clock) -> an AwsContext on a manual-time account that runs `limit` queries at
    once; the harness's quota table says 20 (so its slots never keep a query back: the account
    refuses it), and its events are timed on `clock`."""

    def make(limit: int, clock) -> AwsContext:
        simulator.reset(profile=write_profile(tmp_path, ACCOUNT.format(limit=limit)), manual_time=True)
        recorder = ClockRecorder(clock)
        limiter = Limiter(QuotaTable([Quota("athena", "StartQueryExecution", concurrency=20)]), clock=clock)
        factory = ClientFactory(
            Target.simulator(simulator.endpoint_url),
            RetrySettings("harness"),
            recorder=recorder,
            limiter=limiter,
            clock=clock,
        )
        ctx = AwsContext(factory, bucket="athena-queries", limiter=limiter, recorder=recorder)
        ctx.client("s3").create_bucket(Bucket="athena-queries")
        ctx.client("glue").create_database(DatabaseInput={"Name": ctx.glue_database})
        return ctx

    return make


def other_tenant(simulator, sql: str = "SELECT 1 AS theirs") -> str:
    """A query another team starts on the same account (no harness, nothing recorded)."""
    athena = boto3.client("athena", endpoint_url=simulator.endpoint_url, region_name="us-east-1")
    return athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": "harness"},
        ResultConfiguration={"OutputLocation": "s3://athena-queries/theirs/"},
    )["QueryExecutionId"]


def state_of(simulator, query_id: str) -> str:
    athena = boto3.client("athena", endpoint_url=simulator.endpoint_url, region_name="us-east-1")
    return athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]


def test_a_querys_hold_starts_when_the_account_accepts_it_not_when_it_was_refused(account, simulator):
    """Another tenant fills the one slot for 41 s: the query is refused at 0, 15 and 30 s (quota
    waits), starts at 45 and is seen done at 86. It held the account's slot for 41 s, not 86."""
    clock = Lockstep(simulator)
    ctx = account(1, clock)
    other_tenant(simulator)
    clock.run([lambda: query(ctx, "SELECT 1 AS ours")])
    waits = ctx.recorder.events("quota_wait")
    assert list(waits.mono_time) == [0, 15, 30] and set(waits.error_code) == {"TooManyRequestsException"}
    [hold] = ctx.recorder.events("quota_hold").itertuples()
    assert (hold.mono_time - hold.duration, hold.mono_time) == (45, 86)
    [ran] = ctx.recorder.events("query").itertuples()
    assert ran.duration == 41 and ran.queued_ms == 1000 and ran.engine_ms == 40000


def test_the_limit_a_run_infers_is_the_one_the_account_enforced(account, simulator):
    """The reviewer's case: the account runs 2 queries at once, the table says 20; four
    pipelines' queries meet refusals, and the run reads the account's limit as 2 (it read 3 while
    a hold covered its own refusals)."""
    clock = Lockstep(simulator)
    ctx = account(2, clock)

    def pipeline(queries: int):
        return lambda: [query(ctx, f"SELECT {i} AS n") for i in range(queries)]

    clock.run([pipeline(3) for _ in range(4)])
    events = ctx.recorder.events()
    attempts = events[events.kind == "api_attempt"]
    refused = attempts[(attempts.operation == "StartQueryExecution") & (attempts.outcome == "error")]
    assert len(refused) > 0 and set(refused.error_code) == {"TooManyRequestsException"}
    enforced = observed(events, attempts, 1.0)["athena.StartQueryExecution"]
    assert (enforced["kind"], enforced["enforced"], enforced["refused"]) == ("concurrency", 2, len(refused))


def failing_on_poll(ctx, poll: int, error: BaseException | None = None, stop: threading.Event | None = None):
    """Make the `poll`-th GetQueryExecution fail with `error` (or, with `stop`, set the run's stop
    signal just before it, so that the wait after it ends)."""
    polls = itertools.count(1)

    def before_call(**_):
        if next(polls) == poll:
            if stop is not None:
                stop.set()
            else:
                raise error

    ctx.client("athena").meta.events.register("before-call.athena.GetQueryExecution", before_call)


def test_a_query_whose_wait_fails_is_stopped_before_its_slot_goes_back(account, simulator):
    clock = ManualClock()
    ctx = account(2, clock)
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not any more"}}, "GetQueryExecution")
    failing_on_poll(ctx, 3, denied)
    with pytest.raises(ClientError, match="AccessDenied"):
        query(ctx, "SELECT 1 AS n")
    [started] = ctx.recorder.events("query").query_id
    assert state_of(simulator, started) == "CANCELLED"  # the account's slot is free...
    assert ctx.limiter.store.waiters("slot:athena.StartQueryExecution") == 0
    assert ctx.limiter.slot("athena", "StartQueryExecution", timeout=0) is not None  # ...and so is the slot
    assert len(ctx.recorder.events("quota_hold")) == 1


def test_a_query_is_stopped_when_the_run_stops_while_it_waits(account, simulator):
    """Ctrl-C ends every wait; a query left running would hold the account's slot for up to its
    30-minute timeout after the harness stopped counting it."""
    clock = ManualClock()
    ctx = account(2, clock)
    stop = threading.Event()
    failing_on_poll(ctx, 2, stop=stop)
    with stopping.stop_on(stop), pytest.raises(stopping.Stopped):
        query(ctx, "SELECT 1 AS n")
    [started] = ctx.recorder.events("query").query_id
    assert state_of(simulator, started) == "CANCELLED"


def test_a_query_that_waits_too_long_for_its_slot_is_told_what_it_waited_for(account):
    clock = ManualClock()
    ctx = account(2, clock)
    ctx.limiter = Limiter(QuotaTable([Quota("athena", "StartQueryExecution", concurrency=1)]), clock=clock)
    ctx.deadlines.quota_slot = 60
    held = ctx.limiter.slot("athena", "StartQueryExecution")
    with pytest.raises(TimeoutError) as timed_out:
        query(ctx, "SELECT 1 AS n")
    assert str(timed_out.value) == (
        "no athena.StartQueryExecution concurrency slot (limit 1) came within the call's deadline"
    )
    held.release()
