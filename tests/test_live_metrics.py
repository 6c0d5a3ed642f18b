"""Live metrics over OTLP: a run with telemetry on sends its figures to an OpenTelemetry collector
while it runs, and the last of them when it ends. The collector here is a real OTLP/HTTP
receiver on a loopback port (POST /v1/metrics, protobuf), as a collector's `otlp` receiver is;
what it keeps is checked against the run's own events.db."""

from __future__ import annotations

import gzip
import sys
import threading
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from harness.cli import build_parser, options
from harness.config import ConfigError
from harness.events import load_events, otel
from harness.quotas import Quota
from harness.runner.run import Runner
from harness.runner.scenario import Telemetry, load_scenario, parse_scenario


@dataclass(frozen=True)
class Point:
    metric: str
    unit: str
    instance: str  # the exporting process: its resource's service.instance.id
    attributes: dict
    value: float  # a sum's value, or a histogram's sum
    count: int | None  # a histogram's count


def _value(any_value):
    return getattr(any_value, any_value.WhichOneof("value"))


class OtlpReceiver:
    """An OTLP/HTTP metrics receiver on a free loopback port. Every export is kept as it came
    (cumulative: each holds the totals so far); `last` is each series' final figure."""

    def __init__(self) -> None:
        self.exports: list[list[Point]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/metrics":
                    self.send_error(404)
                    return
                receiver.exports.append(receiver.decode(ExportMetricsServiceRequest.FromString(body)))
                reply = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def decode(request: ExportMetricsServiceRequest) -> list[Point]:
        points = []
        for resource_metrics in request.resource_metrics:
            resource = {kv.key: _value(kv.value) for kv in resource_metrics.resource.attributes}
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    kind = metric.WhichOneof("data")
                    for p in getattr(metric, kind).data_points:
                        attributes = {kv.key: _value(kv.value) for kv in p.attributes}
                        if kind == "histogram":
                            value, count = p.sum, p.count
                        else:
                            value, count = getattr(p, p.WhichOneof("value")), None
                        points.append(
                            Point(metric.name, metric.unit, resource["service.instance.id"], attributes, value, count)
                        )
        return points

    def last(self) -> list[Point]:
        final: dict = {}
        for export in self.exports:
            for p in export:
                final[(p.metric, p.instance, tuple(sorted(p.attributes.items())))] = p
        return list(final.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector():
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def total(points: list[Point], metric: str, **attributes) -> float:
    return sum(
        p.value for p in points if p.metric == metric and all(p.attributes.get(k) == v for k, v in attributes.items())
    )


def count(points: list[Point], metric: str, **attributes) -> int:
    return sum(
        p.count or 0
        for p in points
        if p.metric == metric and all(p.attributes.get(k) == v for k, v in attributes.items())
    )


EVERY_METRIC = {
    "harness.api.attempts": "{attempt}",
    "harness.api.throttles": "{attempt}",
    "harness.api.duration": "s",
    "harness.api.retries": "{retry}",
    "harness.limiter.wait": "s",
    "harness.quota.wait": "s",
    "harness.pipelines.running": "{pipeline}",
    "harness.pipelines.finished": "{pipeline}",
    "harness.pipeline.duration": "s",
    "harness.partial_states": "{partial_state}",
    "harness.partial_state.wait": "s",
}


def test_a_run_with_telemetry_on_sends_its_figures_to_the_collector(simulator, collector, tmp_path):
    """A contended account with slow offline stores (throttle-storm on the partial-state
    scenario, virtual time, N=6): throttles, retries, limiter and quota waits and partial states
    all happen. The collector gets every metric, each point with the run id and level, and the
    last export adds up to exactly what events.db recorded."""
    scenario = replace(
        load_scenario("partial-state"),
        profile="throttle-storm",  # throttles, and retries of them
        # the limiter paces DescribeFeatureGroup polls (6 feature groups polled every 5 s) below
        # what they ask: limiter waits; 6 creates for 4 Creating slots: quota waits
        quota_overrides=[Quota("sagemaker", "DescribeFeatureGroup", rate=0.5, burst=1, rate_basis="published")],
        telemetry=Telemetry(otlp_endpoint=collector.endpoint),
    )
    simulator.reset(profile=scenario.profile, seed=scenario.seed, manual_time=True)
    result = Runner(scenario, tmp_path, [6], endpoint_url=simulator.endpoint_url).run()
    assert result.pipelines == 6 and result.failed == 0

    points = collector.last()
    assert {p.metric: p.unit for p in points} == EVERY_METRIC
    assert all(p.attributes["run_id"] == result.run_id for p in points)
    assert {p.attributes["level"] for p in points} <= {6, "none"}  # "none": the run's final cleanup
    level = [p for p in points if p.attributes["level"] == 6]

    ev = load_events(result.run_dir)
    ev = ev[ev.level == 6]
    attempts = ev[ev.kind == "api_attempt"]
    assert total(level, "harness.api.attempts") == len(attempts) > 0
    assert total(level, "harness.api.attempts", service="sagemaker", operation="CreateFeatureGroup") == (
        (attempts.operation == "CreateFeatureGroup").sum()
    )
    assert total(level, "harness.api.throttles") == (attempts.outcome == "throttled").sum() > 0
    assert total(level, "harness.api.attempts", outcome="throttled") == total(level, "harness.api.throttles")
    assert total(level, "harness.api.retries") == (ev.kind == "retry").sum() > 0
    limiter = ev[ev.kind == "limiter_wait"]
    assert count(level, "harness.limiter.wait") == len(limiter) > 0
    assert total(level, "harness.limiter.wait") == pytest.approx(limiter.duration.sum())  # virtual: AWS seconds
    quota = ev[ev.kind == "quota_wait"]
    assert count(level, "harness.quota.wait") == len(quota) > 0
    assert total(level, "harness.quota.wait") == pytest.approx(quota.duration.sum())

    assert total(level, "harness.pipelines.finished", outcome="ok", pipeline="workbench-light") == 6
    assert total(level, "harness.pipelines.running") == 0  # all ended
    assert count(level, "harness.pipeline.duration", outcome="ok") == 6
    for state in ("detected", "resolved"):
        assert total(level, "harness.partial_states", state=state) == (ev.kind == f"partial_state_{state}").sum() > 0
    assert {p.attributes["stage"] for p in level if p.metric == "harness.partial_states"} == {"feature_set"}
    assert count(level, "harness.partial_state.wait", state="resolved") == (ev.kind == "partial_state_resolved").sum()


def test_worker_processes_each_send_their_share_while_the_run_runs(simulator, collector, tmp_path):
    """workers = "processes": each worker process exports its own pipelines (its own
    service.instance.id); added up they are the level's. Exported every 0.2 s, some export
    came while pipelines were in flight: the view is live, not a report at the end."""
    scenario = replace(load_scenario("smoke"), pipelines={"pipelines_for_tests:short": 1.0}, params={})
    scenario.workers, scenario.processes, scenario.ramp_up_seconds = "processes", 2, 0.0
    scenario.telemetry = Telemetry(otlp_endpoint=collector.endpoint, export_interval_seconds=0.2)
    simulator.reset(profile=scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale)
    result = Runner(scenario, tmp_path, [2], endpoint_url=simulator.endpoint_url).run()
    assert result.pipelines == 2 and result.failed == 0

    points = collector.last()
    finished = [p for p in points if p.metric == "harness.pipelines.finished"]
    assert len({p.instance for p in finished}) == 2  # one series per worker process
    assert total(finished, "harness.pipelines.finished", outcome="ok", level=2, run_id=result.run_id) == 2
    assert {p.attributes["pipeline"] for p in finished} == {"short"}
    attempts = load_events(result.run_dir, ["api_attempt"])
    assert total(points, "harness.api.attempts", level=2) == (attempts.level == 2).sum()
    # seconds are AWS seconds: the events' wall seconds at 1/100
    ends = load_events(result.run_dir, ["pipeline_end"])
    assert total(points, "harness.pipeline.duration", level=2) == pytest.approx(ends.duration.sum() / 0.01)
    in_flight = [total(export, "harness.pipelines.running", level=2) for export in collector.exports]
    assert max(in_flight) > 0


def test_the_standard_environment_variable_turns_live_metrics_on(simulator, collector, tmp_path, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint + "/")
    scenario = replace(load_scenario("smoke"), time="virtual")
    simulator.reset(profile=scenario.profile, seed=scenario.seed, manual_time=True)
    result = Runner(scenario, tmp_path, [1], endpoint_url=simulator.endpoint_url).run()
    points = collector.last()
    assert total(points, "harness.pipelines.finished", outcome="ok", level=1, run_id=result.run_id) == 1


def test_without_an_endpoint_nothing_is_sent():
    assert otel.start("run", None, environ={}) is None
    assert otel.metrics_url(None, {}) is None


def test_where_the_metrics_go_follows_the_opentelemetry_variables():
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert otel.metrics_url(None, env) == ("http://collector:4318/v1/metrics", "OTEL_EXPORTER_OTLP_ENDPOINT")
    # the signal's own variable is a whole URL, and comes first
    env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = "http://other:9000/custom"
    assert otel.metrics_url(None, env)[0] == "http://other:9000/custom"
    # the scenario or the command line come before both
    assert otel.metrics_url("http://127.0.0.1:4318", env)[0] == "http://127.0.0.1:4318/v1/metrics"
    assert otel.export_interval(None, {"OTEL_METRIC_EXPORT_INTERVAL": "2500"}) == 2.5
    assert otel.export_interval(None, {}) == otel.DEFAULT_INTERVAL_SECONDS
    assert otel.export_interval(4.0, {"OTEL_METRIC_EXPORT_INTERVAL": "2500"}) == 4.0


def test_an_endpoint_without_the_sdk_installed_stops_the_run_before_its_folder(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.metrics", None)  # as if the extra were missing
    scenario = replace(load_scenario("smoke"), telemetry=Telemetry(otlp_endpoint="http://127.0.0.1:4318"))
    with pytest.raises(otel.OpenTelemetryMissing, match=r"pip install \"ml-pipeline-stress-harness\[otel\]\""):
        Runner(scenario, tmp_path / "reports", [1]).run()
    assert not (tmp_path / "reports").exists()
    # named only by the environment (perhaps for other tools): said, and the run goes on without
    said: list[str] = []
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert otel.start("run", None, say=said.append, environ=env) is None
    assert said == [
        "OTEL_EXPORTER_OTLP_ENDPOINT is set, but live metrics need the OpenTelemetry SDK: "
        'pip install "ml-pipeline-stress-harness[otel]": no live metrics'
    ]


def scenario_with(telemetry: dict):
    return parse_scenario({"telemetry": telemetry, "pipelines": "workbench-light"}, "mine.toml", "mine")


def test_the_scenario_names_its_collector_in_a_telemetry_table():
    scenario = scenario_with({"otlp_endpoint": "http://127.0.0.1:4318/", "export_interval_seconds": 5})
    assert scenario.telemetry == Telemetry("http://127.0.0.1:4318", 5.0)
    assert load_scenario("smoke").telemetry == Telemetry()  # off unless asked for


@pytest.mark.parametrize(
    "url", ["127.0.0.1:4318", "grpc://127.0.0.1:4317", "http://", "http://h:99999", "http://h/?a=1"]
)
def test_an_endpoint_that_is_not_an_http_url_is_refused_naming_the_key(url):
    with pytest.raises(ConfigError) as refused:
        scenario_with({"otlp_endpoint": url})
    assert str(refused.value).startswith(f"mine.toml: telemetry.otlp_endpoint = {url!r} is not allowed")
    assert "http://127.0.0.1:4318" in str(refused.value)


def test_a_password_in_the_endpoint_is_refused_and_never_printed(capsys):
    with pytest.raises(ConfigError) as refused:
        scenario_with({"otlp_endpoint": "https://me:s3cret@collector.example:4318"})
    assert "s3cret" not in str(refused.value) and "OTEL_EXPORTER_OTLP_HEADERS" in str(refused.value)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "smoke", "--otlp-endpoint", "http://me:s3cret@127.0.0.1:4318"])
    assert "s3cret" not in capsys.readouterr().err


def test_the_command_line_endpoint_overrides_the_scenarios():
    args = build_parser().parse_args(["run", "smoke", "--otlp-endpoint", "http://127.0.0.1:4318"])
    assert options.load_with_overrides(args).telemetry.otlp_endpoint == "http://127.0.0.1:4318"
