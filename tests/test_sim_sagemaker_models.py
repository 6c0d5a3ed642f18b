"""A trained model on the simulator: a training job that completes leaves a model.tar.gz where
its ModelArtifacts point, and an endpoint serving a model answers InvokeEndpoint as a stand-in
model would: CSV with a header gets the input columns plus `prediction` (and for a classifier a
probability per class), headerless CSV one number per line, as SageMaker's XGBoost answers.

The simulator runs on manual time: AWS time moves only when the test advances it."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from simhelpers import ROLE, write_profile

PROFILE = """
quota_table = "none"
jitter = 0.0
[lifecycle.training_job]
run_seconds = 600
stop_seconds = 30
[lifecycle.endpoint]
create_seconds = 120
"""
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"
ABALONE = b"sex,length,diameter,rings\nM,0.455,0.365,15\nF,0.53,0.42,9\nI,0.33,0.255,7\n"


@pytest.fixture
def account(simulator, client, tmp_path):
    """A manual-time account with a bucket for model artifacts."""
    simulator.reset(profile=write_profile(tmp_path, PROFILE), manual_time=True)
    client("s3").create_bucket(Bucket="models")
    return client("sagemaker")


def train(sagemaker, name: str, **hyper_parameters: str) -> None:
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://models/training"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters=hyper_parameters,
    )


def artifact(sagemaker, job: str) -> tuple[str, str]:
    """(bucket, key) of the training job's ModelArtifacts.S3ModelArtifacts."""
    uri = sagemaker.describe_training_job(TrainingJobName=job)["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def serve(sagemaker, simulator, job: str, name: str) -> None:
    """A model from the job's artifacts, behind an InService endpoint called `name`."""
    model_data = sagemaker.describe_training_job(TrainingJobName=job)["ModelArtifacts"]["S3ModelArtifacts"]
    sagemaker.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_data}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    simulator.advance(120)
    assert sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"


def invoke(runtime, endpoint: str, body: bytes) -> list[list[str]]:
    answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv")
    assert answer["ContentType"] == "text/csv"
    return list(csv.reader(io.StringIO(answer["Body"].read().decode())))


def test_a_completed_training_job_leaves_a_model_tar_gz_where_its_artifacts_point(account, client, simulator):
    sagemaker, s3 = account, client("s3")
    train(sagemaker, "tj-artifact", objective="reg:squarederror", num_round="50")
    bucket, key = artifact(sagemaker, "tj-artifact")
    assert key == "training/tj-artifact/output/model.tar.gz"
    with pytest.raises(ClientError) as running:  # nothing while the job runs
        s3.head_object(Bucket=bucket, Key=key)
    assert running.value.response["Error"]["Code"] == "404"

    simulator.advance(600)
    job = sagemaker.describe_training_job(TrainingJobName="tj-artifact")
    assert job["TrainingJobStatus"] == "Completed"
    head = s3.head_object(Bucket=bucket, Key=key)
    assert abs(head["LastModified"] - job["TrainingEndTime"]) < timedelta(seconds=1)  # uploaded as it ended
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert len(body) == head["ContentLength"]
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        (member,) = archive.getmembers()
        described = json.load(archive.extractfile(member))
    assert described["TrainingJobName"] == "tj-artifact" and described["classes"] == []


def test_a_stopped_training_job_leaves_no_model_artifact(account, client, simulator):
    sagemaker, s3 = account, client("s3")
    train(sagemaker, "tj-stopped")
    sagemaker.stop_training_job(TrainingJobName="tj-stopped")
    simulator.advance(600)
    assert sagemaker.describe_training_job(TrainingJobName="tj-stopped")["TrainingJobStatus"] == "Stopped"
    bucket, key = artifact(sagemaker, "tj-stopped")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_training_job_keeps_the_metric_definitions_it_was_given(account):
    account.create_training_job(
        TrainingJobName="tj-metrics",
        AlgorithmSpecification={
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "rmse", "Regex": "rmse: ([0-9.]+)"}],
        },
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://models/training"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    described = account.describe_training_job(TrainingJobName="tj-metrics")["AlgorithmSpecification"]
    assert described["MetricDefinitions"] == [{"Name": "rmse", "Regex": "rmse: ([0-9.]+)"}]


def test_csv_with_a_header_gets_the_input_columns_plus_a_prediction_per_row(account, client, simulator):
    train(account, "tj-regressor", objective="reg:squarederror")
    simulator.advance(600)
    serve(account, simulator, "tj-regressor", "ep-regressor")
    runtime = client("sagemaker-runtime")

    answer = invoke(runtime, "ep-regressor", ABALONE)
    assert answer[0] == ["sex", "length", "diameter", "rings", "prediction"]
    sent = list(csv.reader(io.StringIO(ABALONE.decode())))
    assert [row[:4] for row in answer[1:]] == sent[1:]  # the input, row by row
    assert all(0.0 <= float(row[4]) < 1.0 for row in answer[1:])
    assert invoke(runtime, "ep-regressor", ABALONE) == answer  # the same rows, the same predictions


def test_headerless_csv_gets_one_number_per_line_as_sagemakers_xgboost_answers(account, client, simulator):
    train(account, "tj-xgb", objective="reg:squarederror")
    simulator.advance(600)
    serve(account, simulator, "tj-xgb", "ep-xgb")
    answer = client("sagemaker-runtime").invoke_endpoint(
        EndpointName="ep-xgb", Body=b"0.455,0.365,15\n0.53,0.42,9\n", ContentType="text/csv"
    )
    lines = answer["Body"].read().decode().splitlines()
    assert len(lines) == 2 and all(0.0 <= float(line) < 1.0 for line in lines)


def test_a_classifier_answers_a_label_and_a_probability_per_class(account, client, simulator):
    train(account, "tj-classifier", objective="multi:softprob", num_class="3")
    simulator.advance(600)
    serve(account, simulator, "tj-classifier", "ep-classifier")

    answer = invoke(client("sagemaker-runtime"), "ep-classifier", b"length,diameter\n0.455,0.365\n0.53,0.42\n")
    assert answer[0] == ["length", "diameter", "prediction", "0_proba", "1_proba", "2_proba"]
    assert len(answer) == 3
    for row in answer[1:]:
        probabilities = [float(p) for p in row[3:]]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert row[2] == str(probabilities.index(max(probabilities)))


def test_predictions_follow_the_seed(simulator, client, tmp_path):
    def predictions(seed: int) -> list[list[str]]:
        simulator.reset(profile=write_profile(tmp_path, PROFILE), seed=seed, manual_time=True)
        client("s3").create_bucket(Bucket="models")
        sagemaker = client("sagemaker")
        train(sagemaker, "tj-seed")
        simulator.advance(600)
        serve(sagemaker, simulator, "tj-seed", "ep-seed")
        return invoke(client("sagemaker-runtime"), "ep-seed", ABALONE)

    first = predictions(seed=7)
    assert predictions(seed=7) == first
    assert predictions(seed=8) != first


def test_an_endpoint_has_no_monitoring_schedules_to_list_before_it_is_deleted(account):
    """SDKs (Workbench among them) list an endpoint's monitoring schedules before deleting it;
    the simulator makes none, and says so."""
    sagemaker = account
    assert sagemaker.list_monitoring_schedules(EndpointName="any")["MonitoringScheduleSummaries"] == []
