"""The sagemaker-featurestore-runtime service, which moto lacks: records kept in memory per
feature group, with AWS's request and error shapes (PutRecord, GetRecord, DeleteRecord,
BatchGetRecord).

Every write also goes to the group's offline store, where it arrives late: each row becomes
visible (to Athena, through the offline store's Glue table) after a delay drawn from the
profile's window, in the order of the draws, as AWS's offline store fills in the background.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from typing import Callable

from harness.sim import errors
from harness.sim.calls import Call
from harness.sim.errors import Response


OFFLINE_COLUMNS = ("write_time", "api_invocation_time", "is_deleted")  # AWS adds these to each row


class RecordStore:
    def __init__(self, now: Callable[[], float] = lambda: 0.0, seed: int = 0,
                 rows_seconds: tuple[float, float] = (0.0, 0.0), epoch: float = 0.0):
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
        row = {**values, "write_time": stamp, "api_invocation_time": stamp, "is_deleted": "true" if deleted else "false"}
        self._offline.setdefault(key, []).append((now + self._rng.uniform(low, high), row, deleted))

    def offline_rows(self, account: str, region: str, group: str, columns: list[str]) -> list[list[str | None]]:
        """The rows of the group's offline store that have arrived by now, in `columns` order."""
        now = self.now()
        return [[row.get(c) for c in columns] for arrives, row, _ in self._offline.get((account, region, group), [])
                if arrives <= now]

    def handle(self, call: Call, group_info) -> Response:
        """group_info(name) -> (record identifier feature, event time feature) for a feature group
        that is Created, or None."""
        if call.operation == "BatchGetRecord":
            return self._batch_get(call, group_info)
        group = call.path.split("/", 2)[2] if call.path.count("/") >= 2 else ""
        info = group_info(group)
        if info is None:
            return errors.not_found(call, f"Resource not found: feature group {group} does not exist or is not Created")
        records = self._groups.setdefault((call.account, call.region, group), {})
        id_name, time_name = info
        if call.operation == "PutRecord":
            record = call.json().get("Record") or []
            values = {f.get("FeatureName"): f.get("ValueAsString") for f in record}
            for required in (id_name, time_name):
                if values.get(required) in (None, ""):
                    return errors.validation(call, f"Record is missing the required feature {required}")
            records[values[id_name]] = record
            self._to_offline((call.account, call.region, group), values)
            return 200, [("Content-Type", "application/json")], b""
        record_id = (call.query.get("RecordIdentifierValueAsString") or [""])[0]
        if not record_id:
            return errors.validation(call, "RecordIdentifierValueAsString is required")
        if call.operation == "DeleteRecord":
            gone = records.pop(record_id, None)
            if gone is not None:
                self._to_offline((call.account, call.region, group),
                                 {f.get("FeatureName"): f.get("ValueAsString") for f in gone}, deleted=True)
            return 200, [("Content-Type", "application/json")], b""
        if call.operation == "GetRecord":
            record = self._select(records.get(record_id), call.query.get("FeatureName"))
            payload = {"Record": record} if record else {}
            return 200, [("Content-Type", "application/json")], json.dumps(payload).encode()
        return errors.validation(call, f"Unsupported operation {call.operation}")

    def _batch_get(self, call: Call, group_info) -> Response:
        found, failed = [], []
        for ident in call.json().get("Identifiers") or []:
            group = ident.get("FeatureGroupName", "")
            records = self._groups.get((call.account, call.region, group), {})
            for record_id in ident.get("RecordIdentifiersValueAsString") or []:
                if group_info(group) is None:
                    failed.append({"FeatureGroupName": group, "RecordIdentifierValueAsString": record_id,
                                   "ErrorCode": "ResourceNotFound",
                                   "ErrorMessage": f"Feature group {group} not found"})
                    continue
                record = self._select(records.get(record_id), ident.get("FeatureNames"))
                if record:
                    found.append({"FeatureGroupName": group, "RecordIdentifierValueAsString": record_id,
                                  "Record": record})
        payload = {"Records": found, "Errors": failed, "UnprocessedIdentifiers": []}
        return 200, [("Content-Type", "application/json")], json.dumps(payload).encode()

    @staticmethod
    def _select(record: list[dict] | None, names: list[str] | None) -> list[dict] | None:
        if not record or not names:
            return record
        return [f for f in record if f.get("FeatureName") in names]
