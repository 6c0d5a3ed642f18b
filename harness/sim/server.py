"""Running the simulator: in its own process on 127.0.0.1, from Python or the command line.

    with Simulator("aws-default", seed=7, time_scale=1/60) as sim:
        boto3.client("sagemaker", endpoint_url=sim.endpoint_url, ...)

The process prints one line, `SIMULATOR <url>`, once it accepts connections. Started from
Python it runs in its own session, so a terminal's Ctrl-C reaches only the runner (which then
tears its pipelines down through the simulator), and it exits when its standard input closes,
so it never outlives the process that started it, even one killed with SIGKILL.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import ipaddress
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.rlimits import raise_open_file_limit

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

READY_PREFIX = "SIMULATOR "
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def check_bind_address(host: str, allow_remote: bool) -> None:
    """Nothing leaves the machine: only loopback, unless the caller explicitly allows more."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not allow_remote:
        raise ValueError(
            f"refusing to bind the simulator to {host!r}: only loopback addresses "
            "(127.0.0.0/8, ::1, localhost) are allowed unless allow_remote is set"
        )


class Simulator:
    def __init__(
        self,
        profile: str = "calm",
        seed: int = 0,
        time_scale: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        startup_timeout: float = 60.0,
    ) -> None:
        check_bind_address(host, allow_remote)
        self.profile, self.seed, self.time_scale = profile, seed, time_scale
        self.host, self.port, self.allow_remote = host, port, allow_remote
        self.startup_timeout = startup_timeout
        self.endpoint_url: str | None = None
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> "Simulator":
        command = [
            sys.executable,
            "-m",
            "harness.sim.server",
            "--profile",
            str(self.profile),
            "--seed",
            str(self.seed),
            "--time-scale",
            repr(self.time_scale),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--exit-when-stdin-closes",
        ]
        if self.allow_remote:
            command.append("--allow-remote")
        process = self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        line = self._read_ready_line(process)
        self.endpoint_url = line[len(READY_PREFIX) :].strip()
        self.port = int(self.endpoint_url.rsplit(":", 1)[1])
        # Drain stdout/stderr so a chatty server never blocks on a full pipe.
        for stream in (process.stdout, process.stderr):
            threading.Thread(target=lambda s=stream: [None for _ in s], daemon=True).start()
        return self

    def _read_ready_line(self, process: subprocess.Popen[str]) -> str:
        stdout, stderr = process.stdout, process.stderr
        assert stdout is not None and stderr is not None  # started with both piped
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        line = result[0] if result else ""
        if not line.startswith(READY_PREFIX):
            process.kill()
            err = stderr.read() if process.poll() is not None else ""
            raise RuntimeError(f"simulator did not start within {self.startup_timeout}s: {line or err}".strip())
        return line

    def _admin(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.endpoint_url}/_sim/{path}", data=data, method="GET" if data is None else "POST"
        )
        with _NO_PROXY.open(request, timeout=30) as answer:
            return json.loads(answer.read() or b"{}")

    def stats(self) -> dict[str, Any]:
        return self._admin("stats")

    def reset(
        self,
        profile: str | None = None,
        seed: int | None = None,
        time_scale: float | None = None,
        manual_time: bool = False,
    ) -> None:
        """Forget every resource and counter; optionally switch profile, seed or time scale.
        manual_time: AWS time stands still until `advance` moves it, or a request sent on virtual
        time says its instant (harness.timing.NOW_HEADER); latency is then said, not slept."""
        options: dict[str, Any] = {
            k: v for k, v in {"profile": profile, "seed": seed, "time_scale": time_scale}.items() if v is not None
        }
        if manual_time:
            options["manual_time"] = True
        self._admin("reset", options)
        self.profile = profile or self.profile
        self.seed = self.seed if seed is None else seed
        self.time_scale = time_scale or self.time_scale

    def advance(self, aws_seconds: float) -> float:
        """Move a manual-time simulator's AWS time on; returns its time now."""
        return self._admin("advance", {"aws_seconds": aws_seconds})["aws_seconds"]

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            with contextlib.suppress(OSError):
                if self._process.stdin is not None:
                    self._process.stdin.close()
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _BodyReader(io.BufferedIOBase):
    """The request's body and nothing past it: werkzeug reads 'whatever is left' after each
    response, which on a kept-alive connection would be the client's next request."""

    def __init__(self, stream: io.BufferedIOBase, length: int) -> None:
        self._stream, self._left = stream, length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(size) if size else b""
        self._left -= len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.readline(size) if size else b""
        self._left -= len(data)
        return data


def keep_alive_handler() -> type[WSGIRequestHandler]:
    """moto's request handler, with HTTP keep-alive.

    werkzeug's development server answers every request with `Connection: close`, because it
    cannot tell where a request's body ends. Then every call costs the client a new TCP
    connection and the server a new thread: at 32 faithful pipelines that was most of the
    harness's CPU, and it showed as latency no AWS account has. Here a request with a
    Content-Length (or no body) hands the application exactly its body, and the connection
    stays open for the client's next request; a chunked body closes it as before."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class KeepAliveHandler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in separate writes: with Nagle's algorithm on a kept-alive
        # connection the body waits for the client's delayed ACK, 40 ms a call
        disable_nagle_algorithm = True

        def handle_one_request(self) -> None:
            socket_reader = self.rfile
            try:
                super().handle_one_request()
            finally:
                self.rfile = socket_reader

        def make_environ(self) -> dict:
            length = self.headers.get("Content-Length") or "0"
            if self.headers.get("Transfer-Encoding") or not length.isdigit():
                self.close_connection = True
            else:
                self.rfile = _BodyReader(self.rfile, int(length))
            return super().make_environ()

        def send_header(self, keyword: str, value: str) -> None:
            if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
                return  # http.server goes on reading requests from this connection
            super().send_header(keyword, value)

    return KeepAliveHandler


def http_server(app: Any, host: str, port: int) -> tuple[BaseWSGIServer, str]:
    """The simulator's application served over HTTP, kept alive, on host:port (0: a free port);
    with the URL it answers at."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    raise_open_file_limit()  # a thread and a socket per open client connection
    server = make_server(host, port, app, threaded=True, request_handler=keep_alive_handler())
    shown = f"[{host}]" if ":" in host else host
    return server, f"http://{shown}:{server.server_address[1]}"


def serve(
    profile: str,
    seed: int,
    time_scale: float,
    host: str,
    port: int,
    allow_remote: bool,
    announce: Callable[..., object] = print,
    exit_when_stdin_closes: bool = False,
) -> None:
    """Serve until SIGINT or SIGTERM (in this process), or until standard input closes."""
    from harness.sim.app import SimulatorApp
    from harness.profiles import load_profile

    check_bind_address(host, allow_remote)
    app = SimulatorApp(load_profile(profile), seed=seed, time_scale=time_scale)
    server, url = http_server(app, host, port)
    announce(f"{READY_PREFIX}{url}", flush=True)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def stop_when_stdin_closes() -> None:
        sys.stdin.buffer.read()
        stop()

    if exit_when_stdin_closes:
        threading.Thread(target=stop_when_stdin_closes, name="stdin-watch", daemon=True).start()
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.sim.server")
    parser.add_argument("--profile", default="calm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--allow-remote", action="store_true")
    parser.add_argument(
        "--exit-when-stdin-closes",
        action="store_true",
        help="stop when standard input closes (the process that started it is gone)",
    )
    args = parser.parse_args(argv)
    try:
        serve(
            args.profile,
            args.seed,
            args.time_scale,
            args.host,
            args.port,
            args.allow_remote,
            exit_when_stdin_closes=args.exit_when_stdin_closes,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
