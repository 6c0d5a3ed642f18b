"""The instrumentation a pipeline process gets at interpreter start (see sitecustomize.py).

Every botocore client the process makes is routed (on the simulator: its endpoint and
credentials, whatever the code asked for), retried as the run's policy says, and asks the run
(`harness/aws/relay.py`, over a Unix socket) before and after each attempt: the run paces it with
its shared limiter, records it against this pipeline, and refuses it once the run stops
(`RunStopping`). Under the harness policy the run also decides each retry's backoff.

On the simulator, time runs faster than the wall by 1/time_scale, so the process's own sleeps
(its polling loops, botocore's waiters and backoffs) are shortened by the same factor: a
30-second poll against AWS is a 30-second poll in the simulator's AWS time.

Standard library and botocore only: this runs in the user's interpreter, with the user's botocore.
So it repeats, rather than imports, the little of harness/aws/user_clients.py (routing a new
client) and harness/aws/hooks.py (botocore's retry context) it needs; the decisions themselves
(pacing, recording, backoff) are the run's, made by the same CallHooks as for its own clients.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any

from botocore.client import ClientCreator
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError
from botocore.retries import standard

CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError)


class RunStopping(Exception):
    """The harness run this pipeline belongs to is stopping: no new AWS call."""


class RelayError(Exception):
    """The run could not let the attempt go (its limiter waited past the call's deadline, say)."""


_settings: dict[str, Any] = {}
_local = threading.local()
_original_create_client: Any = None


def _forget_connections() -> None:
    """In a forked child (multiprocessing's fork pools: Workbench ingests that way) the parent's
    connection is shared: the child opens its own on its first attempt."""
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_connections)


def install(settings_json: str) -> None:
    global _original_create_client
    _settings.update(json.loads(settings_json))
    if _original_create_client is None:
        _original_create_client = ClientCreator.create_client
        ClientCreator.create_client = _create_client
    scale = float(_settings.get("time_scale", 1.0))
    if scale != 1.0:
        _scale_sleep(scale)


def _scale_sleep(scale: float) -> None:
    wall_sleep = time.sleep

    def sleep(seconds: float) -> None:
        wall_sleep(max(0.0, seconds) * scale)

    time.sleep = sleep  # type: ignore[assignment]


def _ask(kind: str, fields: dict[str, Any], reply: bool = True) -> Any:
    stream = getattr(_local, "stream", None)
    if stream is None:  # one connection per thread: the run serves each in a thread of its own
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(_settings["relay"])
        _local.connection, _local.stream = connection, stream = connection, connection.makefile("rwb")
    stream.write(json.dumps({kind: fields}).encode() + b"\n")
    stream.flush()
    if not reply:
        return None
    answer = json.loads(stream.readline() or b'{"error": "the run closed its relay"}')
    if "stopped" in answer:
        raise RunStopping(answer["stopped"])
    if "error" in answer:
        raise RelayError(answer["error"])
    return answer["ok"]


def _create_client(
    self: Any,
    service_name: str,
    region_name: Any,
    is_secure: bool = True,
    endpoint_url: Any = None,
    verify: Any = None,
    credentials: Any = None,
    scoped_config: Any = None,
    api_version: Any = None,
    client_config: Any = None,
    auth_token: Any = None,
) -> Any:
    if _settings.get("endpoint_url"):  # the simulator: every client goes there
        endpoint_url = _settings["endpoint_url"]
        credentials = Credentials(**_settings["credentials"])
    region_name = _settings.get("region") or region_name  # the scenario's region
    retries = Config(retries=_settings["retries"])
    client = _original_create_client(
        self,
        service_name,
        region_name,
        is_secure,
        endpoint_url,
        verify,
        credentials,
        scoped_config,
        api_version,
        client_config.merge(retries) if client_config is not None else retries,
        auth_token,
    )
    _hook(client)
    return client


def _hook(client: Any) -> None:
    service = client.meta.service_model.service_name
    attempt = threading.local()
    conditions = standard.StandardRetryConditions(max_attempts=int(_settings.get("attempts", 3)))
    timing_headers = _settings.get("timing_headers", [])

    def before_send(event_name: str, request: Any = None, **_: Any) -> None:
        attempt.sent = False
        context = request.context if request is not None and request.context is not None else {}
        first = context.get("harness_first_attempt")
        context["harness_first_attempt"] = _ask(
            "start", {"service": service, "operation": event_name.rsplit(".", 1)[-1], "first": first}
        )
        attempt.sent = True

    def response_received(
        event_name: str,
        context: dict[str, Any],
        parsed_response: Any = None,
        exception: Any = None,
        response_dict: Any = None,
        **_: Any,
    ) -> None:
        if not getattr(attempt, "sent", True):
            return  # refused before it was sent
        error = (parsed_response or {}).get("Error") or {}
        response = response_dict or {}
        headers = response.get("headers") or {}
        fields = {
            "service": service,
            "operation": event_name.rsplit(".", 1)[-1],
            "attempt": (context.get("retries") or {}).get("attempt", 1),
            "code": type(exception).__name__ if exception is not None else error.get("Code") or None,
            "reason": (parsed_response or {}).get("Reason"),
            "raised": exception is not None,
            "status": response.get("status_code"),
            "headers": {name: headers[name] for name in timing_headers if name in headers},
        }
        _ask("end", fields, reply=False)

    def needs_retry(
        attempts: int,
        operation: Any,
        request_dict: dict[str, Any],
        event_name: str,
        response: Any = None,
        caught_exception: Any = None,
        **_: Any,
    ) -> Any:
        retry = standard.RetryContext(
            attempt_number=attempts,
            operation_model=operation,
            parsed_response=response[1] if response else None,
            http_response=response[0] if response else None,
            caught_exception=caught_exception,
            request_context=request_dict["context"],
        )
        unreachable = isinstance(caught_exception, CONNECTION_ERRORS)
        return _ask(
            "retry",
            {
                "service": service,
                "operation": operation.name,
                "attempts": attempts,
                "first": request_dict["context"].get("harness_first_attempt"),
                "retryable": unreachable or conditions.is_retryable(retry),
                "code": retry.get_error_code()
                or (type(caught_exception).__name__ if caught_exception is not None else None),
                "reason": (retry.parsed_response or {}).get("Reason"),
            },
        )

    events = client.meta.events
    events.register("before-send", before_send)
    events.register("response-received", response_received)
    if _settings.get("harness_retries"):
        events.register("needs-retry", needs_retry)
