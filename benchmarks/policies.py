"""Call-level shoot-out of the retry policies against one shared account quota, including
where the harness's quota table is wrong.

32 threads, each with its own client (as separate pipeline workers have), make 20
DescribeEndpoint calls each against a simulator quota of 20 requests/s (burst 20). Every
policy gets the same attempt budget. The harness's limiter is told a rate 0.1x, 0.5x, 1x,
2x, 10x or 100x the quota the simulator enforces (an estimate, except the exact row, which
is published), and in the last rows another tenant (a client pool outside the harness, no
limiter) spends half the quota meanwhile. Printed per row: goodput, % of the quota (of what
the tenant leaves, in tenant rows), attempts, % throttled, failed calls, p50/p99 call latency
and what the tenant got; then client CPU time per call with recording on and off. All rows run in one process, one
after another, on one simulator reset between rows.

    .venv/bin/python benchmarks/policies.py [--threads 32] [--calls 20] [--rate 20] [--rows ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from harness.aws import Target, ClientFactory, Limiter, RetrySettings
from harness.aws.policies import policy_named
from harness.events import Recorder
from harness.quotas import Quota, QuotaTable
from harness.sim import Simulator
from harness.tokens import TokenBucket

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


@dataclass(frozen=True)
class Row:
    policy: str
    table: float = 1.0  # the harness table's rate as a multiple of the enforced quota
    basis: str = "estimate"
    tenant: bool = False  # another client pool spends half the quota meanwhile

    @property
    def label(self) -> str:
        if not policy_named(self.policy).uses_limiter:
            return self.policy + (" + tenant" if self.tenant else "")
        table = "exact" if self.table == 1.0 else f"{self.table:g}x"
        return f"harness (table {table}, {self.basis})" + (" + tenant" if self.tenant else "")


ROWS = [
    Row("botocore-standard"),
    Row("botocore-adaptive"),
    Row("botocore-legacy"),
    Row("none"),
    Row("harness", 1.0, "published"),
    Row("harness", 0.1),
    Row("harness", 0.5),
    Row("harness", 2.0),
    Row("harness", 10.0),
    Row("harness", 100.0),
    Row("botocore-adaptive", tenant=True),
    Row("botocore-standard", tenant=True),
    Row("harness", 1.0, "published", tenant=True),
    Row("harness", 10.0, tenant=True),
]


def make_endpoint(sim):
    client = ClientFactory(Target.simulator(sim.endpoint_url), RetrySettings("none")).client("sagemaker")
    client.create_model(
        ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "img"}
    )
    client.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    client.create_endpoint(EndpointName="ep", EndpointConfigName="c")


class Tenant:
    """Another team's client pool on the same account: boto3 clients with botocore's standard
    retries (3 attempts), making `rate` calls per second in all for as long as the measured row
    runs. It knows nothing of the harness."""

    def __init__(self, sim, rate, threads=4):
        self.sim, self.rate, self.threads = sim, rate, threads
        self.stop, self.ok, self.attempts, self.lock = threading.Event(), 0, 0, threading.Lock()
        self.pace = TokenBucket(rate, 1)

    def _count_attempt(self, **_):
        with self.lock:
            self.attempts += 1

    def _work(self):
        client = (
            ClientFactory(Target.simulator(self.sim.endpoint_url), RetrySettings("botocore-standard", max_attempts=3))
            .for_worker()
            .client("sagemaker")
        )
        client.meta.events.register("response-received", self._count_attempt)
        while not self.stop.is_set():
            delay = self.pace.reserve()
            if delay > 0:
                time.sleep(delay)
            try:
                client.describe_endpoint(EndpointName="ep")
                with self.lock:
                    self.ok += 1
            except ClientError:
                pass

    def __enter__(self):
        self.pool = [threading.Thread(target=self._work, daemon=True) for _ in range(self.threads)]
        for thread in self.pool:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.pool:
            thread.join()


def run_policy(sim, row, threads, calls, rate, attempts, recorder=None):
    table = QuotaTable(
        [Quota("sagemaker", "DescribeEndpoint", rate=rate * row.table, burst=rate * row.table, rate_basis=row.basis)]
    )
    limiter = Limiter(table)
    policy = row.policy
    settings = RetrySettings(policy, max_attempts=attempts)
    factories = [
        ClientFactory(Target.simulator(sim.endpoint_url), settings, recorder=recorder, limiter=limiter)
        for _ in range(threads)
    ]
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

    tenant = Tenant(sim, rate / 2) if row.tenant else None
    if tenant:
        tenant.__enter__()
        time.sleep(2.0)  # the tenant is already busy when the pipelines start
    before = sim.stats()["operations"].get("sagemaker.DescribeEndpoint", {"requests": 0, "throttled": 0})
    tenant_before = (tenant.attempts, tenant.ok) if tenant else (0, 0)
    start = time.monotonic()
    pool = [threading.Thread(target=worker, args=(f,)) for f in factories]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.monotonic() - start
    after = sim.stats()["operations"]["sagemaker.DescribeEndpoint"]
    tenant_attempts = tenant_ok = 0
    if tenant:
        tenant_attempts, tenant_ok = tenant.attempts - tenant_before[0], tenant.ok - tenant_before[1]
        tenant.__exit__()
    tenant_throttled = tenant_attempts - tenant_ok  # every tenant attempt that did not succeed was throttled
    requests = after["requests"] - before["requests"] - tenant_attempts
    throttled = after["throttled"] - before["throttled"] - tenant_throttled
    latencies.sort()
    return {
        "row": row,
        "goodput": len(latencies) / elapsed,
        "attempts": requests,
        "tenant_goodput": tenant_ok / elapsed if tenant else None,
        "throttled_pct": 100.0 * throttled / max(1, requests),
        "failed": failed[0],
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p99": latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
    }


def cpu_per_call(sim, calls, recording):
    with tempfile.TemporaryDirectory() as folder:
        recorder = Recorder(Path(folder) / "events.db", "bench") if recording else None
        client = ClientFactory(
            Target.simulator(sim.endpoint_url),
            RetrySettings("harness"),
            recorder=recorder,
            limiter=Limiter(QuotaTable([])),
        ).client("sagemaker")
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
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--rows", help="row numbers to run, e.g. 1,5,9 (default: all)")
    parser.add_argument("--cpu-calls", type=int, default=1500)
    parser.add_argument("--cpu-only", action="store_true", help="only the client CPU comparison")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        profile = Path(folder) / "bench.toml"
        profile.write_text(PROFILE.format(rate=args.rate))
        with Simulator(str(profile), seed=1) as sim:
            print(
                f"{args.threads} threads x {args.calls} DescribeEndpoint calls, quota {args.rate:g}/s "
                f"burst {args.rate:g}, {args.attempts} attempts per call for every policy; tenant rows: "
                f"another client pool spends {args.rate / 2:g}/s of it\n"
            )
            print(
                f"{'#':>2} {'policy':42} {'goodput/s':>9} {'of quota':>8} {'attempts':>8} "
                f"{'throttled':>9} {'failed':>6} {'p50 s':>6} {'p99 s':>6} {'tenant/s':>8}"
            )
            chosen = (
                []
                if args.cpu_only
                else [int(i) for i in args.rows.split(",")]
                if args.rows
                else range(1, len(ROWS) + 1)
            )
            for number in chosen:
                row = ROWS[number - 1]
                sim.reset()
                make_endpoint(sim)
                r = run_policy(sim, row, args.threads, args.calls, args.rate, args.attempts)
                room = args.rate / 2 if row.tenant else args.rate  # what is left for the pipelines
                tenant = "-" if r["tenant_goodput"] is None else f"{r['tenant_goodput']:.1f}"
                print(
                    f"{number:2d} {row.label:42} {r['goodput']:9.1f} {100 * r['goodput'] / room:7.0f}% "
                    f"{r['attempts']:8d} {r['throttled_pct']:8.1f}% {r['failed']:6d} "
                    f"{r['p50']:6.2f} {r['p99']:6.2f} {tenant:>8}",
                    flush=True,
                )
            sim.reset(profile="calm")
            make_endpoint(sim)
            # off and on alternate, five rounds each, so drift in the machine's load hits both alike
            rounds, offs, ons = 5, [], []
            for _ in range(rounds):
                offs.append(cpu_per_call(sim, args.cpu_calls // rounds, recording=False))
                ons.append(cpu_per_call(sim, args.cpu_calls // rounds, recording=True))
            off, on = statistics.median(offs), statistics.median(ons)
            print(
                f"\nclient CPU per call (median of {rounds} alternating rounds): recording off {off * 1e6:.0f} us, "
                f"on {on * 1e6:.0f} us ({100 * (on - off) / off:+.1f}%)"
            )


if __name__ == "__main__":
    main()
