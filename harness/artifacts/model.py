"""Model: a training job, a model package group with a registered package, and a SageMaker model."""

from __future__ import annotations

import pandas as pd
from botocore.exceptions import ClientError

from harness.artifacts.base import Artifact
from harness.artifacts.context import AwsContext
from harness.artifacts.datasource import delete_prefix
from harness.artifacts.errors import ArtifactFailed
from harness.artifacts.waiting import create_within_quota, error_code, record_lifecycle, take_slot, wait_until

NOT_FOUND = ("ValidationException", "ResourceNotFound")
# The built-in XGBoost algorithm reads CSV with "the target variable in the first column" and "no
# header record", and only when the channel says text/csv: without a ContentType it reads libsvm
# (AWS docs, SageMaker "XGBoost algorithm", Input/Output interface). Its CSV reader takes numbers
# only: a text cell is read as a missing value, and a text label as 0.
TRAINING_CONTENT_TYPE = "text/csv"
NUMERIC = "iufb"  # numpy kinds: integer, unsigned, float, boolean


def training_csv(frame: pd.DataFrame, label: str) -> bytes:
    """The rows as the built-in XGBoost algorithm reads CSV: the label, then every numeric
    feature, without a header. Text columns (ids, times, categories) are left out."""
    if label not in frame.columns:
        raise ValueError(f"no label column {label!r}; the frame has {', '.join(map(str, frame.columns))}")
    if frame[label].dtype.kind not in NUMERIC:
        raise ValueError(f"the label column {label!r} is {frame[label].dtype}, not a number")
    features = [c for c in frame.columns if c != label and frame[c].dtype.kind in NUMERIC]
    if not features:
        raise ValueError("no numeric feature column besides the label")
    return frame[[label, *features]].astype(float).to_csv(header=False, index=False).encode()


class Model(Artifact):
    """`name` names the training job, the model package group and the SageMaker model alike."""

    def __init__(self, ctx: AwsContext, name: str):
        self.ctx, self.name = ctx, name

    def _sm(self):
        return self.ctx.client("sagemaker")

    def _maybe(self, call, **kwargs) -> dict | None:
        try:
            return call(**kwargs)
        except ClientError as err:
            if error_code(err) in NOT_FOUND:
                return None
            raise

    # --- live state -------------------------------------------------------------------------
    def training_job(self) -> dict | None:
        return self._maybe(self._sm().describe_training_job, TrainingJobName=self.name)

    def describe(self) -> dict | None:
        return self._maybe(self._sm().describe_model, ModelName=self.name)

    def package_group(self) -> dict | None:
        return self._maybe(self._sm().describe_model_package_group, ModelPackageGroupName=self.name)

    def health_check(self) -> list[str]:
        problems = []
        job = self.training_job()
        if job is None:
            problems.append("training_job_missing")
        elif job["TrainingJobStatus"] != "Completed":
            problems.append(f"training_job_{job['TrainingJobStatus'].lower()}")
        if self.package_group() is None:
            problems.append("model_package_group_missing")
        if self.describe() is None:
            problems.append("model_missing")
        return problems

    # --- creation steps ---------------------------------------------------------------------
    @property
    def training_data_prefix(self) -> str:
        return f"{self.ctx.key_prefix}models/{self.name}/train/"

    def train(self, data: pd.DataFrame, label: str, instance_type: str = "ml.m5.large") -> "Model":
        """Upload `data` as the algorithm reads it (training_csv), start the training job (within
        the account's concurrency quota) and wait for it."""
        ctx = self.ctx
        ctx.client("s3").put_object(
            Bucket=ctx.bucket, Key=self.training_data_prefix + "train.csv", Body=training_csv(data, label)
        )
        slot = take_slot(ctx, "CreateTrainingJob")
        held = None
        try:
            self._start_training(ctx.s3_uri(f"models/{self.name}/train/"), instance_type)
            held = ctx.clock.now()
            wait_until(ctx, f"training job {self.name} finished", self._training_done, ctx.deadlines.training_job, slot)
        finally:
            if slot is not None:
                slot.release()
            if held is not None:
                ctx.record(
                    "quota_hold",
                    service="sagemaker",
                    operation="CreateTrainingJob",
                    duration=ctx.clock.wall(ctx.clock.now() - held),
                )
        return self

    def _start_training(self, training_data_uri: str, instance_type: str) -> None:
        ctx = self.ctx
        create_within_quota(
            ctx,
            "CreateTrainingJob",
            lambda: self._sm().create_training_job(
                TrainingJobName=self.name,
                AlgorithmSpecification={"TrainingImage": ctx.image_uri, "TrainingInputMode": "File"},
                RoleArn=ctx.role_arn,
                InputDataConfig=[
                    {
                        "ChannelName": "train",
                        "ContentType": TRAINING_CONTENT_TYPE,
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": training_data_uri,
                                "S3DataDistributionType": "FullyReplicated",
                            }
                        },
                    }
                ],
                OutputDataConfig={"S3OutputPath": ctx.s3_uri(f"models/{self.name}")},
                ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 10},
                StoppingCondition={"MaxRuntimeInSeconds": 3600},
                HyperParameters={"objective": "reg:squarederror", "num_round": "50"},
                Tags=ctx.tags(),
            ),
        )

    def _training_done(self) -> bool:
        job = self.training_job() or {}
        status = job.get("TrainingJobStatus")
        if status in ("Failed", "Stopped"):
            raise ArtifactFailed(f"training job {self.name} {status}: {job.get('FailureReason', '')}")
        if status == "Completed":
            record_lifecycle(self.ctx, "training_job", job, "TrainingStartTime", "TrainingEndTime")
        return status == "Completed"

    def register(self) -> str:
        """A model package group with one approved package, and the SageMaker model; returns the
        package ARN."""
        sm, ctx = self._sm(), self.ctx
        job = self.training_job() or {}
        artifacts = job.get("ModelArtifacts", {}).get(
            "S3ModelArtifacts", ctx.s3_uri(f"models/{self.name}/model.tar.gz")
        )
        try:
            sm.create_model_package_group(ModelPackageGroupName=self.name, Tags=ctx.tags())
        except ClientError as err:
            if "already exists" not in str(err).lower():
                raise
        package = sm.create_model_package(
            ModelPackageGroupName=self.name,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": ctx.image_uri, "ModelDataUrl": artifacts}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
        if self.describe() is None:
            sm.create_model(
                ModelName=self.name,
                ExecutionRoleArn=ctx.role_arn,
                Tags=ctx.tags(),
                PrimaryContainer={"Image": ctx.image_uri, "ModelDataUrl": artifacts},
            )
        return package["ModelPackageArn"]

    def delete(self) -> None:
        """Idempotent: the SageMaker model, every package, the group, the training data. (AWS keeps
        training jobs; one still running is stopped, and waited for: a Stopping job still holds
        its instances and its place in the account's training-job quota.)"""
        sm = self._sm()
        self._maybe(sm.delete_model, ModelName=self.name)
        if self.package_group() is not None:
            for page in sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=self.name):
                for package in page.get("ModelPackageSummaryList", []):
                    self._maybe(sm.delete_model_package, ModelPackageName=package["ModelPackageArn"])
            self._maybe(sm.delete_model_package_group, ModelPackageGroupName=self.name)
        job = self.training_job()
        if job is not None and job["TrainingJobStatus"] in ("InProgress", "Stopping"):
            if job["TrainingJobStatus"] == "InProgress":
                self._maybe(sm.stop_training_job, TrainingJobName=self.name)
            wait_until(
                self.ctx,
                f"training job {self.name} stopped",
                lambda: (self.training_job() or {}).get("TrainingJobStatus") not in ("InProgress", "Stopping"),
                self.ctx.deadlines.deletion,
            )
        if self.ctx.bucket:  # cleanup's context names no bucket: it deletes the run's bucket or folder whole
            delete_prefix(self.ctx, self.ctx.bucket, self.training_data_prefix)
