"""The live view's web server: the page and its figures as JSON, on 127.0.0.1 only.

The standard library's threading HTTP server in a thread of its own, each request in a daemon
thread: the run never waits on it, a slow or vanished browser holds only its own thread, and a
client that disconnects mid-response ends that response and nothing else.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.live.page import PAGE
from harness.live.state import LiveState

HOST = "127.0.0.1"  # loopback only: the view is for whoever runs the harness, on that machine
# a client vanishing mid-response, or never finishing its request
CLIENT_GONE = (ConnectionError, TimeoutError)


class LiveServer:
    def __init__(self, state: LiveState, port: int = 0) -> None:
        """Binds at once (port 0: a free one), so a port in use is said before the run begins."""
        try:
            self.httpd = _Server((HOST, port), _Handler)
        except OSError as err:
            raise OSError(f"--ui-port {port}: cannot serve the live view on {HOST}:{port} ({err.strerror})") from None
        self.httpd.state = state
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.2,), name="live-view", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.httpd.server_address[1]}/"

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a request still being served never holds up the end of the run
    block_on_close = False
    state: LiveState

    def handle_error(self, request: Any, client_address: Any) -> None:
        err = sys.exc_info()[1]
        if isinstance(err, CLIENT_GONE):
            return  # the browser went away: nothing to tell anyone
        print(f"live view: a request failed ({type(err).__name__}: {err})", file=sys.stderr)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # seconds a client may take to send its request
    server_version = "harness-live"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if not self._host_is_loopback():
            self._send(403, "text/plain; charset=utf-8", b"the live view answers only on 127.0.0.1\n")
        elif self.path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", PAGE.encode())
        elif self.path == "/api/state":
            body = json.dumps(self.server.state.snapshot()).encode()
            self._send(200, "application/json", body)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: the page is / and its figures /api/state\n")

    def _host_is_loopback(self) -> bool:
        """A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) sends its name
        as Host: refused, so only a browser on this machine that asked for it reads the run."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        return host in ("127.0.0.1", "localhost")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass  # the run's terminal is for the run
