"""The RPC protocols, where the body is the whole input or output: `json` (the operation in the
X-Amz-Target header) and `smithy-rpc-v2-cbor` (POST /service/{Service}/operation/{Operation})."""

from __future__ import annotations

import json
from datetime import datetime

import cbor2
from botocore.model import OperationModel, ServiceModel, Shape

from harness.sim.replies import Answer, ApiError
from harness.sim.wire.protocol import DecodeError, Protocol, Response
from harness.sim.wire.request import HttpRequest
from harness.sim.wire.values import JsonValue, aware, b64, epoch, raw, walk


def _json_default(value: object) -> float | str:
    """What moto's answers or a handler may leave in: AWS's json carries epoch seconds and base64."""
    if isinstance(value, datetime):
        return epoch(value)
    if isinstance(value, (bytes, bytearray)):
        return b64(value)
    return str(value)


def json_bytes(value: JsonValue) -> bytes:
    return json.dumps(value, default=_json_default).encode()


class Json(Protocol):
    """The internal form is this protocol's body, so nothing is converted. (A json model that
    renames a body member with locationName would need a walk; none of the served ones does.)"""

    name = "json"

    def decode(self, request: HttpRequest, operation: OperationModel, labels: dict[str, str]) -> dict[str, JsonValue]:
        try:
            params = json.loads(request.body or b"{}")
        except ValueError as err:
            raise DecodeError(f"the body is not JSON: {err}") from None
        if not isinstance(params, dict):
            raise DecodeError("the body is not a JSON object")
        return params

    @staticmethod
    def content_type(model: ServiceModel | None) -> str:
        return f"application/x-amz-json-{(model.metadata.get('jsonVersion') if model else None) or '1.1'}"

    def encode(self, operation: OperationModel, answer: Answer, request_id: str) -> Response:
        headers = [("Content-Type", self.content_type(operation.service_model)), ("x-amzn-RequestId", request_id)]
        return answer.status, headers, json_bytes(answer.output)

    def encode_error(self, model: ServiceModel | None, error: ApiError, request_id: str) -> Response:
        body = {"__type": error.code, "message": error.message, **error.members}
        return (
            error.status,
            [("Content-Type", self.content_type(model)), ("x-amzn-RequestId", request_id)],
            json_bytes(body),
        )


def _from_cbor(shape: Shape, value: JsonValue) -> JsonValue:
    if shape.type_name == "timestamp":
        return epoch(value)
    if shape.type_name == "blob":
        return b64(value)
    return value


def _to_cbor(shape: Shape, value: JsonValue) -> JsonValue:
    if shape.type_name == "timestamp":
        return aware(value)
    if shape.type_name == "blob":
        return raw(value)
    if shape.type_name in ("float", "double") and isinstance(value, str):  # json's "NaN", "Infinity"
        return float(value)
    return value


class Cbor(Protocol):
    name = "smithy-rpc-v2-cbor"
    HEADERS = [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]

    def decode(self, request: HttpRequest, operation: OperationModel, labels: dict[str, str]) -> dict[str, JsonValue]:
        if not request.body:
            return {}
        try:
            params = cbor2.loads(request.body)
        except Exception as err:  # noqa: BLE001 - cbor2 raises several kinds for a bad body
            raise DecodeError(f"the body is not CBOR: {err}") from None
        if not isinstance(params, dict):
            raise DecodeError("the body is not a CBOR map")
        if not operation.input_shape:
            return {}
        decoded: dict[str, JsonValue] = walk(operation.input_shape, params, _from_cbor)
        return decoded

    @staticmethod
    def dumps(value: JsonValue) -> bytes:
        return cbor2.dumps(value, datetime_as_timestamp=True)

    def encode(self, operation: OperationModel, answer: Answer, request_id: str) -> Response:
        output = (
            walk(operation.output_shape, answer.output, _to_cbor, incoming=False)
            if operation.output_shape is not None
            else {}
        )
        return answer.status, self.HEADERS + [("x-amzn-RequestId", request_id)], self.dumps(output)

    def encode_error(self, model: ServiceModel | None, error: ApiError, request_id: str) -> Response:
        body = {"__type": error.code, "message": error.message, **error.members}
        return error.status, self.HEADERS + [("x-amzn-RequestId", request_id)], self.dumps(body)
