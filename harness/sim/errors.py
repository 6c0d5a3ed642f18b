"""AWS error answers in the shape each protocol uses, so botocore parses them as AWS's own."""
from __future__ import annotations

import json
import uuid

from harness.sim.calls import Call

# The throttling code each service answers with (botocore classifies all of these as throttling).
THROTTLE_CODES = {
    "athena": "TooManyRequestsException",
    "s3": "SlowDown",
}
THROTTLE_MESSAGE = "Rate exceeded"

Response = tuple[int, list[tuple[str, str]], bytes]


def error(call: Call, status: int, code: str, message: str, **members: str) -> Response:
    """members: the error shape's own fields (Athena's Reason, AthenaErrorCode), JSON protocols only."""
    request_id = str(uuid.uuid4())
    if call.protocol == "json":
        body = json.dumps({"__type": code, "message": message, **members}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
    elif call.protocol == "rest-json":
        body = json.dumps({"message": message, **members}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
                   ("x-amzn-RequestId", request_id)]
    elif call.protocol == "rest-xml":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
                f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>").encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:  # query
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
                f"</ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return status, headers, body


def throttled(call: Call) -> Response:
    if call.service == "s3":
        return error(call, 503, "SlowDown", "Please reduce your request rate.")
    if call.protocol == "query":
        return error(call, 400, "Throttling", THROTTLE_MESSAGE)
    return error(call, 400, THROTTLE_CODES.get(call.service, "ThrottlingException"), THROTTLE_MESSAGE)


def server_fault(call: Call, status: int) -> Response:
    if status == 503:
        return error(call, 503, "ServiceUnavailable", "Service is unavailable, please try again")
    code = "InternalError" if call.service == "s3" else "InternalFailure"
    return error(call, 500, code, "We encountered an internal error. Please try again.")


def not_found(call: Call, message: str) -> Response:
    if call.service == "sagemaker-featurestore-runtime":
        return error(call, 404, "ResourceNotFound", message)
    return error(call, 400, "ResourceNotFound", message)


def validation(call: Call, message: str) -> Response:
    runtimes = ("sagemaker-featurestore-runtime", "sagemaker-runtime")
    code = "ValidationError" if call.service in runtimes else "ValidationException"
    return error(call, 400, code, message)


def limit_exceeded(call: Call, message: str) -> Response:
    return error(call, 400, "ResourceLimitExceeded", message)


def json_ok(payload: dict, content_type: str = "application/x-amz-json-1.1") -> Response:
    body = json.dumps(payload, default=str).encode()
    return 200, [("Content-Type", content_type), ("x-amzn-RequestId", str(uuid.uuid4()))], body
