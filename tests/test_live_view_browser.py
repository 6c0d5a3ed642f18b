"""`harness run --ui` as a person uses it: the run prints the live view's address, the page
opened in headless Chromium while a level runs shows that level and the throttles and waits per
operation, the browser is closed, and the run goes on to its end and its report."""

import json
import re
import threading
import time
import urllib.error
import urllib.request

import pytest

from browser import needs_chromium, open_page
from runhelpers import run_in_terminal


def read_lines(stream, into: list[str]) -> threading.Thread:
    def read() -> None:
        for line in stream:
            into.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def wait_for(what, seconds: float, say):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"waited {seconds:.0f} s: {say()}")


def state_of(url: str) -> dict:
    with urllib.request.urlopen(url + "api/state", timeout=10) as answer:
        return json.load(answer)


def under_pressure(state: dict) -> bool:
    """Level 16 running, some call throttled or waiting already, and most of the level to go
    (it takes about 27 AWS minutes; its first throttles and waits come in the first few)."""
    level = next((lv for lv in state["levels"] if lv["level"] == 16), None)
    pressed = any(o["throttled"] + o["limiter_waits"] + o["quota_waits"] for o in state["operations"])
    early = level is not None and level["state"] == "running" and level["aws_seconds"] < 500
    return state["status"] == "running" and early and pressed


@needs_chromium
def test_the_live_view_shows_a_running_level_in_chromium_and_the_run_completes(simulator, tmp_path):
    simulator.reset(profile="throttle-storm", seed=2, manual_time=True)  # virtual time
    process = run_in_terminal("throttle-storm", tmp_path / "reports", simulator.endpoint_url, "-n", "16", "--ui")
    err: list[str] = []
    reader = read_lines(process.stderr, err)
    try:
        said = wait_for(lambda: [line for line in err if line.startswith("live view: ")], 120, lambda: "".join(err))
        url = re.search(r"http://127\.0\.0\.1:\d+/", said[0]).group(0)
        wait_for(lambda: under_pressure(state_of(url)), 180, lambda: json.dumps(state_of(url))[:3000])

        seen = open_page(url, tmp_path / "chromium")  # loads, polls /api/state a few times, closes

        dom = seen["dom"]
        assert seen["console"] == [] and seen["exit_code"] == 0, seen["console"]
        assert re.search(r'<body[^>]* data-status="running"', dom), dom[:3000]
        assert re.search(r'<body[^>]* data-level="16"', dom)
        assert re.search(r'<tr data-level="16" data-state="running"', dom)
        operations = re.findall(
            r'<tr data-operation="([^"]+)" data-attempts="(\d+)" data-throttled="(\d+)" data-waits="(\d+)"', dom
        )
        pressed = [(name, int(throttled), int(waits)) for name, _, throttled, waits in operations]
        assert any(throttled + waits for _, throttled, waits in pressed), operations
        assert re.search(r'<tr data-quota="[a-z-]+\.\w+ (rate|concurrency)" data-rank="1"', dom)
        assert "Throttles and waits per operation" in dom
    finally:
        code = process.wait(timeout=600)
        reader.join(10)
    out = process.stdout.read()
    assert code == 0, "".join(err)[-3000:]
    run_dir = re.search(r"run folder: (\S+)", out).group(1)
    assert (tmp_path / "reports").joinpath(run_dir.rsplit("/", 1)[-1], "report.html").exists()
    assert any(line.startswith("report: ") for line in err)
    with pytest.raises(urllib.error.URLError):  # the run is over: so is its view
        state_of(url)
