"""XML bodies by shape, for the `query` and `rest-xml` protocols' answers."""

from __future__ import annotations

from xml.etree import ElementTree

from botocore.model import Shape

from harness.sim.wire.values import JsonValue, to_text


def element(parent: ElementTree.Element | None, shape: Shape, value: JsonValue, name: str) -> ElementTree.Element:
    """`value` (internal form) as an element `name` under `parent` (a new root if None)."""
    node = ElementTree.Element(name) if parent is None else ElementTree.SubElement(parent, name)
    namespace = shape.serialization.get("xmlNamespace")
    if isinstance(namespace, dict):
        node.set(f"xmlns:{namespace['prefix']}" if namespace.get("prefix") else "xmlns", namespace["uri"])
    elif namespace:
        node.set("xmlns", namespace)
    fill(node, shape, value)
    return node


def fill(node: ElementTree.Element, shape: Shape, value: JsonValue) -> None:
    kind = shape.type_name
    if kind == "structure":
        for member_name, member in shape.members.items():
            if member_name not in value or value[member_name] is None:
                continue
            if member.serialization.get("location"):
                continue  # headers and status code, not the body
            name = member.serialization.get("name", member_name)
            if member.serialization.get("xmlAttribute"):
                node.set(name, to_text(member, value[member_name]))
            elif member.type_name == "list" and member.serialization.get("flattened"):
                for item in value[member_name]:
                    element(node, member.member, item, member.member.serialization.get("name", name))
            elif member.type_name == "map" and member.serialization.get("flattened"):
                _entries(node, member, value[member_name], name)
            else:
                element(node, member, value[member_name], name)
    elif kind == "list":
        for item in value:
            element(node, shape.member, item, shape.member.serialization.get("name", "member"))
    elif kind == "map":
        _entries(node, shape, value, "entry")
    else:
        node.text = to_text(shape, value)


def _entries(node: ElementTree.Element, shape: Shape, value: dict[str, JsonValue], entry_name: str) -> None:
    for key, item in value.items():
        entry = ElementTree.SubElement(node, entry_name)
        element(entry, shape.key, key, shape.key.serialization.get("name", "key"))
        element(entry, shape.value, item, shape.value.serialization.get("name", "value"))


def dumps(root: ElementTree.Element) -> bytes:
    body: bytes = ElementTree.tostring(root, encoding="utf-8")  # bytes for any encoding but "unicode" (typeshed: Any)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def error_document(root_name: str, code: str, message: str, request_id: str, sender: bool) -> bytes:
    """AWS's XML error: <Error> for S3, <ErrorResponse><Error><Type/>... for the others."""
    if root_name == "Error":
        root = ElementTree.Element("Error")
        error = root
    else:
        root = ElementTree.Element(root_name)
        error = ElementTree.SubElement(root, "Error")
        ElementTree.SubElement(error, "Type").text = "Sender" if sender else "Receiver"
    ElementTree.SubElement(error, "Code").text = code
    ElementTree.SubElement(error, "Message").text = message
    ElementTree.SubElement(root, "RequestId").text = request_id
    return dumps(root)
