"""An HTTP request as the simulator reads it: method, raw path, query, headers, body, and the
SigV4 credential scope that says which region and service it was signed for."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit
from wsgiref.types import WSGIEnvironment


@dataclass
class HttpRequest:
    method: str
    path: str  # as sent, still percent-encoded: a label may hold an encoded "/"
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    region: str = "us-east-1"
    signing_name: str | None = None  # None: not a signed AWS API call
    environ: WSGIEnvironment = field(default_factory=dict, repr=False)

    @classmethod
    def from_environ(cls, environ: WSGIEnvironment, body: bytes) -> "HttpRequest":
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        path = urlsplit(raw_uri).path if "://" in raw_uri else raw_uri.split("?", 1)[0]
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        request = cls(environ.get("REQUEST_METHOD", "GET"), path or "/", query, headers, body, environ=environ)
        request.region, request.signing_name = _scope(headers.get("authorization", ""), query)
        return request

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def form(self) -> dict[str, str]:
        """A query-protocol request's fields: the form body, or the query string of a GET."""
        fields = (
            parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
            if self.content_type == "application/x-www-form-urlencoded"
            else self.query
        )
        return {key: values[-1] for key, values in fields.items()}


def _scope(authorization: str, query: dict[str, list[str]]) -> tuple[str, str | None]:
    """(region, signing name) from a SigV4 Authorization header or a presigned URL."""
    credential = ""
    if "Credential=" in authorization:
        credential = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    elif query.get("X-Amz-Credential"):
        credential = query["X-Amz-Credential"][0]
    parts = credential.split("/")
    if len(parts) != 5:
        return "us-east-1", None
    return parts[2], parts[3]
