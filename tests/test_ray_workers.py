"""Workers on Ray: a run spread over a two-node cluster (Ray's own cluster_utils on this
machine), pacing through the Redis limiter, its events from every node in the run folder."""

import json
import subprocess
import sys
from pathlib import Path


import pytest

from harness.events import load_events, load_meta

# Ray's clusters are the heaviest thing the suite starts: with more than one at a time on two
# cores, workers were not scheduled for minutes. The group keeps them on one xdist worker.
pytestmark = pytest.mark.xdist_group("ray")

ROOT = Path(__file__).resolve().parents[1]


SMOKE = (ROOT / "scenarios" / "smoke.toml").read_text()


def ray_scenario(tmp_path, address: str, processes: int = 2):
    path = tmp_path / "ray-smoke.toml"
    path.write_text(
        SMOKE.replace("[params]", f'workers = "ray"\nray_address = "{address}"\nprocesses = {processes}\n\n[params]')
    )
    return path


def test_a_run_on_two_ray_nodes_has_every_nodes_events_and_one_limiter(ray_cluster, redis_server, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(ray_scenario(tmp_path, ray_cluster.address)),
            "-n",
            "6",
            "--reports",
            str(tmp_path / "reports"),
            "--redis-url",
            redis_server.url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "2 Ray workers on " + ray_cluster.address + " (2 nodes)" in done.stderr
    run_dir = next((tmp_path / "reports").iterdir())
    events = load_events(run_dir)
    shares = [json.loads(d) for d in events[events.kind == "worker_process"].detail]
    assert len({share["node"] for share in shares}) == 2  # one Ray worker on each node
    assert sorted(share["workers"] for share in shares) == [3, 3]
    ends = events[events.kind == "pipeline_end"]
    assert sorted(ends.worker) == list(range(6)) and set(ends.outcome) == {"ok"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["integrity"]["all_match"] is True  # every attempt the simulator saw is in the run folder
    assert load_meta(run_dir)["shared_limiter"] is True
    assert not (events.kind == "limiter_fallback").any()
    # every row on the runner's clock: the pipelines' events fall between the level's start and end
    start, end = (events[events.kind == kind].mono_time.iloc[0] for kind in ("level_start", "level_end"))
    assert events[events.pipeline.notna()].mono_time.between(start, end).all()


def test_ray_workers_need_the_limiter_in_redis(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(ray_scenario(tmp_path, "10.0.0.5:6379")),
            "--reports",
            str(tmp_path / "reports"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "ray-smoke.toml" in done.stderr and "workers" in done.stderr and "redis_url" in done.stderr
    assert not (tmp_path / "reports").exists()


def test_a_ray_address_where_nothing_answers_is_said_at_once(tmp_path, redis_server):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(ray_scenario(tmp_path, "127.0.0.1:1")),
            "--reports",
            str(tmp_path / "reports"),
            "--redis-url",
            redis_server.url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("error: ray_address 127.0.0.1:1: no Ray head node answers there (Connection refused)")
    )
    assert not (tmp_path / "reports").exists()  # stopped before the run folder
