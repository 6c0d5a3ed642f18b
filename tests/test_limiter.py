"""The shared limiter. Pacing and adaptation run on a manual clock (exact, instant); the races of
concurrent callers are reproduced with threads and barriers, and a wait that would last an hour
shows a fix by ending at all."""

import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from harness.aws.limiter import JITTER_SECONDS, Limiter, LimiterTimeout, LocalStore
from harness.aws.limiter.adaptation import BETA
from harness.clock import Clock, ManualClock
from harness.config import ConfigError
from harness.quotas import Quota, QuotaTable, parse_rows
from harness.tokens import TokenBucket

KEY = "sagemaker.DescribeEndpoint"
HOUR = 3600.0


def limiter_at(rate, burst, concurrency=None, time_scale=1.0, basis="estimate", **kw):
    """A limiter on a manual clock: rates, waits and times are AWS seconds."""
    clock = ManualClock(time_scale)
    table = QuotaTable(
        [Quota("sagemaker", "DescribeEndpoint", rate=rate, burst=burst, concurrency=concurrency, rate_basis=basis)]
    )
    return Limiter(table, time_scale, clock=clock, **kw), clock


def go_times(limiter, clock, calls, gaps=None):
    """When each of `calls` sequential calls was let through (AWS seconds)."""
    times = []
    for i in range(calls):
        if gaps:
            clock.advance(gaps[i % len(gaps)])
        limiter.wait("sagemaker", "DescribeEndpoint")
        times.append(clock.now())
    return times


# --- pacing ------------------------------------------------------------------------------------
def test_half_the_burst_goes_at_once_then_calls_are_paced_at_the_rate():
    limiter, clock = limiter_at(rate=10, burst=10)
    times = go_times(limiter, clock, 25)
    assert times[:5] == [0.0] * 5  # half the account's burst; the rest is slack for jitter
    assert times[5] > 0
    assert times[-1] == pytest.approx(2.0)  # 20 more calls at 10/s


def test_rates_are_aws_time_whatever_the_time_scale():
    for time_scale in (1.0, 1 / 60):
        limiter, clock = limiter_at(rate=1, burst=2, time_scale=time_scale)
        assert go_times(limiter, clock, 61)[-1] == pytest.approx(60.0)  # 60 AWS seconds, at any scale


def test_a_one_token_quota_keeps_its_slack_for_jitter_in_aws_time():
    """CreateTrainingJob: 1 per second, burst 1. Calls are spaced a second and 20 ms of AWS time,
    at any time scale (it used to be 20 ms of wall time: at 1/60 that paced the quota at 45%)."""
    for time_scale in (1.0, 1 / 60):
        limiter, clock = limiter_at(rate=1, burst=1, time_scale=time_scale)
        times = go_times(limiter, clock, 3)
        assert times[1] - times[0] == pytest.approx(1 + JITTER_SECONDS)


@settings(max_examples=100, deadline=None)
@given(rate=st.floats(1, 200), burst=st.integers(1, 50), gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=20))
def test_never_more_than_rate_times_window_plus_burst_in_any_window(rate, burst, gaps):
    window = 1.0
    limiter, clock = limiter_at(rate=rate, burst=burst)
    times = go_times(limiter, clock, 120, gaps)
    j = 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] <= start + window:
            j += 1
        assert j - i <= rate * window + burst + 1e-6


def test_32_threads_are_served_in_arrival_order():
    """No caller waits longer than one token for each other caller (each holds at most one place
    in line), however the threads are scheduled."""
    limiter = Limiter(QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=200, burst=2)]))
    waits = [[] for _ in range(32)]

    def worker(i):
        for _ in range(10):
            waits[i].append(limiter.wait("sagemaker", "DescribeEndpoint").waited)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [w for per_thread in waits for w in per_thread]
    assert len(flat) == 320
    # 32 tokens at 200/s, plus the time a woken waiter takes to ask again (scheduling, not the limiter)
    assert max(flat) <= 32 / 200 + 0.5, max(flat)


# --- adaptation: one cut per episode -----------------------------------------------------------
def test_throttles_of_calls_already_in_flight_cut_the_rate_once():
    """16 calls go out together and all come back throttled: one episode, one cut (it used to
    halve the rate 16 times, to the floor)."""
    limiter, clock = limiter_at(rate=100, burst=40)
    grants = [limiter.wait("sagemaker", "DescribeEndpoint") for _ in range(16)]
    clock.advance(0.05)
    for grant in grants:
        limiter.feedback("sagemaker", "DescribeEndpoint", throttled=True, sent_at=grant.at)
    adaptation = limiter.store.adaptation(KEY)
    assert adaptation.cuts == 1  # cut once, to BETA times the rate the calls were going at
    assert limiter.store.rate(KEY) == pytest.approx(BETA * adaptation.throttled_at)
    assert adaptation.throttled_at <= 100 and limiter.store.rate(KEY) > 100 * 0.5**16
    later = limiter.wait("sagemaker", "DescribeEndpoint")  # sent after the cut: a new episode
    limiter.feedback("sagemaker", "DescribeEndpoint", throttled=True, sent_at=later.at)
    assert adaptation.cuts == 2


def test_concurrent_throttle_answers_cut_the_rate_once():
    """32 threads report throttled answers to calls sent before any cut, all at once (the rate
    used to be changed without a lock, and one 'last answer throttled' flag was shared)."""
    limiter = Limiter(QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=100, burst=100)]))
    grants = [limiter.wait("sagemaker", "DescribeEndpoint") for _ in range(32)]
    barrier = threading.Barrier(32)

    def report(grant):
        barrier.wait()
        limiter.feedback("sagemaker", "DescribeEndpoint", throttled=True, sent_at=grant.at)

    threads = [threading.Thread(target=report, args=(g,)) for g in grants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert limiter.store.adaptation(KEY).cuts == 1
    assert limiter.store.rate(KEY) <= BETA * 100 + 1e-9


def test_a_published_rate_is_a_ceiling_and_an_estimate_is_a_starting_point():
    for basis, above in (("published", False), ("estimate", True)):
        limiter, clock = limiter_at(rate=10, burst=2, basis=basis)
        for _ in range(200):
            grant = limiter.wait("sagemaker", "DescribeEndpoint")
            limiter.feedback("sagemaker", "DescribeEndpoint", throttled=False, sent_at=grant.at)
        assert (limiter.store.rate(KEY) > 10) is above, (basis, limiter.store.rate(KEY))


def test_an_idle_key_does_not_drift_up():
    limiter, clock = limiter_at(rate=10, burst=20)
    grant = limiter.wait("sagemaker", "DescribeEndpoint")  # no one queues: demand is below the rate
    clock.advance(HOUR)
    limiter.feedback("sagemaker", "DescribeEndpoint", throttled=False, sent_at=grant.at)
    assert limiter.store.rate(KEY) == 10


# --- waiting follows the current rate, and the call's deadline ---------------------------------
def test_a_waiting_caller_follows_a_rate_that_rises_while_it_waits():
    """A caller in line behind a rate of one call in ~12 days does not commit to that wait: when
    answers show the quota has room (slow start above an estimate), it goes."""
    limiter = Limiter(QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=1e-6, burst=2)]), time_scale=0.001)
    first = limiter.wait("sagemaker", "DescribeEndpoint")  # the one token of burst the limiter spends
    went = threading.Event()
    waiter = threading.Thread(target=lambda: (limiter.wait("sagemaker", "DescribeEndpoint"), went.set()), daemon=True)
    waiter.start()
    deadline = time.monotonic() + 30
    while not went.is_set() and time.monotonic() < deadline:
        limiter.feedback("sagemaker", "DescribeEndpoint", throttled=False, sent_at=first.at)
        time.sleep(0.005)
    assert went.is_set(), f"still waiting at {limiter.store.rate(KEY)}/s"


def test_no_wait_goes_past_the_calls_deadline():
    limiter, clock = limiter_at(rate=1 / HOUR, burst=2)
    limiter.wait("sagemaker", "DescribeEndpoint")
    with pytest.raises(LimiterTimeout, match="DescribeEndpoint token"):
        limiter.wait("sagemaker", "DescribeEndpoint", deadline=clock.now() + 30)
    assert clock.now() == pytest.approx(30)  # gave up at the deadline, not after the hour
    assert limiter.store._keys[KEY].tokens.waiting() == 0  # and left the line


def test_a_rate_of_zero_is_refused_with_the_field_and_the_allowed_values(tmp_path):
    from harness.config import Section

    row = Section({"service": "sagemaker", "operation": "ListModels", "rate": 0}, str(tmp_path / "q.toml"))
    with pytest.raises(ConfigError, match=r"rate.*> 0"):
        parse_rows([row])


# --- slots: leases in arrival order ------------------------------------------------------------
def slot_limiter(limit=1, lease_seconds=600.0, clock=None, **kw):
    table = QuotaTable(
        [
            Quota("sagemaker", "CreateFeatureGroup", concurrency=limit),
            Quota("sagemaker", "CreateEndpoint", concurrency=limit),
        ]
    )
    return Limiter(table, clock=clock, lease_seconds=lease_seconds, **kw)


def wait_until(condition, patience=30.0):
    deadline = time.monotonic() + patience
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_slots_are_held_until_released():
    limiter = slot_limiter(limit=2)
    first = limiter.slot("sagemaker", "CreateFeatureGroup")
    second = limiter.slot("sagemaker", "CreateFeatureGroup")
    with pytest.raises(LimiterTimeout, match="limit 2"):
        limiter.slot("sagemaker", "CreateFeatureGroup", timeout=0.05)
    first.release()
    with limiter.slot("sagemaker", "CreateFeatureGroup", timeout=1):
        pass
    second.release()
    assert limiter.slot("sagemaker", "ListModels") is None  # no concurrency quota


def test_a_newcomer_cannot_take_a_freed_slot_from_someone_already_waiting():
    limiter = slot_limiter()
    holder = limiter.slot("sagemaker", "CreateFeatureGroup")
    got = []
    waiter = threading.Thread(target=lambda: got.append(limiter.slot("sagemaker", "CreateFeatureGroup")), daemon=True)
    waiter.start()
    wait_until(holder.contended)
    holder.release()
    with pytest.raises(LimiterTimeout):
        limiter.slot("sagemaker", "CreateFeatureGroup", timeout=0)  # arrived last: it waits its turn
    waiter.join(30)
    assert got and got[0] is not None


def test_a_slot_freed_on_one_key_goes_to_its_own_waiter_at_once():
    """Waiters on two keys: the one on B started waiting first. A slot freed on A wakes A's waiter
    (all keys used to share one condition, and notify() could wake B's instead, leaving A's slot
    idle until A's waiter timed out). Here A's waiter would otherwise look again only after a
    minute."""
    limiter = slot_limiter()
    on_a = limiter.slot("sagemaker", "CreateFeatureGroup")
    on_b = limiter.slot("sagemaker", "CreateEndpoint")
    got_a = threading.Event()
    threading.Thread(target=lambda: limiter.slot("sagemaker", "CreateEndpoint"), daemon=True).start()
    wait_until(on_b.contended)
    threading.Thread(target=lambda: (limiter.slot("sagemaker", "CreateFeatureGroup"), got_a.set()), daemon=True).start()
    wait_until(on_a.contended)
    on_a.release()
    assert got_a.wait(30)


def test_a_crashed_holders_slot_comes_back_when_its_lease_runs_out():
    clock = ManualClock()
    limiter = slot_limiter(lease_seconds=60, clock=clock)
    crashed = limiter.slot("sagemaker", "CreateFeatureGroup")  # never released, never renewed
    limiter._forget(crashed)  # as if its process had died: nobody renews it
    with pytest.raises(LimiterTimeout):
        limiter.slot("sagemaker", "CreateFeatureGroup", timeout=30)
    assert limiter.slot("sagemaker", "CreateFeatureGroup", timeout=60) is not None  # past the lease
    assert crashed.renew() is False and crashed.lost
    crashed.release()  # harmless


def test_a_renewed_lease_keeps_its_slot():
    clock = ManualClock()
    limiter = slot_limiter(lease_seconds=60, clock=clock)
    held = limiter.slot("sagemaker", "CreateFeatureGroup")
    for _ in range(5):
        clock.advance(40)
        assert held.renew()
    with pytest.raises(LimiterTimeout):
        limiter.slot("sagemaker", "CreateFeatureGroup", timeout=10)
    held.release()
    assert limiter.slot("sagemaker", "CreateFeatureGroup", timeout=0) is not None


def test_a_slot_never_released_is_renewed_for_its_life_and_no_longer():
    """A holder that never releases its slot (a teardown that failed) while its process lives
    on: the renewals stop at the slot's life and the slot comes back then (it used to be
    renewed for as long as the process lived)."""
    clock = ManualClock()
    limiter = slot_limiter(lease_seconds=60, clock=clock, slot_life=300)
    leaked = limiter.slot("sagemaker", "CreateFeatureGroup")
    for _ in range(14):  # the renewer's rounds, a third of a lease apart: 20 s ... 280 s
        clock.advance(20)
        assert leaked.renew()
    assert leaked.lease.expires == 300  # the last renewal does not reach past the life
    with pytest.raises(LimiterTimeout):
        limiter.slot("sagemaker", "CreateFeatureGroup", timeout=15)
    assert clock.now() == 295
    clock.advance(5)
    assert leaked.renew() is False and leaked.lost
    assert limiter.slot("sagemaker", "CreateFeatureGroup", timeout=0) is not None  # at 300 s
    leaked.release()  # harmless


def test_the_limiter_renews_held_leases_in_the_background():
    limiter = slot_limiter(lease_seconds=100)
    # a lease of 100 AWS seconds lasts 1 wall second here, renewed every third of it: a
    # renewal may come up to 0.6 s late on a busy machine and the lease still holds
    limiter.clock = Clock(0.01)
    limiter.store = LocalStore(limiter.clock)
    held = limiter.slot("sagemaker", "CreateFeatureGroup")
    time.sleep(3.0)  # three leases long
    assert not held.lost and limiter.store.held("slot:sagemaker.CreateFeatureGroup") == 1
    held.release()


# --- worker processes share one store -----------------------------------------------------------
def _spend(address_and_key, calls, out, together):
    from harness.aws.limiter.shared import connect

    limiter = Limiter(
        QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=40, burst=2)]), store=connect(*address_and_key)
    )
    together.wait()
    limiter.wait("sagemaker", "DescribeEndpoint")
    first = time.monotonic()
    for _ in range(calls - 1):
        limiter.wait("sagemaker", "DescribeEndpoint")
    out.put((first, time.monotonic()))


def test_worker_processes_share_one_bucket_through_the_shared_backend():
    import multiprocessing

    from harness.aws.limiter.shared import SharedLimiterServer

    spawn = multiprocessing.get_context("spawn")
    server = SharedLimiterServer(spawn).start()
    try:
        out, together = spawn.Queue(), spawn.Barrier(2)
        workers = [
            spawn.Process(target=_spend, args=((server.address, server.authkey), 40, out, together)) for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        spans = [out.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(10)
    finally:
        server.stop()
    # 80 calls against one 40/s bucket (1 token of burst for the limiter) take about 2 s;
    # two private buckets would take about 1 s. (A busy machine only makes it longer.)
    overlap = min(last for _, last in spans) - max(first for first, _ in spans)
    assert overlap > 0.5  # the two processes really were spending at the same time
    assert max(last for _, last in spans) - min(first for first, _ in spans) >= 1.8


# --- an account whose quota the table gets wrong ----------------------------------------------------
def against_an_account(
    account_rate: float, table_rate: float, basis: str = "estimate", calls: int = 600
) -> tuple[float, float]:
    """One caller paces `calls` through a limiter that believes `table_rate` while the account
    allows `account_rate` (burst 2); returns the share of calls throttled and the goodput as a
    share of the account's rate. (32 concurrent callers: benchmarks/policies.py.)"""
    limiter, clock = limiter_at(rate=table_rate, burst=2, basis=basis)
    account = TokenBucket(account_rate, 2, clock.now)
    throttled = 0
    for _ in range(calls):
        grant = limiter.wait("sagemaker", "DescribeEndpoint")
        ok = account.try_take()
        throttled += not ok
        clock.advance(0.001)  # the call's own latency
        limiter.feedback("sagemaker", "DescribeEndpoint", throttled=not ok, sent_at=grant.at)
    return throttled / calls, (calls - throttled) / clock.now() / account_rate


@pytest.mark.parametrize("table_rate", [4, 20, 200])
def test_a_table_too_generous_converges_to_few_throttles_and_full_goodput(table_rate):
    throttled, goodput = against_an_account(account_rate=2, table_rate=table_rate)
    assert throttled <= 0.05 and goodput >= 0.9, (throttled, goodput)


def test_an_estimate_too_low_is_probed_up_to_the_real_quota_and_a_published_one_is_not():
    throttled, goodput = against_an_account(account_rate=20, table_rate=2, calls=2000)
    assert goodput >= 0.9 and throttled <= 0.05, (throttled, goodput)
    throttled, goodput = against_an_account(account_rate=20, table_rate=2, basis="published", calls=200)
    assert throttled == 0 and goodput == pytest.approx(0.1, rel=0.05)


def test_the_exact_table_is_never_throttled():
    assert against_an_account(account_rate=20, table_rate=20, basis="published")[0] == 0.0
