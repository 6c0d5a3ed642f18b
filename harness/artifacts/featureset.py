"""FeatureSet: a SageMaker feature group with an online and an offline store.

Creation holds a concurrency slot (AWS allows 4 feature groups Creating per account) until
the group is Created. After ingestion, `wait_for_offline_store` waits and then fails clearly
when the offline store is partly built: OfflineStoreStatus not Active, its Glue table
missing, or its S3 prefix empty.
"""

from __future__ import annotations

from functools import partial
from datetime import datetime, timezone

import pandas as pd
from botocore.exceptions import ClientError

from harness.artifacts.base import Artifact
from harness.artifacts.context import AwsContext
from harness.artifacts.datasource import delete_prefix
from harness.artifacts.errors import ArtifactError, PartialStateError
from harness.artifacts.waiting import (
    create_within_quota,
    error_code,
    record_lifecycle,
    take_slot,
    wait_for_parts,
    wait_until,
)

FEATURE_TYPES = {"i": "Integral", "u": "Integral", "f": "Fractional"}
OFFLINE_DATABASE = "sagemaker_featurestore"  # where AWS puts offline-store tables by default


class FeatureSet(Artifact):
    """poll, delete_poll: look at a creating or a deleting group this often (AWS seconds), as a
    client with a fixed cadence does (Workbench: 5 s and 1 s); None: growing polls."""

    def __init__(self, ctx: AwsContext, name: str, poll: float | None = None, delete_poll: float | None = None):
        self.ctx, self.name, self.poll, self.delete_poll = ctx, name, poll, delete_poll

    # --- live state -------------------------------------------------------------------------
    def describe(self) -> dict | None:
        try:
            return self.ctx.client("sagemaker").describe_feature_group(FeatureGroupName=self.name)
        except ClientError as err:
            if error_code(err) in ("ResourceNotFound", "ValidationException"):
                return None
            raise

    def status(self) -> str | None:
        described = self.describe()
        return None if described is None else described["FeatureGroupStatus"]

    def health_check(self) -> list[str]:
        """Named problems; empty when the group and every part of its offline store exist."""
        described = self.describe()
        if described is None:
            return ["feature_group_missing"]
        if described["FeatureGroupStatus"] != "Created":
            return [f"feature_group_{described['FeatureGroupStatus'].lower()}"]
        return self._offline_store_missing(described)

    def _offline_store_missing(self, described: dict) -> list[str]:
        config = described.get("OfflineStoreConfig")
        if not config:
            return []
        missing = []
        if (described.get("OfflineStoreStatus") or {}).get("Status") != "Active":
            missing.append("offline_store_not_active")
        catalog = config.get("DataCatalogConfig") or {}
        try:
            self.ctx.client("glue").get_table(
                DatabaseName=catalog.get("Database", ""), Name=catalog.get("TableName", "")
            )
        except ClientError as err:
            if error_code(err) != "EntityNotFoundException":
                raise
            missing.append("offline_glue_table_missing")
        uri = config.get("S3StorageConfig", {}).get("ResolvedOutputS3Uri", "")
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        listed = self.ctx.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        if not listed.get("KeyCount"):
            missing.append("offline_s3_prefix_empty")
        return missing

    # --- creation steps ---------------------------------------------------------------------
    def create(self, df: pd.DataFrame, id_column: str, time_column: str) -> "FeatureSet":
        """Create the feature group and wait until it is Created (holding a concurrency slot)."""
        definitions = [
            {"FeatureName": str(c), "FeatureType": FEATURE_TYPES.get(df[c].dtype.kind, "String")} for c in df.columns
        ]
        request = dict(
            FeatureGroupName=self.name,
            RecordIdentifierFeatureName=id_column,
            EventTimeFeatureName=time_column,
            FeatureDefinitions=definitions,
            OnlineStoreConfig={"EnableOnlineStore": True},
            OfflineStoreConfig={"S3StorageConfig": {"S3Uri": self.ctx.s3_uri("feature_store")}},
            RoleArn=self.ctx.role_arn,
            Tags=self.ctx.tags(),
        )
        slot = self._create_with_slot(request)
        held = self.ctx.clock.now()
        try:
            wait_until(
                self.ctx,
                f"feature group {self.name} Created",
                lambda: self._created_or_failed(),
                self.ctx.deadlines.feature_group_created,
                slot,
                interval=self.poll,
            )
        finally:
            if slot is not None:
                slot.release()
            self.ctx.record(
                "quota_hold",
                service="sagemaker",
                operation="CreateFeatureGroup",
                duration=self.ctx.clock.wall(self.ctx.clock.now() - held),
            )
        return self

    def _create_with_slot(self, request: dict):
        """CreateFeatureGroup within the account's concurrency quota; returns the slot held."""
        slot = take_slot(self.ctx, "CreateFeatureGroup")
        try:
            create_within_quota(
                self.ctx, "CreateFeatureGroup", lambda: self.ctx.client("sagemaker").create_feature_group(**request)
            )
        except BaseException:
            if slot is not None:
                slot.release()
            raise
        return slot

    def _created_or_failed(self) -> bool:
        described = self.describe()
        if described is None:
            return False
        status = described["FeatureGroupStatus"]
        if status in ("CreateFailed", "DeleteFailed"):
            raise ArtifactError(f"feature group {self.name} is {status}: {described.get('FailureReason', '')}")
        if status == "Created":
            record_lifecycle(self.ctx, "feature_group", described, "CreationTime", "LastModifiedTime")
        return status == "Created"

    def ingest(self, df: pd.DataFrame, threads: int = 1) -> int:
        """PutRecord every row through the featurestore runtime, from `threads` threads at once
        (Workbench uses up to 32); returns rows written."""
        runtime = self.ctx.client("sagemaker-featurestore-runtime")
        rows = df.astype(str).to_dict(orient="records")

        def put(row: dict) -> None:
            runtime.put_record(
                FeatureGroupName=self.name, Record=[{"FeatureName": k, "ValueAsString": v} for k, v in row.items()]
            )

        if threads <= 1:
            for row in rows:
                put(row)
            return len(rows)
        # each thread carries this one's context: its events belong to this pipeline and stage,
        # and its waits end when the run stops; after a failed put, the rows not yet sent are not
        self.ctx.clock.gather([partial(put, row) for row in rows], threads, name=f"ingest-{self.name}")
        return len(rows)

    def offline_table(self) -> tuple[str, str] | None:
        """(database, table) of the offline store's Glue table, as the group describes it."""
        described = self.describe() or {}
        catalog = (described.get("OfflineStoreConfig") or {}).get("DataCatalogConfig") or {}
        return (catalog["Database"], catalog["TableName"]) if catalog.get("TableName") else None

    def offline_rows(self, offline: tuple[str, str] | None = None) -> int:
        """Rows in the offline store now, counted by Athena (what Workbench polls). offline: the
        (database, table) already looked up; else the group is described for it."""
        from harness.artifacts.athena import query

        database, table = offline or self.offline_table() or ("", "")
        counted = query(self.ctx, f'SELECT COUNT(*) AS count FROM "{database}"."{table}"', database)
        return int(counted["count"].iloc[0]) if len(counted) else 0

    def wait_for_offline_rows(self, expected: int, deadline: float | None = None, poll: float = 30.0) -> float:
        """Poll the offline store's row count every `poll` AWS seconds until it holds `expected`
        rows; partial state while it does not, PartialStateError past the deadline."""
        clock, ctx = self.ctx.clock, self.ctx
        deadline = ctx.deadlines.offline_rows if deadline is None else deadline
        offline = self.offline_table()  # once: Workbench polls the count, not the group
        have = self.offline_rows(offline)
        if have >= expected:
            return 0.0
        start, artifact = clock.now(), f"FeatureSet {self.name} offline rows"
        ctx.record("partial_state_detected", artifact=artifact, missing=[f"offline_rows {have}/{expected}"])
        while True:
            waited = clock.now() - start
            if waited >= deadline:
                missing = [f"offline_rows {have}/{expected}"]
                ctx.record("partial_state_failed", duration=clock.wall(waited), artifact=artifact, missing=missing)
                raise PartialStateError(artifact, missing, waited)
            ctx.sleep(min(poll, max(0.0, deadline - waited) + 1e-3))
            have = self.offline_rows(offline)
            if have >= expected:
                waited = clock.now() - start
                ctx.record("partial_state_resolved", duration=clock.wall(waited), artifact=artifact)
                return waited

    def get_record(self, record_id: str) -> dict | None:
        answer = self.ctx.client("sagemaker-featurestore-runtime").get_record(
            FeatureGroupName=self.name, RecordIdentifierValueAsString=str(record_id)
        )
        record = answer.get("Record")
        return {f["FeatureName"]: f["ValueAsString"] for f in record} if record else None

    def wait_for_offline_store(self, deadline: float | None = None) -> float:
        """Wait until every part of the offline store exists; PartialStateError past the deadline."""

        def missing():
            described = self.describe()
            if described is None:
                return ["feature_group_missing"]
            return self._offline_store_missing(described)

        return wait_for_parts(
            self.ctx,
            f"FeatureSet {self.name}",
            missing,
            self.ctx.deadlines.offline_store if deadline is None else deadline,
        )

    def delete(self) -> None:
        """Idempotent: the group (waiting through Deleting), then what AWS leaves behind: the
        offline store's Glue table and S3 objects."""
        described = self.describe()
        if described is None:
            return
        catalog = (described.get("OfflineStoreConfig") or {}).get("DataCatalogConfig") or {}
        uri = (described.get("OfflineStoreConfig") or {}).get("S3StorageConfig", {}).get("ResolvedOutputS3Uri", "")
        if described["FeatureGroupStatus"] != "Deleting":
            try:
                self.ctx.client("sagemaker").delete_feature_group(FeatureGroupName=self.name)
            except ClientError as err:
                if error_code(err) != "ResourceNotFound":
                    raise
        wait_until(
            self.ctx,
            f"feature group {self.name} deleted",
            lambda: self.describe() is None,
            self.ctx.deadlines.deletion,
            interval=self.delete_poll,
        )
        if catalog.get("TableName"):
            try:
                self.ctx.client("glue").delete_table(DatabaseName=catalog["Database"], Name=catalog["TableName"])
            except ClientError as err:
                if error_code(err) != "EntityNotFoundException":
                    raise
        if uri.startswith("s3://"):
            bucket, _, prefix = uri[5:].partition("/")
            delete_prefix(self.ctx, bucket, prefix)


def event_time_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
