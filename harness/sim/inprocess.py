"""The simulator in the run's own process, for virtual time: requests reach it without a socket.

On virtual time one worker runs at a time, so a call's cost in wall time is the harness's work,
then the simulator's, one after the other: the two processes hardly ever run at once. Over
HTTP each call also pays for the socket on both sides (urllib3 and http.client in the client,
http.server and werkzeug in the simulator, a third of the CPU per call, measured in
docs/virtual-time.md). Here the simulator's WSGI application lives in the run's process and
the run's botocore clients hand it their requests directly (`DirectTransport`, on botocore's
`before-send` event, as moto's `mock_aws` does). What crosses is what would cross the wire: the
request botocore serialised and signed, in the caller's protocol, and the bytes the simulator
answered, which botocore parses. Anything else (the admin endpoints, a client the run did not
make) still reaches it over HTTP on loopback.

    with InProcessSimulator("aws-default", seed=1) as sim:
        transport = serving_here(sim.endpoint_url)  # what the run's client factory registers

On the wall clock the simulator stays in its own process (`Simulator`): there the two run at
once on two cores, and its sleeps must not hold the run's interpreter.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from harness.sim.server import Simulator, check_bind_address, http_server

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse
    from werkzeug.serving import BaseWSGIServer

    from harness.sim.app import SimulatorApp

log = logging.getLogger("harness.sim")
_serving: dict[str, "DirectTransport"] = {}  # endpoint URL -> the simulator serving it in this process
_serving_lock = threading.Lock()


def serving_here(endpoint_url: str | None) -> "DirectTransport | None":
    """The transport to the simulator this process serves at endpoint_url, if it serves one."""
    if not endpoint_url:
        return None
    return _serving.get(endpoint_url.rstrip("/"))


class InProcessSimulator(Simulator):
    """A `Simulator` whose application runs in this process, with the same controls (stats,
    reset, advance) and an HTTP listener on loopback for whatever does not come directly."""

    def __init__(self, profile: str = "calm", seed: int = 0, time_scale: float = 1.0, host: str = "127.0.0.1") -> None:
        super().__init__(profile, seed, time_scale, host)
        self.app: SimulatorApp | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "InProcessSimulator":
        from harness.profiles import load_profile
        from harness.sim.app import SimulatorApp

        check_bind_address(self.host, False)
        # its tracebacks (a gap answered as InternalFailure) stay off the run's terminal, as they
        # did in a process of its own; the answer says what failed
        sim_log = logging.getLogger("harness.sim")
        sim_log.propagate = False
        if not sim_log.handlers:
            sim_log.addHandler(logging.NullHandler())
        self.app = SimulatorApp(load_profile(self.profile), seed=self.seed, time_scale=self.time_scale)
        self.app.reset()  # moto's stores are this process's: nothing of an earlier simulator's
        server, self.endpoint_url = http_server(self.app, self.host, self.port)
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="simulator-http", daemon=True)
        self._thread.start()
        with _serving_lock:
            _serving[self.endpoint_url] = DirectTransport(self.app, self.endpoint_url)
        return self

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        if self._server is None:
            return
        with _serving_lock:
            transport = _serving.pop(self.endpoint_url or "", None)
        if transport is not None:
            transport.closed = True  # clients made earlier hold it: they now meet a closed port
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None


class _Body(io.BytesIO):
    """An answer's body as botocore reads a urllib3 response: whole (`stream`) or in parts."""

    def stream(self, **_: Any) -> Any:
        contents = self.getvalue()
        if contents:
            yield contents


class DirectTransport:
    """botocore's `before-send` handler that answers a request from the simulator's application,
    in the calling thread: what the request would have met over HTTP, without the socket."""

    def __init__(self, app: SimulatorApp, endpoint_url: str) -> None:
        self.app, self.endpoint_url = app, endpoint_url.rstrip("/")
        split = urlsplit(self.endpoint_url)
        self._server_name, self._server_port = split.hostname or "127.0.0.1", str(split.port or 80)
        self.closed = False  # the simulator stopped

    def serves(self, url: str) -> bool:
        mine = url == self.endpoint_url or url.startswith((f"{self.endpoint_url}/", f"{self.endpoint_url}?"))
        return mine and not self.closed

    def __call__(self, request: AWSPreparedRequest | None = None, **_: Any) -> AWSResponse | None:
        if request is None or not self.serves(request.url):
            return None  # not for this simulator (or it stopped): botocore sends it
        from botocore.awsrequest import AWSResponse

        status, headers, body = self.send(request.method, request.url, request.headers.items(), request.body)
        return AWSResponse(request.url, status, headers, _Body(body))

    def send(
        self, method: str, url: str, headers: Any, body: bytes | str | io.IOBase | None
    ) -> tuple[int, dict[str, str], bytes]:
        """The simulator's answer to one request: (status, headers, body)."""
        payload = _bytes(body)
        split = urlsplit(url)
        target = split.path + (f"?{split.query}" if split.query else "")
        environ: dict[str, Any] = {
            # what werkzeug's server makes of the same request (serving.WSGIRequestHandler.make_environ)
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(payload),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": _latin1(unquote(split.path)),
            "QUERY_STRING": _latin1(split.query),
            "REQUEST_URI": _latin1(target),
            "RAW_URI": _latin1(target),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": 0,
            "SERVER_NAME": self._server_name,
            "SERVER_PORT": self._server_port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": split.netloc,
            "HTTP_ACCEPT_ENCODING": "identity",  # http.client's, on every request it sends
            "CONTENT_LENGTH": str(len(payload)),
        }
        for name, value in headers:
            key = name.upper().replace("-", "_")
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = text
            elif key != "TRANSFER_ENCODING":  # the body is whole here
                environ[f"HTTP_{key}"] = text
        environ["CONTENT_LENGTH"] = str(len(payload))
        answer: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = int(status.split(" ", 1)[0]), response_headers
            return answer.setdefault("write", lambda data: None)  # WSGI's write(): unused here

        try:
            chunks = self.app(environ, start_response)
            try:
                content = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except Exception:  # what werkzeug's server answers when the application raises
            log.exception("simulator failed on %s %s", method, url)
            return 500, {"Content-Type": "text/plain", "Content-Length": "0"}, b""
        if method == "HEAD":
            content = b""  # a HEAD answer has no body on the wire: the client reads the status alone
        return answer["status"], dict(answer["headers"]), content


def _bytes(body: bytes | str | io.IOBase | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytearray):
        return bytes(body)
    read = getattr(body, "read", None)
    if read is not None:
        data = read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(body)  # an iterable of chunks


def _latin1(text: str) -> str:
    """WSGI's strings: the bytes as latin-1 (werkzeug's _wsgi_encoding_dance)."""
    return text.encode("utf-8").decode("latin-1")
