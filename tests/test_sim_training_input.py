"""What a real account refuses of a pipeline's data, the simulator refuses first: a training job
reads its channels as SageMaker and the built-in XGBoost container do, and Athena cannot read a
Glue table that names no SerDe. The built-in pipelines send what both accept.

The training jobs run on the strict account's profile, on manual time: AWS time moves only when
the test advances it."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.artifacts import DataSource, Model
from harness.artifacts.athena import query
from harness.artifacts.model import training_csv
from simhelpers import ROLE, write_profile

PROFILE = """
extends = "aws-default"
jitter = 0.0
[lifecycle.training_job]
run_seconds = 600
"""
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
# what the built-in pipelines sent before: the data source's CSV, header and text columns and all
OLD_INPUT = b"id,event_time,x1,x2,x3,target,category_0\nr0,2026-11-26T00:00:00Z,0.1,0.2,0.3,1.5,red\n"


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": ["r0", "r1"], "x1": [0.5, 1.5], "target": [1.0, 2.0], "colour": ["red", "blue"], "n": [3, 4]}
    )


@pytest.fixture
def account(simulator, client, tmp_path):
    """The strict account on manual time, with a bucket for the data."""
    simulator.reset(profile=write_profile(tmp_path, PROFILE), manual_time=True)
    client("s3").create_bucket(Bucket="data")
    return client("sagemaker")


def train(sagemaker, name: str, uri: str, content_type: str | None = None, **algorithm) -> None:
    channel = {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}
    if content_type is not None:
        channel["ContentType"] = content_type
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": XGBOOST, "TrainingInputMode": "File", **algorithm},
        RoleArn=ROLE,
        InputDataConfig=[channel],
        OutputDataConfig={"S3OutputPath": "s3://data/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )


def job(sagemaker, name: str) -> dict:
    return sagemaker.describe_training_job(TrainingJobName=name)


def test_the_old_built_in_input_fails_as_the_xgboost_container_fails_it(account, client, simulator):
    """No ContentType: the container reads libsvm, and a CSV header is not libsvm."""
    client("s3").put_object(Bucket="data", Key="old/data.csv", Body=OLD_INPUT)
    train(account, "tj-old", "s3://data/old/")
    simulator.advance(60)
    assert job(account, "tj-old")["TrainingJobStatus"] == "InProgress"  # launching, downloading
    simulator.advance(61)  # it fails once the container has read its input, not after a whole run
    failed = job(account, "tj-old")
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith("AlgorithmError: framework error:")
    assert (
        "First line 'id,event_time,x1,x2,x3,target,category_0...' of file 'data.csv' is not 'LIBSVM'"
        in (failed["FailureReason"])
    )
    assert failed["TrainingTimeInSeconds"] == 120


def test_the_input_the_built_in_pipelines_send_trains(account, client, simulator):
    client("s3").put_object(Bucket="data", Key="new/train/train.csv", Body=training_csv(frame(), "target"))
    train(account, "tj-new", "s3://data/new/train/", content_type="text/csv")
    simulator.advance(600)
    assert job(account, "tj-new")["TrainingJobStatus"] == "Completed"


def test_a_users_own_script_on_the_xgboost_image_reads_its_data_itself(account, client, simulator):
    """Script mode (how Workbench trains, through the SDK's ModelTrainer): the script reads the
    channel, so the algorithm's rules do not apply."""
    client("s3").put_object(Bucket="data", Key="script/data.csv", Body=OLD_INPUT)
    entrypoint = ["/bin/bash", "/opt/ml/input/data/sm_drivers/sm_train.sh"]
    train(account, "tj-script", "s3://data/script/", ContainerEntrypoint=entrypoint)
    simulator.advance(600)
    assert job(account, "tj-script")["TrainingJobStatus"] == "Completed"


def test_training_csv_is_label_first_numbers_only_and_has_no_header():
    assert training_csv(frame(), "target").decode().splitlines() == ["1.0,0.5,3.0", "2.0,1.5,4.0"]
    with pytest.raises(ValueError, match="the label column 'colour' is .*, not a number"):
        training_csv(frame(), "colour")
    with pytest.raises(ValueError, match="no label column 'price'"):
        training_csv(frame(), "price")


def test_an_empty_channel_fails_before_the_container_starts(account, simulator):
    train(account, "tj-empty", "s3://data/nothing-here/", content_type="text/csv")
    simulator.advance(121)
    failed = job(account, "tj-empty")
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith(
        'ClientError: No S3 objects found under S3 URL "s3://data/nothing-here/" given in input data source.'
    )


def test_a_content_type_the_container_does_not_take_is_refused(account, client, simulator):
    client("s3").put_object(Bucket="data", Key="json/rows.json", Body=b'{"x": 1}\n')
    train(account, "tj-json", "s3://data/json/", content_type="application/json")
    simulator.advance(121)
    failed = job(account, "tj-json")
    assert failed["TrainingJobStatus"] == "Failed"
    assert (
        "UserError: application/json is not an accepted ContentType: csv, text/csv, libsvm" in failed["FailureReason"]
    )


def test_the_built_in_pipelines_data_source_is_a_table_athena_reads(aws_ctx):
    """The DataSource's table names LazySimpleSerDe over text, as awswrangler's CSV tables do."""
    source = DataSource(aws_ctx, "orders").create(frame())
    storage = source.describe()["StorageDescriptor"]
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert storage["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    counted = query(aws_ctx, 'SELECT count(*) AS n, sum("n") AS total FROM "orders"', aws_ctx.glue_database)
    assert counted.values.tolist() == [[2, 7]]


def test_a_built_in_model_trains_on_the_strict_account(aws_ctx):
    aws_ctx.reset(profile="aws-default", time_scale=0.001)
    model = Model(aws_ctx, "orders-model").train(frame(), "target")
    assert (model.training_job() or {})["TrainingJobStatus"] == "Completed"
    uploaded = aws_ctx.client("s3").get_object(Bucket=aws_ctx.bucket, Key=model.training_data_prefix + "train.csv")
    assert uploaded["Body"].read() == training_csv(frame(), "target")
    model.delete()
    listed = aws_ctx.client("s3").list_objects_v2(Bucket=aws_ctx.bucket, Prefix=model.training_data_prefix)
    assert listed["KeyCount"] == 0
