"""What workers on Ray cost on one machine: the same level run three ways, one after the other in
this one invocation, each on a fresh embedded simulator with the same seed:
- threads in the runner with their limiter in the run (the baseline);
- threads with the limiter in Redis (what every Ray worker pays for pacing);
- Ray workers on a two-node cluster on this machine (Ray's cluster_utils), limiter in Redis.
Printed for each: pipelines/hour, p50 pipeline minutes, limiter wait per pipeline, the
measurement's own delay per call and as a share of pipeline time, requests/s, whether the
integrity line balanced, the wall time, and for Ray how the workers spread over the nodes.

    .venv/bin/python benchmarks/ray_workers.py [--scenario stress-hundreds] [-n 64] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.events import load_events
from harness.redis_local import LocalRedis
from harness.runner.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def run_once(scenario_path: Path, n: int, reports: Path, redis_url: str | None) -> dict:
    command = [sys.executable, "-m", "harness.cli", "run", str(scenario_path), "-n", str(n), "--reports", str(reports)]
    command += ["--redis-url", redis_url] if redis_url else []
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - started
    if done.returncode not in (0, 1):  # 1: a threshold or a pipeline failed, still a measurement
        raise SystemExit(f"harness run exited {done.returncode}:\n{done.stderr[-2000:]}")
    run_dir = next(p for p in reports.iterdir() if p.is_dir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    level = metrics["levels"][0]
    shares = [json.loads(d) for d in load_events(run_dir, ["worker_process"]).detail]
    nodes = {}
    for share in shares:
        nodes[share.get("node", "")[:8]] = nodes.get(share.get("node", "")[:8], 0) + share["workers"]
    return {
        "done": level["completed"],
        "failed": level["failed"],
        "per_hour": level["throughput_per_hour"],
        "p50_min": level["pipeline_seconds"]["p50"] / 60,
        "limiter_s": level["waits"]["limiter_seconds_per_pipeline"],
        "overhead_ms": level["overhead"]["per_call_wall_ms"]["mean"],
        "overhead_share": 100 * level["overhead"]["share_of_pipeline"],
        "requests_per_s": level["simulator"]["requests_per_second"],
        "integrity": metrics["integrity"]["all_match"],
        "wall": wall,
        "spread": " + ".join(f"{count}" for count in nodes.values()) if nodes else "-",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="stress-hundreds")
    parser.add_argument("-n", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2, help="Ray workers")
    args = parser.parse_args()
    text = load_scenario(args.scenario).source
    base = Path(text).read_text()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    rows = []
    try:
        with LocalRedis() as redis, tempfile.TemporaryDirectory() as work:
            work = Path(work)
            ray = f'workers = "ray"\nray_address = "{cluster.address}"\nprocesses = {args.processes}\n'
            for label, extra, url in (
                ("threads, limiter in the run", "", None),
                ("threads, limiter in Redis", "", redis.url),
                (f"{args.processes} Ray workers, 2 nodes", ray, redis.url),
            ):
                path = work / f"{len(rows)}.toml"
                path.write_text(extra + base)
                reports = work / f"reports-{len(rows)}"
                reports.mkdir()
                rows.append((label, run_once(path, args.n, reports, url)))
                print(f"{label}: done", file=sys.stderr)
    finally:
        cluster.shutdown()
    print(f"{args.scenario} at N={args.n} on one machine ({os.cpu_count()} cores), one run after another")
    print(
        f"{'workers':30} {'done':>4} {'fail':>4} {'pipel/h':>7} {'p50 min':>7} {'limiter s':>9} "
        f"{'ovh ms':>6} {'ovh %':>5} {'req/s':>6} {'integrity':>9} {'wall s':>6}  spread"
    )
    for label, r in rows:
        print(
            f"{label:30} {r['done']:4d} {r['failed']:4d} {r['per_hour']:7.1f} {r['p50_min']:7.1f} "
            f"{r['limiter_s']:9.1f} {r['overhead_ms']:6.1f} {r['overhead_share']:5.1f} {r['requests_per_s']:6.1f} "
            f"{'balances' if r['integrity'] else 'NO':>9} {r['wall']:6.0f}  {r['spread']}"
        )


if __name__ == "__main__":
    main()
