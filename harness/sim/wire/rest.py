"""The REST protocols, `rest-json` and `rest-xml`: members bound to the URI, the query string and
headers, the rest in the body (or one member as the whole body: the payload)."""

from __future__ import annotations

import json

from botocore.model import OperationModel, ServiceModel, Shape

from harness.sim.replies import Answer, ApiError
from harness.sim.wire import xml
from harness.sim.wire.protocol import DecodeError, Protocol, Response
from harness.sim.wire.request import HttpRequest
from harness.sim.wire.rpc import json_bytes
from harness.sim.wire.values import JsonValue, b64, epoch, from_text, raw, timestamp_text, to_text, walk


def _wire_name(name: str, member: Shape) -> str:
    wire: str = member.serialization.get("name", name)
    return wire


def _from_body(shape: Shape, value: JsonValue) -> JsonValue:
    if shape.type_name == "timestamp":
        return epoch(value)
    return value


def _to_body(shape: Shape, value: JsonValue) -> JsonValue:
    if shape.type_name == "timestamp":
        layout = shape.serialization.get("timestampFormat")
        return timestamp_text(value, layout) if layout in ("iso8601", "rfc822") else epoch(value)
    if shape.type_name == "blob":
        return b64(value)
    return value


class Rest(Protocol):
    """What rest-json and rest-xml share; the body's format is theirs."""

    CONTENT_TYPE = ""

    def decode(self, request: HttpRequest, operation: OperationModel, labels: dict[str, str]) -> dict[str, JsonValue]:
        shape = operation.input_shape
        if shape is None:
            return {}
        params: dict[str, JsonValue] = {}
        claimed: set[str] = set()
        for name, member in shape.members.items():
            location, wire = member.serialization.get("location"), _wire_name(name, member)
            try:
                if location == "uri" and wire in labels:
                    params[name] = from_text(member, labels[wire])
                elif location == "querystring" and member.type_name != "map":
                    values = request.query.get(wire)
                    claimed.add(wire)
                    if values:
                        params[name] = (
                            [from_text(member.member, v) for v in values]
                            if member.type_name == "list"
                            else from_text(member, values[-1])
                        )
                elif location == "header" and wire.lower() in request.headers:
                    text = request.headers[wire.lower()]
                    params[name] = (
                        [from_text(member.member, v.strip()) for v in text.split(",")]
                        if member.type_name == "list"
                        else from_text(member, text)
                    )
                elif location == "headers":
                    prefix = wire.lower()
                    found = {k[len(prefix) :]: v for k, v in request.headers.items() if k.startswith(prefix)}
                    if found:
                        params[name] = found
            except ValueError as err:
                raise DecodeError(f"{wire}: {err}") from None
        for name, member in shape.members.items():  # a map of the query string takes what is left
            if member.serialization.get("location") == "querystring" and member.type_name == "map":
                rest = {
                    k: (v if member.value.type_name == "list" else v[-1])
                    for k, v in request.query.items()
                    if k not in claimed
                }
                if rest:
                    params[name] = rest
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            if member.type_name == "blob":
                params[payload] = b64(request.body)
            elif member.type_name == "string":
                try:
                    params[payload] = request.body.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise DecodeError(f"the body is not UTF-8 text: {err}") from None
            elif request.body:
                params[payload] = self.read_body(member, request.body)
        elif request.body:
            body = self.read_body(shape, request.body)
            params.update({k: v for k, v in body.items() if not shape.members[k].serialization.get("location")})
        return params

    def read_body(self, shape: Shape, body: bytes) -> dict[str, JsonValue]:
        raise NotImplementedError

    def write_body(self, shape: Shape, value: dict[str, JsonValue]) -> bytes:
        raise NotImplementedError

    REQUEST_ID = "x-amzn-RequestId"

    def encode(self, operation: OperationModel, answer: Answer, request_id: str) -> Response:
        shape, output = operation.output_shape, answer.output
        status = answer.status
        if status == 200:
            status = operation.http.get("responseCode", 200)
        headers = [(self.REQUEST_ID, request_id)]
        body = b""
        if shape is not None:
            for name, member in shape.members.items():
                value = output.get(name)
                location = member.serialization.get("location")
                if value is None or not location:
                    continue
                wire = _wire_name(name, member)
                if location == "header":
                    text = (
                        ",".join(to_text(member.member, v) for v in value)
                        if member.type_name == "list"
                        else to_text(member, value, "rfc822")
                    )
                    headers.append((wire, text))
                elif location == "headers":
                    headers.extend((wire + key, str(v)) for key, v in value.items())
                elif location == "statusCode":
                    status = int(value)
            payload = shape.serialization.get("payload")
            if payload:
                member, value = shape.members[payload], output.get(payload)
                if member.type_name == "blob":
                    body = raw(value) if value is not None else b""
                elif member.type_name == "string":
                    body = str(value).encode() if value is not None else b""
                elif value is not None:
                    body = self.write_body(member, value)
            else:
                body = self.write_body(shape, output)
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", self.CONTENT_TYPE))
        return status, headers, body


class RestJson(Rest):
    name = "rest-json"
    CONTENT_TYPE = "application/json"

    def read_body(self, shape: Shape, body: bytes) -> dict[str, JsonValue]:
        try:
            value = json.loads(body)
        except ValueError as err:
            raise DecodeError(f"the body is not JSON: {err}") from None
        if shape.type_name == "structure" and not isinstance(value, dict):
            raise DecodeError("the body is not a JSON object")
        params: dict[str, JsonValue] = walk(shape, value, _from_body, _wire_name)
        return params

    def write_body(self, shape: Shape, value: dict[str, JsonValue]) -> bytes:
        body = (
            {
                name: v
                for name, v in value.items()
                if name in shape.members and not shape.members[name].serialization.get("location")
            }
            if shape.type_name == "structure"
            else value
        )
        return json_bytes(walk(shape, body, _to_body, _wire_name, incoming=False))

    def encode_error(self, model: ServiceModel | None, error: ApiError, request_id: str) -> Response:
        headers = [
            ("x-amzn-ErrorType", error.code),
            ("Content-Type", self.CONTENT_TYPE),
            ("x-amzn-RequestId", request_id),
        ]
        return error.status, headers, json_bytes({"message": error.message, **error.members})


class RestXml(Rest):
    """Request bodies are not read: every rest-xml service the simulator serves (S3) is moto's,
    which gets the request as sent."""

    name = "rest-xml"
    CONTENT_TYPE = "application/xml"
    REQUEST_ID = "x-amz-request-id"

    def read_body(self, shape: Shape, body: bytes) -> dict[str, JsonValue]:
        return {}

    def write_body(self, shape: Shape, value: dict[str, JsonValue]) -> bytes:
        return xml.dumps(xml.element(None, shape, value, shape.serialization.get("name", shape.name)))

    def encode_error(self, model: ServiceModel | None, error: ApiError, request_id: str) -> Response:
        s3 = model is not None and model.service_name.startswith("s3")
        body = xml.error_document(
            "Error" if s3 else "ErrorResponse", error.code, error.message, request_id, sender=error.status < 500
        )
        return error.status, [("Content-Type", self.CONTENT_TYPE), ("x-amz-request-id", request_id)], body
