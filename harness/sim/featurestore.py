"""The sagemaker-featurestore-runtime service, which moto lacks: records kept in memory per
feature group, with AWS's request and error shapes (PutRecord, GetRecord, DeleteRecord,
BatchGetRecord)."""
from __future__ import annotations

import json

from harness.sim import errors
from harness.sim.calls import Call
from harness.sim.errors import Response


class RecordStore:
    def __init__(self):
        self._groups: dict[tuple[str, str, str], dict[str, list[dict]]] = {}

    def drop(self, account: str, region: str, group: str) -> None:
        self._groups.pop((account, region, group), None)

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
            return 200, [("Content-Type", "application/json")], b""
        record_id = (call.query.get("RecordIdentifierValueAsString") or [""])[0]
        if not record_id:
            return errors.validation(call, "RecordIdentifierValueAsString is required")
        if call.operation == "DeleteRecord":
            records.pop(record_id, None)
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
