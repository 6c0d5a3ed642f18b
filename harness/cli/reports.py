"""Commands that read run folders: report, compare, whatif (which may rerun), calibrate."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.cli import options


def cmd_report(args) -> int:
    from harness.report import render

    paths = render(args.run_dir)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def cmd_compare(args) -> int:
    from harness.report.compare import ThresholdError, check, load_metrics, moved
    from harness.report.thresholds import scenario_thresholds

    base, head = load_metrics(args.base), load_metrics(args.head)
    thresholds = args.threshold or scenario_thresholds(args.head)
    print(f"{'N':>4} {'metric':16} {'base':>10} {'head':>10} {'change':>9}")
    for row in moved(base, head):
        print(f"{row[0]:>4} {row[1]:16} {row[2]:>10} {row[3]:>10} {row[4]:>9}")
    try:
        checks = [check(expression, base, head) for expression in thresholds]
    except ThresholdError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print()
    for c in checks:
        shown = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731
        print(f"{'PASS' if c.passed else 'FAIL'}  {c.expression:36} head {shown(c.head)} vs limit {shown(c.limit)}")
        if c.note:
            print(f"      {c.note}")
    failed = [c for c in checks if not c.passed]
    print(f"\n{len(checks) - len(failed)} of {len(checks)} thresholds passed")
    return 1 if failed else 0


def cmd_whatif(args) -> int:
    """A quota change's effect from a run's recorded demands; --verify reruns on the simulator."""
    from harness.report import whatif

    if args.scenario and not args.verify:
        raise ValueError(
            f"--scenario {args.scenario!r} is not allowed without --verify; expected --verify with it "
            "(it names the scenario --verify reruns)"
        )
    run_dir = Path(args.run)
    metrics, table = whatif.load(run_dir)
    changes = args.quota  # parsed and checked as the command line was read (options.quota_change)
    result = whatif.whatif(metrics, table, changes)
    verified = None
    out = Path(args.reports) / f"whatif-{run_dir.name}"
    if args.verify:
        from harness.runner.verify import rerun_with

        rerun, verified = rerun_with(metrics, whatif.changed_rows(table, changes), args.scenario, args.reports, out)
        if rerun.stopped_by:
            print(f"stopped by {rerun.stopped_by}: nothing verified", file=sys.stderr)
            return rerun.exit_code
        result["verified"] = {"run": str(rerun.run_dir), "per_hour": verified}
    report = whatif.text(result, verified)
    print(report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "whatif.txt").write_text(report + "\n")
    (out / "whatif.json").write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwritten: {out}")
    return 0


def cmd_calibrate(args) -> int:
    """A simulator profile from a run: latency, lifecycles, faults, inferred quotas."""
    from harness.report.calibrate import calibrate, write

    profile = calibrate(args.run, extends=args.extends)
    path = write(profile, args.output)
    print(
        f"{path}: {len(profile['latency'])} operations' latency, "
        f"{sum(len(v) for v in profile['lifecycle'].values())} lifecycle durations, {len(profile['fault'])} fault "
        f"rates, {len(profile['quota'])} inferred quotas; the rest from {args.extends}"
    )
    print(f'use it: harness sim --profile {path}, or profile = "{path}" in a scenario')
    return 0


def add_parsers(sub) -> None:
    report = sub.add_parser("report", help="(re)build the report of a run folder")
    report.add_argument("run_dir", help="a run folder (reports/<run-id>)")
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser("compare", help="compare two runs; exit 1 when a threshold fails")
    compare.add_argument("base", help="the baseline run folder")
    compare.add_argument("head", help="the run folder to judge")
    compare.add_argument(
        "--threshold", action="append", help="e.g. 'throughput@32 >= 0.9*base' (repeatable; default: HEAD scenario's)"
    )
    compare.set_defaults(func=cmd_compare)

    whatif = sub.add_parser("whatif", help="what a quota change would buy, from a run's recorded demands")
    whatif.add_argument("run", help="a run folder")
    whatif.add_argument(
        "--quota",
        action="append",
        required=True,
        type=options.quota_change,
        metavar="SERVICE.OPERATION.FIELD=VALUE",
        help="a changed quota, e.g. sagemaker.CreateEndpoint.concurrency=40 (repeatable; "
        "field rate (calls per AWS second, > 0), burst (calls, >= 1) or concurrency (a whole "
        "number >= 1))",
    )
    whatif.add_argument(
        "--verify", action="store_true", help="rerun the scenario on the simulator with the changed quotas and compare"
    )
    whatif.add_argument("--scenario", help="--verify: the scenario to rerun (default: the run's, by name)")
    whatif.add_argument("--reports", default="reports", help="where the what-if and a rerun go (default: reports)")
    whatif.set_defaults(func=cmd_whatif)

    calibrate = sub.add_parser("calibrate", help="write a simulator profile from a run's recorded events")
    calibrate.add_argument("run", help="a run folder (a real AWS run makes the simulator look like that account)")
    calibrate.add_argument("-o", "--output", required=True, help="the profile TOML to write")
    calibrate.add_argument(
        "--extends",
        default="aws-default",
        help="the shipped profile for everything the run did not measure (default aws-default)",
    )
    calibrate.set_defaults(func=cmd_calibrate)
