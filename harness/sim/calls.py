"""One AWS call as the simulator's handlers see it: which service and operation, in which
protocol, and its parameters in the internal form (harness/sim/wire/values.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from harness.sim.wire import PROTOCOLS, HttpRequest, Route


@dataclass
class Call:
    route: Route
    request: HttpRequest
    account: str

    @cached_property
    def params(self) -> dict[str, Any]:
        """The request's members in the internal form, read when first asked for: a call moto
        answers as sent (an S3 upload) is never decoded. Raises wire.DecodeError for a body the
        protocol cannot read."""
        return PROTOCOLS[self.route.protocol].decode(self.request, self.route.operation, self.route.labels)

    @property
    def service(self) -> str:
        return self.route.service

    @property
    def operation(self) -> str:
        return self.route.operation.name

    @property
    def protocol(self) -> str:
        return self.route.protocol

    @property
    def region(self) -> str:
        return self.request.region

    @property
    def key(self) -> str:
        return f"{self.service}.{self.operation}"

    @property
    def query_family(self) -> bool:
        """A service of the query family (IAM, STS): its throttling code is "Throttling"."""
        return "query" in self.route.variant.protocols
