"""A team's own pipeline code, unmodified (tests/users/churn.py: plain boto3, no harness import),
run N at once: every client it makes is routed to the simulator, retried by the run's policy,
paced by the run's limiter, recorded against its pipeline, and stopped with the run."""

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from harness.aws import user_clients
from harness.config import ConfigError
from harness.events import load_events
from harness.runner.run import Runner
from harness.runner.scenario import parse_scenario
from simhelpers import write_profile

USERS = Path(__file__).resolve().parent / "users"

# PutObject fails a third of the time with a 500, and its quota is 4 a second (burst 2)
FLAKY_PUTS = """
extends = "calm"
[[fault]]
service = "s3"
operation = "PutObject"
error_rate = 0.3
"""


@pytest.fixture(autouse=True)
def users_code_on_the_path(monkeypatch):
    monkeypatch.syspath_prepend(str(USERS))


def scenario_for(profile: str, **keys):
    return parse_scenario(
        {
            "profile": profile,
            "time_scale": 0.05,
            "seed": 3,
            "levels": [4],
            "pipelines": "function:churn:pipeline",
            "ramp_up_seconds": 0,
            **keys,
        },
        "users.toml",
        "users",
    )


def test_a_plain_boto3_pipeline_runs_four_at_once_recorded_paced_and_retried(simulator, tmp_path):
    profile = write_profile(tmp_path, FLAKY_PUTS)
    scenario = scenario_for(
        profile,
        params={"rows": 12},
        quota=[{"service": "s3", "operation": "PutObject", "rate": 4, "burst": 2}],
    )
    simulator.reset(profile=profile, seed=3, time_scale=0.05)
    result = Runner(scenario, tmp_path / "runs", [4], endpoint_url=simulator.endpoint_url).run().render()
    assert result.failed == 0
    # outside users' code, clients are made as botocore makes them
    assert user_clients.active() == 0
    assert boto3.client("s3", endpoint_url="http://127.0.0.1:1").meta.endpoint_url == "http://127.0.0.1:1"

    events = load_events(result.run_dir / "events.db")
    attempts = events[events.kind == "api_attempt"]
    # every call reached the simulator, the explicit regional STS URL and the module's client too
    served = simulator.stats()["operations"]
    assert served["sts.GetCallerIdentity"]["requests"] == 4
    assert len(attempts[attempts.operation == "ListObjectsV2"].dropna(subset=["pipeline"])) == 4
    puts = attempts[attempts.operation == "PutObject"]
    assert len(puts) == served["s3.PutObject"]["requests"]
    # each attempt belongs to the pipeline (and the stage: the function) that made it
    theirs = attempts.dropna(subset=["pipeline"])  # the run's own calls (its cleanup) have none
    assert set(theirs.pipeline) == {f"n4-w{w:02d}-001" for w in range(4)}
    assert set(theirs.stage) == {"pipeline"}
    assert puts.pipeline.notna().all()
    assert list(theirs[theirs.operation == "CreateBucket"].groupby("pipeline").size()) == [1] * 4
    assert (attempts[attempts.operation == "ListObjectsV2"].groupby("pipeline").size() == 1).all()
    # the harness policy retried the 500s: 48 puts landed, after more attempts than that
    assert (puts.outcome == "ok").sum() == 48 and (puts.outcome == "error").sum() > 0
    assert len(events[(events.kind == "retry") & (events.operation == "PutObject")]) == (puts.outcome == "error").sum()
    # and the shared limiter paced them: 4 pipelines' puts queued for 4 a second
    assert len(events[(events.kind == "limiter_wait") & (events.operation == "PutObject")]) > 0


def test_under_a_botocore_policy_botocore_retries_the_same_code(simulator, tmp_path):
    profile = write_profile(tmp_path, FLAKY_PUTS)
    scenario = scenario_for(profile, policy="botocore-standard", max_attempts=8, params={"rows": 6})
    simulator.reset(profile=profile, seed=3, time_scale=0.05)
    result = Runner(scenario, tmp_path / "runs", [4], endpoint_url=simulator.endpoint_url).run().render()
    assert result.failed == 0
    events = load_events(result.run_dir / "events.db")
    puts = events[(events.kind == "api_attempt") & (events.operation == "PutObject")]
    assert (puts.outcome == "ok").sum() == 24 and (puts.outcome == "error").sum() > 0
    assert puts.attempt.max() > 1  # botocore's own retries, each attempt recorded
    assert len(events[events.kind == "limiter_wait"]) == 0  # no shared limiter under botocore's modes


def test_a_stopping_run_lets_the_users_code_clean_up_and_refuses_its_calls_once_it_aborts(simulator, tmp_path):
    """Users' code deletes what it made itself, so a first stop does not cut its calls: they go
    on (a cleanup would work) until the run aborts; then the next call is refused, and the
    pipelines end as stopped, not after all their rows."""
    import threading
    import time

    profile = write_profile(tmp_path, 'extends = "calm"\n')
    scenario = scenario_for(profile, params={"rows": 400, "pause_seconds": 0.05})
    simulator.reset(profile=profile, seed=3, time_scale=0.05)
    runner = Runner(scenario, tmp_path / "runs", [4], endpoint_url=simulator.endpoint_url)
    puts_at_stop = []

    def puts() -> int:
        return simulator.stats()["operations"].get("s3.PutObject", {}).get("requests", 0)

    def stop_then_abort() -> None:
        while puts() < 8:
            time.sleep(0.1)
        runner.request_stop("test")
        puts_at_stop.append(puts())
        while puts() < puts_at_stop[0] + 8:  # still calling after the stop
            time.sleep(0.1)
        runner.request_abort("test")

    threading.Thread(target=stop_then_abort, daemon=True).start()
    result = runner.run().render()
    events = load_events(result.run_dir / "events.db")
    ends = events[events.kind == "pipeline_end"]
    assert list(ends.outcome) == ["stopped"] * 4
    assert (
        puts_at_stop[0] + 8 <= len(events[(events.kind == "api_attempt") & (events.operation == "PutObject")]) < 4 * 400
    )


def test_threads_the_code_starts_and_clients_its_package_made_at_import_are_the_pipelines(simulator, tmp_path):
    """tests/users/team: a package whose __init__ makes an STS client, and a pipeline that puts
    from a thread pool of its own. Reading the scenario imports nothing of it; every call is
    routed to the simulator and recorded against the pipeline that made it."""
    scenario = scenario_for("calm", pipelines="function:team.audit:pipeline", params={"rows": 6})
    assert "team" not in sys.modules  # the parameters were read from the source
    simulator.reset(profile="calm", seed=3, time_scale=0.05)
    result = Runner(scenario, tmp_path / "runs", [3], endpoint_url=simulator.endpoint_url).run().render()
    assert result.failed == 0
    served = simulator.stats()["operations"]
    assert served["sts.GetCallerIdentity"]["requests"] == 3 and served["s3.PutObject"]["requests"] == 18
    attempts = load_events(result.run_dir / "events.db", ["api_attempt"])
    puts = attempts[attempts.operation == "PutObject"]
    assert len(puts) == 18 and puts.groupby("pipeline").size().tolist() == [6, 6, 6]


def test_the_functions_parameters_are_the_scenarios_params_checked_before_the_run(tmp_path):
    with pytest.raises(ConfigError, match=r"users.toml: params.rowz .*rows"):
        scenario_for("calm", params={"rowz": 3})
    with pytest.raises(ConfigError, match=r"users.toml: params.rows .*an integer"):
        scenario_for("calm", params={"rows": "many"})
    with pytest.raises(ConfigError, match=r"parameter 'rows' needs a default"):
        scenario_for("calm", pipelines="function:churn:no_default")
    with pytest.raises(ConfigError, match=r"defines no top-level function 'nothing'"):
        scenario_for("calm", pipelines="function:churn:nothing")
    with pytest.raises(ConfigError, match=r"module 'no_such_module' cannot be found|no Python source"):
        scenario_for("calm", pipelines="function:no_such_module:run")


def test_a_setup_makes_what_every_pipeline_needs_once_per_level(simulator, tmp_path):
    """The simulator starts every level as a fresh account: the setup (the team's onboarding)
    runs at the start of each level, before its pipelines, and is not counted as a pipeline."""
    scenario = scenario_for(
        "calm", levels=[2, 3], setup="function:churn:onboard", params={"rows": 2, "shared_bucket": "churn-team-shared"}
    )
    simulator.reset(profile="calm", seed=3, time_scale=0.05)
    result = Runner(scenario, tmp_path / "runs", [2, 3]).run().render()
    assert result.failed == 0 and result.pipelines == 5
    events = load_events(result.run_dir / "events.db", ["api_attempt"])
    made = events[events.operation == "CreateBucket"]
    assert len(made[made.stage == "setup"]) == 2 and made[made.stage == "setup"].pipeline.isna().all()


def test_a_setup_that_fails_stops_the_run_before_any_pipeline(simulator, tmp_path):
    scenario = scenario_for("calm", setup="function:churn:broken_onboarding")
    simulator.reset(profile="calm", seed=3, time_scale=0.05)
    result = Runner(scenario, tmp_path / "runs", [4], endpoint_url=simulator.endpoint_url).run().render()
    assert result.pipelines == 0 and result.stopped_by == "setup failed" and result.exit_code == 1
    [error] = load_events(result.run_dir / "events.db", ["worker_error"]).detail
    assert "not authorized to perform iam:CreateRole" in json.loads(error)["error"]


TWO_CREATING = """
extends = "calm"
[lifecycle.feature_group]
create_seconds = 60
[[quota]]
service = "sagemaker"
operation = "CreateFeatureGroup"
concurrency = 2
"""


@pytest.mark.parametrize("policy, failed", [("harness", 0), ("botocore-standard", 2)])
def test_a_full_concurrency_quota_is_waited_out_under_the_harness_policy_only(simulator, tmp_path, policy, failed):
    """Four pipelines create a feature group each where only two may be Creating at once: AWS
    refuses the other two (ResourceLimitExceeded). The harness policy tries them again until
    a slot frees; botocore never retries that refusal, and code that does not expect it fails."""
    profile = write_profile(tmp_path, TWO_CREATING)
    scenario = scenario_for(
        profile,
        pipelines="function:features:pipeline",
        policy=policy,
        quota=[{"service": "sagemaker", "operation": "CreateFeatureGroup", "concurrency": 2}],
    )
    simulator.reset(profile=profile, seed=3, time_scale=0.05)
    result = Runner(scenario, tmp_path / "runs", [4], endpoint_url=simulator.endpoint_url).run().render()
    assert result.failed == failed
    attempts = load_events(result.run_dir / "events.db", ["api_attempt"])
    creates = attempts[attempts.operation == "CreateFeatureGroup"]
    assert (creates.error_code == "ResourceLimitExceeded").sum() >= 2
    assert (creates.outcome == "ok").sum() == 4 - failed


# --- a program, run as a process per pipeline ----------------------------------------------------

PROGRAM = f"command:{sys.executable} {USERS / 'churn_cli.py'} --name {{name}} --rows {{rows}}"


def test_a_program_runs_as_a_process_per_pipeline_instrumented_from_interpreter_start(simulator, tmp_path):
    """The same plain-boto3 code as a program: each of its processes' clients is recorded
    against its pipeline, paced by the run's limiter and retried by the run's policy, through
    the run's relay; its output is kept in the run folder."""
    profile = write_profile(tmp_path, FLAKY_PUTS)
    scenario = scenario_for(
        profile,
        pipelines=PROGRAM,
        params={"rows": 8},
        quota=[{"service": "s3", "operation": "PutObject", "rate": 4, "burst": 2}],
    )
    simulator.reset(profile=profile, seed=3, time_scale=0.05)
    result = Runner(scenario, tmp_path / "runs", [4], endpoint_url=simulator.endpoint_url).run().render()
    assert result.failed == 0

    events = load_events(result.run_dir / "events.db")
    attempts = events[events.kind == "api_attempt"]
    theirs = attempts.dropna(subset=["pipeline"])
    assert set(theirs.pipeline) == {f"n4-w{w:02d}-001" for w in range(4)}
    assert set(theirs.stage) == {"churn_cli"}
    assert simulator.stats()["operations"]["sts.GetCallerIdentity"]["requests"] == 4
    puts = attempts[attempts.operation == "PutObject"]
    assert puts.pipeline.notna().all() and len(puts) == simulator.stats()["operations"]["s3.PutObject"]["requests"]
    assert (puts.outcome == "ok").sum() == 32 and (puts.outcome == "error").sum() > 0
    assert len(events[(events.kind == "retry") & (events.operation == "PutObject")]) == (puts.outcome == "error").sum()
    assert len(events[(events.kind == "limiter_wait") & (events.operation == "PutObject")]) > 0
    assert sorted(p.name for p in (result.run_dir / "commands").iterdir()) == [f"n4-w{w:02d}-001.log" for w in range(4)]


def test_a_program_that_fails_fails_its_pipeline_with_its_last_words(simulator, tmp_path):
    failing = f"command:{sys.executable} -c \"raise SystemExit('no rows to train on')\""
    simulator.reset(profile="calm", seed=3, time_scale=0.05)
    result = Runner(
        scenario_for("calm", pipelines=failing), tmp_path / "runs", [2], endpoint_url=simulator.endpoint_url
    )
    result = result.run().render()
    assert result.failed == 2
    errors = load_events(result.run_dir / "events.db", ["worker_error"])
    assert set(errors.error_code) == {"error:CommandFailed"}
    assert all("exited 1: no rows to train on" in json.loads(detail)["error"] for detail in errors.detail)


def test_a_stopping_run_interrupts_its_programs(simulator, tmp_path):
    """The run stops while each process sleeps between puts: its next put is refused (or it is
    interrupted), every pipeline ends as stopped, and no process is left behind."""
    import threading
    import time

    # a second of wall time between puts (20 AWS s at 1/20): 200 rows take minutes, so the stop
    # comes long before they are done however slowly a loaded machine starts the processes
    slow = PROGRAM + " --pause-seconds 20"
    scenario = scenario_for("calm", pipelines=slow, params={"rows": 200})
    simulator.reset(profile="calm", seed=3, time_scale=0.05)
    runner = Runner(scenario, tmp_path / "runs", [3], endpoint_url=simulator.endpoint_url)

    def stop_once_they_put() -> None:
        while simulator.stats()["operations"].get("s3.PutObject", {}).get("requests", 0) < 6:
            time.sleep(0.1)
        runner.request_stop("test")

    threading.Thread(target=stop_once_they_put, daemon=True).start()
    result = runner.run().render()
    events = load_events(result.run_dir / "events.db")
    assert list(events[events.kind == "pipeline_end"].outcome) == ["stopped"] * 3
    assert len(events[(events.kind == "api_attempt") & (events.operation == "PutObject")]) < 3 * 200
    left = subprocess.run(["pgrep", "-f", f"--name {runner.prefix}"], capture_output=True, text=True).stdout.split()
    assert left == []


# A program that uses the run's Redis as Workbench does: host from REDIS_HOST, port as an argument
USES_REDIS = (
    f'command:{sys.executable} -c "import os, sys, redis; '
    "redis.Redis(host=os.environ['REDIS_HOST'], port=int(sys.argv[1])).set(sys.argv[2], 'ran')\" "
    "{redis_port} {name}"
)


def test_a_program_gets_the_runs_redis_when_the_run_has_one(simulator, redis_server, tmp_path):
    import redis

    scenario = scenario_for("calm", pipelines=USES_REDIS, limiter={"redis_url": redis_server.url})
    result = Runner(scenario, tmp_path / "runs", [2], endpoint_url=simulator.endpoint_url).run()
    assert result.failed == 0
    server = redis.Redis.from_url(redis_server.url)
    written = [key for key in server.keys() if server.type(key) == b"string" and server.get(key) == b"ran"]
    assert len(written) == 2  # one per pipeline, under its name

    without = scenario_for("calm", pipelines=USES_REDIS)
    result = Runner(without, tmp_path / "none", [1], endpoint_url=simulator.endpoint_url).run()
    assert result.failed == 1
    errors = load_events(result.run_dir / "events.db", ["worker_error"])
    said = json.loads(errors.detail.iloc[0])["error"]
    assert "no value for {redis_port} in [params] (and the run has no Redis" in said
