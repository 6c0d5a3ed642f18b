"""The runner end to end on the simulator: the smoke scenario, failures, signals, bad input."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.events import load_events, load_meta
from harness.runner.run import Runner
from harness.runner.scenario import load_scenario
from runhelpers import nothing_in, run_dir_once_in_stage, run_in_terminal

ROOT = Path(__file__).resolve().parents[1]


def test_the_smoke_scenario_runs_end_to_end_at_n4(simulator, tmp_path):
    scenario = load_scenario("smoke")
    simulator.reset(profile=scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale)
    result = Runner(scenario, tmp_path, [4], endpoint_url=simulator.endpoint_url).run().render()
    assert result.pipelines == 4 and result.failed == 0
    events = load_events(result.run_dir)
    ends = events[events.kind == "pipeline_end"]
    assert list(ends.outcome) == ["ok"] * 4
    stages = set(events[events.kind == "stage_end"].stage)
    assert stages == {"data_source", "feature_set", "model", "endpoint", "inference", "teardown"}
    assert (events.kind == "api_attempt").sum() > 100
    assert load_meta(result.run_dir)["complete"] is True
    assert (result.run_dir / "scenario.toml").exists()
    assert nothing_in(simulator.endpoint_url)


def test_a_stage_that_raises_is_recorded_and_the_other_workers_finish(simulator, tmp_path):
    scenario = load_scenario("smoke")
    scenario.pipelines = {"pipelines_for_tests:flaky": 1.0}
    simulator.reset(profile="calm", time_scale=0.01)
    result = Runner(scenario, tmp_path, [3], endpoint_url=simulator.endpoint_url).run()
    events = load_events(result.run_dir)
    errors = events[events.kind == "worker_error"]
    assert len(errors) == 1 and errors.iloc[0].worker == 1 and "boom" in errors.iloc[0].detail
    ends = events[events.kind == "pipeline_end"].set_index("worker")
    assert ends.loc[1, "outcome"] == "failed" and ends.loc[1, "error_code"] == "error:RuntimeError"
    assert list(ends.loc[[0, 2], "outcome"]) == ["ok", "ok"]
    assert nothing_in(simulator.endpoint_url)


def test_a_pipeline_that_fails_on_an_aws_call_names_the_call_in_its_failure_line(simulator, tmp_path):
    """Every pipeline's first call fails: the recorded reason and the report name the
    service.Operation and AWS's error code, and the report gives no capacity figures."""
    scenario = load_scenario("smoke")
    scenario.pipelines = {"pipelines_for_tests:missing_database": 1.0}
    simulator.reset(profile="calm", time_scale=0.01)
    result = Runner(scenario, tmp_path, [2], endpoint_url=simulator.endpoint_url).run().render()
    ends = load_events(result.run_dir).query("kind == 'pipeline_end'")
    assert list(ends.error_code) == ["glue.GetDatabase: EntityNotFoundException"] * 2
    summary = (result.run_dir / "summary.md").read_text()
    assert "- EVERY LEVEL FAILED: none of the run's 2 pipelines completed" in summary
    assert "- Top failure reasons: 2 × glue.GetDatabase: EntityNotFoundException." in summary


def test_an_error_code_that_is_only_a_number_is_given_as_the_http_status():
    """An answer botocore cannot read a code from (an HTML 404 page) has the status for a code."""
    import boto3
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    from harness.runner.executor import failure_reason

    athena = boto3.client("athena", region_name="us-east-1")
    with Stubber(athena) as stub:
        stub.add_client_error("start_query_execution", service_error_code="404", http_status_code=404)
        with pytest.raises(ClientError) as failed:
            athena.start_query_execution(QueryString="SELECT 1")
    assert failure_reason(failed.value) == "athena.StartQueryExecution: HTTP 404"


def test_an_abort_threshold_stops_the_run_as_soon_as_it_fails(simulator, tmp_path):
    """{ check = "failed < 1", abort = true }: worker 1's pipeline fails at N=3, so the run stops
    there (N=6 never starts), tears down, cleans up and says which threshold stopped it."""
    from harness.runner.scenario import parse_scenario

    scenario = parse_scenario(
        {
            "profile": "calm",
            "time_scale": 0.01,
            "levels": [3, 6],
            "pipelines": "pipelines_for_tests:flaky",
            "thresholds": ["throughput >= 0.9*base", {"check": "failed < 1", "abort": True}, "p95(pipeline)@6 < 1h"],
        },
        "abort.toml",
        "abort",
    )
    assert scenario.thresholds == ["throughput >= 0.9*base", "failed < 1", "p95(pipeline)@6 < 1h"]
    assert scenario.abort_thresholds == ["failed < 1"]
    simulator.reset(profile="calm", time_scale=0.01)
    result = Runner(scenario, tmp_path, endpoint_url=simulator.endpoint_url).run().render()
    assert result.stopped_by == "threshold 'failed < 1' failed"
    events = load_events(result.run_dir)
    assert set(events[events.kind == "level_start"].level) == {3}
    assert json_detail(events[events.kind == "threshold_abort"]) == [{"check": "failed < 1"}]
    assert "INCOMPLETE RUN (stopped by threshold 'failed < 1' failed)" in (result.run_dir / "summary.md").read_text()
    assert result.exit_code == 99
    # its JUnit case fails with what stopped it; the relative one waits for harness compare; the
    # one at N=6 fails, for nothing was measured there
    junit = (result.run_dir / "junit.xml").read_text()
    assert '<failure message="measured 1 over every level; expected &lt; 1" type="threshold">' in junit
    assert '<skipped message="relative to a baseline: harness compare BASE RUN judges it" />' in junit
    assert '<failure message="not measured: the run stopped before N=6; expected &lt; 1h"' in junit
    assert nothing_in(simulator.endpoint_url)


def test_the_plan_s_pipeline_length_reaches_the_progress_line_at_the_level_s_time_scale(simulator, tmp_path):
    """Asked once the account is checked: 10 AWS minutes at 1/100 is 6 wall seconds a pipeline,
    after the last of 2 workers starts at 10 of the ramp-up's 20 AWS seconds."""
    import io

    from harness.runner.progress import LevelShape

    scenario = load_scenario("smoke")
    simulator.reset(profile=scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale)
    out = io.StringIO()
    runner = Runner(
        scenario, tmp_path, [2], out=out, endpoint_url=simulator.endpoint_url, plan_pipeline_seconds=lambda: 600.0
    )
    assert runner.run().failed == 0
    assert runner.progress.shape == LevelShape(last_start=pytest.approx(0.1), iterations=1, planned_pipeline=6.0)
    assert "plan: one pipeline alone takes about 10 min AWS (a dry run, for the ETA)" in out.getvalue()


def test_ctrl_c_while_the_plan_is_made_ends_the_run_before_it_begins(tmp_path):
    """The plan's dry run takes seconds; a Ctrl-C meanwhile does not wait for it."""
    import io
    import time

    from harness.runner.result import NotStarted

    runners: list[Runner] = []

    def slow_plan() -> float:
        runners[0].request_stop("SIGINT")
        time.sleep(30)
        return 600.0

    runners.append(Runner(load_scenario("smoke"), tmp_path, [2], out=io.StringIO(), plan_pipeline_seconds=slow_plan))
    started = time.monotonic()
    with pytest.raises(NotStarted) as stopped:
        runners[0].run()
    assert time.monotonic() - started < 10 and stopped.value.exit_code == 130
    assert list(tmp_path.iterdir()) == []  # no run folder


@pytest.mark.parametrize(
    "item, says",
    [
        (
            {"check": "throughput@32 >= 0.9*base", "abort": True},
            "an abort threshold on a live metric (failed, completed",
        ),
        ({"check": "failed <= base", "abort": True}, "an abort threshold on a number on the right"),
        ({"check": "failed <= 2", "abort": "yes"}, "or tables like { check = "),
    ],
)
def test_an_abort_threshold_must_be_countable_while_the_run_goes(item, says):
    from harness.config import ConfigError
    from harness.runner.scenario import parse_scenario

    with pytest.raises(ConfigError, match=re.escape(says)):
        parse_scenario({"thresholds": [item]}, "bad.toml", "bad")


def json_detail(frame):
    import json

    return [json.loads(d) for d in frame.detail]


def test_sigint_gives_exit_130_a_complete_run_folder_and_no_resources_left(simulator, tmp_path):
    simulator.reset(profile="aws-default", seed=1, time_scale=0.01)
    process = run_in_terminal("smoke", tmp_path, simulator.endpoint_url)
    run_dir = run_dir_once_in_stage(tmp_path, "model")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    meta = load_meta(run_dir)
    assert meta["complete"] is False and meta["stopped_by"] == "SIGINT"
    events = load_events(run_dir)
    assert events.kind.iloc[-1] == "run_end"
    assert set(events[events.kind == "pipeline_end"].outcome) <= {"stopped", "ok"}
    assert (run_dir / "scenario.toml").exists()
    assert nothing_in(simulator.endpoint_url)


BAD_SCENARIOS = {
    "unknown key": ("levels = [4]\nlevles = [8]\n", "levles", "[8]"),
    "N=0": ("levels = [0]\n", "levels", "[0]"),
    "unknown policy": ('policy = "yolo"\n', "policy", "yolo"),
    "unknown profile": ('profile = "hurricane"\n', "profile", "hurricane"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_a_malformed_scenario_is_a_one_line_error_with_exit_code_2(tmp_path, case):
    text, key, value = BAD_SCENARIOS[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(path), "--reports", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert str(path) in lines[0] and key in lines[0] and value in lines[0]
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # nothing started, no run folder


def test_a_user_pipeline_that_is_not_a_pipeline_is_refused(tmp_path):
    path = tmp_path / "user.toml"
    path.write_text('pipelines = "pipelines_for_tests:not_a_pipeline"\n')
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests")},
    )
    assert done.returncode == 2 and "not a Pipeline" in done.stderr


def test_the_sdk_pipeline_runs_through_the_harness_hooks(simulator, tmp_path):
    scenario = load_scenario("smoke")
    scenario.pipelines = {"workbench-sdk": 1.0}
    simulator.reset(profile=scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale)
    result = Runner(scenario, tmp_path, [2], endpoint_url=simulator.endpoint_url).run()
    assert result.pipelines == 2 and result.failed == 0
    attempts = load_events(result.run_dir, ["api_attempt"])
    sdk_calls = attempts[attempts.operation == "CreateEndpoint"]
    assert len(sdk_calls) == 2 and sdk_calls.pipeline.notna().all()  # the SDK's calls are recorded per pipeline
    assert nothing_in(simulator.endpoint_url)


def test_a_cached_dashboard_polls_meta_while_the_pipelines_run(simulator, tmp_path):
    scenario = load_scenario("smoke")
    # polls every 10 AWS seconds, inside the TTLs (15 and 30 AWS seconds): some polls are answered from the cache
    scenario.dashboard.workers, scenario.dashboard.cached, scenario.dashboard.poll_seconds = 2, True, 10
    simulator.reset(profile="calm", time_scale=0.01)
    result = Runner(scenario, tmp_path, [2], endpoint_url=simulator.endpoint_url).run()
    events = load_events(result.run_dir)
    dashboard = events[events.worker < 0]
    assert set(dashboard.worker) == {-1, -2}
    assert (dashboard.kind == "cache_miss").sum() >= 3 and (dashboard.kind == "cache_hit").sum() >= 1
    assert (dashboard[dashboard.kind == "api_attempt"].operation == "ListFeatureGroups").any()
    assert result.failed == 0


def test_workers_can_run_in_processes_sharing_one_limiter(simulator, tmp_path):
    scenario = load_scenario("smoke")
    scenario.workers, scenario.processes = "processes", 2
    simulator.reset(profile=scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale)
    result = Runner(scenario, tmp_path, [4], endpoint_url=simulator.endpoint_url).run()
    assert result.pipelines == 4 and result.failed == 0
    events = load_events(result.run_dir)
    ends = events[events.kind == "pipeline_end"]
    assert sorted(ends.worker) == [0, 1, 2, 3]
    assert events[events.kind == "api_attempt"].pipeline.notna().any()
    assert nothing_in(simulator.endpoint_url)


def test_a_level_can_run_at_its_own_time_scale(tmp_path):
    """[level_time_scale] 2 = 0.02: N=2 runs at 1/50 while N=1 keeps the scenario's 1/100; each
    level's AWS durations use its own scale, and the report says which scale each ran at."""
    import json

    scenario = load_scenario("smoke")
    scenario.level_time_scales = {2: 0.02}
    result = Runner(scenario, tmp_path, [1, 2], out=open(os.devnull, "w")).run().render()
    assert result.failed == 0
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert [(level["level"], level["time_scale"]) for level in metrics["levels"]] == [(1, 0.01), (2, 0.02)]
    one, two = metrics["levels"]
    # the same pipeline in AWS time at either scale (lifecycles are drawn in AWS time)
    assert 0.5 < two["pipeline_seconds"]["p50"] / one["pipeline_seconds"]["p50"] < 2
    assert "time scales 0.01 at N=1, 0.02 at N=2" in (result.run_dir / "summary.md").read_text()


def test_worker_processes_share_the_limiter_through_redis(simulator, redis_server, tmp_path):
    """[limiter] redis_url: each worker process reaches Redis itself (no limiter server in the
    runner), under a namespace of the simulator's endpoint and region."""
    import redis

    scenario = load_scenario("smoke")
    scenario.workers, scenario.processes = "processes", 2
    scenario.limiter.redis_url = redis_server.url
    simulator.reset(profile=scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale)
    result = Runner(scenario, tmp_path, [4], endpoint_url=simulator.endpoint_url).run()
    assert result.pipelines == 4 and result.failed == 0
    assert load_meta(result.run_dir)["shared_limiter"] is True
    keys = redis.Redis.from_url(redis_server.url, decode_responses=True).keys("*")
    namespace = f"harness:{simulator.endpoint_url}:us-east-1:x0.01"  # a running simulator: shared by its runs
    assert any(k.startswith(namespace + ":{sagemaker.CreateFeatureGroup}") for k in keys)  # a rate key
    assert any(k.startswith(namespace + ":{slot:sagemaker.CreateEndpoint}") for k in keys)  # a slot key
    assert nothing_in(simulator.endpoint_url)


def test_an_unreachable_redis_is_a_warning_or_a_refusal_before_any_pipeline(simulator, tmp_path):
    from harness.aws.limiter.redis_store import LimiterUnreachable
    from harness.redis_local import free_port

    scenario = load_scenario("smoke")
    scenario.limiter.redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    simulator.reset(profile=scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale)
    result = Runner(scenario, tmp_path, [4], endpoint_url=simulator.endpoint_url).run()
    assert result.pipelines == 4 and result.failed == 0  # on_unreachable = "local": the run goes on
    assert load_meta(result.run_dir)["shared_limiter"] is False
    fallback = load_events(result.run_dir, ["limiter_fallback"])
    assert len(fallback) == 1 and "no longer shares the account's quotas" in fallback.detail.iloc[0]

    scenario.limiter.on_unreachable = "fail"
    runner = Runner(scenario, tmp_path, [4], endpoint_url=simulator.endpoint_url)
    with pytest.raises(LimiterUnreachable, match="cannot be reached"):
        runner.run()
    assert load_events(runner.run_dir, ["pipeline_start"]).empty


def test_a_run_outside_us_east_1_in_the_accounts_own_bucket_with_its_tags(simulator, tmp_path):
    """[account] keys as a platform team sets them: the region's own training image (the SDK's
    lookup), an existing bucket the run keeps to its prefix in, and the team's tags. Then a run
    that makes its own bucket there, which outside us-east-1 needs the region's constraint."""
    import boto3

    from harness.runner.scenario import Account

    simulator.reset(profile="calm", time_scale=0.01)
    aws = dict(
        endpoint_url=simulator.endpoint_url, region_name="eu-west-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    s3, sagemaker = boto3.client("s3", **aws), boto3.client("sagemaker", **aws)
    s3.create_bucket(Bucket="team-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="team-bucket", Key="theirs/keep.csv", Body=b"x")
    scenario = load_scenario("smoke")
    scenario.region, scenario.time_scale = "eu-west-1", 0.01
    scenario.account = Account(bucket="team-bucket", tags={"team": "ml-platform"})

    result = Runner(scenario, tmp_path / "shared", [1], endpoint_url=simulator.endpoint_url).run()
    assert result.failed == 0
    job = sagemaker.list_training_jobs()["TrainingJobSummaries"][0]  # AWS keeps finished jobs
    described = sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])
    assert described["AlgorithmSpecification"]["TrainingImage"].startswith("141502667606.dkr.ecr.eu-west-1.")
    assert described["OutputDataConfig"]["S3OutputPath"].startswith("s3://team-bucket/hx")
    tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]}
    assert tags["team"] == "ml-platform" and tags["harness:run-id"] == result.run_dir.name
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="team-bucket").get("Contents", [])]
    assert keys == ["theirs/keep.csv"]  # the run's prefix is gone, the team's objects stay

    result = Runner(
        scenario.__class__(**{**scenario.__dict__, "account": Account()}),
        tmp_path / "own",
        [1],
        endpoint_url=simulator.endpoint_url,
    ).run()
    assert result.failed == 0
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["team-bucket"]  # its own bucket made and gone


@pytest.mark.parametrize(
    "account, says",
    [
        ("", "account.role_arn = None is not allowed; expected an IAM role ARN"),
        ('role_arn = "arn:aws:iam::12:role/x"', "account.role_arn = 'arn:aws:iam::12:role/x' is not allowed"),
        ('role_arn = "arn:aws:iam::111122223333:role/r"\nbucket = "Team_Bucket"', "account.bucket = 'Team_Bucket'"),
        ('role_arn = "arn:aws:iam::111122223333:role/r"\ncolour = "blue"', "account.colour = 'blue' is not allowed"),
    ],
)
def test_a_real_account_scenario_without_what_it_needs_is_refused_by_name(tmp_path, account, says):
    path = tmp_path / "real.toml"
    path.write_text(f'target = "aws"\nregion = "eu-west-1"\n\n[account]\n{account}\n')
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "plan", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and says in done.stderr and str(path) in done.stderr, done.stderr


def test_a_report_that_cannot_be_rendered_is_said_and_the_events_are_kept(simulator, tmp_path, monkeypatch):
    import harness.report
    from harness.runner.scenario import load_scenario

    def broken(run_dir):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(harness.report, "render", broken)
    simulator.reset(profile="calm", time_scale=0.01)
    result = Runner(load_scenario("smoke"), tmp_path, levels=[1], endpoint_url=simulator.endpoint_url).run().render()
    assert result.report_failed == "ZeroDivisionError: float division by zero"  # harness run exits 4
    assert len(load_events(result.run_dir, ["pipeline_end"])) == 1
    assert not (result.run_dir / "report.html").exists()


def test_the_cost_guard_reads_each_levels_hold_at_that_levels_time_scale(tmp_path):
    """An endpoint held 36 wall seconds is an AWS hour at 1/100 and six minutes at 1/10."""
    from harness.events import Recorder
    from harness.events.context import bound
    from harness.runner.costguard import CostGuard
    from harness.runner.prices import load_prices

    with Recorder(tmp_path / "events.db", "run-cost") as recorder:
        for level in (4, 128):
            with bound(level=level):
                recorder.record("quota_hold", service="sagemaker", operation="CreateEndpoint", duration=36.0)
    prices = load_prices().region("us-east-1")
    guard = CostGuard(
        tmp_path / "events.db",
        100.0,
        prices,
        "ml.m5.large",
        lambda spend: None,
        time_scale=0.01,
        level_time_scales={128: 0.1},
    )
    assert guard.look().spent_usd == pytest.approx(1.1 * prices.hosting["ml.m5.large"])


def test_a_run_stops_before_its_running_training_jobs_pass_max_cost_usd(simulator, tmp_path):
    """A training job costs from its start (priced per instance-hour from prices.toml): at
    $0.115 an hour, less than a minute of two of them passes $0.001, so the guard stops the run
    while they run: no new pipeline or stage starts, in-flight ones tear down, exit code 3."""
    scenario = ROOT / "scenarios" / "smoke.toml"
    capped = tmp_path / "capped.toml"
    capped.write_text(scenario.read_text().replace("[params]", "max_cost_usd = 0.001\n\n[params]", 1))
    simulator.reset(profile="calm", time_scale=0.01)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(capped),
            "-n",
            "2",
            "--reports",
            str(tmp_path / "reports"),
            "--endpoint-url",
            simulator.endpoint_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr[-2000:]
    assert "max_cost_usd: what is running would pass $0.001" in done.stderr
    assert "stopped: max_cost_usd = 0.001 (going on would have passed it)" in done.stderr
    run_dir = next((tmp_path / "reports").iterdir())
    meta = load_meta(run_dir)
    assert meta["stopped_by"] == "max_cost_usd" and meta["complete"] is False
    assert meta["cost_guard"]["decision"] == "stop" and meta["cost_usd"] > 0
    events = load_events(run_dir)
    assert "stopped" in set(events[events.kind == "pipeline_end"].outcome)  # no new stage after the limit
    assert nothing_in(simulator.endpoint_url)
