"""The sagemaker-featurestore-runtime service, which moto lacks: records kept in memory per
feature group, with AWS's request and error shapes (PutRecord, GetRecord, DeleteRecord,
BatchGetRecord, BatchWriteRecord, ListRecords, UpdateRecord). Writes are checked against
the group's feature definitions; the online store keeps each record's newest EventTime.

Every write also goes to the group's offline store, where it arrives late: each row becomes
visible (to Athena, through the offline store's Glue table) after a delay drawn from the
profile's window, in the order of the draws, as AWS's offline store fills in the background.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from harness.sim import errors
from harness.sim.calls import Call
from harness.sim.paging import page, page_window
from harness.sim.replies import Reply


OFFLINE_COLUMNS = ("write_time", "api_invocation_time", "is_deleted")  # AWS adds these to each row


class RecordStore:
    def __init__(
        self,
        now: Callable[[], float] = lambda: 0.0,
        seed: int = 0,
        rows_seconds: tuple[float, float] = (0.0, 0.0),
        epoch: float = 0.0,
    ) -> None:
        """now: AWS seconds; rows_seconds: the window within which a write reaches the offline store."""
        self.now, self.rows_seconds, self.epoch = now, rows_seconds, epoch
        self._rng = random.Random(f"{seed}:offline-rows")
        self._groups: dict[tuple[str, str, str], dict[str, list[dict]]] = {}
        self._offline: dict[tuple[str, str, str], list[tuple[float, dict, bool]]] = {}

    def drop(self, account: str, region: str, group: str) -> None:
        self._groups.pop((account, region, group), None)
        self._offline.pop((account, region, group), None)

    def _to_offline(self, key: tuple[str, str, str], values: dict, deleted: bool = False) -> None:
        low, high = self.rows_seconds
        now = self.now()
        stamp = datetime.fromtimestamp(self.epoch + now, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        row = {
            **values,
            "write_time": stamp,
            "api_invocation_time": stamp,
            "is_deleted": "true" if deleted else "false",
        }
        self._offline.setdefault(key, []).append((now + self._rng.uniform(low, high), row, deleted))

    def offline_rows(self, account: str, region: str, group: str, columns: list[str]) -> list[list[str | None]]:
        """The rows of the group's offline store that have arrived by now, in `columns` order."""
        now = self.now()
        return [
            [row.get(c) for c in columns]
            for arrives, row, _ in self._offline.get((account, region, group), [])
            if arrives <= now
        ]

    def handle(self, call: Call, schema_of: Callable[[str], "FeatureGroupSchema | None"]) -> Reply:
        """schema_of(name) -> the schema of a feature group that is Created, or None."""
        if call.operation == "BatchGetRecord":
            return self._batch_get(call, schema_of)
        if call.operation == "BatchWriteRecord":
            return self._batch_write(call, schema_of)
        params = call.params
        group = group_name(params.get("FeatureGroupName", ""))
        schema = schema_of(group)
        if schema is None:
            return errors.not_found(call, f"Resource not found: feature group {group} does not exist or is not Created")
        key = (call.account, call.region, group)
        records = self._groups.setdefault(key, {})
        if call.operation == "PutRecord":
            record = params.get("Record") or []
            problem = schema.invalid(group, record)
            if problem:
                return errors.validation(call, problem)
            self._write(key, records, schema, record)
            return errors.ok()
        if call.operation == "ListRecords":
            try:
                start, size = page_window(params, 100, 1, 100)
            except ValueError as err:
                return errors.validation(call, str(err))
            return errors.ok(page(sorted(records), start, size, "RecordIdentifiers"))
        if call.operation == "UpdateRecord":
            record_id, features = params.get("RecordIdentifierValueAsString", ""), params.get("Features") or []
            problem = schema.invalid(group, features, whole=False)
            if problem:
                return errors.validation(call, problem)
            if record_id not in records:
                return errors.not_found(call, f"Record with identifier {record_id} not found in feature group {group}")
            updated = {f.get("FeatureName"): f for f in records[record_id]}
            updated.update({f.get("FeatureName"): f for f in features})
            records[record_id] = list(updated.values())
            return errors.ok()
        record_id = params.get("RecordIdentifierValueAsString") or ""
        if not record_id:
            return errors.validation(call, "RecordIdentifierValueAsString is required")
        if call.operation == "DeleteRecord":
            when = params.get("EventTime") or ""
            deleted_at = schema.event_seconds(when)
            if deleted_at is None:
                return errors.validation(call, schema.event_time_problem(when))
            current = records.get(record_id)
            # a delete older than the record it names is not applied (the record is newer)
            if current is not None and deleted_at >= schema.record_seconds(current):
                records.pop(record_id)
                self._to_offline(key, {f.get("FeatureName"): f.get("ValueAsString") for f in current}, deleted=True)
            return errors.ok()
        if call.operation == "GetRecord":
            record = self._select(records.get(record_id), params.get("FeatureNames"))
            return errors.ok({"Record": record} if record else {})
        return errors.validation(call, f"Unsupported operation {call.operation}")

    def _write(
        self, key: tuple[str, str, str], records: dict, schema: "FeatureGroupSchema", record: list[dict]
    ) -> None:
        """Every write reaches the offline store; the online store keeps the newest by EventTime."""
        record_id = next(f.get("ValueAsString") for f in record if f.get("FeatureName") == schema.record_id)
        current = records.get(record_id)
        if current is None or schema.record_seconds(record) >= schema.record_seconds(current):
            records[record_id] = record
        self._to_offline(key, {f.get("FeatureName"): f.get("ValueAsString") for f in record})

    def _batch_write(self, call: Call, schema_of: Callable[[str], FeatureGroupSchema | None]) -> Reply:
        failed = []
        for entry in call.params.get("Entries") or []:
            group = entry.get("FeatureGroupName", "")
            schema = schema_of(group)
            record = entry.get("Record") or []
            if schema is None:
                code, message = "ResourceNotFound", f"Feature group {group} not found"
            else:
                invalid = schema.invalid(group, record)
                if not invalid:
                    key = (call.account, call.region, group)
                    self._write(key, self._groups.setdefault(key, {}), schema, record)
                    continue
                code, message = "ValidationError", invalid
            failed.append({"Entry": entry, "ErrorCode": code, "ErrorMessage": message})
        return errors.ok({"Errors": failed, "UnprocessedEntries": []})

    def _batch_get(self, call: Call, schema_of: Callable[[str], FeatureGroupSchema | None]) -> Reply:
        found, failed = [], []
        for ident in call.params.get("Identifiers") or []:
            group = ident.get("FeatureGroupName", "")
            records = self._groups.get((call.account, call.region, group), {})
            for record_id in ident.get("RecordIdentifiersValueAsString") or []:
                if schema_of(group) is None:
                    failed.append(
                        {
                            "FeatureGroupName": group,
                            "RecordIdentifierValueAsString": record_id,
                            "ErrorCode": "ResourceNotFound",
                            "ErrorMessage": f"Feature group {group} not found",
                        }
                    )
                    continue
                record = self._select(records.get(record_id), ident.get("FeatureNames"))
                if record:
                    found.append(
                        {"FeatureGroupName": group, "RecordIdentifierValueAsString": record_id, "Record": record}
                    )
        return errors.ok({"Records": found, "Errors": failed, "UnprocessedIdentifiers": []})

    @staticmethod
    def _select(record: list[dict] | None, names: list[str] | None) -> list[dict] | None:
        if not record or not names:
            return record
        return [f for f in record if f.get("FeatureName") in names]


def group_name(name_or_arn: str) -> str:
    """The feature group a request names, by its name or its ARN."""
    return name_or_arn.rsplit("feature-group/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


# EventTime as a string: yyyy-MM-dd'T'HH:mm:ssZ or yyyy-MM-dd'T'HH:mm:ss.SSSZ (AWS's two formats)
EVENT_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class FeatureGroupSchema:
    """A feature group as the runtime checks writes against it: AWS answers ValidationError to a
    feature the group does not define, a value that is not of the feature's type, and an
    EventTime in neither of its formats."""

    record_id: str
    event_time: str
    types: dict[str, str]  # feature name -> String, Integral or Fractional

    def invalid(self, group: str, record: list[dict], whole: bool = True) -> str | None:
        """Why AWS would refuse this record (or these features of one), or None."""
        values = {}
        for feature in record:
            name, value = feature.get("FeatureName"), feature.get("ValueAsString")
            if name not in self.types:
                return f"Feature {name} is not defined in the feature group {group}."
            if value is not None and not _of_type(value, self.types[name]):
                return f"The value {value!r} of feature {name} is not a valid {self.types[name]}."
            values[name] = value
        if whole:
            for required in (self.record_id, self.event_time):
                if values.get(required) in (None, ""):
                    return f"Record is missing the required feature {required}."
        if self.event_time in values and self.event_seconds(values[self.event_time]) is None:
            return self.event_time_problem(values[self.event_time])
        return None

    def event_seconds(self, value: str | None) -> float | None:
        """An EventTime value as seconds since the epoch, or None if AWS would refuse it."""
        if value is None or value == "":
            return None
        if self.types.get(self.event_time) in ("Fractional", "Integral"):
            try:
                seconds = float(value)
            except ValueError:
                return None
            return seconds if math.isfinite(seconds) else None
        for layout in EVENT_TIME_FORMATS:
            try:
                return datetime.strptime(value, layout).replace(tzinfo=timezone.utc).timestamp()
            except ValueError:
                continue
        return None

    def event_time_problem(self, value: str | None) -> str:
        if self.types.get(self.event_time) in ("Fractional", "Integral"):
            return f"EventTime {value!r} is not a Unix timestamp in seconds."
        return f"EventTime {value!r} is not in one of the formats yyyy-MM-dd'T'HH:mm:ssZ or yyyy-MM-dd'T'HH:mm:ss.SSSZ."

    def record_seconds(self, record: list[dict]) -> float:
        value = next((f.get("ValueAsString") for f in record if f.get("FeatureName") == self.event_time), None)
        return self.event_seconds(value) or 0.0


def _of_type(value: str, feature_type: str) -> bool:
    if feature_type == "Integral":
        try:
            int(value)
        except ValueError:
            return False
        return True
    if feature_type == "Fractional":
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return True
