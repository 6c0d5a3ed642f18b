"""What every wire protocol does: read a request's parameters, write an answer or an error."""

from __future__ import annotations

from botocore.model import OperationModel, ServiceModel

from harness.sim.replies import Answer, ApiError
from harness.sim.wire.request import HttpRequest
from harness.sim.wire.values import JsonValue

Response = tuple[int, list[tuple[str, str]], bytes]


class DecodeError(ValueError):
    """A body the operation's protocol cannot read: AWS answers SerializationException."""


class Protocol:
    name = ""

    def decode(self, request: HttpRequest, operation: OperationModel, labels: dict[str, str]) -> dict[str, JsonValue]:
        """The request's parameters in the internal form. labels: the URI's {Label} values."""
        raise NotImplementedError

    def encode(self, operation: OperationModel, answer: Answer, request_id: str) -> Response:
        raise NotImplementedError

    def encode_error(self, model: ServiceModel | None, error: ApiError, request_id: str) -> Response:
        raise NotImplementedError
