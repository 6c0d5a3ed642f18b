"""Live metrics: a run's events, as they are recorded, counted into OpenTelemetry instruments and
pushed over OTLP/HTTP (protobuf) to a collector, as k6's and Locust's OpenTelemetry outputs do.

`LiveMetrics.observe` subscribes to the recorder (`Recorder.subscribers`): it sees the stream of
events that events.db keeps, so the runners, the pipelines and the report know nothing of it.
Each process that records exports its own (the runner; each worker process or Ray worker its
share), its resource's `service.instance.id` (host:pid) telling them apart; Prometheus or the
collector adds them up.

Every data point carries `run_id` and `level` (the level's N or arrival rate; "none" for the
run's own calls outside any level, its final cleanup). Seconds are AWS seconds, as in the report
(an event's wall seconds / the level's time_scale). The OpenTelemetry SDK is the `otel` extra,
imported only when metrics are on.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from harness.events.schema import Event

METRICS_PATH = "/v1/metrics"
DEFAULT_INTERVAL_SECONDS = 10.0
# The OpenTelemetry exporter variables (opentelemetry.io/docs/specs/otel/protocol/exporter/): the
# signal's own endpoint is a full URL, taken as it is; the general one is a base URL.
METRICS_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
INTERVAL_ENV = "OTEL_METRIC_EXPORT_INTERVAL"  # milliseconds (the SDK's own variable)

# Histogram buckets, in AWS seconds: a call or a limiter wait (milliseconds to a minute), and
# what lasts minutes to hours (a quota slot, a partial state, a whole pipeline).
CALL_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LONG_SECONDS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0)


class OpenTelemetryMissing(ValueError):
    pass


def metrics_url(configured: str | None, environ: Mapping[str, str] = os.environ) -> tuple[str, str] | None:
    """Where the metrics go and who said so, or None (off): the scenario's or the command line's
    base URL, else OTEL_EXPORTER_OTLP_METRICS_ENDPOINT as it is, else OTEL_EXPORTER_OTLP_ENDPOINT
    with /v1/metrics."""
    if configured:
        return configured.rstrip("/") + METRICS_PATH, "otlp_endpoint"
    if environ.get(METRICS_ENDPOINT_ENV):
        return environ[METRICS_ENDPOINT_ENV], METRICS_ENDPOINT_ENV
    if environ.get(ENDPOINT_ENV):
        return environ[ENDPOINT_ENV].rstrip("/") + METRICS_PATH, ENDPOINT_ENV
    return None


def export_interval(configured: float | None, environ: Mapping[str, str] = os.environ) -> float:
    """Wall seconds between exports: the scenario's, else OTEL_METRIC_EXPORT_INTERVAL, else 10."""
    if configured:
        return configured
    try:
        millis = float(environ.get(INTERVAL_ENV, ""))
    except ValueError:  # unset or not a number: the SDK too falls back to its default then
        return DEFAULT_INTERVAL_SECONDS
    return millis / 1000.0 if millis > 0 else DEFAULT_INTERVAL_SECONDS


def start(
    run_id: str,
    endpoint: str | None,
    interval_seconds: float | None = None,
    time_scale: float = 1.0,
    say: Callable[[str], None] = lambda _: None,
    environ: Mapping[str, str] = os.environ,
) -> LiveMetrics | None:
    """This process's live metrics for a run, or None when none is asked for. An endpoint in
    the scenario or on the command line without the SDK installed is an error; one that only
    the environment names is said and passed over (the variable may be meant for other tools)."""
    where = metrics_url(endpoint, environ)
    if where is None:
        return None
    url, source = where
    try:
        metrics = LiveMetrics(run_id, url, export_interval(interval_seconds, environ), time_scale)
    except OpenTelemetryMissing as missing:
        if source == "otlp_endpoint":
            raise
        say(f"{source} is set, but {missing}: no live metrics")
        return None
    say(f"live metrics: OTLP/HTTP to {without_userinfo(url)} every {metrics.interval_seconds:g} s")
    return metrics


def without_userinfo(url: str) -> str:
    """A URL as it may be printed: a user:password in it is never shown."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}***@{netloc.rpartition('@')[2]}{slash}{path}" if "@" in netloc else url


class LiveMetrics:
    """The instruments of one process's share of a run, fed by `observe`; `close` exports the
    last of them (call it when the process's recorder is done)."""

    def __init__(self, run_id: str, url: str, interval_seconds: float, time_scale: float = 1.0) -> None:
        """time_scale: the wall seconds per AWS second of levels whose `level_start` this process
        does not see (a worker process is given its level's)."""
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
            from opentelemetry.sdk.resources import Resource
        except ImportError:
            raise OpenTelemetryMissing(
                'live metrics need the OpenTelemetry SDK: pip install "ml-pipeline-stress-harness[otel]"'
            ) from None
        self.run_id, self.url, self.interval_seconds = run_id, url, interval_seconds
        self.time_scale = time_scale
        self._scales: dict[int, float] = {}  # each level's, from its level_start
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=url), export_interval_millis=interval_seconds * 1000.0
        )
        # Resource.create adds OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from the environment
        resource = Resource.create(
            {"service.name": "harness", "service.instance.id": f"{socket.gethostname()}:{os.getpid()}"}
        )
        # not the global provider: a process may make several runs (a shoot-out), each its own
        self._provider = MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)
        meter = self._provider.get_meter("harness")
        self.attempts = meter.create_counter(
            "harness.api.attempts", "{attempt}", "AWS API attempts (outcome: ok, throttled, error, exception)"
        )
        self.throttles = meter.create_counter("harness.api.throttles", "{attempt}", "attempts AWS throttled")
        self.call_time = meter.create_histogram(
            "harness.api.duration",
            "s",
            "one attempt's round trip, AWS seconds",
            explicit_bucket_boundaries_advisory=CALL_SECONDS,
        )
        self.retries = meter.create_counter("harness.api.retries", "{retry}", "retries the retry policy decided")
        self.limiter_wait = meter.create_histogram(
            "harness.limiter.wait",
            "s",
            "time an attempt waited in the rate limiter, AWS seconds",
            explicit_bucket_boundaries_advisory=CALL_SECONDS,
        )
        self.quota_wait = meter.create_histogram(
            "harness.quota.wait",
            "s",
            "time waited for a concurrency quota's slot, AWS seconds",
            explicit_bucket_boundaries_advisory=LONG_SECONDS,
        )
        self.running = meter.create_up_down_counter("harness.pipelines.running", "{pipeline}", "pipelines running")
        self.finished = meter.create_counter(
            "harness.pipelines.finished", "{pipeline}", "pipelines finished (outcome: ok, failed, stopped)"
        )
        self.pipeline_time = meter.create_histogram(
            "harness.pipeline.duration",
            "s",
            "a pipeline from start to end, AWS seconds",
            explicit_bucket_boundaries_advisory=LONG_SECONDS,
        )
        self.partial_states = meter.create_counter(
            "harness.partial_states",
            "{partial_state}",
            "artifacts seen incomplete (state: detected), then complete (resolved) or not by the deadline (failed)",
        )
        self.partial_state_wait = meter.create_histogram(
            "harness.partial_state.wait",
            "s",
            "from a partial state's detection to its resolution or failure, AWS seconds",
            explicit_bucket_boundaries_advisory=LONG_SECONDS,
        )
        self._handlers: dict[str, Callable[[Event, dict[str, Any]], None]] = {
            "api_attempt": self._attempt,
            "retry": self._retry,
            "limiter_wait": lambda e, a: self.limiter_wait.record(self._seconds(e), self._call(e, a)),
            "quota_wait": lambda e, a: self.quota_wait.record(self._seconds(e), self._call(e, a)),
            "pipeline_start": self._pipeline_start,
            "pipeline_end": self._pipeline_end,
            "partial_state_detected": self._partial_state,
            "partial_state_resolved": self._partial_state,
            "partial_state_failed": self._partial_state,
            "level_start": self._level_start,
        }
        self._closed = threading.Event()

    # --- the subscriber (called on the recording thread: a counter bump each) --------------------
    def observe(self, event: Event) -> None:
        handle = self._handlers.get(event.kind)
        if handle is not None:
            handle(event, {"run_id": self.run_id, "level": event.level if event.level is not None else "none"})

    def _seconds(self, event: Event) -> float:
        scale = self._scales.get(event.level, self.time_scale) if event.level is not None else self.time_scale
        return (event.duration or 0.0) / scale

    @staticmethod
    def _call(event: Event, attributes: dict[str, Any]) -> dict[str, Any]:
        return attributes | {"service": event.service or "unknown", "operation": event.operation or "unknown"}

    def _attempt(self, event: Event, attributes: dict[str, Any]) -> None:
        call = self._call(event, attributes)
        self.attempts.add(1, call | {"outcome": event.outcome or "unknown"})
        if event.outcome == "throttled":
            self.throttles.add(1, call)
        if event.duration is not None:
            self.call_time.record(self._seconds(event), call)

    def _retry(self, event: Event, attributes: dict[str, Any]) -> None:
        self.retries.add(1, self._call(event, attributes))

    def _pipeline_start(self, event: Event, attributes: dict[str, Any]) -> None:
        self.running.add(1, attributes | {"pipeline": str(event.detail.get("name", "unknown"))})

    def _pipeline_end(self, event: Event, attributes: dict[str, Any]) -> None:
        named = attributes | {"pipeline": str(event.detail.get("name", "unknown"))}
        self.running.add(-1, named)
        ended = named | {"outcome": event.outcome or "unknown"}
        self.finished.add(1, ended)
        self.pipeline_time.record(self._seconds(event), ended)

    def _partial_state(self, event: Event, attributes: dict[str, Any]) -> None:
        state = event.kind.removeprefix("partial_state_")
        where = attributes | {"state": state, "stage": event.stage or "unknown"}
        self.partial_states.add(1, where)
        if state != "detected":
            self.partial_state_wait.record(self._seconds(event), where)

    def _level_start(self, event: Event, attributes: dict[str, Any]) -> None:
        scale = event.detail.get("time_scale")
        if event.level is not None and isinstance(scale, (int, float)) and scale > 0:
            self._scales[event.level] = float(scale)

    # --- the end ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Export what is left and stop (the last export waits for the collector, up to the
        exporter's timeout: OTEL_EXPORTER_OTLP_TIMEOUT, 10 s by default)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._provider.shutdown()
