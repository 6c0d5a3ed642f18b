"""`harness cleanup` on an account: what it lists without --yes is exactly what it deletes with it,
and it touches nothing but the runs it is asked about. The simulator stands in for the account
(through its endpoint URL, as AWS would be); the runs' leftovers are made with the harness's own
artifacts, tagged as a run tags them, and SageMaker's logs as SageMaker writes them."""

from __future__ import annotations

import argparse

import boto3
import pandas as pd

from harness.artifacts import AwsContext, DataSource, Endpoint, FeatureSet, Model
from harness.artifacts.context import RUN_TAG, Deadlines
from harness.artifacts.featureset import OFFLINE_DATABASE
from harness.aws import ClientFactory, RetrySettings, Target
from harness.cli import options
from harness.runner.leftovers import ENDPOINT_LOGS, TRAINING_JOB_LOGS, Storage
from harness.runner.run_ids import new_run_id, run_prefix
from simhelpers import create_feature_group, write_profile
from test_aws_safety import CREDENTIALS, run_cli

ACCOUNT = "123456789012"  # the account the simulator plays
RUN = "20261205T101500Z-3fa9"
OTHER_RUN = "20261205T101502Z-77c1"
OLD_RUN = "20200101T000000Z-abcd"
# Lifecycles of a second or two, at a tenth of real time: a run's chain is made in a few seconds.
FAST = """description = "short lifecycles, for making a run's leftovers quickly"
quota_table = "none"
[[latency]]
p50_ms = 1
p99_ms = 5
[lifecycle.feature_group]
create_seconds = 1
offline_store_seconds = 1
table_seconds = 1
delete_seconds = 1
[lifecycle.training_job]
run_seconds = 1
[lifecycle.endpoint]
create_seconds = 1
delete_seconds = 1
"""
TIME_SCALE = 0.1
DEFAULTS = Storage()  # a bucket per run, the "harness" database


def fast(simulator, tmp_path):
    simulator.reset(profile=write_profile(tmp_path, FAST, "fast"), time_scale=TIME_SCALE)
    return simulator.endpoint_url


def scenario_file(tmp_path, target="aws", region="us-east-1", allowed=(ACCOUNT,), account=""):
    """A scenario as the nightly's: its account, region and [account] table; deletions are looked
    at every 0.1 s (its [deadlines]), as the simulator's lifecycles are short."""
    path = tmp_path / "cleanup.toml"
    accounts = ", ".join(f'"{a}"' for a in allowed)
    path.write_text(
        f'target = "{target}"\nregion = "{region}"\nallowed_accounts = [{accounts}]\n\n[deadlines]\npoll = 0.1\n\n'
        f'[account]\nrole_arn = "arn:aws:iam::{ACCOUNT}:role/harness-sagemaker"\n{account}'
    )
    return str(path)


def run_context(url, run_id, storage=DEFAULTS, region="us-east-1"):
    """The context a run's pipelines have (aws_context.scenario_context), with its bucket."""
    prefix = run_prefix(run_id)
    shared = storage.shared_bucket
    ctx = AwsContext(
        ClientFactory(Target.simulator(url, region), RetrySettings("none"), time_scale=TIME_SCALE),
        bucket=shared or f"{prefix}-data",
        key_prefix=f"{prefix}/" if shared else "",
        run_id=run_id,
        glue_database=storage.glue_database,
        deadlines=Deadlines(poll=1.0),
    )
    s3 = ctx.client("s3")
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    if not shared:  # the run's own bucket, tagged (runner.resources.prepare_bucket)
        s3.create_bucket(Bucket=ctx.bucket, **where)
        s3.put_bucket_tagging(Bucket=ctx.bucket, Tagging={"TagSet": [{"Key": RUN_TAG, "Value": run_id}]})
    elif shared not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=shared, **where)  # the account's own bucket
    return ctx


def dataset() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": ["1", "2"], "event_time": ["2026-12-05T10:00:00Z"] * 2, "x": [0.5, 1.5], "y": [1.0, 2.0]}
    )


def a_data_source(ctx, name):
    return DataSource(ctx, name.replace("-", "_")).create(dataset())


def sagemaker_logged(ctx, training_job=None, endpoint=None):
    """The logs SageMaker writes for a training job and an endpoint (the simulator writes none)."""
    logs = ctx.client("logs")
    if training_job:
        if not logs.describe_log_groups(logGroupNamePrefix=TRAINING_JOB_LOGS)["logGroups"]:
            logs.create_log_group(logGroupName=TRAINING_JOB_LOGS)
        logs.create_log_stream(logGroupName=TRAINING_JOB_LOGS, logStreamName=f"{training_job}/algo-1-1796500000")
    if endpoint:
        logs.create_log_group(logGroupName=ENDPOINT_LOGS + endpoint)
        logs.create_log_stream(logGroupName=ENDPOINT_LOGS + endpoint, logStreamName="AllTraffic/i-0a1b2c3d4e5f")


def an_offline_table(ctx, name, location):
    """The Glue table Feature Store makes for a group's offline store, left alone: the run was
    stopped between deleting the group and its table."""
    glue = ctx.client("glue")
    if OFFLINE_DATABASE not in [d["Name"] for d in glue.get_databases()["DatabaseList"]]:
        glue.create_database(DatabaseInput={"Name": OFFLINE_DATABASE})  # Feature Store's, made with its first group
    glue.create_table(
        DatabaseName=OFFLINE_DATABASE,
        TableInput={
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet"},
            "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "string"}], "Location": location},
        },
    )


def an_interrupted_run(ctx) -> dict[str, str]:
    """A workbench pipeline stopped before its teardown, with everything it made still there,
    and a second one stopped between deleting its feature group and the group's table."""
    prefix = run_prefix(ctx.run_id)
    name, table = f"{prefix}-n1w0i1", f"{prefix}_n1w0i1"
    a_data_source(ctx, name)
    glue = ctx.client("glue")
    glue.create_table(  # onboarding's view, made but not yet tagged when the run stopped
        DatabaseName=ctx.glue_database,
        TableInput={"Name": f"{table}_display", "TableType": "VIRTUAL_VIEW", "Parameters": {}},
    )
    features = FeatureSet(ctx, name).create(dataset(), "id", "event_time")
    features.wait_for_offline_store()
    Model(ctx, name).train(dataset(), "y").register()
    Endpoint(ctx, name).deploy(name)
    sagemaker_logged(ctx, training_job=name, endpoint=name)
    orphan = f"{prefix}_n1w0i2_1796500000"
    an_offline_table(ctx, orphan, ctx.s3_uri(f"feature_store/{ACCOUNT}/us-east-1/offline-store/{prefix}-n1w0i2/data"))
    glue.create_table(  # onboarding's view of it, untagged as well
        DatabaseName=OFFLINE_DATABASE,
        TableInput={"Name": f"{orphan}_computation", "TableType": "VIRTUAL_VIEW", "Parameters": {}},
    )
    ctx.client("s3").put_object(Bucket=ctx.bucket, Key=f"{ctx.key_prefix}athena-results/q.csv", Body=b"n\n1\n")
    return {"name": name, "table": table, "offline": features.offline_table()[1], "orphan": orphan}


def listed(done) -> list[str]:
    """The dry run's "kind name" lines (its last line is the count)."""
    lines = done.stdout.splitlines()
    assert lines[-1].endswith("resources would be deleted; run again with --yes to delete them"), done.stdout
    return lines[:-1]


def deleted(done) -> list[str]:
    return [line.removeprefix("deleted ") for line in done.stdout.splitlines() if line.startswith("deleted ")]


def test_a_dry_run_lists_exactly_what_yes_deletes_and_nothing_else_goes(simulator, tmp_path):
    url = fast(simulator, tmp_path)
    team = Storage(glue_database="team_db", shared_bucket="team-bucket")
    scenario = scenario_file(tmp_path, account='bucket = "team-bucket"\nglue_database = "team_db"\n')
    ours = run_context(url, RUN, team)
    made = an_interrupted_run(ours)
    prefix, name, table = run_prefix(RUN), made["name"], made["table"]

    # another run in the same bucket and database, and its logs
    theirs = run_context(url, OTHER_RUN, team)
    their_name = f"{run_prefix(OTHER_RUN)}-n1w0i1"
    a_data_source(theirs, their_name)
    sagemaker_logged(theirs, training_job=their_name, endpoint=their_name)
    # look-alikes: the run's prefix without its tag, the account's own table, someone's own logs
    sagemaker, s3 = ours.client("sagemaker"), ours.client("s3")
    create_feature_group(sagemaker, s3, f"{prefix}-lookalike", bucket="lookalike-bucket")
    ours.client("glue").create_table(DatabaseName="team_db", TableInput={"Name": f"{prefix}_untagged"})
    ours.client("glue").create_table(DatabaseName="team_db", TableInput={"Name": "customers"})
    an_offline_table(ours, f"{prefix}_elsewhere_1796500000", "s3://lookalike-bucket/offline/data")
    sagemaker_logged(ours, training_job="fraud-model", endpoint="fraud-scorer")

    dry = run_cli(["cleanup", scenario, "--run-id", RUN, "--endpoint-url", url], CREDENTIALS)
    assert dry.returncode == 0, dry.stderr
    assert f"AWS account {ACCOUNT}, region us-east-1" in dry.stderr  # the guard said where it is
    assert sorted(listed(dry)) == sorted(
        [
            f"endpoint {name}",
            f"endpoint_config {name}",
            f"model {name}",
            f"model_package_group {name}",
            f"feature_group {name}",
            f"glue_table team_db.{table}",
            f"glue_table team_db.{table}_display",
            f"offline_store_table {OFFLINE_DATABASE}.{made['offline']}",
            f"offline_store_table {OFFLINE_DATABASE}.{made['orphan']}",
            f"offline_store_view {OFFLINE_DATABASE}.{made['orphan']}_computation",
            f"log_group {ENDPOINT_LOGS}{name}",
            f"log_stream {TRAINING_JOB_LOGS}:{name}/algo-1-1796500000",
            f"s3_prefix team-bucket/{prefix}/",
        ]
    )
    assert name in [g["FeatureGroupName"] for g in sagemaker.list_feature_groups()["FeatureGroupSummaries"]]

    done = run_cli(["cleanup", scenario, "--run-id", RUN, "--endpoint-url", url, "--yes"], CREDENTIALS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(deleted(done)) == sorted(listed(dry))
    assert f"13 resources of run {RUN} deleted" in done.stdout

    again = run_cli(["cleanup", scenario, "--run-id", RUN, "--endpoint-url", url], CREDENTIALS)
    assert listed(again) == []
    glue, logs = ours.client("glue"), ours.client("logs")
    assert sorted(t["Name"] for t in glue.get_tables(DatabaseName="team_db")["TableList"]) == sorted(
        ["customers", f"{prefix}_untagged", f"{run_prefix(OTHER_RUN)}_n1w0i1"]
    )  # and so the database, which holds them, stays
    assert [g["FeatureGroupName"] for g in sagemaker.list_feature_groups()["FeatureGroupSummaries"]] == [
        f"{prefix}-lookalike"
    ]
    assert f"{prefix}_elsewhere_1796500000" in [
        t["Name"] for t in glue.get_tables(DatabaseName=OFFLINE_DATABASE)["TableList"]
    ]
    assert sorted(
        g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=ENDPOINT_LOGS)["logGroups"]
    ) == [
        f"{ENDPOINT_LOGS}fraud-scorer",
        f"{ENDPOINT_LOGS}{their_name}",
    ]
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=TRAINING_JOB_LOGS)["logStreams"]]
    assert sorted(streams) == sorted([f"{their_name}/algo-1-1796500000", "fraud-model/algo-1-1796500000"])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="team-bucket").get("Contents", [])]
    assert keys and all(key.startswith(f"{run_prefix(OTHER_RUN)}/") for key in keys)


def test_the_database_a_run_made_goes_once_empty_and_never_with_anyone_elses_table(simulator, tmp_path):
    url = fast(simulator, tmp_path)
    scenario = scenario_file(tmp_path, target="sim", account='glue_database = "team_db"\n')
    ctx = run_context(url, RUN, Storage(glue_database="team_db"))
    a_data_source(ctx, f"{run_prefix(RUN)}-n1w0i1")  # makes team_db, tagged with the run
    ctx.client("glue").create_table(DatabaseName="team_db", TableInput={"Name": "customers"})
    cleanup = ["cleanup", scenario, "--run-id", RUN, "--endpoint-url", url]

    assert "glue_database team_db" not in listed(run_cli(cleanup))
    assert run_cli([*cleanup, "--yes"]).returncode == 0
    assert [t["Name"] for t in ctx.client("glue").get_tables(DatabaseName="team_db")["TableList"]] == ["customers"]

    ctx.client("glue").delete_table(DatabaseName="team_db", Name="customers")  # the account's own, gone
    assert listed(run_cli(cleanup)) == ["glue_database team_db"]
    done = run_cli([*cleanup, "--yes"])
    assert deleted(done) == ["glue_database team_db"]
    assert "team_db" not in [d["Name"] for d in ctx.client("glue").get_databases()["DatabaseList"]]


def test_a_cleanup_of_an_account_that_is_not_allowed_is_refused_before_anything_is_looked_at(simulator, tmp_path):
    url = fast(simulator, tmp_path)
    ctx = run_context(url, RUN)
    a_data_source(ctx, f"{run_prefix(RUN)}-n1w0i1")
    refused = run_cli(
        [
            "cleanup",
            scenario_file(tmp_path, allowed=("111111111111",)),
            "--run-id",
            RUN,
            "--endpoint-url",
            url,
            "--yes",
        ],
        CREDENTIALS,
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: account {ACCOUNT} is not allowed for cleanup (allowed: 111111111111); add it to the "
        f"scenario's allowed_accounts or pass --allow-account {ACCOUNT}"
    ]
    assert refused.stdout == ""  # nothing listed, nothing deleted

    # without a scenario, AWS (here a stand-in for it, named by --region) allows only --allow-account
    bare = ["cleanup", "--run-id", RUN, "--endpoint-url", url, "--region", "us-east-1", "--yes"]
    assert run_cli(bare, CREDENTIALS).returncode == 2
    assert ctx.client("glue").get_tables(DatabaseName="harness")["TableList"]
    allowed = run_cli([*bare, "--allow-account", ACCOUNT], CREDENTIALS)
    assert allowed.returncode == 0, allowed.stderr
    assert f"glue_table harness.{run_prefix(RUN)}_n1w0i1" in deleted(allowed)


def test_without_region_the_region_is_the_one_the_aws_cli_would_use(simulator, tmp_path, monkeypatch):
    url = fast(simulator, tmp_path)
    ctx = run_context(url, RUN, region="eu-west-1")
    a_data_source(ctx, f"{run_prefix(RUN)}-n1w0i1")  # a Glue table: Glue keeps one catalog per region
    table = f"glue_table harness.{run_prefix(RUN)}_n1w0i1"
    cleanup = ["cleanup", "--run-id", RUN, "--endpoint-url", url]

    assert table in listed(run_cli(cleanup, {"AWS_DEFAULT_REGION": "eu-west-1"}))
    assert table not in listed(run_cli(cleanup, {"AWS_DEFAULT_REGION": "us-east-1"}))
    assert table in listed(run_cli(cleanup, {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "eu-west-1"}))
    in_scenario = scenario_file(tmp_path, target="sim", region="eu-west-1")
    assert table in listed(run_cli(["cleanup", in_scenario, "--run-id", RUN, "--endpoint-url", url]))

    # real AWS (no endpoint): the same order
    aws = argparse.Namespace(region=None, aws_profile=None, endpoint_url=None)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    assert options.target_of(aws) == Target.aws("ap-southeast-2")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert options.target_of(aws) == Target.aws("eu-central-1")
    assert options.target_of(argparse.Namespace(region="us-west-2", aws_profile=None, endpoint_url=None)).region == (
        "us-west-2"
    )


def test_older_than_deletes_only_what_old_runs_tagged_or_named_and_spares_the_rest(simulator, tmp_path):
    url = fast(simulator, tmp_path)
    scenario = scenario_file(tmp_path, target="sim")
    old, recent = run_context(url, OLD_RUN), run_context(url, new_run_id())
    old_prefix, recent_prefix = run_prefix(OLD_RUN), run_prefix(recent.run_id)
    name = f"{old_prefix}-n1w0i1"
    # the old run finished but for what a run's own cleanup leaves (its logs), and an
    # interrupted teardown (its table, its bucket, a group's offline table)
    a_data_source(old, name)
    Model(old, name).train(dataset(), "y")  # AWS keeps the training job, tagged: it names the run
    sagemaker_logged(old, training_job=name, endpoint=name)
    orphan = f"{old_prefix}_n1w0i2_1577836800"
    an_offline_table(old, orphan, old.s3_uri("feature_store/offline-store/data"))
    # a run of a minute ago
    a_data_source(recent, f"{recent_prefix}-n1w0i1")
    sagemaker_logged(recent, training_job=f"{recent_prefix}-n1w0i1")
    # an old-looking prefix no tag names, and a tag that is no run id
    glue, s3 = old.client("glue"), old.client("s3")
    s3.create_bucket(Bucket="hx0101000000ffff-data")
    glue.create_table(DatabaseName="harness", TableInput={"Name": "hx0101000000ffff_n1w0i1"})
    sagemaker_logged(old, endpoint="hx0101000000ffff-n1w0i1")
    an_offline_table(old, "hx0101000000ffff_n1w0i1_1577836800", "s3://hx0101000000ffff-data/feature_store/data")
    s3.create_bucket(Bucket="hx0101000000eeee-data")
    s3.put_bucket_tagging(Bucket="hx0101000000eeee-data", Tagging={"TagSet": [{"Key": RUN_TAG, "Value": "manual"}]})
    glue.create_table(
        DatabaseName="harness", TableInput={"Name": "hx0101000000eeee_n1w0i1", "Parameters": {RUN_TAG: "manual"}}
    )

    cleanup = ["cleanup", scenario, "--older-than", "24h", "--endpoint-url", url]
    dry = run_cli(cleanup)
    assert sorted(listed(dry)) == sorted(
        [
            f"glue_table harness.{old_prefix}_n1w0i1",
            f"offline_store_table {OFFLINE_DATABASE}.{orphan}",
            f"log_group {ENDPOINT_LOGS}{name}",
            f"log_stream {TRAINING_JOB_LOGS}:{name}/algo-1-1796500000",
            f"s3_bucket {old_prefix}-data",
        ]
    )
    done = run_cli([*cleanup, "--yes"])
    assert sorted(deleted(done)) == sorted(listed(dry))
    assert listed(run_cli(cleanup)) == []
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {f"{recent_prefix}-data", "hx0101000000ffff-data", "hx0101000000eeee-data"} <= buckets
    assert sorted(t["Name"] for t in glue.get_tables(DatabaseName="harness")["TableList"]) == sorted(
        [f"{recent_prefix}_n1w0i1", "hx0101000000ffff_n1w0i1", "hx0101000000eeee_n1w0i1"]
    )
    logs = boto3.client("logs", endpoint_url=url, region_name="us-east-1")
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=ENDPOINT_LOGS)["logGroups"]] == [
        f"{ENDPOINT_LOGS}hx0101000000ffff-n1w0i1"
    ]
