"""Two `harness run` processes on one simulator account, sharing one quota: first one run alone
(the baseline: it keeps to the quota), then two at once each with a limiter of its own, then
two at once sharing one limiter through Redis. Printed for each: what the
account (the simulator) saw of the shared quota's operation (requests, throttled, % throttled),
the pipelines done and failed, and the wall time. All three rounds run in this one invocation, one
after the other, on one simulator reset between them.

    .venv/bin/python benchmarks/shared_quota.py [--scenario shared-quota] [--operation sagemaker.DescribeFeatureGroup]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.redis_local import LocalRedis
from harness.runner.scenario import load_scenario
from harness.sim import Simulator


def runs_at_once(
    count: int, scenario: str, endpoint: str, reports: Path, redis_url: str | None
) -> tuple[float, list[dict]]:
    command = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        scenario,
        "--endpoint-url",
        endpoint,
        "--reports",
        str(reports),
    ] + (["--redis-url", redis_url] if redis_url else [])
    started = time.monotonic()
    runs = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(count)
    ]
    for run in runs:
        _, err = run.communicate()
        if run.returncode not in (0, 1):  # 1: a threshold or a pipeline failed, still a measurement
            raise SystemExit(f"harness run exited {run.returncode}:\n{err[-2000:]}")
    wall = time.monotonic() - started
    results = []
    for folder in sorted(p for p in reports.iterdir() if p.is_dir()):
        metrics = json.loads((folder / "metrics.json").read_text())
        level = metrics["levels"][0]
        results.append({"done": level["completed"], "failed": level["failed"]})
    return wall, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="shared-quota")
    parser.add_argument(
        "--operation",
        default="sagemaker.DescribeFeatureGroup",
        help="the quota the runs share (service.Operation, as the simulator counts it)",
    )
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    rows = []
    with Simulator(scenario.profile, seed=scenario.seed, time_scale=scenario.time_scale) as sim, LocalRedis() as redis:
        for label, count, url in (
            ("one run alone", 1, None),
            ("two, a limiter each", 2, None),
            ("two, one in Redis", 2, redis.url),
        ):
            sim.reset()
            with tempfile.TemporaryDirectory() as reports:
                wall, runs = runs_at_once(count, args.scenario, sim.endpoint_url, Path(reports), url)
            served = sim.stats()["operations"].get(args.operation, {})
            requests, throttled = served.get("requests", 0), served.get("throttled", 0)
            rows.append(
                (
                    label,
                    requests,
                    throttled,
                    100 * throttled / max(1, requests),
                    sum(r["done"] for r in runs),
                    sum(r["failed"] for r in runs),
                    wall,
                )
            )
            print(f"{label}: done", file=sys.stderr)
    print(f"runs of {args.scenario} on one account; {args.operation} as the account saw it")
    print(f"{'limiter':22} {'requests':>9} {'throttled':>9} {'% thr':>6} {'done':>5} {'failed':>6} {'wall s':>7}")
    for label, requests, throttled, share, done, failed, wall in rows:
        print(f"{label:22} {requests:9d} {throttled:9d} {share:6.2f} {done:5d} {failed:6d} {wall:7.0f}")


if __name__ == "__main__":
    main()
