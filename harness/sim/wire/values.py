"""Values between the simulator's one internal form and each wire format.

The internal form of a request's parameters or an answer's output is what the `json` protocol's
body carries: dicts keyed by member name, timestamps as seconds since the epoch, blobs as base64
text. moto (for the JSON services) and the simulator's own handlers read and write it, and a
`json` caller needs no conversion. Every other protocol converts to and from it through the
operation's shapes. Conversions accept more than the internal form (datetimes, ISO text, bytes),
because moto's answers mix them.
"""

from __future__ import annotations

import base64
import email.utils
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from botocore.model import Shape
from botocore.utils import parse_timestamp

JsonValue = Any  # a value in the internal form: whatever JSON holds (and, from moto, datetimes and bytes)
Leaf = Callable[[Shape, JsonValue], JsonValue]  # (shape, value) -> value


def walk(
    shape: Shape | None,
    value: JsonValue,
    leaf: Leaf,
    rename: Callable[[str, Shape], str] | None = None,
    incoming: bool = True,
) -> JsonValue:
    """A copy of `value` with every scalar passed through `leaf(shape, value)`. Structure keys
    are member names; `rename(member_name, member_shape)` gives the wire name where the wire
    renames members (rest-json's locationName). incoming: wire -> internal (else the reverse).
    Keys the shape does not know are dropped: what the model does not define, AWS does not send."""
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict) or shape.metadata.get("document"):
            return value
        out: dict[str, JsonValue] = {}
        for name, member in shape.members.items():
            key = rename(name, member) if rename else name
            source, target = (key, name) if incoming else (name, key)
            if source in value and value[source] is not None:
                out[target] = walk(member, value[source], leaf, rename, incoming)
        return out
    if kind == "list":
        return (
            [walk(shape.member, item, leaf, rename, incoming) for item in value] if isinstance(value, list) else value
        )
    if kind == "map":
        return (
            {k: walk(shape.value, v, leaf, rename, incoming) for k, v in value.items()}
            if isinstance(value, dict)
            else value
        )
    return leaf(shape, value)


def epoch(value: object) -> float | int:
    """Seconds since the epoch from a number, a datetime, or ISO 8601 / HTTP-date / numeric text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        moment: datetime = parse_timestamp(text)
        return moment.timestamp()


def aware(value: object) -> datetime:
    return datetime.fromtimestamp(epoch(value), timezone.utc)


def timestamp_text(value: object, layout: str) -> str:
    """A timestamp as text: iso8601 (query, XML, URIs), rfc822 (headers) or unixTimestamp."""
    seconds = epoch(value)
    if layout == "unixTimestamp":
        return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))
    if layout == "rfc822":
        return email.utils.formatdate(seconds, usegmt=True)
    moment = aware(seconds)
    millis = moment.microsecond // 1000
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{millis:03d}Z" if millis else "Z")


def b64(value: object) -> str:
    """A blob in the internal form: base64 text."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def raw(value: str | bytes | bytearray | None) -> bytes:
    """A blob's bytes, from the internal form (or bytes already)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return base64.b64decode(value) if value else b""


def number_text(value: object) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return str(value)


def from_text(shape: Shape, text: str) -> str | int | float | bool:
    """A scalar sent as text (URI label, query string, header, form field) in the internal form."""
    kind = shape.type_name
    if kind in ("integer", "long", "short", "byte"):
        return int(text)
    if kind in ("float", "double"):
        return float(text)
    if kind == "boolean":
        return text.strip().lower() == "true"
    if kind == "timestamp":
        return epoch(text)
    if kind == "blob":
        return text  # base64 on the wire as in the internal form
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64decode(text).decode("utf-8")
    return text


def to_text(shape: Shape, value: object, default_timestamp: str = "iso8601") -> str:
    """A scalar of the internal form as text for a URI, query string, header or XML element."""
    kind = shape.type_name
    if kind == "timestamp":
        return timestamp_text(value, shape.serialization.get("timestampFormat", default_timestamp))
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("float", "double"):
        return number_text(value)
    if kind == "blob":
        return b64(value)
    if kind == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(str(value).encode()).decode("ascii")
    return str(value)
