"""Call-level shoot-out of the retry policies against one shared account quota.

32 threads, each with its own client (as separate pipeline workers have), make 10
DescribeEndpoint calls each against a simulator quota of 20 requests/s (burst 20). Every
policy gets the same attempt budget. Printed: goodput, % of attempts throttled, failed
calls, p50/p99 call latency; then client CPU time per call with recording on and off.

    .venv/bin/python benchmarks/policies.py [--threads 32] [--calls 10] [--rate 20]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from botocore.exceptions import ClientError

from harness.aws import POLICIES, Backend, ClientFactory, Limiter, RetrySettings
from harness.events import Recorder
from harness.quotas import Quota, QuotaTable
from harness.sim import Simulator

PROFILE = """
quota_table = "none"
[[quota]]
service = "sagemaker"
operation = "DescribeEndpoint"
rate = {rate}
burst = {rate}
[lifecycle.endpoint]
create_seconds = 0
"""


def make_endpoint(sim):
    client = ClientFactory(Backend.simulator(sim.endpoint_url), RetrySettings("none")).client("sagemaker")
    client.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                        PrimaryContainer={"Image": "img"})
    client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[{
        "VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    client.create_endpoint(EndpointName="ep", EndpointConfigName="c")


def run_policy(sim, policy, threads, calls, rate, attempts, recorder=None):
    limiter = Limiter(QuotaTable([Quota("sagemaker", "DescribeEndpoint", rate=rate, burst=rate)]))
    settings = RetrySettings(policy, max_attempts=attempts)
    factories = [ClientFactory(Backend.simulator(sim.endpoint_url), settings, recorder=recorder,
                               limiter=limiter) for _ in range(threads)]
    for factory in factories:
        factory.client("sagemaker")
    latencies, failed, lock = [], [0], threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(factory):
        client = factory.client("sagemaker")
        barrier.wait()
        for _ in range(calls):
            start = time.monotonic()
            try:
                client.describe_endpoint(EndpointName="ep")
                with lock:
                    latencies.append(time.monotonic() - start)
            except ClientError:
                with lock:
                    failed[0] += 1

    before = sim.stats()["operations"].get("sagemaker.DescribeEndpoint", {"requests": 0, "throttled": 0})
    start = time.monotonic()
    pool = [threading.Thread(target=worker, args=(f,)) for f in factories]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.monotonic() - start
    after = sim.stats()["operations"]["sagemaker.DescribeEndpoint"]
    requests = after["requests"] - before["requests"]
    throttled = after["throttled"] - before["throttled"]
    latencies.sort()
    return {
        "policy": policy, "goodput": len(latencies) / elapsed, "attempts": requests,
        "throttled_pct": 100.0 * throttled / max(1, requests), "failed": failed[0],
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
    }


def cpu_per_call(sim, calls, recording):
    with tempfile.TemporaryDirectory() as folder:
        recorder = Recorder(Path(folder) / "events.db", "bench") if recording else None
        client = ClientFactory(Backend.simulator(sim.endpoint_url), RetrySettings("harness"),
                               recorder=recorder, limiter=Limiter(QuotaTable([]))).client("sagemaker")
        client.describe_endpoint(EndpointName="ep")
        start = time.process_time()
        for _ in range(calls):
            client.describe_endpoint(EndpointName="ep")
        spent = (time.process_time() - start) / calls
        if recorder:
            recorder.close()
        return spent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--cpu-calls", type=int, default=1500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        profile = Path(folder) / "bench.toml"
        profile.write_text(PROFILE.format(rate=args.rate))
        with Simulator(str(profile), seed=1) as sim:
            print(f"{args.threads} threads x {args.calls} DescribeEndpoint calls, quota {args.rate:g}/s "
                  f"burst {args.rate:g}, {args.attempts} attempts per call for every policy\n")
            print(f"{'policy':18} {'goodput/s':>10} {'% of quota':>10} {'attempts':>9} "
                  f"{'throttled':>10} {'failed':>7} {'p50 s':>7} {'p99 s':>7}")
            for policy in args.policies.split(","):
                sim.reset()
                make_endpoint(sim)
                r = run_policy(sim, policy, args.threads, args.calls, args.rate, args.attempts)
                print(f"{r['policy']:18} {r['goodput']:10.1f} {100 * r['goodput'] / args.rate:9.0f}% "
                      f"{r['attempts']:9d} {r['throttled_pct']:9.1f}% {r['failed']:7d} "
                      f"{r['p50']:7.2f} {r['p99']:7.2f}")
            sim.reset(profile="calm")
            make_endpoint(sim)
            off = cpu_per_call(sim, args.cpu_calls, recording=False)
            on = cpu_per_call(sim, args.cpu_calls, recording=True)
            print(f"\nclient CPU per call: recording off {off * 1e6:.0f} us, on {on * 1e6:.0f} us "
                  f"({100 * (on - off) / off:+.1f}%)")


if __name__ == "__main__":
    main()
