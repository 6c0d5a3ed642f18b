"""moto behind the simulator: it is the store, and it answers what no handler here does.

moto routes requests by the installed botocore's models, so it speaks the protocols those list
for a service. A call in one of them goes to moto as it was sent, and moto's answer goes back as
it came (the fast path, and nearly every call). A call in another protocol (SageMaker driven as
smithy-rpc-v2-cbor, say) is put to moto in `json`, from its decoded parameters, and moto's
answer is read back into the internal form for the wire to write in the caller's protocol.

moto is not thread-safe: callers hold the simulator's lock around every call here.
"""

from __future__ import annotations

import io
import json

import moto
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from harness.sim import errors
from harness.sim.calls import Call
from harness.sim.replies import Answer, ApiError, Gap, Raw, Reply
from harness.sim.wire import Response, ServiceModels
from harness.sim.wire.rpc import json_bytes


def is_error_page(status: int, body: bytes) -> bool:
    """werkzeug's HTML error page: moto raised, or has no route. AWS answers every error in the
    service's own protocol, never HTML. (The content type cannot tell: moto labels its empty
    answers text/html, S3's HEAD 404 among them.)"""
    return status >= 400 and body[:64].lstrip().lower().startswith((b"<!doctype html", b"<html"))


class Moto:
    def __init__(self, models: ServiceModels) -> None:
        self.models = models
        self.app = DomainDispatcherApplication(create_backend_app)
        self._apps: dict[tuple[str, str], object] = {}

    def speaks(self, call: Call) -> bool:
        installed = self.models.installed(call.service)
        return installed is not None and call.protocol in installed.protocols

    def forward(self, call: Call) -> Reply:
        """The call as sent where moto speaks its protocol; else in json, from its parameters
        (also where moto lags its model: moto 5.2.5 has no CloudWatch CBOR routes)."""
        if not self.speaks(call):
            return self.ask(call, call.params)
        try:
            status, headers, body = self.wsgi(call.request.environ, call.request.body)
        except NotImplementedError as lacking:
            return self._lacks(call, lacking)
        if status == 404 and is_error_page(status, body) and call.protocol != "json" and self._json_capable(call):
            return self.ask(call, call.params)
        if is_error_page(status, body):
            return self._gap(call, status)
        return Raw(status, headers, body)

    def _json_capable(self, call: Call) -> bool:
        installed = self.models.installed(call.service)
        return installed is not None and "json" in installed.protocols and bool(installed.target_prefix)

    def ask(self, call: Call, params: dict) -> Answer | ApiError:
        """moto's answer to this operation with these parameters, in the internal form."""
        installed = self.models.installed(call.service)
        if installed is None or "json" not in installed.protocols or not installed.target_prefix:
            spoken = ", ".join(installed.protocols) if installed else "no protocol"
            return Gap(
                501,
                "NotImplemented",
                f"the simulator cannot put {call.key} to moto in {call.protocol} "
                f"(moto reads {call.service} as {spoken})",
            )
        environ = dict(call.request.environ)
        for key in ("HTTP_SMITHY_PROTOCOL", "HTTP_ACCEPT", "HTTP_CONTENT_ENCODING"):
            environ.pop(key, None)
        environ.update(
            REQUEST_METHOD="POST",
            PATH_INFO="/",
            RAW_URI="/",
            REQUEST_URI="/",
            QUERY_STRING="",
            CONTENT_TYPE=f"application/x-amz-json-{installed.model.metadata.get('jsonVersion', '1.1')}",
            HTTP_X_AMZ_TARGET=f"{installed.target_prefix}.{call.operation}",
        )
        try:
            status, headers, body = self.wsgi(environ, json_bytes(params))
        except NotImplementedError as lacking:
            return self._lacks(call, lacking)
        if is_error_page(status, body):
            return self._gap(call, status)
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            return self._gap(call, 500)
        if status >= 300:
            code = str(answer.pop("__type", "") or dict(headers).get("x-amzn-ErrorType", "") or status)
            message = str(answer.pop("message", None) or answer.pop("Message", ""))
            return ApiError(status, code.split(":", 1)[0].rsplit("#", 1)[-1], message, answer)
        return Answer(answer, status)

    @staticmethod
    def _lacks(call: Call, lacking: NotImplementedError) -> Gap:
        """moto routes the call but has no handler for it (it raises NotImplementedError)."""
        return Gap(
            501, "NotImplemented", f"the simulator does not implement {call.key} (moto {moto.__version__}: {lacking})"
        )

    @staticmethod
    def _gap(call: Call, status: int) -> Gap:
        if status == 404:
            return Gap(
                501,
                "NotImplemented",
                f"the simulator does not implement {call.key} (moto {moto.__version__} has no route for it)",
            )
        return errors.crashed(call)

    # --- WSGI ------------------------------------------------------------------------------
    def wsgi(self, environ: dict, body: bytes) -> Response:
        environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        captured: dict = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        chunks = self._app(environ)(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        headers = captured["headers"]
        if environ.get("REQUEST_METHOD") != "HEAD":  # a HEAD answer's length is the object's
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        if not payload:  # werkzeug's label on moto's empty answers: AWS sends no HTML, nor says so
            headers = [(k, v) for k, v in headers if not (k.lower() == "content-type" and v.startswith("text/html"))]
        return int(captured["status"].split()[0]), headers, payload

    def _app(self, environ: dict):
        """moto's application for this request. moto finds it by matching the request against
        every backend's URL patterns, about a third of its time per call; a signed request's
        backend follows from its credential scope (region, service) and target prefix, so the
        answer is remembered per those."""
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if "Credential=" not in auth or environ.get("PATH_INFO", "").startswith(("/moto-api", "/latest/")):
            return self.app.get_application(environ)
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/", 2)[-1]
        key = (scope, environ.get("HTTP_X_AMZ_TARGET", "").split(".", 1)[0])
        app = self._apps.get(key)
        if app is None:
            app = self._apps[key] = self.app.get_application(environ)
        return app
