"""Which operation a request calls, read from the service models alone.

- smithy-rpc-v2-cbor: POST /service/{Service}/operation/{Operation}, header smithy-protocol;
- json: the X-Amz-Target header, {TargetPrefix}.{Operation};
- query: the form's Action field;
- rest-json and rest-xml: the method and the path against each operation's requestUri
  template, then the literal query keys and the required query and header members that tell
  apart operations on one path (S3's PUT /{Bucket}/{Key+} is PutObject, CopyObject with an
  x-amz-copy-source header, UploadPart with ?partNumber&uploadId).

The services looked at are those that sign as the request's SigV4 scope says, in every model
variant the simulator has (harness/sim/wire/models.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from botocore.model import OperationModel

from harness.sim.wire.models import REST_PROTOCOLS, ServiceModels, Variant
from harness.sim.wire.request import HttpRequest

CBOR_PATH = re.compile(r"/service/([^/]+)/operation/([^/]+)/?$")
IGNORED_LITERALS = ("x-id",)  # botocore leaves S3's ?x-id=Operation off the wire


@dataclass
class Route:
    service: str
    variant: Variant
    operation: OperationModel
    protocol: str
    labels: dict[str, str] = field(default_factory=dict)


class Unroutable(Exception):
    """No operation of any service signed for matches; AWS answers UnknownOperationException
    (or its protocol's equivalent) in the protocol the caller speaks."""

    def __init__(self, protocol: str, service: str | None, what: str):
        super().__init__(what)
        self.protocol, self.service, self.what = protocol, service, what


def sniff(request: HttpRequest, query_family: bool) -> str:
    """The protocol family the request is in, from what its protocol alone puts there (never the
    body's own content type: a REST payload's is the user's, an S3 object stored as CBOR).
    query_family: a service signing as this one speaks query (or ec2)."""
    if request.headers.get("smithy-protocol") == "rpc-v2-cbor" and CBOR_PATH.search(request.path):
        return "smithy-rpc-v2-cbor"
    if "x-amz-target" in request.headers:
        return "json"
    if query_family and request.path in ("", "/"):
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            return "query"
        if request.method == "GET" and "Action" in request.query:
            return "query"
    return "rest"


class Router:
    def __init__(self, models: ServiceModels):
        self.models = models
        self._rest: dict[Variant, dict[str, list[_Rule]]] = {}

    def services(self, request: HttpRequest) -> tuple[str, ...]:
        signing = request.signing_name or ""
        return self.models.signing_services(signing) or ((signing,) if self.models.variants(signing) else ())

    def route(self, request: HttpRequest) -> Route:
        services = self.services(request)
        query_family = any(set(v.protocols) & {"query", "ec2"} for s in services for v in self.models.variants(s))
        family = sniff(request, query_family)
        if family == "rest":
            return self._rest_route(request, services)
        version: str | None = None
        if family == "smithy-rpc-v2-cbor":
            found = CBOR_PATH.search(request.path)  # sniff saw it match
            prefix, name = (found.group(1), found.group(2)) if found is not None else ("", "")
        elif family == "json":
            prefix, _, name = request.headers["x-amz-target"].rpartition(".")
        else:
            form = request.form()
            prefix, name, version = "", form.get("Action", ""), form.get("Version")
        # a service named as the scope signs first: elbv2 and elb, rds and docdb share actions
        signing = request.signing_name
        for service in sorted(services, key=lambda s: s != signing):
            variants = self.models.variants(service)
            prefixes = {v.target_prefix for v in variants if v.target_prefix}
            if prefix and prefixes and prefix not in prefixes:
                continue
            if version and not any(v.model.metadata.get("apiVersion") == version for v in variants):
                continue
            # the variant that speaks the caller's protocol reads it best; any with the operation will do
            ordered = sorted(
                variants, key=lambda v: family not in v.protocols and not (family == "query" and "ec2" in v.protocols)
            )
            for variant in ordered:
                operation = variant.operation(name)
                if operation is not None:
                    spoken = "ec2" if family == "query" and "ec2" in variant.protocols else family
                    return Route(service, variant, operation, spoken)
        what = f"{prefix + '.' if prefix else ''}{name or '(no operation)'}"
        raise Unroutable(family, services[0] if services else None, what)

    def _rest_route(self, request: HttpRequest, services: tuple[str, ...]) -> Route:
        best: Route | None = None
        best_score: tuple[int, bool, int, bool] | None = None
        protocol = "rest-json"
        for service in services:
            for variant in self.models.variants(service):
                rest = [p for p in variant.protocols if p in REST_PROTOCOLS]
                if not rest:
                    continue
                protocol = rest[0]
                for rule in self._rules(variant).get(request.method, ()):
                    labels = rule.match(request)
                    if labels is None:
                        continue
                    score = rule.score
                    if best_score is None or score > best_score:
                        best, best_score = Route(service, variant, rule.operation, rest[0], labels), score
        if best is None:
            raise Unroutable(protocol, services[0] if services else None, f"{request.method} {request.path}")
        return best

    def _rules(self, variant: Variant) -> dict[str, list["_Rule"]]:
        """The variant's rules by HTTP method."""
        rules = self._rest.get(variant)
        if rules is None:
            rules = {}
            for name in sorted(variant.operation_names):
                rule = _Rule(variant.operation(name))
                rules.setdefault(rule.method, []).append(rule)
            self._rest[variant] = rules
        return rules


class _Rule:
    """One operation's HTTP binding, compiled: method, path pattern, what the query and headers must hold."""

    def __init__(self, operation: OperationModel):
        self.operation = operation
        self.method: str = operation.http.get("method", "POST")
        uri: str = operation.http.get("requestUri", "/")
        path, _, literal_query = uri.partition("?")
        self.labels: dict[str, str] = {}
        pattern = ""
        for piece in re.split(r"(\{[^}]+\})", path):
            if piece.startswith("{"):
                label = piece[1:-1]
                greedy = label.endswith("+")
                label = label.rstrip("+")
                group = f"g{len(self.labels)}"
                self.labels[group] = label
                pattern += f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)"
            else:
                pattern += re.escape(piece)
        self.pattern = re.compile("^" + pattern.rstrip("/") + "/?$")
        self.literals: dict[str, str | None] = {}
        for pair in filter(None, literal_query.split("&")):
            key, equals, value = pair.partition("=")
            if key not in IGNORED_LITERALS:
                self.literals[key] = value if equals else None
        self.required_query: list[str] = []
        self.required_headers: list[str] = []
        shape = operation.input_shape
        for name in shape.required_members if shape is not None else []:
            member = shape.members[name]
            location, wire = member.serialization.get("location"), member.serialization.get("name", name)
            if location == "querystring" and member.type_name != "map":
                self.required_query.append(wire)
            elif location == "header":
                self.required_headers.append(wire.lower())
        # more that must hold is a closer match; then the current operation over a deprecated twin
        # on the same path (PutBucketLifecycleConfiguration, not PutBucketLifecycle); then a longer
        # literal path (/FeatureGroup/{x}/ListRecords before /FeatureGroup/{x}); a greedy label last
        literal_path = len(re.sub(r"\{[^}]+\}", "", path))
        self.score = (
            len(self.literals) + len(self.required_query) + len(self.required_headers),
            not operation.deprecated,
            literal_path,
            "+}" not in path,
        )

    def match(self, request: HttpRequest) -> dict[str, str] | None:
        if request.method != self.method:
            return None
        found = self.pattern.match(request.path)
        if found is None:
            return None
        for key, value in self.literals.items():
            if key not in request.query or (value is not None and value not in request.query[key]):
                return None
        if any(q not in request.query for q in self.required_query):
            return None
        if any(h not in request.headers for h in self.required_headers):
            return None
        return {self.labels[group]: unquote(value) for group, value in found.groupdict().items()}
