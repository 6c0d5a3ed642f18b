"""A team's feature-group pipeline in plain boto3: create one, wait until it is Created, delete it."""

import time

import boto3


def pipeline(name: str, poll_seconds: float = 10.0) -> None:
    sagemaker = boto3.client("sagemaker")
    account = boto3.client("sts").get_caller_identity()["Account"]
    sagemaker.create_feature_group(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[
            {"FeatureName": "id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": "String"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True},
        RoleArn=f"arn:aws:iam::{account}:role/team-features",
    )
    while sagemaker.describe_feature_group(FeatureGroupName=name)["FeatureGroupStatus"] == "Creating":
        time.sleep(poll_seconds)
    sagemaker.delete_feature_group(FeatureGroupName=name)
