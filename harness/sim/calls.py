"""Which AWS call an HTTP request is: service (botocore's name), operation, protocol, resource name."""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

# Services the JSON protocol names by the X-Amz-Target prefix.
JSON_TARGETS = {"SageMaker": "sagemaker", "AWSGlue": "glue", "AmazonAthena": "athena",
                "ServiceQuotasV20190624": "service-quotas"}


@dataclass
class Call:
    service: str
    operation: str
    protocol: str  # json, rest-json, rest-xml, query
    region: str
    account: str
    body: bytes
    path: str
    query: dict[str, list[str]]

    @property
    def key(self) -> str:
        return f"{self.service}.{self.operation}"

    def json(self) -> dict:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return {}


def _scope(environ: dict) -> tuple[str, str]:
    """(region, signing service) from a SigV4 Authorization header."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
        _key, _date, region, service, _term = scope.split("/")
        return region, service
    except (IndexError, ValueError):
        return "us-east-1", ""


def classify(environ: dict, body: bytes, account: str = "123456789012") -> Call | None:
    """The call this request makes, or None for requests that are not AWS API calls."""
    path = unquote(environ.get("PATH_INFO", "") or "/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    method = environ.get("REQUEST_METHOD", "GET")
    region, signing = _scope(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")

    def call(service: str, operation: str, protocol: str) -> Call:
        return Call(service, operation, protocol, region, account, body, path, query)

    if target and "." in target:
        prefix, operation = target.split(".", 1)
        return call(JSON_TARGETS.get(prefix, signing or prefix.lower()), operation, "json")
    if signing == "sagemaker":
        if path.startswith("/endpoints/") and path.endswith("/invocations"):
            return call("sagemaker-runtime", "InvokeEndpoint", "rest-json")
        if path in ("/BatchGetRecord", "/BatchWriteRecord"):
            return call("sagemaker-featurestore-runtime", path[1:], "rest-json")
        if path.startswith("/FeatureGroup/"):
            if method == "POST":
                op = "ListRecords" if path.endswith("/ListRecords") else "UpdateRecord"
            else:
                op = {"PUT": "PutRecord", "GET": "GetRecord", "DELETE": "DeleteRecord"}.get(method, method)
            return call("sagemaker-featurestore-runtime", op, "rest-json")
    if signing == "s3":
        return call("s3", _s3_operation(method, path, query, environ), "rest-xml")
    if method == "POST" and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if action and signing:
            return call(signing, action, "query")
    if signing:
        return call(signing, f"{method} {path}", "rest-json")
    return None


def _s3_operation(method: str, path: str, query: dict, environ: dict) -> str:
    parts = [p for p in path.split("/", 2) if p]
    has_key = len(parts) > 1
    if not parts:
        return "ListBuckets"
    if method == "GET":
        if has_key:
            return "GetObject"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "PUT":
        if not has_key:
            return "CreateBucket" if not query else "PutBucket" + next(iter(query)).title()
        if "partNumber" in query:
            return "UploadPart"
        return "CopyObject" if "HTTP_X_AMZ_COPY_SOURCE" in environ else "PutObject"
    if method == "DELETE":
        return "DeleteObject" if has_key else "DeleteBucket"
    if method == "POST":
        if "delete" in query:
            return "DeleteObjects"
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
    return f"{method}Object" if has_key else f"{method}Bucket"
