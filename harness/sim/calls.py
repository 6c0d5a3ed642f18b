"""One AWS call as the simulator's handlers see it: which service and operation, in which
protocol, and its parameters in the internal form (harness/sim/wire/values.py)."""
from __future__ import annotations

from dataclasses import dataclass

from harness.sim.wire import PROTOCOLS, HttpRequest, Route


@dataclass
class Call:
    route: Route
    request: HttpRequest
    params: dict
    account: str

    @classmethod
    def read(cls, route: Route, request: HttpRequest, account: str) -> "Call":
        """Raises wire.DecodeError for a body the protocol cannot read."""
        return cls(route, request, PROTOCOLS[route.protocol].decode(request, route.operation, route.labels), account)

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
