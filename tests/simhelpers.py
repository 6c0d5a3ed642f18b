"""Small helpers the simulator tests share: write a profile, create a feature group, wait."""
from __future__ import annotations

import time
from pathlib import Path

ROLE = "arn:aws:iam::123456789012:role/harness-test"


def write_profile(tmp_path: Path, text: str, name: str = "test-profile") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return str(path)


def create_feature_group(sagemaker, s3, name: str, bucket: str = "offline-bucket") -> None:
    s3.create_bucket(Bucket=bucket)
    sagemaker.create_feature_group(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"},
                            {"FeatureName": "event_time", "FeatureType": "String"},
                            {"FeatureName": "x", "FeatureType": "Fractional"}],
        OnlineStoreConfig={"EnableOnlineStore": True},
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{bucket}/offline"}},
        RoleArn=ROLE,
    )


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    """Poll until predicate() is truthy; return its value, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
