"""The live view (`harness run --ui`): its figures folded from a run's events, the JSON the page
reads, a server that answers on loopback only and shrugs off vanished browsers, and a feed that
reads the run's events.db without ever keeping the run from closing it."""

import http.client
import json
import socket
import struct
import time
import urllib.request

import pytest

from harness.cli import main
from harness.events import Recorder, finalize
from harness.events.context import bound
from harness.live.feed import EventFeed
from harness.live.server import LiveServer
from harness.live.state import LiveEvent, LiveState
from harness.quotas import load_table


def level_events(wall: float = 1000.0, mono: float = 50.0, scale: float = 0.01) -> list[LiveEvent]:
    """N=4 at time scale 0.01: 60 AWS seconds (0.6 run-clock seconds) in, two pipelines done,
    DescribeEndpoint throttled twice and paced once by the limiter, one wait for an endpoint slot."""
    start = json.dumps({"workers": 4, "duration_seconds": 0.0, "time_scale": scale})
    at = 60 * scale
    return [
        LiveEvent(wall, mono, 4, "level_start", detail=start),
        *[LiveEvent(wall + 0.1, mono, 4, "pipeline_start") for _ in range(4)],
        LiveEvent(wall + 2, mono + at / 2, 4, "api_attempt", "sagemaker", "DescribeEndpoint", "throttled", 0.001),
        LiveEvent(wall + 8, mono + at / 2, 4, "api_attempt", "sagemaker", "DescribeEndpoint", "throttled", 0.001),
        LiveEvent(wall + 8, mono + at / 2, 4, "api_attempt", "sagemaker", "DescribeEndpoint", "ok", 0.001),
        LiveEvent(wall + 8, mono + at / 2, 4, "limiter_wait", "sagemaker", "DescribeEndpoint", duration=0.05),
        LiveEvent(wall + 9, mono + at, 4, "quota_wait", "sagemaker", "CreateEndpoint", duration=0.3),
        LiveEvent(wall + 9, mono + at, 4, "pipeline_end", outcome="ok"),
        LiveEvent(wall + 9, mono + at, 4, "pipeline_end", outcome="ok"),
    ]


def watched(now: float) -> LiveState:
    state = LiveState("run-1", "throttle-storm", [4, 8], quota_table=load_table(), clock=lambda: now)
    state.observe(level_events())
    return state


def test_a_level_in_progress_shows_its_pipelines_eta_and_throughput():
    level = watched(now=1010.0).snapshot()["levels"][0]
    assert (level["label"], level["state"], level["total"]) == ("N=4", "running", 4)
    assert (level["started"], level["running"], level["done"], level["failed"]) == (4, 2, 2, 0)
    assert level["elapsed_seconds"] == 10.0
    assert level["eta_seconds"] == 10.0  # as the progress line: 10 s for 2 pipelines, 2 to go
    assert level["aws_seconds"] == pytest.approx(60.0)
    assert level["pipelines_per_hour"] == pytest.approx(120.0)  # 2 done in an AWS minute
    assert level["limiter_wait_seconds"] == pytest.approx(5.0)  # 0.05 wall s at 0.01: AWS seconds
    assert level["quota_wait_seconds"] == pytest.approx(30.0)


def test_throttles_and_waits_show_per_operation_most_pressed_first():
    operations = watched(now=1010.0).snapshot()["operations"]
    assert [o["operation"] for o in operations] == ["sagemaker.DescribeEndpoint", "sagemaker.CreateEndpoint"]
    described = operations[0]
    assert (described["attempts"], described["throttled"], described["limiter_waits"]) == (3, 2, 1)
    assert described["throttled_recent"] == 2
    assert operations[1]["quota_waits"] == 1 and operations[1]["quota_wait_seconds"] == pytest.approx(30.0)


def test_the_busiest_quotas_are_what_pressed_on_them_lately_named_as_the_report_names_them():
    quotas = watched(now=1010.0).snapshot()["quotas"]
    assert quotas[0] == {
        "quota": "sagemaker.DescribeEndpoint rate",
        "limit": "20/s (sagemaker.Describe*)",  # the limiter's table: the row is a family
        "throttled_recent": 2,
        "waits_recent": 1,
        "throttled": 2,
        "waits": 1,
    }
    assert quotas[1]["quota"] == "sagemaker.CreateEndpoint concurrency" and quotas[1]["limit"] == "20 at once"


def test_pressure_older_than_the_recent_window_leaves_the_busiest_now_but_stays_in_the_level():
    later = watched(now=1015.0).snapshot()  # the throttle at 1002 is past the last 10 s
    described = later["operations"][0]
    assert (described["throttled"], described["throttled_recent"]) == (2, 1)
    assert later["quotas"][0]["throttled_recent"] == 1 and later["quotas"][0]["throttled"] == 2


def test_a_run_goes_from_starting_to_running_between_levels_and_finished():
    state = LiveState("run-1", "smoke", [4], clock=lambda: 1010.0)
    assert state.snapshot()["status"] == "starting"
    state.observe(level_events())
    assert state.snapshot()["status"] == "running" and state.snapshot()["level"] == 4
    state.observe([LiveEvent(1020.0, 51.0, 4, "level_end")])
    ended = state.snapshot()
    assert ended["status"] == "between levels" and ended["levels"][0]["state"] == "done"
    assert ended["levels"][0]["eta_seconds"] is None and ended["levels"][0]["elapsed_seconds"] == 20.0
    state.observe([LiveEvent(1030.0, 52.0, None, "run_end", detail='{"outcome": "complete"}')])
    assert (state.snapshot()["status"], state.snapshot()["outcome"]) == ("finished", "complete")


def test_a_level_with_a_duration_counts_down_its_starts_in_aws_time():
    state = LiveState("run-1", "stress", [8], clock=lambda: 1010.0)
    start = json.dumps({"workers": 8, "duration_seconds": 600.0, "time_scale": 0.1})
    state.observe(
        [LiveEvent(1000.0, 50.0, 8, "level_start", detail=start), LiveEvent(1010.0, 60.0, 8, "pipeline_start")]
    )
    level = state.snapshot()["levels"][0]
    assert level["total"] is None and level["eta_seconds"] is None
    assert level["starts_left_aws_seconds"] == pytest.approx(500.0)  # 10 run s at 0.1: 100 AWS s gone


# --- the server -------------------------------------------------------------------------------
@pytest.fixture
def served():
    server = LiveServer(watched(now=time.time()), port=0).start()
    yield server
    server.stop()


def test_the_state_endpoint_answers_the_figures_as_json(served):
    with urllib.request.urlopen(served.url + "api/state", timeout=10) as answer:
        assert answer.headers["Content-Type"] == "application/json"
        state = json.load(answer)
    assert state["run_id"] == "run-1" and state["status"] == "running" and state["level"] == 4
    assert state["levels"][0]["done"] == 2 and state["operations"][0]["throttled"] == 2
    with urllib.request.urlopen(served.url, timeout=10) as page:
        html = page.read().decode()
    assert "<title>harness: live run</title>" in html and 'fetch("/api/state"' in html


def test_the_view_listens_on_loopback_only_and_refuses_other_host_names(served):
    assert served.httpd.server_address[0] == "127.0.0.1" and served.url.startswith("http://127.0.0.1:")
    port = served.httpd.server_address[1]
    rebound = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    rebound.request("GET", "/api/state", headers={"Host": f"attacker.example:{port}"})
    assert rebound.getresponse().status == 403  # a page elsewhere that points its name here
    rebound.close()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(served.url + "nothing", timeout=10)
    assert missing.value.code == 404


class HugeState:
    def snapshot(self) -> dict:
        return {"padding": "x" * 20_000_000}


def test_a_browser_that_disconnects_mid_response_leaves_the_server_serving(capsys):
    server = LiveServer(HugeState(), port=0).start()  # type: ignore[arg-type]
    try:
        port = server.httpd.server_address[1]
        for _ in range(3):
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            client.sendall(f"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert client.recv(1024).startswith(b"HTTP/1.0 200")  # the answer has begun...
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()  # ...and the browser is gone (a reset, as a closed tab sends)
        with urllib.request.urlopen(server.url, timeout=10) as page:
            assert page.status == 200
    finally:
        server.stop()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "live view" not in err  # nothing said, nothing raised


def test_a_port_in_use_is_one_line_before_the_run_makes_anything(tmp_path, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        code = main(["run", "smoke", "-n", "1", "--ui-port", str(port), "--reports", str(tmp_path)])
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: --ui-port {port}: cannot serve the live view on 127.0.0.1:{port}" in err
    assert list(tmp_path.iterdir()) == []  # no run folder


def test_a_port_that_is_no_port_is_refused_as_the_command_line_is_read(capsys):
    with pytest.raises(SystemExit) as refused:
        main(["run", "smoke", "--ui-port", "70000"])
    assert refused.value.code == 2
    assert "port '70000': expected an integer from 1 to 65535" in capsys.readouterr().err


# --- the feed ---------------------------------------------------------------------------------
def test_the_feed_reads_events_as_the_run_commits_them_and_the_run_still_closes_its_database(tmp_path):
    state = LiveState("run-1", "smoke", [2])
    feed = EventFeed(tmp_path / "events.db", state, interval=0.01).start()  # before the file exists
    recorder = Recorder(tmp_path / "events.db", "run-1", flush_interval=0.02)
    with bound(level=2):
        recorder.record("level_start", workers=2, duration_seconds=0.0, time_scale=0.01)
        recorder.record("pipeline_start")
        recorder.record("api_attempt", service="glue", operation="GetTable", outcome="throttled", duration=0.01)
    deadline = time.monotonic() + 10
    while state.snapshot()["status"] != "running" or not state.snapshot()["operations"]:
        assert time.monotonic() < deadline, state.snapshot()
        time.sleep(0.02)
    assert state.snapshot()["operations"][0] == pytest.approx(
        {"operation": "glue.GetTable", "attempts": 1, "throttled": 1, "throttled_recent": 1}
        | {"limiter_waits": 0, "limiter_wait_seconds": 0.0, "quota_waits": 0, "quota_wait_seconds": 0.0}
    )
    recorder.record("run_end", outcome="complete")
    recorder.close()
    finalize(tmp_path / "events.db")  # while the feed still reads every 10 ms
    feed.stop()
    assert state.snapshot()["status"] == "finished"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.db"]
