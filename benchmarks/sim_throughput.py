"""The simulator's sustained requests per second beside plain moto server, in the same run.

A DescribeModel call from 1, 8 and 32 client threads for a few seconds each, against
(a) moto's own server, (b) the simulator as it was before it remembered moto's application
per credential scope (moto's own lookup on every call: the baseline for that change) and
(c) the simulator, both with no quotas, latency or faults, so the difference from (a) is what
the middleware costs.

    .venv/bin/python benchmarks/sim_throughput.py [--seconds 5]
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

from harness.sim import Simulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def client(url: str):
    return boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=64))


def measure(url: str, threads: int, seconds: float) -> float:
    sagemaker = client(url)
    try:
        sagemaker.create_model(ModelName="bench", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                               PrimaryContainer={"Image": "img"})
    except Exception:
        pass
    done = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i):
        while time.monotonic() < stop:
            sagemaker.describe_model(ModelName="bench")
            done[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done) / (time.monotonic() - start)


# The simulator with moto's per-request application lookup, started as the server is.
UNCACHED = ("import sys; from harness.sim.app import SimulatorApp; "
            "SimulatorApp._moto_app = lambda self, environ: self.moto.get_application(environ); "
            "from harness.sim.server import main; sys.exit(main(sys.argv[1:]))")


def start_uncached(profile: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", UNCACHED, "--profile", profile, "--port", "0",
                                "--exit-when-stdin-closes"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline().strip()
    if not line.startswith("SIMULATOR "):
        raise RuntimeError(f"the uncached simulator did not start: {line!r}")
    return process, line.split(" ", 1)[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", default="1,8,32")
    args = parser.parse_args()
    levels = [int(n) for n in args.threads.split(",")]

    port = free_port()
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    moto_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare.toml"
        bare.write_text('quota_table = "none"\n')
        uncached = None
        try:
            wait_ready(moto_url)
            uncached, uncached_url = start_uncached(str(bare))
            with Simulator(str(bare)) as sim:
                print(f"DescribeModel, {args.seconds:g} s per measurement\n")
                print(f"{'threads':>7} {'moto req/s':>11} {'sim, uncached':>14} {'simulator req/s':>16} "
                      f"{'middleware cost':>16}")
                for threads in levels:
                    plain = measure(moto_url, threads, args.seconds)
                    before = measure(uncached_url, threads, args.seconds)
                    ours = measure(sim.endpoint_url, threads, args.seconds)
                    print(f"{threads:7d} {plain:11.1f} {before:14.1f} {ours:16.1f} {100 * (1 - ours / plain):15.1f}%")
        finally:
            moto.terminate()
            moto.wait()
            if uncached is not None:
                uncached.stdin.close()
                uncached.wait(10)


if __name__ == "__main__":
    main()
