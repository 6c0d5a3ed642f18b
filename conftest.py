"""Shared fixtures: one simulator per test process (pytest-xdist worker), reset between tests."""

from __future__ import annotations

import os

import boto3
import pytest
from botocore.config import Config

from harness.sim import Simulator

# Tests never reach real AWS: fake credentials, and a region so nothing falls back to defaults.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
)
os.environ.pop("AWS_PROFILE", None)
# Live metrics go where a test says: a developer's own collector setting is not the suite's.
for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"):
    os.environ.pop(name, None)


@pytest.fixture(scope="session")
def simulator_process():
    with Simulator("calm", seed=0) as sim:
        yield sim


@pytest.fixture
def simulator(simulator_process):
    """A simulator with empty state and the calm profile; tests may reset it to another."""
    simulator_process.reset(profile="calm", seed=0, time_scale=1.0)
    yield simulator_process


@pytest.fixture
def redis_server():
    """A redis-server of this test's own, on a free loopback port (.ci/run installs it)."""
    from harness.redis_local import LocalRedis, RedisMissing

    try:
        server = LocalRedis()
    except RedisMissing as missing:  # `make test` and .ci/run install it: a failure, never a skip
        pytest.fail(f"{missing}; `make test` installs it")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ray_cluster():
    """A two-node Ray cluster on this machine (Ray's own cluster_utils), as `ray start` on two
    hosts would make it; its processes are not in a terminal job's process group. One per test
    process (pytest-xdist worker)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing leaves the machine
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


@pytest.fixture
def client(simulator):
    """client('sagemaker') -> a plain boto3 client on the simulator, botocore retries off."""

    def make(service: str, region_name: str = "us-east-1", **config):
        settings = {"retries": {"total_max_attempts": 1, "mode": "standard"}, **config}
        return boto3.client(
            service, endpoint_url=simulator.endpoint_url, region_name=region_name, config=Config(**settings)
        )

    return make


@pytest.fixture
def aws_ctx(simulator, tmp_path):
    """An AwsContext on the simulator with the harness policy, a recorder and a bucket.

    ctx.reset(profile=..., time_scale=..., clock=...) switches the simulator and the limiter
    together; a ManualClock makes the harness's waits exact and instant (the simulator keeps
    its own time, unless manual_time=True and the clock moves it: plan.SimulatorTime)."""
    from harness.artifacts import AwsContext
    from harness.aws import Target, ClientFactory, Limiter, RetrySettings
    from harness.events import Recorder
    from harness.sim import load_profile

    recorder = Recorder(tmp_path / "events.db", "test-run", flush_interval=0.05)

    def build(profile="calm", time_scale=0.01, clock=None, manual_time=False):
        simulator.reset(profile=profile, time_scale=time_scale, manual_time=manual_time)
        limiter = Limiter(load_profile(profile).quotas, time_scale)
        factory = ClientFactory(
            Target.simulator(simulator.endpoint_url),
            RetrySettings("harness"),
            recorder=recorder,
            limiter=limiter,
            time_scale=time_scale,
            clock=clock,
        )
        ctx = AwsContext(factory, bucket="harness-test", run_id="test-run", limiter=limiter, recorder=recorder)
        ctx.clients.client("s3").create_bucket(Bucket="harness-test")
        ctx.reset = build
        ctx.events_path = tmp_path
        return ctx

    yield build()
    recorder.close()


# Under CI a skipped test is a failure: a tool missing on the CI machine (Chromium, say) must
# never pass as green. Locally a skip stays a skip, with its reason.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"


# Whole runs on the simulator take a minute or more of wall time each, mostly waiting; started
# last, they would keep one worker busy while the others idle. The suite hands them out first.
LONG_RUNNING = (
    "tests/test_capacity.py",
    "tests/test_aws_safety.py",
    "tests/test_aws_nightly.py",
    "tests/chaos/",
    "tests/test_report.py",
    "tests/test_runner.py",
    "tests/test_ray_workers.py",
    "tests/test_report_browser.py",
    "tests/test_live_view_browser.py",
    "tests/test_pytest_plugin.py",
    "examples/",
)


def pytest_collection_modifyitems(config, items):
    def first(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, prefix in enumerate(LONG_RUNNING) if path.startswith(prefix)), len(LONG_RUNNING))

    items.sort(key=first)  # stable: each file keeps its own order
