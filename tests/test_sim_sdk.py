"""The SageMaker Python SDK (v3 typed resources) runs unmodified against the simulator."""

import boto3

from sagemaker.core.resources import Endpoint, EndpointConfig, FeatureGroup, Model
from sagemaker.core.shapes import (
    ContainerDefinition,
    FeatureDefinition,
    OfflineStoreConfig,
    OnlineStoreConfig,
    ProductionVariant,
    S3StorageConfig,
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
