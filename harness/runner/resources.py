"""What a run holds while its levels run, each opened and let go in one place: the embedded
simulator, a Ray cluster, a Redis limiter, and the account (checked before anything is written,
its bucket made per level)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from harness.artifacts import AwsContext
from harness.artifacts.context import RUN_TAG
from harness.aws.clients import setup_clients
from harness.aws.reach import SETUP_NO_ANSWER, unreachable
from harness.events import Recorder
from harness.runner.aws_context import scenario_target, shared_limiter_store
from harness.runner.scenario import Scenario, simulator_in_run_process
from harness.stopping import StopSignal, until_stopped

if TYPE_CHECKING:
    from harness.aws.limiter.redis_store import RedisStore
    from harness.runner.ray_workers import RayConnection
    from harness.sim import Simulator

Say = Callable[[str], None]


@contextlib.contextmanager
def embedded_simulator(scenario: Scenario, endpoint_url: str | None) -> Iterator[Simulator | None]:
    """The simulator the run starts itself (none on AWS, or when one already runs at endpoint_url)."""
    if scenario.target != "sim" or endpoint_url is not None:
        if scenario.time == "virtual" and endpoint_url is not None:
            check_manual_time(endpoint_url, scenario.source)
        yield None
        return
    from harness.sim import Simulator
    from harness.sim.inprocess import InProcessSimulator

    # Virtual time runs one worker at a time, so the simulator works in the run's own process
    # (no socket per call); on the wall it takes a core of its own.
    kind = InProcessSimulator if simulator_in_run_process(scenario) else Simulator
    simulator = kind(scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale).start()
    try:
        yield simulator
    finally:
        simulator.stop()


def check_manual_time(endpoint_url: str, source: str) -> None:
    """A simulator already running serves a virtual-time run only on manual time: else it would
    sleep its latency and move its lifecycles by the wall."""
    import json
    import urllib.request

    from harness.config import ConfigError

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{endpoint_url.rstrip('/')}/_sim/stats", timeout=30) as answer:
            manual = bool(json.loads(answer.read() or b"{}").get("manual_time"))
    except (OSError, ValueError):
        manual = False  # not a simulator that says (real AWS behind the URL, or an old one)
    if not manual:
        raise ConfigError(
            source,
            "time",
            "virtual",
            f"wall with the simulator at {endpoint_url}: virtual time needs the run's own simulator (no "
            "--endpoint-url), or one reset with manual_time (Simulator.reset(manual_time=True))",
        )


@contextlib.contextmanager
def ray_cluster(scenario: Scenario) -> Iterator[RayConnection | None]:
    """The Ray cluster of a `workers = "ray"` run: one that does not answer stops the run before
    its folder exists."""
    if scenario.workers != "ray":
        yield None
        return
    from harness.runner.ray_workers import RayConnection

    connection = RayConnection(scenario.ray_address).open()
    try:
        yield connection
    finally:
        connection.close()


def guard_account(
    scenario: Scenario,
    endpoint_url: str | None,
    allowed_accounts: list[str],
    say: Say,
    stop: StopSignal | None = None,
) -> None:
    """Real AWS: identify the account and refuse before anything is written anywhere. Its one
    call is a set-up read (`setup_clients`): an endpoint that does not answer is Unreachable
    within seconds, and `stop` set meanwhile ends it at once (Stopped)."""
    if scenario.target != "aws":
        return
    if endpoint_url is None and scenario.time_scale != 1.0:
        raise ValueError(
            f"{scenario.source}: time_scale = {scenario.time_scale!r} is not allowed; "
            'expected 1.0 with target = "aws" (AWS runs in real time)'
        )
    from harness.aws.account import check_account

    sts = setup_clients(scenario_target(scenario, endpoint_url)).client("sts")
    try:
        until_stopped(lambda: check_account(sts, scenario.region, allowed_accounts, say=say), stop)
    except SETUP_NO_ANSWER as err:
        raise unreachable(err, scenario.region) from None


def connect_shared_limiter(
    scenario: Scenario, endpoint_url: str | None, recorder: Recorder, say: Say
) -> RedisStore | None:
    """The scenario's Redis limiter, reached before the first pipeline: a wrong URL stops the run
    here (on_unreachable = "fail") or is a warning at its start ("local"), not in the middle.
    None when the limiter lives in the run."""
    store = shared_limiter_store(scenario, endpoint_url, recorder)
    if store is None:
        return None
    from harness.aws.limiter.redis_store import LimiterUnreachable, without_password

    try:
        store.check()
    except LimiterUnreachable:
        if scenario.limiter.on_unreachable == "fail":
            raise
        store.now()  # falls back, with the warning
    else:
        say(f"limiter: shared through {without_password(store.url)} (namespace {store.namespace})")
    recorder.set_meta(shared_limiter=store.shared)
    return store


def prepare_bucket(ctx: AwsContext, scenario: Scenario, run_id: str) -> None:
    """The run's bucket: made and tagged, or the account's own (then the run keeps to its prefix)."""
    s3 = ctx.client("s3")
    if scenario.account.bucket:
        s3.head_bucket(Bucket=ctx.bucket)
        return
    # outside us-east-1 S3 wants the region named (IllegalLocationConstraintException otherwise)
    where = (
        {} if scenario.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": scenario.region}}
    )
    try:
        s3.create_bucket(Bucket=ctx.bucket, **where)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",):
            raise
    s3.put_bucket_tagging(Bucket=ctx.bucket, Tagging={"TagSet": [{"Key": RUN_TAG, "Value": run_id}]})
