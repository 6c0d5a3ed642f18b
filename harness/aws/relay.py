"""The run's end of a pipeline process's instrumentation (harness/aws/inject/).

A pipeline that is a command runs as a process of its own, in an interpreter the harness does
not control (its own venv, its own botocore). What the harness adds to each of that process's
clients asks this relay, over a Unix socket, at three points of every attempt:

- `start`: may the attempt go? The run's stop signal and the shared limiter answer, here in the
  run, exactly as for the harness's own clients (`CallHooks.attempt_starts`);
- `end`: what came back, recorded and fed back to the limiter (`CallHooks.attempt_ended`);
- `retry` (harness policy): botocore's rules said retryable; the backoff is waited here, on the
  run's clock, so a stopping run cuts it short (`CallHooks.back_off`).

Each connection is one thread of the process; the relay serves it in a thread that carries the
pipeline's context (its level, worker, pipeline and stage, and its stop signal), so every
attempt is recorded against the pipeline, and every wait ends when the run stops.

Messages are JSON lines. Replies: {"ok": ...} or {"stopped": message} or {"error": message}.
"""

from __future__ import annotations

import contextvars
import json
import os
import socket
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.aws.clients import ClientFactory
from harness.aws.throttling import concurrency_refused
from harness.stopping import Stopped
from harness.timing import INJECTED_HEADER, SERVED_HEADER

INJECT_FOLDER = Path(__file__).resolve().parent / "inject"  # first on a pipeline process's PYTHONPATH
BLACK_HOLE = "http://127.0.0.1:9"  # the discard port: a proxy that answers nothing


class AttemptRelay:
    def __init__(self, factory: ClientFactory) -> None:
        """Made in the pipeline's thread: it serves in that thread's context."""
        self.factory = factory
        self.hooks = factory.hooks_for_users_code(None)
        self._folder = tempfile.mkdtemp(prefix="harness-relay-")
        self.path = os.path.join(self._folder, "relay.sock")  # short: a socket path has ~100 bytes
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen(64)
        self._context = contextvars.copy_context()  # the pipeline's, where the relay was made
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, name="attempt-relay", daemon=True)
        self._accepting.start()

    def process_environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """A pipeline process's environment: `base` with the instrumentation and its settings; on
        the simulator also its endpoint, credentials and region (for clients of other SDKs), and
        no AWS profile or session token of the person running the harness."""
        factory, target = self.factory, self.factory.target
        policy = factory.settings.policy
        settings: dict[str, Any] = {
            "relay": self.path,
            "retries": policy.botocore_retries(factory.settings.max_attempts),
            "harness_retries": policy.uses_limiter,  # the harness policy: the run decides each retry
            "attempts": factory.settings.attempts,
            "timing_headers": [INJECTED_HEADER, SERVED_HEADER],
            "time_scale": factory.time_scale if target.kind == "sim" else 1.0,
        }
        environment = dict(base)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(INJECT_FOLDER), base.get("PYTHONPATH")]))
        if target.kind == "sim" and target.endpoint_url:
            for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
                environment.pop(name, None)
            # no one's ~/.aws: a profile the code names cannot run someone's credential_process
            environment["AWS_CONFIG_FILE"] = environment["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
            credentials = factory.sim_credentials()
            settings.update(endpoint_url=target.endpoint_url, credentials=credentials, region=target.region)
            # HTTP that is not botocore's (an SDK's telemetry, a version check) goes nowhere
            local = ",".join(["127.0.0.1", "localhost", "::1", urlsplit(target.endpoint_url).hostname or ""])
            for proxy, value in (("http_proxy", BLACK_HOLE), ("https_proxy", BLACK_HOLE), ("no_proxy", local)):
                environment[proxy] = environment[proxy.upper()] = value  # Python reads the lower case first
            environment.update(
                AWS_ENDPOINT_URL=target.endpoint_url,
                AWS_ACCESS_KEY_ID=credentials["access_key"],
                AWS_SECRET_ACCESS_KEY=credentials["secret_key"],
                AWS_DEFAULT_REGION=target.region,
                AWS_REGION=target.region,
            )
        else:  # the scenario's account and region, as the harness reaches them
            if target.profile:
                environment["AWS_PROFILE"] = target.profile
            environment["AWS_REGION"] = environment["AWS_DEFAULT_REGION"] = target.region
            settings["region"] = target.region
        environment["HARNESS_INSTRUMENT"] = json.dumps(settings)
        return environment

    def close(self) -> None:
        self._closed = True
        try:
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()
        self._accepting.join(timeout=5)
        Path(self.path).unlink(missing_ok=True)
        Path(self._folder).rmdir()

    def __enter__(self) -> AttemptRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return  # closed
            context = self._context.copy()  # each connection its own copy: contexts run in one thread at a time
            thread = threading.Thread(
                target=context.run, args=(self._serve, connection), name="attempt-relay-connection", daemon=True
            )
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            with connection, connection.makefile("rwb") as stream:
                for line in stream:
                    message = json.loads(line)
                    reply = self._answer(message)
                    if "end" not in message:  # the process waits for no answer to `end`
                        stream.write(json.dumps(reply).encode() + b"\n")
                        stream.flush()
        except (OSError, ValueError):
            return  # the process ended (or was killed) mid-message: nothing more to serve

    def _answer(self, message: dict[str, Any]) -> dict[str, Any]:
        kind, fields = next(iter(message.items()))
        try:
            if kind == "start":
                context: dict[str, Any] = {}
                if fields.get("first") is not None:
                    context["harness_first_attempt"] = fields["first"]
                self.hooks.attempt_starts(fields["service"], fields["operation"], context)
                return {"ok": context["harness_first_attempt"]}
            if kind == "end":
                self.hooks.attempt_ended(
                    fields["service"],
                    fields["operation"],
                    attempt=fields["attempt"],
                    code=fields.get("code"),
                    refused=concurrency_refused(fields.get("code"), {"Reason": fields.get("reason")}),
                    raised=fields.get("raised", False),
                    status=fields.get("status"),
                    headers=fields.get("headers") or {},
                )
                return {"ok": None}
            if kind == "retry":
                if concurrency_refused(fields.get("code"), {"Reason": fields.get("reason")}):
                    return {"ok": None}
                context = {"harness_first_attempt": fields["first"]} if fields.get("first") is not None else {}
                delay = self.hooks.back_off(
                    fields["service"],
                    fields["operation"],
                    fields["attempts"],
                    context,
                    fields["retryable"],
                    fields.get("code"),
                )
                return {"ok": delay}
            return {"error": f"unknown message {kind!r}"}
        except Stopped as stopped:
            return {"stopped": str(stopped)}
        except Exception as err:  # noqa: BLE001 - the process is told, and fails its call with it
            return {"error": f"{type(err).__name__}: {err}"}
