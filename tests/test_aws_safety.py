"""Real-AWS safety, with the simulator standing in for AWS through its endpoint URL."""

import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from harness.artifacts import AwsContext
from harness.aws import Target, ClientFactory, RetrySettings
from harness.runner.cleanup import cleanup
from harness.runner.leftovers import Storage, find_leftovers
from harness.runner.ownership import OlderRuns
from runhelpers import everything_in, nothing_in
from simhelpers import create_feature_group, runner_user, sagemaker_role

ROOT = Path(__file__).resolve().parents[1]
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAHARNESSCANARY01",
    "AWS_SECRET_ACCESS_KEY": "canary/Secret+Key/0123456789abcdefXYZ",
    "AWS_SESSION_TOKEN": "canaryTokenIQoJb3JpZ2luX2VjEHarness",
}


def aws_scenario(tmp_path, extra=""):
    path = tmp_path / "aws-smoke.toml"
    smoke = (
        (ROOT / "scenarios" / "smoke.toml")
        .read_text()
        .replace('target = "sim"', 'target = "aws"\nregion = "us-east-1"')
    )
    path.write_text(
        smoke.replace("[params]", extra + "\n[params]")
        + '\n[account]\nrole_arn = "arn:aws:iam::123456789012:role/harness-sagemaker"\n'
    )
    return path


def run_cli(args, env_extra=None, timeout=300):
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


def test_a_run_against_an_account_that_is_not_allowed_is_refused_before_anything_is_made(simulator, tmp_path):
    scenario = aws_scenario(tmp_path, 'allowed_accounts = ["111111111111"]')
    done = run_cli(
        ["run", str(scenario), "--reports", str(tmp_path / "reports"), "--endpoint-url", simulator.endpoint_url],
        CREDENTIALS,
    )
    assert done.returncode == 2, done.stderr
    assert "AWS account 123456789012, region us-east-1" in done.stderr
    assert "account 123456789012 is not allowed" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists()
    assert nothing_in(simulator.endpoint_url)


def test_no_credential_appears_in_the_run_folder_or_the_output(simulator, tmp_path):
    simulator.reset(profile="aws-default", seed=1, time_scale=0.01)
    scenario = aws_scenario(tmp_path)
    done = run_cli(
        [
            "run",
            str(scenario),
            "-n",
            "2",
            "--reports",
            str(tmp_path / "reports"),
            "--endpoint-url",
            simulator.endpoint_url,
            "--allow-account",
            "123456789012",
        ],
        CREDENTIALS,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = next((tmp_path / "reports").iterdir())
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"events.db", "report.html", "metrics.json", "summary.md", "scenario.toml"}
    blobs = [p.read_bytes() for p in files] + [done.stdout.encode(), done.stderr.encode()]
    for secret in CREDENTIALS.values():
        assert not any(secret.encode() in blob for blob in blobs), "a credential leaked"
    assert nothing_in(simulator.endpoint_url)


def test_look_alikes_survive_every_cleanup(simulator, tmp_path):
    kw = dict(
        endpoint_url=simulator.endpoint_url, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    sagemaker, s3 = boto3.client("sagemaker", **kw), boto3.client("s3", **kw)
    run_id = "20200101T000000Z-abcd"
    prefix = "hx0101000000abcd"
    create_feature_group(sagemaker, s3, f"{prefix}-untagged", bucket=f"{prefix}-lookalike")
    create_feature_group(sagemaker, s3, f"{prefix}-other-run", bucket="another-bucket")
    sagemaker.add_tags(
        ResourceArn=sagemaker.describe_feature_group(FeatureGroupName=f"{prefix}-other-run")["FeatureGroupArn"],
        Tags=[{"Key": "harness:run-id", "Value": "20200101T000000Z-ffff"}],
    )
    create_feature_group(sagemaker, s3, f"{prefix}-ours", bucket="third-bucket")
    sagemaker.add_tags(
        ResourceArn=sagemaker.describe_feature_group(FeatureGroupName=f"{prefix}-ours")["FeatureGroupArn"],
        Tags=[{"Key": "harness:run-id", "Value": run_id}],
    )

    done = run_cli(["cleanup", "--run-id", run_id, "--endpoint-url", simulator.endpoint_url, "--yes"])
    assert done.returncode == 0, done.stderr
    assert f"deleted feature_group {prefix}-ours" in done.stdout
    left = everything_in(simulator.endpoint_url)["feature_groups"]
    assert sorted(left) == [f"{prefix}-other-run", f"{prefix}-untagged"]

    again = run_cli(["cleanup", "--run-id", run_id, "--endpoint-url", simulator.endpoint_url, "--yes"])
    assert again.returncode == 0 and f"0 resources of run {run_id} deleted" in again.stdout  # idempotent

    ctx = AwsContext(ClientFactory(Target.simulator(simulator.endpoint_url), RetrySettings("none")), bucket="")
    stale = find_leftovers(ctx, OlderRuns(24 * 3600), Storage())
    assert [r.name for r in stale] == [f"{prefix}-other-run"]  # tagged by a 2020 run; the untagged one is not ours
    cleanup(ctx, stale)
    assert everything_in(simulator.endpoint_url)["feature_groups"] == [f"{prefix}-untagged"]
    assert f"{prefix}-lookalike" in everything_in(simulator.endpoint_url)["buckets"]


def test_plan_predicts_the_calls_a_real_smoke_run_makes(simulator, tmp_path):
    from harness.events import load_events
    from harness.runner.plan import make_plan
    from harness.runner.run import Runner
    from harness.runner.scenario import load_scenario

    scenario, pipelines = load_scenario("smoke"), 4
    plan = make_plan(scenario, pipelines)
    simulator.reset(profile=scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale)
    result = Runner(scenario, tmp_path, [pipelines], endpoint_url=simulator.endpoint_url).run()
    attempts = load_events(result.run_dir, ["api_attempt"])
    attempts = attempts[attempts.pipeline.notna()]
    recorded = attempts.groupby(["service", "operation"]).size()
    recorded = {f"{s}.{o}": n for (s, o), n in recorded.items()}
    total = sum(recorded.values())
    # Within 20%, give or take one poll per pipeline: the offline store's nominal 180 s ends
    # next to a poll (polls at 15, 37, 71, 122, 182 s), so milliseconds of timing, or the
    # lifecycle jitter, make a wait one poll longer or shorter in the plan's dry run or here.
    for op, count in recorded.items():
        if count >= 0.05 * total:
            assert abs(plan["calls"].get(op, 0) - count) <= 0.2 * count + pipelines, (op, plan["calls"].get(op), count)
    assert plan["resources_created"]["sagemaker.CreateEndpoint"] == pipelines
    assert plan["bottleneck"]["binding"] is not None and plan["cost"]["total_usd"] > 0


def test_quotas_sync_writes_the_accounts_applied_quotas_for_scenarios_to_use(simulator, tmp_path):
    profile = tmp_path / "small-account.toml"
    profile.write_text(
        'quota_table = "default"\n[[quota]]\nservice = "sagemaker"\noperation = "CreateEndpoint"\n'
        'rate = 5\nconcurrency = 3\nquota_name = "ml.m5.large for endpoint usage"\n'
    )
    simulator.reset(profile=str(profile))
    output = tmp_path / "quotas.local.toml"
    done = run_cli(["quotas", "sync", "--endpoint-url", simulator.endpoint_url, "--output", str(output)])
    assert done.returncode == 0, done.stderr
    assert "'ml.m5.large for endpoint usage' = 3 (table had 20)" in done.stdout
    scenario = tmp_path / "uses-sync.toml"
    scenario.write_text(f'quota_files = ["{output.name}"]\n')
    from harness.runner.scenario import load_scenario

    table = load_scenario(str(scenario)).quota_table()
    assert table.lookup("sagemaker", "CreateEndpoint").concurrency == 3
    assert table.lookup("sagemaker", "CreateTrainingJob").concurrency == 20  # synced unchanged


def test_plan_counts_the_pipelines_of_a_duration_mode_level():
    """The storm shoot-out at N=32: workers start over 20 minutes and keep starting 20-minute
    pipelines until minute 40, so the first two run three and the rest two (a run made 66)."""
    from dataclasses import replace

    from harness.runner.plan import planned_pipelines
    from harness.runner.scenario import load_scenario

    stress = load_scenario("policy-shootout-storm")
    assert (stress.ramp_up_seconds, stress.duration_seconds) == (1200, 2400)
    assert planned_pipelines(stress, 32, duration=1180.0) == 66
    assert planned_pipelines(replace(stress, duration_seconds=0.0, iterations=2), 32, duration=1180.0) == 64


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_a_real_account_scenario_runs_end_to_end_in_three_regions(simulator, tmp_path, region):
    """The real-AWS path as a user walks it, against the strict simulator standing in for AWS:
    doctor (preflight), plan, run (account guard, bucket with the region's constraint, the
    region's own training image) and cleanup by run id, each through the command line."""
    import json

    simulator.reset(profile="aws-default", seed=1, time_scale=0.01)
    url = simulator.endpoint_url
    iam = boto3.client("iam", endpoint_url=url, region_name=region)
    credentials = runner_user(iam, sagemaker_role(iam, "harness-sagemaker"))
    scenario = aws_scenario(tmp_path, 'allowed_accounts = ["123456789012"]')
    scenario.write_text(scenario.read_text().replace('region = "us-east-1"', f'region = "{region}"'))
    reports = tmp_path / "reports"

    doctor = run_cli(["doctor", str(scenario), "--endpoint-url", url], credentials)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "training image: " in doctor.stdout and f".dkr.ecr.{region}.amazonaws.com" in doctor.stdout
    plan = run_cli(["plan", str(scenario), "-n", "2"])
    assert plan.returncode == 0, plan.stderr
    run = run_cli(["run", str(scenario), "-n", "2", "--reports", str(reports), "--endpoint-url", url], credentials)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"AWS account 123456789012, region {region}" in run.stderr
    run_dir = next(reports.iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["levels"][0]["completed"] == 2 and metrics["levels"][0]["failed"] == 0
    cleanup = run_cli(["cleanup", str(scenario), "--run-id", run_dir.name, "--endpoint-url", url, "--yes"], credentials)
    assert cleanup.returncode == 0, cleanup.stderr
    assert nothing_in(url, region)
