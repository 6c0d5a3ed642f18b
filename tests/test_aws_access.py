"""The AWS access layer against the simulator: a fleet of threads sharing one account quota."""

import threading

import pytest
from botocore.exceptions import ClientError

from harness.aws import Target, ClientFactory, Limiter, RetrySettings
from harness.clock import Clock, ManualClock
from harness.events import Recorder, load_events
from harness.quotas import Quota, QuotaTable
from harness.runner.scenario import parse_scenario
from simhelpers import write_profile

QUOTA = """
quota_table = "none"
[[quota]]
service = "sagemaker"
operation = "ListModels"
rate = 20
burst = 20
"""


def run_fleet(factory, threads=32, calls=5):
    failures = []

    def worker():
        sagemaker = factory.client("sagemaker")
        for _ in range(calls):
            try:
                sagemaker.list_models()
            except ClientError as err:
                failures.append(err.response["Error"]["Code"])

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return failures


def test_32_threads_sharing_a_20_per_second_quota_pace_themselves(simulator, tmp_path):
    simulator.reset(profile=write_profile(tmp_path, QUOTA))
    table = QuotaTable([Quota("sagemaker", "ListModels", rate=20, burst=20, rate_basis="published")])
    with Recorder(tmp_path / "events.db", "fleet") as recorder:
        factory = ClientFactory(
            Target.simulator(simulator.endpoint_url),
            RetrySettings("harness"),
            recorder=recorder,
            limiter=Limiter(table),
        )
        failures = run_fleet(factory)
    attempts = load_events(tmp_path, ["api_attempt"])
    assert failures == []
    assert len(attempts[attempts.outcome == "ok"]) == 160
    assert (attempts.outcome == "throttled").mean() <= 0.02
    served = simulator.stats()["operations"]["sagemaker.ListModels"]
    assert served["requests"] == len(attempts)  # every attempt the simulator saw is recorded


def test_botocore_retries_are_recorded_attempt_by_attempt(simulator, tmp_path):
    simulator.reset(
        profile=write_profile(tmp_path, QUOTA.replace("rate = 20", "rate = 2").replace("burst = 20", "burst = 2"))
    )
    with Recorder(tmp_path / "events.db", "std") as recorder:
        factory = ClientFactory(
            Target.simulator(simulator.endpoint_url),
            RetrySettings("botocore-standard", max_attempts=3),
            recorder=recorder,
        )
        run_fleet(factory, threads=8, calls=1)
    attempts = load_events(tmp_path, ["api_attempt"])
    assert attempts.attempt.max() > 1
    assert (attempts.outcome == "throttled").sum() == simulator.stats()["operations"]["sagemaker.ListModels"][
        "throttled"
    ]


@pytest.mark.parametrize(
    "policy, attempts", [("botocore-legacy", 5), ("botocore-standard", 3), ("botocore-adaptive", 3)]
)
def test_sdk_default_gives_each_botocore_mode_its_own_attempt_budget(simulator, tmp_path, policy, attempts):
    """`max_attempts = "sdk-default"`: a throttled call is tried as often as a user who set nothing
    would see it tried."""
    simulator.reset(
        profile=write_profile(tmp_path, QUOTA.replace("rate = 20", "rate = 0.001").replace("burst = 20", "burst = 1")),
        time_scale=0.001,
    )
    scenario = parse_scenario({"policy": policy, "max_attempts": "sdk-default"}, "s.toml", "s")
    assert scenario.max_attempts is None and scenario.resolved()["max_attempts"] == "sdk-default"
    sagemaker = ClientFactory(Target.simulator(simulator.endpoint_url), scenario.retry(), time_scale=0.001).client(
        "sagemaker"
    )
    sagemaker.list_models()  # the one token
    with pytest.raises(ClientError):
        sagemaker.list_models()
    assert simulator.stats()["operations"]["sagemaker.ListModels"]["throttled"] == attempts


def test_harness_policy_never_retries_a_validation_error(simulator, tmp_path):
    with Recorder(tmp_path / "events.db", "val") as recorder:
        factory = ClientFactory(
            Target.simulator(simulator.endpoint_url),
            RetrySettings("harness"),
            recorder=recorder,
            limiter=Limiter(QuotaTable([])),
        )
        with pytest.raises(ClientError):
            factory.client("sagemaker").describe_endpoint(EndpointName="missing")
    assert len(load_events(tmp_path, ["api_attempt"])) == 1
    assert len(load_events(tmp_path, ["retry"])) == 0


def test_unknown_policy_and_missing_region_are_refused():
    with pytest.raises(ValueError, match="botocore-adaptive"):
        RetrySettings("aggressive")
    with pytest.raises(ValueError, match="region"):
        Target.aws(region="")


class WatchedClock(Clock):
    """The run's clock, remembering every wall-time sleep asked of it."""

    def __init__(self, time_scale):
        super().__init__(time_scale)
        self.walls = []

    def sleep_wall(self, wall_seconds):
        self.walls.append(wall_seconds)
        super().sleep_wall(wall_seconds)


@pytest.mark.parametrize("policy", ["botocore-standard", "botocore-legacy"])
def test_botocore_backoff_shrinks_with_the_time_scale(simulator, tmp_path, policy):
    """A fair fight: on a simulator at time scale 1/100, botocore's retry sleeps shrink 100x."""
    simulator.reset(
        profile=write_profile(tmp_path, QUOTA.replace("rate = 20", "rate = 0.001").replace("burst = 20", "burst = 1")),
        time_scale=0.01,
    )
    clock = WatchedClock(0.01)
    factory = ClientFactory(
        Target.simulator(simulator.endpoint_url), RetrySettings(policy, max_attempts=5), time_scale=0.01, clock=clock
    )
    sagemaker = factory.client("sagemaker")
    sagemaker.list_models()  # the one token
    with pytest.raises(ClientError):
        sagemaker.list_models()  # throttled five times, four backoffs between
    assert len(clock.walls) == 4 and 0 < sum(clock.walls) <= (1 + 2 + 4 + 8) * 0.01  # unscaled: up to 15 s
    assert simulator.stats()["operations"]["sagemaker.ListModels"]["throttled"] == 5


def test_botocore_adaptive_paces_in_aws_time_on_a_scaled_simulator(simulator):
    """botocore-adaptive's client-side rate limiter runs on the run's clock: at 2 calls per AWS
    second, a wait for one token is 0.5 AWS seconds slept on that clock (at 1/100, 5 ms of
    wall time; on the wall clock it would be the whole half second)."""
    from botocore.retries import adaptive

    from harness.aws.policies.botocore_modes import RunClock, RunClockTokenBucket

    clock = ManualClock(time_scale=0.01)
    factory = ClientFactory(
        Target.simulator(simulator.endpoint_url), RetrySettings("botocore-adaptive", max_attempts=8), clock=clock
    )
    events = factory.client("sagemaker").meta.events
    emitter = getattr(events, "_emitter", events)
    [limiter] = [
        h.__self__
        for h in emitter._handlers.prefix_search("before-send.sagemaker.ListModels")
        if isinstance(getattr(h, "__self__", None), adaptive.ClientRateLimiter)
    ]
    bucket = limiter._token_bucket
    assert isinstance(limiter._clock, RunClock) and limiter._clock.clock is clock
    assert isinstance(bucket, RunClockTokenBucket)
    bucket.max_rate = 2.0  # what a throttle would set
    bucket._current_capacity = 0
    assert bucket.acquire() is True
    assert clock.slept == [pytest.approx(0.5)]


def test_each_worker_has_its_own_clients_under_botocore_policies(simulator):
    """In production every pipeline is a process with its own clients, so botocore's per-client
    retry state is per pipeline; the harness policy shares its limiter instead."""
    target = Target.simulator(simulator.endpoint_url)
    botocore = ClientFactory(target, RetrySettings("botocore-adaptive"))
    assert botocore.for_worker().client("sagemaker") is not botocore.for_worker().client("sagemaker")
    harness = ClientFactory(target, RetrySettings("harness"), limiter=Limiter(QuotaTable([])))
    assert harness.for_worker().client("sagemaker") is harness.for_worker().client("sagemaker")
