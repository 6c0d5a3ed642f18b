"""The simulator's sustained requests per second beside plain moto server, in the same run.

A DescribeModel call from 1, 8 and 32 client threads for a few seconds each, against
(a) moto's own server, (b) the simulator as it was before it kept connections alive
(werkzeug's `Connection: close` on every response, so a new TCP connection and a new server
thread per call: the baseline for that change) and (c) the simulator, both with no quotas,
latency or faults, so the difference from (a) is what the middleware costs. Each row also
gives the client's CPU per call, which the closing server made expensive too.

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
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=64),
    )


def measure(url: str, threads: int, seconds: float) -> tuple[float, float]:
    """Requests per second, and the client's CPU milliseconds per request."""
    sagemaker = client(url)
    try:
        sagemaker.create_model(
            ModelName="bench", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "img"}
        )
    except Exception:
        pass
    done = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i):
        while time.monotonic() < stop:
            sagemaker.describe_model(ModelName="bench")
            done[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start, cpu = time.monotonic(), time.process_time()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    calls = max(1, sum(done))
    return calls / (time.monotonic() - start), 1000 * (time.process_time() - cpu) / calls


# The simulator with werkzeug's closing request handler (moto's), started as the server is.
CLOSING = (
    "import sys; from moto.moto_server.werkzeug_app import MotoRequestHandler; "
    "import harness.sim.server as server; server.keep_alive_handler = lambda: MotoRequestHandler; "
    "sys.exit(server.main(sys.argv[1:]))"
)


def start_closing(profile: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", CLOSING, "--profile", profile, "--port", "0", "--exit-when-stdin-closes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline().strip()
    if not line.startswith("SIMULATOR "):
        raise RuntimeError(f"the closing simulator did not start: {line!r}")
    return process, line.split(" ", 1)[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", default="1,8,32")
    args = parser.parse_args()
    levels = [int(n) for n in args.threads.split(",")]

    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    moto_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare.toml"
        bare.write_text('quota_table = "none"\n')
        closing = None
        try:
            wait_ready(moto_url)
            closing, closing_url = start_closing(str(bare))
            with Simulator(str(bare)) as sim:
                print(f"DescribeModel, {args.seconds:g} s per measurement; req/s (client CPU ms per call)\n")
                print(f"{'threads':>7} {'moto':>16} {'sim, closing':>16} {'simulator':>16} {'vs moto':>8}")
                for threads in levels:
                    plain = measure(moto_url, threads, args.seconds)
                    before = measure(closing_url, threads, args.seconds)
                    ours = measure(sim.endpoint_url, threads, args.seconds)
                    cells = " ".join(f"{rate:9.1f} ({cpu:4.2f})" for rate, cpu in (plain, before, ours))
                    print(f"{threads:7d} {cells} {100 * (ours[0] / plain[0] - 1):+7.1f}%")
        finally:
            moto.terminate()
            moto.wait()
            if closing is not None:
                closing.stdin.close()
                closing.wait(10)


if __name__ == "__main__":
    main()
