"""The simulator's wire: every protocol botocore's service models define, read into one internal
form and written back in the protocol the caller used.

    router = Router(ServiceModels())
    route = router.route(HttpRequest.from_environ(environ, body))    # or Unroutable
    params = PROTOCOLS[route.protocol].decode(request, route.operation, route.labels)
    ...
    status, headers, body = encode(route, reply)

One module per protocol family: rpc (json, smithy-rpc-v2-cbor), rest (rest-json, rest-xml),
query; values holds the internal form; models and routing read botocore's models.
"""

from __future__ import annotations

import uuid

from harness.sim.replies import ApiError, Raw, Reply
from harness.sim.wire.models import ServiceModels, Variant
from harness.sim.wire.protocol import DecodeError, Protocol, Response
from harness.sim.wire.query import Query
from harness.sim.wire.request import HttpRequest
from harness.sim.wire.rest import RestJson, RestXml
from harness.sim.wire.routing import Route, Router, Unroutable
from harness.sim.wire.rpc import Cbor, Json

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (Json(), Cbor(), RestJson(), RestXml(), Query())}
PROTOCOLS["ec2"] = PROTOCOLS["query"]  # moto answers EC2 itself; only its errors are written here


def encode(route: Route, reply: Reply) -> Response:
    """A reply on the wire, in the protocol of the request it answers."""
    if isinstance(reply, Raw):
        return reply.status, reply.headers, reply.body
    codec, request_id = PROTOCOLS[route.protocol], str(uuid.uuid4())
    if isinstance(reply, ApiError):
        return codec.encode_error(route.variant.model, reply, request_id)
    return codec.encode(route.operation, reply, request_id)


def unknown_operation(miss: Unroutable) -> Response:
    """What AWS answers a request that names no operation it has, in the caller's protocol."""
    protocol = miss.protocol if miss.protocol in PROTOCOLS else "rest-json"
    if miss.service is None:
        error = ApiError(
            400, "UnknownOperationException", f"no service the simulator knows signs requests this way ({miss.what})"
        )
    elif protocol == "query":
        error = ApiError(400, "InvalidAction", f"The action {miss.what} is not valid for this web service.")
    elif protocol == "rest-xml":
        error = ApiError(
            405, "MethodNotAllowed", f"The specified method is not allowed against this resource ({miss.what})."
        )
    elif protocol == "rest-json":
        error = ApiError(404, "UnknownOperationException", f"{miss.service} has no operation at {miss.what}")
    else:
        error = ApiError(400, "UnknownOperationException", f"{miss.service} has no operation {miss.what}")
    return PROTOCOLS[protocol].encode_error(None, error, str(uuid.uuid4()))


__all__ = [
    "DecodeError",
    "HttpRequest",
    "PROTOCOLS",
    "Protocol",
    "Response",
    "Route",
    "Router",
    "ServiceModels",
    "Unroutable",
    "Variant",
    "encode",
    "unknown_operation",
]
