"""Where a call's CPU goes on virtual time, and what the simulator in the runner's process saves.

1. Per call, in one thread, a mix of the faithful pipeline's operations (S3 HeadObject, Glue
   GetTable, Athena GetQueryExecution, SageMaker DescribeFeatureGroup, PutRecord) against the
   simulator in this process on manual time (no latency is slept), through:
   - a plain boto3 client (botocore's own work, plus the simulator's);
   - the harness's client (its hooks, recorder and limiter on top).
   The simulator's share is timed inside its transport, so the rows split a call into botocore,
   the harness and the simulator. Median of alternating rounds.
2. The main job's scenario at a few levels on virtual time with the simulator in the runner's
   process (`simulator_process = "run"`, the default) and, as the baseline, in its own process
   over HTTP (`"own"`, how virtual time ran before), alternating; wall seconds, CPU seconds of
   both processes and their sum per attempt. The levels tables must be equal: the socket is only
   transport.

    .venv/bin/python benchmarks/cpu_per_call.py [--calls 400] [--rounds 5] [--levels 4,8] [--runs 2]

Run nothing else meanwhile: the wall and CPU columns are this machine's.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import boto3

from harness.aws import ClientFactory, Limiter, RetrySettings, Target
from harness.events import Recorder
from harness.runner.run import Runner
from harness.runner.scenario import load_scenario
from harness.sim.inprocess import InProcessSimulator, serving_here

RECORD = [{"FeatureName": "id", "ValueAsString": "1"}, {"FeatureName": "t", "ValueAsString": "2026-01-01T00:00:00Z"}]
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


class TimedTransport:
    """The simulator's transport, with the CPU time spent inside it counted."""

    def __init__(self, transport) -> None:
        self.transport, self.seconds = transport, 0.0

    def __call__(self, **kwargs):
        started = time.thread_time()
        try:
            return self.transport(**kwargs)
        finally:
            self.seconds += time.thread_time() - started


def prepare(sim: InProcessSimulator) -> None:
    """The resources the mix reads: a bucket and object, a table, a query, a feature group."""
    clients = {
        s: boto3.client(s, endpoint_url=sim.endpoint_url, **CREDENTIALS) for s in ("s3", "glue", "athena", "sagemaker")
    }
    clients["s3"].create_bucket(Bucket="bench")
    clients["s3"].put_object(Bucket="bench", Key="data/rows.csv", Body=b"id,x\n1,2\n")
    clients["glue"].create_database(DatabaseInput={"Name": "bench"})
    clients["glue"].create_table(
        DatabaseName="bench",
        TableInput={"Name": "rows", "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}]}},
    )
    query = clients["athena"].start_query_execution(
        QueryString="SELECT 1", ResultConfiguration={"OutputLocation": "s3://bench/results/"}
    )
    clients["sagemaker"].create_feature_group(
        FeatureGroupName="bench",
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="t",
        FeatureDefinitions=[{"FeatureName": name, "FeatureType": "String"} for name in ("id", "t")],
        OnlineStoreConfig={"EnableOnlineStore": True},
    )
    sim.advance(600)  # the feature group is created
    prepare.query_id = query["QueryExecutionId"]  # type: ignore[attr-defined]


def mix(make_client, calls: int) -> None:
    s3, glue, athena = make_client("s3"), make_client("glue"), make_client("athena")
    sagemaker, records = make_client("sagemaker"), make_client("sagemaker-featurestore-runtime")
    query_id = prepare.query_id  # type: ignore[attr-defined]
    operations = [
        lambda: s3.head_object(Bucket="bench", Key="data/rows.csv"),
        lambda: glue.get_table(DatabaseName="bench", Name="rows"),
        lambda: athena.get_query_execution(QueryExecutionId=query_id),
        lambda: sagemaker.describe_feature_group(FeatureGroupName="bench"),
        lambda: records.put_record(FeatureGroupName="bench", Record=RECORD),
    ]
    for i in range(calls):
        operations[i % len(operations)]()


def per_call(calls: int, rounds: int) -> None:
    with InProcessSimulator("calm", seed=1) as sim, tempfile.TemporaryDirectory() as scratch:
        sim.reset(manual_time=True)
        prepare(sim)
        timed = TimedTransport(serving_here(sim.endpoint_url))

        def plain(service):
            client = boto3.client(service, endpoint_url=sim.endpoint_url, **CREDENTIALS)
            client.meta.events.register_last("before-send", timed)
            return client

        recorder = Recorder(Path(scratch) / "events.db", "bench")
        scenario = load_scenario("stress")
        factory = ClientFactory(
            Target.simulator(sim.endpoint_url, transport=timed),
            RetrySettings(),
            recorder,
            Limiter(scenario.quota_table()),
        )
        rows: dict[str, list[tuple[float, float]]] = {"plain boto3": [], "harness client": []}
        clients = [("plain boto3", plain), ("harness client", factory.client)]
        for round_ in range(rounds):
            for name, make in clients if round_ % 2 == 0 else clients[::-1]:
                mix(make, 20)  # clients made and warm
                recorder.flush()
                gc.collect()  # each window starts from the same heap and pays for its own garbage
                timed.seconds = 0.0
                started = time.process_time()
                mix(make, calls)
                recorder.flush()  # the harness client's events, written
                total = time.process_time() - started
                rows[name].append((total / calls * 1000, timed.seconds / calls * 1000))
        recorder.close()
    print(f"CPU per call, ms (median of {rounds} rounds of {calls} calls; the same simulator, in this process)")
    print(f"{'client':<16}{'all':>8}{'simulator':>11}{'client side':>13}")
    sides = {}
    for name, samples in rows.items():
        every = statistics.median(s[0] for s in samples)
        simulator = statistics.median(s[1] for s in samples)
        sides[name] = every - simulator
        print(f"{name:<16}{every:>8.3f}{simulator:>11.3f}{every - simulator:>13.3f}")
    print(f"the harness's own part (hooks, recorder, limiter): {sides['harness client'] - sides['plain boto3']:.3f} ms")


def levels_table(run_dir: Path) -> list[list[str]]:
    with open(run_dir / "table_levels.csv") as table:
        return [row[:-1] for row in csv.reader(table)]  # all but the wall column


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def runs(levels: list[int], count: int) -> None:
    scenario = load_scenario("stress")
    tables: dict[str, list] = {}
    print(f"\nthe main job's scenario at {levels} on virtual time ({count} runs each, alternating)")
    print(f"{'simulator':<22}{'wall s':>8}{'CPU s':>8}{'attempts':>10}{'CPU ms/attempt':>16}{'wall ms/attempt':>17}")
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(count):
            for where in ("own", "run"):
                cpu, children, started = self_cpu(), children_cpu(), time.monotonic()
                folder = Path(scratch) / f"{where}{i}"
                result = Runner(replace(scenario, simulator_process=where), folder, levels, out=io.StringIO()).run()
                wall = time.monotonic() - started
                spent = self_cpu() - cpu + children_cpu() - children
                result.render()
                table = levels_table(result.run_dir)[1:]
                attempts = round(sum(float(row[7].replace(",", "")) * int(row[1]) for row in table))
                label = "in its own process" if where == "own" else "in the runner's"
                per_attempt = f"{spent / attempts * 1000:>16.2f}{wall / attempts * 1000:>17.2f}"
                print(f"{label:<22}{wall:>8.1f}{spent:>8.1f}{attempts:>10}{per_attempt}")
                tables.setdefault(where, []).append(levels_table(result.run_dir))
    every = tables["own"] + tables["run"]
    print("levels tables equal in every run:", all(t == every[0] for t in every))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--levels", default="4,8")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    per_call(args.calls, args.rounds)
    if args.runs:
        runs([int(n) for n in args.levels.split(",")], args.runs)


if __name__ == "__main__":
    main()
