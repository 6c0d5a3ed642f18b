"""Every date the simulator answers is on one clock, AWS time: moto's own (an endpoint
configuration's, a model's, a Glue table's, an S3 object's) as well as the lifecycles' (an
endpoint's, a training job's, a feature group's). At any time scale, what was made later is
dated later, and nothing is modified before it was created."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from simhelpers import ROLE, create_feature_group, wait_for, write_profile

# AWS seconds; at time scale 1/60 a minute of AWS time is a wall second.
PROFILE = """
quota_table = "none"
jitter = 0.0
[lifecycle.feature_group]
create_seconds = 60
offline_store_seconds = 60
table_seconds = 60
[lifecycle.training_job]
run_seconds = 60
[lifecycle.endpoint]
create_seconds = 60
"""


def make_endpoint_config(sagemaker, name: str, model: str = "clock-model") -> dict:
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    return sagemaker.describe_endpoint_config(EndpointConfigName=name)


def make_model(sagemaker, name: str = "clock-model") -> dict:
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1"},
    )
    return sagemaker.describe_model(ModelName=name)


def test_at_time_scale_1_60_an_endpoint_is_dated_after_its_config_and_modified_after_it_was_created(
    simulator, client, tmp_path
):
    simulator.reset(profile=write_profile(tmp_path, PROFILE), time_scale=1 / 60)
    sagemaker = client("sagemaker")
    model = make_model(sagemaker)
    config = make_endpoint_config(sagemaker, "clock-ec")
    sagemaker.create_endpoint(EndpointName="clock-ep", EndpointConfigName="clock-ec")
    wait_for(lambda: sagemaker.describe_endpoint(EndpointName="clock-ep")["EndpointStatus"] == "InService")
    endpoint = sagemaker.describe_endpoint(EndpointName="clock-ep")
    later = make_endpoint_config(sagemaker, "clock-ec-later")  # made after the endpoint went InService

    assert model["CreationTime"] <= config["CreationTime"] <= endpoint["CreationTime"]
    assert endpoint["LastModifiedTime"] >= endpoint["CreationTime"] + timedelta(seconds=59)  # InService after 60 s
    assert later["CreationTime"] >= endpoint["LastModifiedTime"]
    listed = sagemaker.list_endpoints()["Endpoints"][0]
    assert listed["CreationTime"] == endpoint["CreationTime"]  # moto's date and the lifecycle's are one


def test_a_feature_group_and_its_glue_table_agree_on_when_things_happened(simulator, client, tmp_path):
    simulator.reset(profile=write_profile(tmp_path, PROFILE), time_scale=1 / 60)
    sagemaker, s3, glue = client("sagemaker"), client("s3"), client("glue")
    create_feature_group(sagemaker, s3, "clock-fg")
    catalog = sagemaker.describe_feature_group(FeatureGroupName="clock-fg")["OfflineStoreConfig"]["DataCatalogConfig"]

    def table():
        try:
            return glue.get_table(DatabaseName=catalog["Database"], Name=catalog["TableName"])["Table"]
        except ClientError:  # not there yet
            return None

    made = wait_for(table, timeout=30)
    group = sagemaker.describe_feature_group(FeatureGroupName="clock-fg")
    assert group["FeatureGroupStatus"] == "Created"
    # created, then Created 60 s later, then the offline store, then its table 60 s after that
    assert group["LastModifiedTime"] - group["CreationTime"] >= timedelta(seconds=59)
    assert made["CreateTime"] - group["LastModifiedTime"] >= timedelta(seconds=119)
    assert made["UpdateTime"] == made["CreateTime"]
    listed = sagemaker.list_feature_groups()["FeatureGroupSummaries"][0]
    assert listed["CreationTime"] == group["CreationTime"]


def test_in_manual_time_moto_dates_move_with_aws_time_not_the_wall(simulator, client, tmp_path):
    simulator.reset(profile=write_profile(tmp_path, PROFILE), manual_time=True)
    sagemaker, s3, glue = client("sagemaker"), client("s3"), client("glue")
    make_model(sagemaker)
    first = make_endpoint_config(sagemaker, "manual-ec-1")
    simulator.advance(3600)
    second = make_endpoint_config(sagemaker, "manual-ec-2")
    assert second["CreationTime"] - first["CreationTime"] == pytest.approx(timedelta(hours=1), abs=timedelta(seconds=1))

    s3.create_bucket(Bucket="manual-bucket")
    s3.put_object(Bucket="manual-bucket", Key="a.csv", Body=b"1\n")
    glue.create_database(DatabaseInput={"Name": "manual"})
    glue.create_table(DatabaseName="manual", TableInput={"Name": "t", "StorageDescriptor": {"Columns": []}})
    created = glue.get_table(DatabaseName="manual", Name="t")["Table"]["CreateTime"]
    modified = s3.head_object(Bucket="manual-bucket", Key="a.csv")["LastModified"]
    bucket = next(b for b in s3.list_buckets()["Buckets"] if b["Name"] == "manual-bucket")
    for moment in (created, modified, bucket["CreationDate"]):  # all made at the same AWS second
        assert abs(moment - second["CreationTime"]) < timedelta(seconds=1)
