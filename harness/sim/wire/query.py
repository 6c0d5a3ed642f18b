"""The `query` protocol: form fields in (Name.member.1, Name.entry.1.key), XML out, wrapped in
<{Operation}Response><{Operation}Result>."""

from __future__ import annotations

from xml.etree import ElementTree

from botocore.model import OperationModel, ServiceModel, Shape

from harness.sim.replies import Answer, ApiError
from harness.sim.wire import xml
from harness.sim.wire.protocol import DecodeError, Protocol, Response
from harness.sim.wire.request import HttpRequest
from harness.sim.wire.values import JsonValue, from_text


class Query(Protocol):
    name = "query"

    def decode(self, request: HttpRequest, operation: OperationModel, labels: dict[str, str]) -> dict[str, JsonValue]:
        fields = request.form()
        if operation.input_shape is None:
            return {}
        try:
            return _read(operation.input_shape, fields, "") or {}
        except ValueError as err:
            raise DecodeError(str(err)) from None

    @staticmethod
    def namespace(model: ServiceModel) -> str:
        return (
            model.metadata.get("xmlNamespace")
            or f"https://{model.metadata.get('endpointPrefix')}.amazonaws.com/doc/{model.metadata.get('apiVersion')}/"
        )

    def encode(self, operation: OperationModel, answer: Answer, request_id: str) -> Response:
        root = ElementTree.Element(f"{operation.name}Response", xmlns=self.namespace(operation.service_model))
        shape = operation.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper") or f"{operation.name}Result"
            xml.fill(ElementTree.SubElement(root, wrapper), shape, answer.output)
        metadata = ElementTree.SubElement(root, "ResponseMetadata")
        ElementTree.SubElement(metadata, "RequestId").text = request_id
        return answer.status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.dumps(root)

    def encode_error(self, model: ServiceModel | None, error: ApiError, request_id: str) -> Response:
        body = xml.error_document("ErrorResponse", error.code, error.message, request_id, sender=error.status < 500)
        return error.status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


def _read(shape: Shape, fields: dict[str, str], prefix: str) -> JsonValue:
    """The value at `prefix` (None where nothing was sent), as botocore's QuerySerializer writes it."""
    kind = shape.type_name
    if kind == "structure":
        found = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            value = _read(member, fields, f"{prefix}.{key}" if prefix else key)
            if value is not None:
                found[name] = value
        return found if found or not prefix else None
    if kind == "list":
        if shape.serialization.get("flattened"):
            # botocore names a flattened list's items after the member where it has a name
            # (Attribute.1.Name, not Attributes.1.Name)
            member_name = shape.member.serialization.get("name")
            base = ".".join(prefix.split(".")[:-1] + [member_name]) if member_name else prefix
        else:
            base = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        items, index = [], 1
        while True:
            item = _read(shape.member, fields, f"{base}.{index}")
            if item is None:
                break
            items.append(item)
            index += 1
        if not items:
            return [] if fields.get(prefix) == "" else None  # an empty list is sent as "Name="
        return items
    if kind == "map":
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        found, index = {}, 1
        while f"{base}.{index}.{key_name}" in fields:
            found[fields[f"{base}.{index}.{key_name}"]] = _read(shape.value, fields, f"{base}.{index}.{value_name}")
            index += 1
        return found or None
    if prefix not in fields:
        return None
    return from_text(shape, fields[prefix])
