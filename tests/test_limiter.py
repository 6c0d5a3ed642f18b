"""The shared limiter, with an injected clock so rates are exact and tests are instant."""
import threading
import time

from hypothesis import given, settings, strategies as st

from harness.aws.limiter import Limiter, LocalBackend
from harness.clock import ManualClock
from harness.quotas import Quota, QuotaTable


def limiter_at(rate, burst, concurrency=None, time_scale=1.0):
    """A limiter on a manual clock that reads wall seconds (the limiter's own unit)."""
    clock = ManualClock()
    table = QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=rate, burst=burst,
                              concurrency=concurrency)])
    return Limiter(table, time_scale, LocalBackend(clock.now), clock=clock), clock


def go_times(limiter, clock, calls, gaps=None):
    """When each of `calls` sequential calls was let through."""
    times = []
    for i in range(calls):
        if gaps:
            clock.advance(gaps[i % len(gaps)])
        limiter.wait("sagemaker", "DescribeEndpoint")
        times.append(clock.now())
    return times


def test_half_the_burst_goes_at_once_then_calls_are_paced_at_the_rate():
    limiter, clock = limiter_at(rate=10, burst=10)
    times = go_times(limiter, clock, 25)
    assert times[:5] == [0.0] * 5  # half the account's burst; the rest is slack for jitter
    assert times[5] > 0
    assert abs(times[-1] - 2.0) < 1e-9  # 20 more calls at 10/s


def test_time_scale_multiplies_the_rate():
    limiter, clock = limiter_at(rate=1, burst=2, time_scale=1 / 60)
    times = go_times(limiter, clock, 61)
    assert abs(times[-1] - 1.0) < 1e-9


def test_a_one_token_quota_keeps_its_slack_for_jitter_in_time():
    from harness.aws.limiter import JITTER_SECONDS
    limiter, clock = limiter_at(rate=1, burst=1)  # like CreateTrainingJob
    times = go_times(limiter, clock, 3)
    assert abs(times[1] - times[0] - (1 + JITTER_SECONDS)) < 1e-9  # a second and a little
    limiter, clock = limiter_at(rate=1, burst=1, time_scale=1 / 60)
    times = go_times(limiter, clock, 3)
    assert abs(times[1] - times[0] - (1 / 60 + JITTER_SECONDS)) < 1e-9  # wall jitter does not shrink with AWS time


@settings(max_examples=200, deadline=None)
@given(rate=st.floats(0.5, 200), burst=st.integers(1, 50),
       gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=20),
       window=st.floats(0.01, 5))
def test_never_more_than_rate_times_window_plus_burst_in_any_window(rate, burst, gaps, window):
    limiter, clock = limiter_at(rate=rate, burst=burst)
    times = go_times(limiter, clock, 120, gaps)
    j = 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] <= start + window:
            j += 1
        assert j - i <= rate * window + burst + 1e-6


def test_a_throttle_halves_the_rate_and_successes_bring_it_back_but_never_above_the_table():
    limiter, clock = limiter_at(rate=20, burst=20)
    backend = limiter.backend
    limiter.wait("sagemaker", "DescribeEndpoint")
    limiter.feedback("sagemaker", "DescribeEndpoint", throttled=True)
    assert backend.rate("sagemaker.DescribeEndpoint") == 10
    limiter.feedback("sagemaker", "DescribeEndpoint", throttled=True)
    assert backend.rate("sagemaker.DescribeEndpoint") == 5
    for _ in range(1000):
        limiter.feedback("sagemaker", "DescribeEndpoint", throttled=False)
    assert backend.rate("sagemaker.DescribeEndpoint") == 20


def test_concurrency_permits_are_held_until_released():
    limiter = Limiter(QuotaTable([Quota("sagemaker", "CreateFeatureGroup", concurrency=2)]))
    first = limiter.permit("sagemaker", "CreateFeatureGroup")
    second = limiter.permit("sagemaker", "CreateFeatureGroup")
    try:
        limiter.permit("sagemaker", "CreateFeatureGroup", timeout=0.05)
        raise AssertionError("a third permit should not be granted")
    except TimeoutError as err:
        assert "limit 2" in str(err)
    first.release()
    with limiter.permit("sagemaker", "CreateFeatureGroup", timeout=1):
        pass
    second.release()
    assert limiter.permit("sagemaker", "ListModels") is None  # no concurrency quota


def test_a_permit_knows_when_others_wait_for_it():
    """The holder of the last slot learns someone queues behind it (and so looks more often
    whether its resource is done); once the waiter gets the slot, nobody waits."""
    limiter = Limiter(QuotaTable([Quota("sagemaker", "CreateFeatureGroup", concurrency=1)]))
    holder = limiter.permit("sagemaker", "CreateFeatureGroup")
    assert not holder.contended()
    waiter = threading.Thread(target=lambda: limiter.permit("sagemaker", "CreateFeatureGroup", timeout=5))
    waiter.start()
    deadline = time.monotonic() + 5
    while not holder.contended() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert holder.contended()
    holder.release()
    waiter.join()
    assert not holder.contended() and limiter.backend.waiters("permit:sagemaker.CreateFeatureGroup") == 0


def test_32_threads_share_the_rate_fairly():
    """Tokens are reserved in arrival order, so no caller waits longer than one token for each
    other caller (each holds at most one reservation), however the threads are scheduled."""
    limiter = Limiter(QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=200, burst=2)]))
    delays = [[] for _ in range(32)]

    def worker(i):
        for _ in range(10):
            delays[i].append(limiter.wait("sagemaker", "DescribeEndpoint"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    waits = [d for per_thread in delays for d in per_thread]
    assert len(waits) == 320 and max(waits) <= 32 / 200 + 1e-9, max(waits)
    assert sum(d > 0 for d in waits) >= 320 - 32  # past the burst, nearly every call was paced


def _spend(address_and_key, calls, out, together):
    from harness.aws.shared_limiter import connect
    limiter = Limiter(QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=40, burst=2)]),
                      backend=connect(*address_and_key))
    together.wait()
    limiter.wait("sagemaker", "DescribeEndpoint")
    first = time.monotonic()
    for _ in range(calls - 1):
        limiter.wait("sagemaker", "DescribeEndpoint")
    out.put((first, time.monotonic()))


def test_worker_processes_share_one_bucket_through_the_shared_backend():
    import multiprocessing

    from harness.aws.shared_limiter import SharedLimiterServer
    spawn = multiprocessing.get_context("spawn")
    server = SharedLimiterServer().start()
    try:
        out, together = spawn.Queue(), spawn.Barrier(2)
        workers = [spawn.Process(target=_spend, args=((server.address, server.authkey), 40, out, together))
                   for _ in range(2)]
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


def throttle_share_against(account_rate: float, table_rate: float, calls: int = 600) -> tuple[float, float]:
    """Pace `calls` through a limiter that believes `table_rate` while the account allows
    `account_rate` (burst 2); return the share of calls the account throttled and the goodput
    as a share of the account's rate."""
    from harness.tokens import TokenBucket
    limiter, clock = limiter_at(rate=table_rate, burst=2)
    account = TokenBucket(account_rate, 2, clock.now)
    throttled = 0
    for _ in range(calls):
        limiter.wait("sagemaker", "DescribeEndpoint")
        ok = account.try_take()
        throttled += not ok
        limiter.feedback("sagemaker", "DescribeEndpoint", throttled=not ok)
        clock.advance(0.001)  # the call's own latency
    return throttled / calls, (calls - throttled) / clock.now() / account_rate


def test_a_table_far_too_generous_still_converges_to_few_throttles_and_full_goodput():
    for table_rate in (20, 200):  # the account allows 2/s; the table believes 10x and 100x that
        throttled, goodput = throttle_share_against(account_rate=2, table_rate=table_rate)
        assert throttled <= 0.05 and goodput >= 0.9, (table_rate, throttled, goodput)
    assert throttle_share_against(account_rate=20, table_rate=20)[0] == 0.0
