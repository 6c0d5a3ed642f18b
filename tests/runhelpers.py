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
