"""A stop reaches every wait: clock sleeps, limiter reservations, slot waits, retry backoff and
new calls. Each wait here would last an hour or more; that the thread ends at all (within the
join's patience) shows the stop reached it."""

import socket
import threading

import pytest

from harness.aws import Target, ClientFactory, Limiter, RetrySettings
from harness.clock import Clock, ManualClock
from harness.quotas import Quota, QuotaTable
from harness.runner.pools import ThreadPool
from harness.stopping import Stopped, current_signal, stop_on, until_stopped
from simhelpers import write_profile

HOUR = 3600.0


def stopped_by_signal(wait) -> BaseException | None:
    """Run `wait()` in a thread under a stop signal, set the signal, return what the wait raised."""
    signal, started, raised = threading.Event(), threading.Event(), []

    def body():
        with stop_on(signal):
            started.set()
            try:
                wait()
            except BaseException as err:  # noqa: BLE001 - the test inspects it
                raised.append(err)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    assert started.wait(30)
    signal.set()
    thread.join(30)
    assert not thread.is_alive(), "the stop did not reach the wait"
    return raised[0] if raised else None


def test_a_clock_sleep_ends_when_the_run_stops():
    assert isinstance(stopped_by_signal(lambda: Clock(1.0).sleep(HOUR)), Stopped)


def test_a_limiter_reservation_ends_when_the_run_stops():
    limiter = Limiter(QuotaTable([Quota("sagemaker", "ListModels", rate=1 / HOUR, burst=2)]))
    limiter.wait("sagemaker", "ListModels")  # the one token of burst the limiter spends
    assert isinstance(stopped_by_signal(lambda: limiter.wait("sagemaker", "ListModels")), Stopped)


def test_a_slot_wait_ends_when_the_run_stops():
    limiter = Limiter(QuotaTable([Quota("sagemaker", "CreateEndpoint", concurrency=1)]))
    held = limiter.slot("sagemaker", "CreateEndpoint")
    assert isinstance(stopped_by_signal(lambda: limiter.slot("sagemaker", "CreateEndpoint", timeout=None)), Stopped)
    held.release()
    assert limiter.store.waiters("slot:sagemaker.CreateEndpoint") == 0


def test_a_read_that_is_never_answered_ends_when_the_run_stops():
    """A socket read sees no signal; under until_stopped its caller is told at once (the account
    guard's STS call to an endpoint that does not answer)."""
    with socket.create_server(("127.0.0.1", 0)) as server:

        def read_unanswered() -> None:
            with socket.create_connection(server.getsockname()) as connection:
                connection.recv(1)  # nobody will ever send it

        assert isinstance(stopped_by_signal(lambda: until_stopped(read_unanswered, current_signal())), Stopped)


def test_no_new_call_starts_once_the_run_is_stopping_and_none_is_recorded(simulator, tmp_path):
    from harness.events import Recorder, load_events

    recorder = Recorder(tmp_path / "events.db", "run-stop")
    factory = ClientFactory(
        Target.simulator(simulator.endpoint_url), RetrySettings("harness"), recorder, limiter=Limiter(QuotaTable([]))
    )
    sagemaker = factory.client("sagemaker")
    sagemaker.list_models()  # an attempt sent and answered
    stop = threading.Event()
    stop.set()
    with stop_on(stop), pytest.raises(Stopped):
        sagemaker.list_models()
    recorder.close()
    assert simulator.stats()["operations"]["sagemaker.ListModels"]["requests"] == 1  # the second never reached AWS
    # ...so it is not an attempt either: the integrity line counts what AWS saw against what was recorded
    assert len(load_events(tmp_path, ["api_attempt"])) == 1


@pytest.mark.parametrize("policy", ["harness", "botocore-standard"])
def test_a_retry_backoff_ends_when_the_run_stops(simulator, tmp_path, policy):
    """Every ListModels after the first is throttled and each backoff may last up to an hour:
    the harness's own, and botocore's (slept on the run's clock, see scale_botocore_time)."""
    simulator.reset(
        profile=write_profile(
            tmp_path,
            'quota_table = "none"\n[[quota]]\nservice = "sagemaker"\n'
            'operation = "ListModels"\nrate = 0.0001\nburst = 1\n',
        )
    )
    settings = RetrySettings(policy, max_attempts=50, base_seconds=HOUR, cap_seconds=HOUR, deadline_seconds=100 * HOUR)
    factory = ClientFactory(Target.simulator(simulator.endpoint_url), settings, limiter=Limiter(QuotaTable([])))
    sagemaker = factory.client("sagemaker")
    sagemaker.list_models()  # the one token
    raised = stopped_by_signal(sagemaker.list_models)
    assert isinstance(raised, Stopped), raised


def test_a_manual_clock_moves_only_when_slept_on():
    clock = ManualClock(time_scale=0.01)
    clock.sleep(300)
    clock.advance(5)
    assert clock.now() == 305 and clock.slept == [300] and clock.wall(305) == pytest.approx(3.05)


def test_a_thread_pool_says_at_once_when_its_last_worker_is_done():
    release = threading.Event()
    pool = ThreadPool(lambda i: release.wait(), 200)
    pool.start()
    assert pool.wait(0.01) is False
    release.set()
    assert pool.wait(30) is True


def test_a_stopped_arrival_level_with_a_backlog_is_done_once_its_running_pipelines_are():
    """Pipelines arriving faster than one slot serves them leave a backlog; once the run stops,
    the backlog is dropped (nothing new starts) and the level is done when the running one ends."""
    from harness.runner.arrivals import constant
    from harness.runner.pools import ArrivalPool

    stop, release, started = threading.Event(), threading.Event(), []

    def run_one(index, due, rate):
        started.append(index)
        release.wait(10)

    pool = ArrivalPool(run_one, constant(rate=36000, duration=1.0), max_in_flight=1, clock=Clock(1.0), stop=stop)
    pool.start()
    assert not pool.wait(1.5)  # ten arrived in the second, one runs, the rest wait in line
    stop.set()
    release.set()
    assert pool.wait(5)
    assert started == [0]
