"""The limiter's state on a real Redis server, shared by processes that know nothing of each other.

The Lua port is checked against the Python reference step by step on a manual clock; then the
shared bucket, leases and an unreachable Redis are checked on Redis's own clock."""

import multiprocessing
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.aws.limiter import Limiter, LocalStore, Pace
from harness.aws.limiter.adaptation import BETA
from harness.aws.limiter.redis_store import LimiterUnreachable, RedisStore
from harness.clock import ManualClock
from harness.quotas import Quota, QuotaTable

KEY = "sagemaker.DescribeEndpoint"
SLOT = "slot:sagemaker.CreateEndpoint"
PACES = [Pace(10.0, 5.0, False), Pace(2.0, 1.0, True), Pace(0.5, 1.0, False)]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("token"), st.integers(0, 3)),
        st.tuples(st.just("feedback"), st.booleans()),
        st.tuples(st.just("slot"), st.integers(0, 3)),
        st.tuples(st.just("release"), st.integers(0, 3)),
        st.tuples(st.just("renew"), st.integers(0, 3)),
        st.tuples(st.just("leave"), st.integers(0, 3)),
        st.tuples(st.just("advance"), st.floats(0.0, 3.0)),
    ),
    min_size=1,
    max_size=60,
)


class Side:
    """One store and what its callers hold: their tickets, leases and last grant."""

    def __init__(self, store):
        self.store, self.tickets, self.slot_tickets, self.leases, self.sent = store, {}, {}, {}, []

    def step(self, op, arg, pace):
        b = self.store
        if op == "token":
            answer = b.ask_token(KEY, self.tickets.get(arg), pace)
            if answer.ticket is None:
                self.tickets.pop(arg, None)
                self.sent.append(answer.at)
                return ("go", round(answer.at, 6))
            self.tickets[arg] = answer.ticket
            return ("wait", round(answer.wait, 6))
        if op == "feedback":
            return ("rate", round(b.feedback(KEY, self.sent[-1], arg), 6)) if self.sent else None
        if op == "slot":
            if arg in self.leases:
                return None
            answer = b.ask_slot(SLOT, self.slot_tickets.get(arg), 2, 10.0)
            if answer.lease is not None:
                self.slot_tickets.pop(arg, None)
                self.leases[arg] = answer.lease
                return ("lease", round(answer.lease.expires, 6))
            self.slot_tickets[arg] = answer.ticket
            return ("queued", b.waiters(SLOT))
        if op == "release" and arg in self.leases:
            b.release(self.leases.pop(arg))
            return ("held", b.held(SLOT))
        if op == "renew" and arg in self.leases:
            renewed = b.renew(self.leases[arg], 10.0)
            if renewed is None:
                del self.leases[arg]
            else:
                self.leases[arg] = renewed
            return ("renewed", renewed is not None)
        if op == "leave":
            for tickets, key in ((self.tickets, KEY), (self.slot_tickets, SLOT)):
                if arg in tickets:
                    b.leave(key, tickets.pop(arg))
            return ("waiting", b.waiters(SLOT))
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pace=st.sampled_from(PACES), script=steps)
def test_the_lua_port_answers_as_the_python_reference_step_by_step(redis_server, pace, script):
    clock = ManualClock(1.0, start=1000.0)
    local = Side(LocalStore(clock))
    shared = Side(RedisStore(redis_server.url, namespace=uuid.uuid4().hex, clock=clock))
    for op, arg in script:
        if op == "advance":
            clock.advance(arg)
            continue
        assert shared.step(op, arg, pace) == local.step(op, arg, pace), (op, arg)
    assert shared.store.rate(KEY) == pytest.approx(local.store.rate(KEY))


def episode(throttles_at: set[int], calls: int = 120, gap: float = 0.05):
    """A caller at 20/s against a 10/s estimate: throttled at the given calls (after the early
    seconds, so the cuts are real ones), otherwise fed back as successes."""
    script = [("advance", 3.0)]
    for i in range(calls):
        script += [("token", 0), ("feedback", i in throttles_at), ("advance", gap)]
    return script


@pytest.mark.parametrize("throttles_at", [{5}, {5, 8}, {5, 60, 61, 100}, set(range(0, 120, 7))])
def test_cuts_recovery_and_cubic_growth_match_the_reference(redis_server, throttles_at):
    clock = ManualClock(1.0, start=50.0)
    local = Side(LocalStore(clock))
    shared = Side(RedisStore(redis_server.url, namespace=uuid.uuid4().hex, clock=clock))
    for op, arg in episode(throttles_at):
        if op == "advance":
            clock.advance(arg)
        else:
            assert shared.step(op, arg, PACES[0]) == local.step(op, arg, PACES[0]), (op, arg)
    assert local.store.adaptation(KEY).cuts >= 1


def test_a_deeper_cut_in_a_second_episode_is_not_undone_by_the_next_success(redis_server):
    """A throttle while the rate still recovers from the last cut cuts by BETA squared: 8/s
    throttled gives 5.12/s. Growth then starts from 5.12 on a steeper curve (it started from
    BETA times 8, so the next success, 10 ms later, put the rate back to 6.40), in Python and in
    the Lua port alike."""
    pace = Pace(10.0, 10.0, True)  # published: no slow start, the cuts are CUBIC's
    script = [("token", 0), ("advance", 3.0)] + [("token", 0)] * 10  # 10 calls in a second
    script += [
        ("feedback", True),  # one is throttled: 10 -> 8
        ("advance", 0.5),
        ("token", 0),
        ("feedback", True),  # 0.5 s on, still recovering: 8 -> 5.12
        ("token", 1),
        ("advance", 0.01),
        ("feedback", False),
    ]  # a caller queues; a success 10 ms on
    clock = ManualClock(1.0, start=1000.0)
    python = Side(LocalStore(clock))
    lua = Side(RedisStore(redis_server.url, namespace=uuid.uuid4().hex, clock=clock))
    rates = {python: [], lua: []}
    for op, arg in script:
        if op == "advance":
            clock.advance(arg)
            continue
        for side in (python, lua):
            answer = side.step(op, arg, pace)
            if op == "feedback":
                rates[side].append(answer[1])
    assert rates[python] == rates[lua] == [8.0, 5.12, 5.129412]


def _spend(url, namespace, calls, out, together):
    table = QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=40, burst=2, rate_basis="published")])
    limiter = Limiter(table, store=RedisStore(url, namespace=namespace))
    together.wait()
    first = time.monotonic()
    for _ in range(calls):
        limiter.wait("sagemaker", "DescribeEndpoint")
    out.put((first, time.monotonic()))


def test_two_processes_that_share_only_redis_share_one_bucket(redis_server):
    spawn = multiprocessing.get_context("spawn")
    out, together = spawn.Queue(), spawn.Barrier(2)
    workers = [spawn.Process(target=_spend, args=(redis_server.url, "shared", 40, out, together)) for _ in range(2)]
    for worker in workers:
        worker.start()
    spans = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    # 80 calls against one 40/s bucket (1 token of burst for the limiter) take about 2 s; two
    # private buckets would take about 1 s. (A busy machine only makes it longer.)
    overlap = min(last for _, last in spans) - max(first for first, _ in spans)
    assert overlap > 0.5
    assert max(last for _, last in spans) - min(first for first, _ in spans) >= 1.8


def test_a_lease_its_holder_stopped_renewing_comes_back_on_redis_time(redis_server):
    store = RedisStore(redis_server.url, namespace="leases")
    held = store.ask_slot(SLOT, None, 1, lease_seconds=0.3).lease
    assert held is not None
    assert store.ask_slot(SLOT, None, 1, 0.3).lease is None  # the slot is taken
    assert store.renew(held, 0.3) is not None  # a live holder keeps it
    time.sleep(0.4)  # the holder died: nobody renews
    assert store.renew(held, 0.3) is None
    assert store.held(SLOT) == 0


def test_an_unreachable_redis_falls_back_to_a_local_limiter_with_a_warning(redis_server, caplog):
    warnings = []
    limiter = Limiter(
        QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=1000, burst=10)]),
        store=RedisStore(redis_server.url, namespace="fallback", on_fallback=warnings.append),
    )
    limiter.wait("sagemaker", "DescribeEndpoint")
    assert limiter.store.shared
    redis_server.stop()
    for _ in range(3):  # the run goes on, paced by a limiter of its own
        limiter.wait("sagemaker", "DescribeEndpoint")
    assert not limiter.store.shared
    assert len(warnings) == 1 and "no longer shares the account's quotas" in warnings[0]
    assert "cannot be reached" in caplog.text


def test_slots_held_in_redis_still_count_after_falling_back(redis_server):
    """Redis goes away while this process holds a slot: the local limiter it falls back to
    counts that slot, so the quota is not handed out twice, and its holder releases it there."""
    store = RedisStore(redis_server.url, namespace="adopt")
    held = store.ask_slot(SLOT, None, 2, lease_seconds=60).lease
    assert held is not None
    redis_server.stop()
    assert store.ask_slot(SLOT, None, 2, 60).lease is not None  # the second of two slots
    assert not store.shared
    waiting = store.ask_slot(SLOT, None, 2, 60)
    assert waiting.lease is None  # both taken: the first still counts
    assert store.renew(held, 60) is not None  # its holder keeps it...
    store.release(held)  # ...and gives it back to the one waiting
    assert store.ask_slot(SLOT, waiting.ticket, 2, 60).lease is not None


def test_throttled_answers_to_calls_redis_let_go_cut_the_fallbacks_rate_once(redis_server):
    """8 calls go through Redis; Redis goes away and they all come back throttled, one before
    and seven after a call goes from the limiter this process fell back to: one episode, one
    cut. (The first answer used to be dropped, there being no local state for the key yet, and
    each of the others cut again: their send times were on Redis's clock, the fallback's cuts on
    this process's.)"""
    limiter = Limiter(
        QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=100, burst=40)]),
        store=RedisStore(redis_server.url, namespace=uuid.uuid4().hex),
    )
    grants = [limiter.wait("sagemaker", "DescribeEndpoint") for _ in range(8)]
    redis_server.stop()
    limiter.feedback("sagemaker", "DescribeEndpoint", throttled=True, sent_at=grants[0].at)
    assert not limiter.store.shared and limiter.store.rate(KEY) == BETA * 100  # cut once, from the table's rate
    later = limiter.wait("sagemaker", "DescribeEndpoint")  # sent from here, after the cut
    for grant in grants[1:]:
        limiter.feedback("sagemaker", "DescribeEndpoint", throttled=True, sent_at=grant.at)
    assert limiter.store.rate(KEY) == BETA * 100  # in flight at the cut: the same episode
    limiter.feedback("sagemaker", "DescribeEndpoint", throttled=True, sent_at=later.at)
    assert limiter.store.rate(KEY) < BETA * 100  # sent after the cut: a new episode


def test_an_unreachable_redis_fails_calls_when_the_run_asks_to_fail_closed(redis_server):
    url = redis_server.url.replace("redis://", "redis://:s3cret-pass@") + "?password=s3cret-too"
    redis_server.stop()
    limiter = Limiter(
        QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=1000, burst=10)]),
        store=RedisStore(url, namespace="closed", on_unreachable="fail"),
    )
    with pytest.raises(LimiterUnreachable) as refused:
        limiter.wait("sagemaker", "DescribeEndpoint")
    assert f"127.0.0.1:{redis_server.port}" in str(refused.value)
    assert "s3cret" not in str(refused.value)  # credentials are never printed
