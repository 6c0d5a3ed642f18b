"""Helpers for runner tests: list everything a run could have left in the simulator."""

import boto3


def everything_in(endpoint_url: str, region: str = "us-east-1") -> dict:
    kw = dict(endpoint_url=endpoint_url, region_name=region, aws_access_key_id="t", aws_secret_access_key="t")
    sm, glue, s3 = boto3.client("sagemaker", **kw), boto3.client("glue", **kw), boto3.client("s3", **kw)
    try:
        tables = [
            t["Name"]
            for d in glue.get_databases()["DatabaseList"]
            for t in glue.get_tables(DatabaseName=d["Name"])["TableList"]
        ]
    except Exception:  # noqa: BLE001
        tables = []
    return {
        "endpoints": [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]],
        "endpoint_configs": [e["EndpointConfigName"] for e in sm.list_endpoint_configs()["EndpointConfigs"]],
        "models": [m["ModelName"] for m in sm.list_models()["Models"]],
        "model_package_groups": [
            g["ModelPackageGroupName"] for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
        ],
        "feature_groups": [g["FeatureGroupName"] for g in sm.list_feature_groups()["FeatureGroupSummaries"]],
        "glue_tables": tables,
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "running_training_jobs": [
            j["TrainingJobName"]
            for j in sm.list_training_jobs()["TrainingJobSummaries"]
            if j["TrainingJobStatus"] in ("InProgress", "Stopping")
        ],
    }


def nothing_in(endpoint_url: str, region: str = "us-east-1") -> bool:
    left = everything_in(endpoint_url, region)
    assert all(not v for v in left.values()), left
    return True


def run_in_terminal(scenario: str, reports, endpoint_url: str, *flags: str):
    """`harness run` as a person starts it from a terminal (a process of its own), against a
    running simulator."""
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", scenario, *flags, "--reports", str(reports)]
        + ["--endpoint-url", endpoint_url],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_dir_once_in_stage(reports, stage: str, seconds: float = 60):
    """The run folder under `reports` once a pipeline has started `stage` (None after `seconds`)."""
    import time

    from harness.events import load_events

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        folders = list(reports.glob("*/events.db"))
        if folders and (load_events(folders[0], ["stage_start"]).stage == stage).any():
            return folders[0].parent
        time.sleep(0.05)
    return None
