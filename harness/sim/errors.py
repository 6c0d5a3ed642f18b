"""AWS's error answers, by service: the code and status each one uses (the wire writes them in
the caller's protocol, harness/sim/wire)."""

from __future__ import annotations

from harness.sim.calls import Call
from harness.sim.replies import Answer, ApiError, Gap

# The code each service answers a throttled call with (botocore files each under throttling);
# the others answer ThrottlingException, or Throttling in the query family.
THROTTLING_ANSWERS = {
    "athena": "TooManyRequestsException",
    "s3": "SlowDown",
}
THROTTLE_MESSAGE = "Rate exceeded"
INTERNAL_MESSAGE = "We encountered an internal error. Please try again."
RUNTIMES = ("sagemaker-featurestore-runtime", "sagemaker-runtime")


def error(call: Call | None, status: int, code: str, message: str, **members) -> ApiError:
    """members: the error shape's own fields (Athena's Reason, AthenaErrorCode)."""
    return ApiError(status, code, message, members)


def ok(output: dict | None = None, status: int = 200) -> Answer:
    return Answer(output or {}, status)


def throttled(call: Call) -> ApiError:
    if call.service == "s3":
        return ApiError(503, "SlowDown", "Please reduce your request rate.")
    if call.query_family:
        return ApiError(400, "Throttling", THROTTLE_MESSAGE)
    return ApiError(400, THROTTLING_ANSWERS.get(call.service, "ThrottlingException"), THROTTLE_MESSAGE)


def server_fault(call: Call, status: int) -> ApiError:
    """An injected fault: AWS's own 500 or 503."""
    if status == 503:
        return ApiError(503, "ServiceUnavailable", "Service is unavailable, please try again")
    return ApiError(500, _internal_code(call.service), INTERNAL_MESSAGE)


def crashed(call: Call) -> Gap:
    """The simulator or moto failed on the call: answered as AWS's 500 would be."""
    return Gap(500, _internal_code(call.service), INTERNAL_MESSAGE)


def _internal_code(service: str) -> str:
    return "InternalError" if service == "s3" else "InternalFailure"


def not_found(call: Call, message: str) -> ApiError:
    if call.service == "sagemaker-featurestore-runtime":
        return ApiError(404, "ResourceNotFound", message)
    return ApiError(400, "ResourceNotFound", message)


def validation(call: Call, message: str) -> ApiError:
    return ApiError(400, "ValidationError" if call.service in RUNTIMES else "ValidationException", message)


def limit_exceeded(call: Call, message: str) -> ApiError:
    return ApiError(400, "ResourceLimitExceeded", message)


def malformed(message: str) -> ApiError:
    """A body the caller's protocol cannot read."""
    return ApiError(400, "SerializationException", message)
