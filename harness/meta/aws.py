"""AWSMeta: Meta on boto3 (Glue, SageMaker). Every call paginates and goes through the
client factory's limiter, backoff and recording; nothing is cached."""

from __future__ import annotations

import pandas as pd
from botocore.exceptions import ClientError

from harness.artifacts.context import RUN_TAG, AwsContext
from harness.artifacts.waiting import error_code
from harness.meta.base import Meta, frame


class AWSMeta(Meta):
    platform = "aws"

    def __init__(self, ctx: AwsContext, platform: str | None = None):
        self.ctx = ctx

    def _pages(self, service: str, operation: str, key: str, **kwargs) -> list[dict]:
        paginator = self.ctx.client(service).get_paginator(operation)
        return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]

    def _maybe(self, call, not_found: tuple[str, ...], **kwargs) -> dict | None:
        try:
            answer = call(**kwargs)
        except ClientError as err:
            if error_code(err) in not_found:
                return None
            raise
        answer.pop("ResponseMetadata", None)
        return answer

    # --- lists ------------------------------------------------------------------------------
    def data_sources(self, details: bool = False) -> pd.DataFrame:
        try:
            tables = self._pages("glue", "get_tables", "TableList", DatabaseName=self.ctx.glue_database)
        except ClientError as err:
            if error_code(err) != "EntityNotFoundException":
                raise
            tables = []
        rows = [
            {
                "name": t["Name"],
                "database": t.get("DatabaseName", self.ctx.glue_database),
                "location": t.get("StorageDescriptor", {}).get("Location"),
                "created": t.get("CreateTime"),
                "run_id": t.get("Parameters", {}).get(RUN_TAG),
            }
            for t in tables
        ]
        return frame("data_sources", rows, [self.data_source(r["name"]) for r in rows] if details else None)

    def feature_sets(self, details: bool = False) -> pd.DataFrame:
        groups = self._pages("sagemaker", "list_feature_groups", "FeatureGroupSummaries")
        rows = [
            {
                "name": g["FeatureGroupName"],
                "status": g.get("FeatureGroupStatus"),
                "offline_store_status": (g.get("OfflineStoreStatus") or {}).get("Status"),
                "created": g.get("CreationTime"),
            }
            for g in groups
        ]
        return frame("feature_sets", rows, [self.feature_set(r["name"]) for r in rows] if details else None)

    def models(self, details: bool = False) -> pd.DataFrame:
        groups = self._pages("sagemaker", "list_model_package_groups", "ModelPackageGroupSummaryList")
        rows = [
            {
                "name": g["ModelPackageGroupName"],
                "arn": g.get("ModelPackageGroupArn"),
                "created": g.get("CreationTime"),
                "description": g.get("ModelPackageGroupDescription"),
            }
            for g in groups
        ]
        return frame("models", rows, [self.model(r["name"]) for r in rows] if details else None)

    def endpoints(self, details: bool = False) -> pd.DataFrame:
        endpoints = self._pages("sagemaker", "list_endpoints", "Endpoints")
        rows = [
            {
                "name": e["EndpointName"],
                "status": e.get("EndpointStatus"),
                "created": e.get("CreationTime"),
                "modified": e.get("LastModifiedTime"),
            }
            for e in endpoints
        ]
        return frame("endpoints", rows, [self.endpoint(r["name"]) for r in rows] if details else None)

    def training_jobs(self, details: bool = False) -> pd.DataFrame:
        jobs = self._pages("sagemaker", "list_training_jobs", "TrainingJobSummaries")
        rows = [
            {
                "name": j["TrainingJobName"],
                "status": j.get("TrainingJobStatus"),
                "created": j.get("CreationTime"),
                "ended": j.get("TrainingEndTime"),
            }
            for j in jobs
        ]
        detail = (
            [
                self._maybe(
                    self.ctx.client("sagemaker").describe_training_job,
                    ("ValidationException",),
                    TrainingJobName=r["name"],
                )
                for r in rows
            ]
            if details
            else None
        )
        return frame("training_jobs", rows, detail)

    # --- describes --------------------------------------------------------------------------
    def data_source(self, name: str) -> dict | None:
        answer = self._maybe(
            self.ctx.client("glue").get_table,
            ("EntityNotFoundException",),
            DatabaseName=self.ctx.glue_database,
            Name=name,
        )
        return None if answer is None else answer["Table"]

    def feature_set(self, name: str) -> dict | None:
        return self._maybe(
            self.ctx.client("sagemaker").describe_feature_group,
            ("ResourceNotFound", "ValidationException"),
            FeatureGroupName=name,
        )

    def model(self, name: str) -> dict | None:
        group = self._maybe(
            self.ctx.client("sagemaker").describe_model_package_group,
            ("ValidationException", "ResourceNotFound"),
            ModelPackageGroupName=name,
        )
        if group is None:
            return None
        group["ModelPackages"] = self._pages(
            "sagemaker", "list_model_packages", "ModelPackageSummaryList", ModelPackageGroupName=name
        )
        return group

    def endpoint(self, name: str) -> dict | None:
        return self._maybe(
            self.ctx.client("sagemaker").describe_endpoint,
            ("ValidationException", "ResourceNotFound"),
            EndpointName=name,
        )
