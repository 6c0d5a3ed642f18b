"""The SageMaker Python SDK (v3 typed resources) runs unmodified against the simulator."""

import boto3

from sagemaker.core.resources import Endpoint, EndpointConfig, FeatureGroup, Model, TrainingJob
from sagemaker.core.shapes import (
    AlgorithmSpecification,
    ContainerDefinition,
    FeatureDefinition,
    OfflineStoreConfig,
    OnlineStoreConfig,
    OutputDataConfig,
    ProductionVariant,
    ResourceConfig,
    S3StorageConfig,
    StoppingCondition,
)

ROLE = "arn:aws:iam::123456789012:role/sdk"


def test_the_sagemaker_sdk_runs_unmodified_against_the_simulator(simulator, monkeypatch):
    simulator.reset(profile="calm", time_scale=0.01)
    monkeypatch.setenv("AWS_ENDPOINT_URL", simulator.endpoint_url)  # the standard way to point boto3 elsewhere
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="sdk", aws_secret_access_key="sdk")
    where = dict(session=session, region="us-east-1")
    session.client("s3").create_bucket(Bucket="sdk-bucket")

    Model.create(
        model_name="sdk-model",
        execution_role_arn=ROLE,
        **where,
        primary_container=ContainerDefinition(image="img:1", model_data_url="s3://sdk-bucket/m.tar.gz"),
    )
    assert Model.get("sdk-model", **where).model_name == "sdk-model"
    EndpointConfig.create(
        endpoint_config_name="sdk-ec",
        **where,
        production_variants=[
            ProductionVariant(
                variant_name="AllTraffic", model_name="sdk-model", initial_instance_count=1, instance_type="ml.m5.large"
            )
        ],
    )
    endpoint = Endpoint.create(endpoint_name="sdk-ep", endpoint_config_name="sdk-ec", **where)
    assert endpoint.endpoint_status == "Creating"
    endpoint.wait_for_status("InService", poll=1, timeout=60)
    assert Endpoint.get("sdk-ep", **where).endpoint_status == "InService"

    group = FeatureGroup.create(
        feature_group_name="sdk-fg",
        record_identifier_feature_name="id",
        event_time_feature_name="t",
        feature_definitions=[
            FeatureDefinition(feature_name="id", feature_type="String"),
            FeatureDefinition(feature_name="t", feature_type="String"),
        ],
        online_store_config=OnlineStoreConfig(enable_online_store=True),
        offline_store_config=OfflineStoreConfig(s3_storage_config=S3StorageConfig(s3_uri="s3://sdk-bucket/fs")),
        role_arn=ROLE,
        **where,
    )
    group.wait_for_status("Created", poll=1, timeout=60)
    group.delete()
    endpoint.delete()


def test_a_model_trained_with_the_sdk_leaves_its_artifact_and_its_endpoint_answers_csv_with_a_header(
    simulator, monkeypatch
):
    simulator.reset(profile="calm", time_scale=0.01)
    monkeypatch.setenv("AWS_ENDPOINT_URL", simulator.endpoint_url)
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="sdk", aws_secret_access_key="sdk")
    where = dict(session=session, region="us-east-1")
    session.client("s3").create_bucket(Bucket="sdk-bucket")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"

    job = TrainingJob.create(
        training_job_name="sdk-tj",
        role_arn=ROLE,
        algorithm_specification=AlgorithmSpecification(training_image=image, training_input_mode="File"),
        output_data_config=OutputDataConfig(s3_output_path="s3://sdk-bucket/training"),
        resource_config=ResourceConfig(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=10),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=3600),
        hyper_parameters={"objective": "binary:logistic"},  # a classifier of two classes, 0 and 1
        **where,
    )
    job.wait(poll=1, timeout=60)
    artifact = job.model_artifacts.s3_model_artifacts
    bucket, _, key = artifact.removeprefix("s3://").partition("/")
    assert session.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0

    Model.create(
        model_name="sdk-classifier",
        execution_role_arn=ROLE,
        primary_container=ContainerDefinition(image=image, model_data_url=artifact),
        **where,
    )
    EndpointConfig.create(
        endpoint_config_name="sdk-classifier",
        production_variants=[
            ProductionVariant(
                variant_name="AllTraffic",
                model_name="sdk-classifier",
                initial_instance_count=1,
                instance_type="ml.m5.large",
            )
        ],
        **where,
    )
    endpoint = Endpoint.create(endpoint_name="sdk-classifier", endpoint_config_name="sdk-classifier", **where)
    endpoint.wait_for_status("InService", poll=1, timeout=60)
    answer = endpoint.invoke(body="length,diameter\n0.455,0.365\n", content_type="text/csv")
    lines = answer.body.read().decode().splitlines()
    assert lines[0] == "length,diameter,prediction,0_proba,1_proba"
    assert lines[1].startswith("0.455,0.365,") and len(lines) == 2
