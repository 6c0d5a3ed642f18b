"""What a handler answers, before it is put on the wire in the caller's protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    """A success: the operation's output in the internal form (harness/sim/wire/values.py)."""

    output: dict[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass
class ApiError:
    """AWS's error: its HTTP status, code and message, and the error shape's own members
    (Athena's Reason and AthenaErrorCode)."""

    status: int
    code: str
    message: str
    members: dict[str, Any] = field(default_factory=dict)


class Gap(ApiError):
    """What the simulator cannot answer as AWS would: it or moto failed on the call (500, counted
    as a crash), or neither has the operation (501 NotImplemented, naming it)."""


@dataclass
class Raw:
    """An answer already on the wire in the caller's protocol (moto's, passed through)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


Reply = Answer | ApiError | Raw
