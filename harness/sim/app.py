"""The simulator's WSGI application: moto behind AWS-like quotas, latency, faults and lifecycles.

Order of a request: route and decode it from the service models, in whatever protocol the
caller speaks (harness/sim/wire) -> rate quota (throttle answers at once) -> injected fault or
hold (drawn from the seed) -> latency -> the call itself under one lock (moto is not
thread-safe), through the handler of its service for what moto lacks or gets wrong
(sagemaker.py, athena.py, glue.py, featurestore.py), else moto (motobridge.py) -> the answer
written in the caller's protocol.
"""

from __future__ import annotations

import fnmatch
import io
import ipaddress
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Literal
from wsgiref.types import StartResponse, WSGIEnvironment

from harness.sim import constraints, errors, glue, iam, service_quotas
from harness.sim.athena import Athena
from harness.sim.calls import Call
from harness.sim.catalog import MotoCatalog
from harness.sim.featurestore import RecordStore
from harness.sim.lifecycle import Lifecycle, Lifecycles, install_moto_clock, moto_time
from harness.sim.motobridge import Moto, is_error_page
from harness.profiles import Profile, Storm, load_profile
from harness.sim.replies import ApiError, Gap, Reply
from harness.sim.sagemaker import SageMaker
from harness.sim.stats import Stats
from harness.sim.wire import (
    DecodeError,
    HttpRequest,
    Response,
    Router,
    ServiceModels,
    Unroutable,
    encode,
    unknown_operation,
)
from harness.sim.ordering import RequestOrder
from harness.timing import INJECTED_HEADER, NOW_HEADER, ORDER_HEADER, SERVED_HEADER
from harness.tokens import TokenBucket

ACCOUNT = "123456789012"
log = logging.getLogger("harness.sim")
Z_99 = 2.3263478740408408  # the 99th percentile of the standard normal
TICK_SECONDS = 0.05  # how often (wall) lifecycle side effects are applied at most
LIMIT_REASONS = ("CONCURRENT_QUERY_LIMIT_EXCEEDED",)
# The offline store's Glue table as Feature Store makes it (Glue table format, the default):
# Parquet files under the resolved S3 URI, read through Hive's Parquet SerDe.
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
OFFLINE_TABLE_PARAMETERS = {"EXTERNAL": "TRUE", "classification": "parquet"}


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _limited(reply: Reply) -> bool:
    """A concurrency quota's refusal (not a rate quota's throttle)."""
    return isinstance(reply, ApiError) and (
        reply.code == "ResourceLimitExceeded" or reply.members.get("Reason") in LIMIT_REASONS
    )


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


_NOW_KEY, _ORDER_KEY = _environ_key(NOW_HEADER), _environ_key(ORDER_HEADER)


class SimulatorApp:
    def __init__(self, profile: Profile, seed: int = 0, time_scale: float = 1.0) -> None:
        self.models = ServiceModels()
        self.router = Router(self.models)
        self.moto = Moto(self.models)
        self._lock = threading.Lock()  # everything touching moto or simulator state
        self._rng_lock = threading.Lock()
        self._injected = threading.local()  # per request thread: seconds slept as AWS behaviour
        self.order = RequestOrder()
        install_moto_clock()
        self.configure(profile, seed, time_scale)

    # --- configuration and reset ---------------------------------------------------------
    def configure(self, profile: Profile, seed: int, time_scale: float, manual_time: bool = False) -> None:
        self.profile, self.seed, self.time_scale = profile, seed, time_scale
        self.quotas = profile.quotas  # AWS time: the buckets run on the lifecycles' AWS lifecycle
        self.buckets: dict[tuple[str, str, str, str], TokenBucket | None] = {}  # None: no rate quota
        self.rngs: dict[str, random.Random] = {}
        self.lifecycles = Lifecycles(profile, seed, time_scale, manual_time)
        epoch = self.lifecycles.epoch  # the date AWS time 0 stands for, in every timestamp
        fg = profile.feature_group
        self.records = RecordStore(self.lifecycles.now, seed, (fg.rows_min_seconds, fg.rows_max_seconds), epoch)
        self.catalogs: dict[tuple[str, str], MotoCatalog] = {}
        self.athena = Athena(profile, seed, self.lifecycles.now, epoch, self._catalog, self.quotas)
        self.sagemaker = SageMaker(self.lifecycles, self.quotas, self.moto, epoch, profile.strict_account, seed)
        # Each service's handler: its answer, or None for moto's.
        self.handlers: dict[str, Callable[[Call], Reply | None]] = {
            "athena": self.athena.handle,
            "glue": glue.handle,
            "sagemaker": self.sagemaker.handle,
            "sagemaker-runtime": self.sagemaker.runtime,
            "sagemaker-featurestore-runtime": lambda call: self.records.handle(
                call, lambda name: self.sagemaker.feature_group_schema(call, name)
            ),
            "service-quotas": lambda call: service_quotas.handle(call, profile.quotas),
            "iam": iam.handle,
        }
        self.stats = Stats()
        self._next_tick = 0.0

    def reset(
        self,
        profile: Profile | None = None,
        seed: int | None = None,
        time_scale: float | None = None,
        manual_time: bool = False,
    ) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        with self._lock:
            moto_api_backend.reset()
            self.configure(
                profile or self.profile,
                self.seed if seed is None else seed,
                self.time_scale if time_scale is None else time_scale,
                manual_time,
            )

    # --- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        # Every body is read whole before anything answers, so the server can keep the
        # connection open for the client's next request (server.KeepAliveHandler).
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            body = environ["wsgi.input"].read(length)
        elif environ.get("wsgi.input_terminated"):  # a chunked body, already de-chunked
            body = environ["wsgi.input"].read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sim/"):
            return self._admin(environ, start_response, path)
        with self.order.place(environ.get(_ORDER_KEY)):  # virtual time: in the order sent
            return self._answer(environ, body, start_response)

    def _answer(self, environ: WSGIEnvironment, body: bytes, start_response: StartResponse) -> list[bytes]:
        arrived = time.monotonic()
        request = HttpRequest.from_environ(environ, body)
        if request.signing_name is None:  # not an AWS API call (moto's own pages)
            return self._respond(start_response, *self._moto_as_sent(environ, body))
        try:
            route = self.router.route(request)
        except Unroutable as miss:
            self.stats.note(f"unroutable:{miss.service or request.signing_name}")
            answer = unknown_operation(miss)
            if miss.service == "s3":  # virtual-hosted style (the bucket in the Host): moto reads it
                status, headers, payload = self._moto_as_sent(environ, body)
                if not is_error_page(status, payload):
                    answer = status, headers, payload
            return self._respond(start_response, *answer)
        self.stats.enter()
        self._injected.seconds = 0.0
        self._take_the_clients_time(environ)
        call = Call(route, request, ACCOUNT)
        try:
            status, headers, payload = encode(route, self._serve(call))
        except Exception:  # a gap here: AWS would say InternalFailure, in the caller's protocol
            log.exception("simulator crash on %s", call.key)
            self.stats.count(call.key, "crashes")
            status, headers, payload = encode(route, errors.crashed(call))
        finally:
            self.stats.leave()
        # What of this response's time was AWS behaviour the profile asked for (latency, a
        # timeout): a client subtracts it from its round trip to see the measurement's own
        # overhead (harness CPU, GIL, transport, the simulator's queue and moto's work).
        headers = list(headers) + [
            (INJECTED_HEADER, f"{self._injected.seconds * 1000.0:.3f}"),
            (SERVED_HEADER, f"{(time.monotonic() - arrived) * 1000.0:.3f}"),
        ]
        return self._respond(start_response, status, headers, payload)

    def _take_the_clients_time(self, environ: WSGIEnvironment) -> None:
        """On manual time a client on virtual time (harness.virtual_time) sends the instant of each
        request: AWS time moves on to it, never back."""
        sent = environ.get(_NOW_KEY)
        if sent is None or self.lifecycles.manual_time is None:
            return
        try:
            instant = float(sent)
        except ValueError:
            return
        with self._lock:
            if instant > self.lifecycles.manual_time:
                self.lifecycles.manual_time = instant

    def _hold(self, wall_seconds: float) -> None:
        """Hold the answer this long as AWS behaviour (latency, a timeout). On manual time it is
        only said (INJECTED_HEADER): the client waits it out on its own clock."""
        if self.lifecycles.manual_time is None:
            time.sleep(wall_seconds)
        self._injected.seconds += wall_seconds

    def _serve(self, call: Call) -> Reply:
        self.stats.count(call.key, "requests")
        storm = self._storm(call)
        if not self._admit(call) or (storm is not None and storm.throttle):
            self.stats.count(call.key, "throttled")
            return errors.throttled(call)
        fault = self._draw_fault(call, storm)
        if fault in (500, 503):
            self.stats.count(call.key, "faults")
            return errors.server_fault(call, fault)
        if fault == "timeout":
            self.stats.count(call.key, "timeouts")
            self._hold(self.profile.timeout_seconds * self.time_scale)
        self._hold(self._draw_latency(call))
        waited = time.monotonic()
        with self._lock, self._instant():
            self.stats.queued(time.monotonic() - waited)
            self._tick()
            try:
                reply = self._dispatch(call)
            except DecodeError as err:  # the body, read when a handler first asked for it
                reply = errors.malformed(str(err))
            except Exception:  # a gap in moto or here: AWS would say InternalFailure, not crash
                log.exception("simulator crash on %s", call.key)
                reply = errors.crashed(call)
        status = reply.status
        if isinstance(reply, Gap):
            self.stats.count(call.key, "crashes" if status == 500 else "lacking")
        elif _limited(reply):
            self.stats.count(call.key, "limited")
        elif status >= 400:
            self.stats.count(call.key, "errors")
        return reply

    # --- quotas, faults, latency ---------------------------------------------------------
    def _admit(self, call: Call) -> bool:
        key = (call.account, call.region, call.service, call.operation)
        bucket: TokenBucket | Literal[False] | None = self.buckets.get(key, False)  # False: not made yet
        if bucket is False:
            quota = self.quotas.lookup(call.service, call.operation)
            bucket = None
            if quota is not None and quota.rate is not None:
                bucket = TokenBucket(quota.rate, quota.bucket_size, clock=self.lifecycles.now)
            self.buckets[key] = bucket
        return bucket is None or bucket.try_take()

    def _rng(self, purpose: str, call: Call) -> random.Random:
        """One generator per purpose and operation: the n-th call of an operation always
        draws the same numbers for a seed, whatever other operations do meanwhile."""
        name = f"{self.seed}:{purpose}:{call.key}"
        rng = self.rngs.get(name)
        if rng is None:
            rng = self.rngs.setdefault(name, random.Random(name))
        return rng

    def _storm(self, call: Call) -> Storm | None:
        if not self.profile.storms:
            return None
        now = self.lifecycles.now()
        return next(
            (
                s
                for s in self.profile.storms
                if s.active(now)
                and fnmatch.fnmatchcase(call.service, s.service)
                and fnmatch.fnmatchcase(call.operation, s.operation)
            ),
            None,
        )

    def _draw_fault(self, call: Call, storm: Storm | None = None) -> int | Literal["timeout"] | None:
        rule = self.profile.fault_for(call.service, call.operation)
        with self._rng_lock:
            rng = self._rng("fault", call)
            draw, kind = rng.random(), rng.random()
        error_rate = (rule.error_rate if rule else 0.0) + (storm.error_rate if storm else 0.0)
        timeout_rate = rule.timeout_rate if rule else 0.0
        if draw < error_rate:
            return 503 if kind < 0.5 else 500
        if draw < error_rate + timeout_rate:
            return "timeout"
        return None

    def _draw_latency(self, call: Call) -> float:
        """Wall seconds to hold this answer: lognormal with the profile's p50 and p99."""
        rule = self.profile.latency_for(call.service, call.operation)
        with self._rng_lock:
            z = self._rng("latency", call).gauss(0.0, 1.0)
        if rule is None or rule.p50_ms <= 0:
            return 0.0
        sigma = max(0.0, math.log(max(rule.p99_ms, rule.p50_ms) / rule.p50_ms) / Z_99)
        return rule.p50_ms * math.exp(sigma * z) / 1000.0 * self.time_scale

    # --- dispatch ------------------------------------------------------------------------
    @contextmanager
    def _instant(self) -> Iterator[None]:
        """Handle a request at one instant of AWS time, moto's timestamps included (lifecycle.py)."""
        with self.lifecycles.instant(), moto_time(self.lifecycles.unix):
            yield

    def _dispatch(self, call: Call) -> Reply:
        if self.profile.strict_account and call.service in constraints.CHECKED_SERVICES:
            broken = constraints.violations(call.route.operation.input_shape, call.params)
            if broken:
                return errors.validation(call, constraints.message(broken))
        handler = self.handlers.get(call.service)
        reply = handler(call) if handler is not None else None
        if reply is None:
            reply = self.moto.forward(call)
            if call.key == "s3.CreateBucket" and reply.status == 200:
                self._date_bucket(call)
        return reply

    def _date_bucket(self, call: Call) -> None:
        """moto dates a bucket by the wall (datetime.now, not its utcnow): put it on the one clock."""
        from moto.s3.models import s3_backends

        try:
            bucket = s3_backends[call.account]["aws"].get_bucket(str(call.params.get("Bucket", "")))
        except Exception:  # noqa: BLE001 - moto's MissingBucket: nothing to date
            return
        bucket.creation_date = datetime.fromtimestamp(self.lifecycles.unix(), timezone.utc)

    def _moto_as_sent(self, environ: WSGIEnvironment, body: bytes) -> Response:
        """moto's answer to a request the simulator does not route; a 500 where moto raises."""
        with self._lock, self._instant():
            try:
                return self.moto.wsgi(environ, body)
            except Exception:  # noqa: BLE001 - moto's failure is the answer, not the server's
                log.exception("moto failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
                return 500, [("Content-Type", "text/plain")], b"<!doctype html> moto failed"

    @staticmethod
    def _respond(
        start_response: StartResponse, status: int, headers: list[tuple[str, str]], payload: bytes
    ) -> list[bytes]:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        if payload or not any(k.lower() == "content-length" for k, v in headers):
            # the body's own length; only a bodiless answer (HEAD) keeps the one it was given
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers = headers + [("Content-Length", str(len(payload)))]
        start_response(f"{status} {reason}", headers)
        return [payload]

    def _catalog(self, account: str, region: str) -> MotoCatalog:
        found = self.catalogs.get((account, region))
        if found is None:
            found = self.catalogs[(account, region)] = MotoCatalog(account, region)
        return found

    # --- lifecycle side effects ------------------------------------------------------------
    def _tick(self) -> None:
        """Apply what the lifecycles say is due: offline-store tables appear, deletions finish."""
        self.sagemaker.settle()  # cheap when nothing is due: model artifacts of finished jobs
        now = time.monotonic()
        if now < self._next_tick and self.lifecycles.manual_time is None:
            return
        self._next_tick = now + TICK_SECONDS
        tables, gone = self.lifecycles.due()
        for lifecycle in tables:
            self._make_offline_table(lifecycle)
        for lifecycle in gone:
            self._finish_delete(lifecycle)
        self.athena.settle()

    def _make_offline_table(self, lifecycle: Lifecycle) -> None:
        from moto.glue.models import glue_backends
        from moto.s3.models import s3_backends
        from moto.sagemaker.models import sagemaker_backends

        lifecycle.table_made = True
        backend = sagemaker_backends[lifecycle.account][lifecycle.region]
        group = next((g for g in backend.feature_groups.values() if g.feature_group_name == lifecycle.name), None)
        config = (group.offline_store_config or {}) if group else {}
        catalog, storage = config.get("DataCatalogConfig"), config.get("S3StorageConfig") or {}
        if group is None or not catalog:
            return
        data_catalog = glue_backends[lifecycle.account][lifecycle.region]
        if catalog["Database"] not in data_catalog.databases:
            data_catalog.create_database(catalog["Database"], {"Name": catalog["Database"]})
        location = storage.get("ResolvedOutputS3Uri", "")
        types = {"Integral": "bigint", "Fractional": "double", "String": "string"}
        columns = [
            {"Name": f["FeatureName"], "Type": types.get(f.get("FeatureType", ""), "string")}
            for f in group.feature_definitions
        ]
        columns += [
            {"Name": "write_time", "Type": "timestamp"},
            {"Name": "api_invocation_time", "Type": "timestamp"},
            {"Name": "is_deleted", "Type": "boolean"},
        ]
        data_catalog.create_table(
            catalog["Database"],
            catalog["TableName"],
            {
                "Name": catalog["TableName"],
                "TableType": "EXTERNAL_TABLE",
                "Parameters": dict(OFFLINE_TABLE_PARAMETERS),
                "StorageDescriptor": {
                    "Columns": columns,
                    "Location": location,
                    "InputFormat": PARQUET_INPUT,
                    "OutputFormat": PARQUET_OUTPUT,
                    "Compressed": False,
                    "NumberOfBuckets": -1,
                    "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
                    "StoredAsSubDirectories": False,
                },
            },
        )
        names = [c["Name"] for c in columns]
        lifecycle.offline_table = (catalog["Database"], catalog["TableName"])
        # The table says Parquet, as AWS's does, but no Parquet is written: its rows are the
        # records ingested into the group, and a table with a source is read from it (catalog.py).
        self._catalog(lifecycle.account, lifecycle.region).sources[lifecycle.offline_table] = lambda: (
            self.records.offline_rows(lifecycle.account, lifecycle.region, lifecycle.name, names)
        )
        if location.startswith("s3://"):
            bucket, _, prefix = location[5:].partition("/")
            try:
                s3_backends[lifecycle.account]["aws"].put_object(bucket, f"{prefix}/_offline_store_ready", b"")
            except Exception:  # the pipeline's bucket may be gone; the table still appears
                pass
        self.stats.note("offline_tables_created")

    def _finish_delete(self, lifecycle: Lifecycle) -> None:
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[lifecycle.account][lifecycle.region]
        if lifecycle.kind == "feature_group":
            for arn, group in list(backend.feature_groups.items()):
                if group.feature_group_name == lifecycle.name:
                    del backend.feature_groups[arn]
            self.records.drop(lifecycle.account, lifecycle.region, lifecycle.name)
            if lifecycle.offline_table:  # its rows are gone; the Glue table, if left, reads as empty
                self._catalog(lifecycle.account, lifecycle.region).sources.pop(lifecycle.offline_table, None)
        elif lifecycle.kind == "endpoint":
            backend.endpoints.pop(lifecycle.name, None)
        self.lifecycles.forget(lifecycle)
        self.stats.note(f"{lifecycle.kind}_deleted")

    def _inventory(self) -> dict[str, int]:
        """What the account holds now, by kind, over every account and region: the simulator's
        own answer to "did the run leave anything behind?" (it knows no run or tag)."""
        from moto.glue.models import glue_backends
        from moto.s3.models import s3_backends
        from moto.sagemaker.models import sagemaker_backends

        counts = dict.fromkeys(
            (
                "sagemaker.endpoint",
                "sagemaker.endpoint_config",
                "sagemaker.model",
                "sagemaker.model_package_group",
                "sagemaker.model_package",
                "sagemaker.feature_group",
                "sagemaker.training_job_in_progress",
                "glue.table",
                "s3.bucket",
                "s3.object",
            ),
            0,
        )
        for account, regions in dict.items(sagemaker_backends):
            for region, sm in dict.items(regions):
                counts["sagemaker.endpoint"] += len(sm.endpoints)
                counts["sagemaker.endpoint_config"] += len(sm.endpoint_configs)
                counts["sagemaker.model"] += len(sm._models)
                counts["sagemaker.model_package_group"] += len(sm.model_package_groups)
                counts["sagemaker.model_package"] += len(sm.model_packages)
                counts["sagemaker.feature_group"] += len(sm.feature_groups)
                counts["sagemaker.training_job_in_progress"] += self.lifecycles.in_progress(
                    "training_job", account, region
                )
        for glue_regions in dict.values(glue_backends):
            for data_catalog in dict.values(glue_regions):
                counts["glue.table"] += sum(len(db.tables) for db in data_catalog.databases.values())
        for partitions in dict.values(s3_backends):
            for s3 in dict.values(partitions):
                counts["s3.bucket"] += len(s3.buckets)
                counts["s3.object"] += sum(len(bucket.keys) for bucket in s3.buckets.values())
        return counts

    # --- admin: loopback only ----------------------------------------------------------------
    def _admin(self, environ: WSGIEnvironment, start_response: StartResponse, path: str) -> list[bytes]:
        if not _is_loopback(environ.get("REMOTE_ADDR", "")):
            return self._respond(start_response, 403, [("Content-Type", "text/plain")], b"loopback only")
        if path == "/_sim/stats":
            with self._lock, self._instant():
                self._tick()
                snapshot = self.stats.snapshot()
                snapshot["lifecycle"] = self.lifecycles.counts()
                snapshot["resources"] = self._inventory()
                snapshot["order_gaps"] = self.order.gaps
            snapshot.update(
                profile=self.profile.name,
                seed=self.seed,
                time_scale=self.time_scale,
                aws_seconds=self.lifecycles.now(),
                manual_time=self.lifecycles.manual_time is not None,
            )
            return self._respond(
                start_response, 200, [("Content-Type", "application/json")], json.dumps(snapshot).encode()
            )
        if path == "/_sim/reset" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            options = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            try:
                profile = load_profile(options["profile"]) if options.get("profile") else None
            except ValueError as err:
                return self._respond(start_response, 400, [("Content-Type", "text/plain")], str(err).encode())
            self.reset(profile, options.get("seed"), options.get("time_scale"), bool(options.get("manual_time")))
            return self._respond(start_response, 200, [("Content-Type", "application/json")], b"{}")
        if path == "/_sim/advance" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            options = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            with self._lock:
                try:
                    now = self.lifecycles.advance(float(options.get("aws_seconds", 0.0)))
                except ValueError as err:
                    return self._respond(start_response, 409, [("Content-Type", "text/plain")], str(err).encode())
            return self._respond(
                start_response, 200, [("Content-Type", "application/json")], json.dumps({"aws_seconds": now}).encode()
            )
        if path == "/_sim/health":
            return self._respond(start_response, 200, [("Content-Type", "text/plain")], b"ok")
        return self._respond(start_response, 404, [("Content-Type", "text/plain")], b"unknown")
