"""The `harness` command line."""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction

from botocore.exceptions import BotoCoreError, ClientError

from harness.aws.policies import POLICIES, SDK_DEFAULT
from harness.config import ConfigError


def cmd_sim(args) -> int:
    from harness.sim.server import serve
    print("Ctrl-C stops the simulator.", file=sys.stderr)
    serve(args.profile, args.seed, args.time_scale, args.host, args.port, args.allow_remote)
    return 0


def cmd_quotas(args) -> int:
    from harness.quotas import DEFAULT_TABLE, load_table
    table = load_table(args.table or DEFAULT_TABLE)
    if args.scenario:
        from harness.runner.scenario import load_scenario
        table = load_scenario(args.scenario).quota_table()
    if args.action == "sync":
        return quotas_sync(args, table)
    print(f"{'service':32} {'operation':24} {'rate/s':>8} {'burst':>7} {'rate is':>9} {'conc':>5}  source")
    for q in table.rows():
        rate = "-" if q.rate is None else f"{q.rate:g}"
        burst = "-" if q.rate is None else f"{q.bucket_size:g}"
        basis = "-" if q.rate is None else q.rate_basis
        conc = "-" if q.concurrency is None else str(q.concurrency)
        print(f"{q.service:32} {q.operation:24} {rate:>8} {burst:>7} {basis:>9} {conc:>5}  {q.source}")
    return 0


def quotas_sync(args, table) -> int:
    from pathlib import Path

    from harness.aws import Backend, ClientFactory, RetrySettings
    from harness.aws.quota_sync import sync, to_toml
    if args.endpoint_url and not args.region:
        backend = Backend.simulator(args.endpoint_url)
    else:
        backend = Backend.aws(args.region, args.aws_profile, args.endpoint_url)
    client = ClientFactory(backend, RetrySettings("botocore-standard")).client("service-quotas")
    overrides = sync(client, table)
    Path(args.output).write_text(to_toml(overrides))
    print(f"{len(overrides)} quotas written to {args.output}; use them with quota_files = [\"{args.output}\"]")
    return 0


def _as_level(text: str) -> int | None:
    """Concurrent pipelines from the command line (-n, --levels, --up-to): the limits a scenario's
    levels have, or None."""
    from harness.runner.scenario import is_level
    try:
        n = int(text)
    except ValueError:
        return None
    return n if is_level(n) else None


def _level(text: str) -> int:
    from harness.runner.scenario import LEVEL_RANGE
    n = _as_level(text)
    if n is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected an integer {LEVEL_RANGE}")
    return n


def _levels(text: str) -> list[int]:
    from harness.runner.scenario import LEVEL_RANGE
    levels = [_as_level(part) for part in text.split(",") if part.strip()]
    if not levels or None in levels:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected comma-separated integers "
                                         f"{LEVEL_RANGE}, like 4,8,16,32")
    return levels


def _profile(text: str) -> str:
    """Checked as the command line is read, so a bad profile stops the run before its folder exists."""
    from harness.runner.scenario import check_profile
    try:
        check_profile(text, "--profile")
    except ConfigError as err:  # a name or path that is no profile, or a profile file that does not load
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected {err.allowed}"
                                         if err.source == "--profile" else str(err)) from None
    return text


def _redis_url(text: str) -> str:
    from harness.aws.limiter.redis_backend import without_password
    from harness.runner.scenario import REDIS_URL
    if not REDIS_URL.match(text):
        raise argparse.ArgumentTypeError(f"redis url {without_password(text)!r}: expected redis://HOST:PORT/DB, "
                                         "rediss://... or unix://PATH")
    return text


def _max_attempts(text: str) -> int | str:
    if text == SDK_DEFAULT:
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 50:
        raise argparse.ArgumentTypeError(f"max attempts {text!r}: expected an integer from 1 to 50 or {SDK_DEFAULT}")
    return value


def _time_scale(text: str) -> float:
    """A wall second per AWS second: 0.0333 or 1/30."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        value = 0.0
    if not 1e-4 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"time scale {text!r}: expected a number from 0.0001 to 1, "
                                          "or a fraction like 1/30")
    return value


def _quota_change(text: str):
    """whatif --quota SERVICE.OPERATION.FIELD=VALUE, checked as the quota table's rows are."""
    from harness.report.whatif import parse_change
    try:
        return parse_change(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def doubling(up_to: int, start: int = 4) -> list[int]:
    """4, 8, 16, ... up to and including N (N itself always last)."""
    levels, n = [], min(start, up_to)
    while n < up_to:
        levels.append(n)
        n *= 2
    return levels + [up_to]


def _run(args, levels: list[int] | None) -> int:
    from harness.runner.run import Runner
    from harness.runner.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    for field in ("policy", "profile", "seed", "time_scale"):
        if getattr(args, field, None) is not None:
            setattr(scenario, field, getattr(args, field))
    if args.redis_url:
        scenario.limiter.redis_url = args.redis_url
    if scenario.policy not in POLICIES:
        raise ValueError(f"--policy {scenario.policy!r} is not one of " + ", ".join(POLICIES))
    from harness.runner.plan import predict_sustainable_rate
    from harness.runner.session import run_and_report
    levels = levels or scenario.levels
    predicted = predict_sustainable_rate(scenario, levels, say=lambda line: print(line, file=sys.stderr))
    runner = Runner(scenario, args.reports, levels, endpoint_url=args.endpoint_url,
                    allow_accounts=args.allow_account or [], predicted_rate=predicted)
    result = run_and_report(runner)
    print(f"run folder: {result.run_dir}")
    if result.leftovers:
        print(f"left behind (could not delete): {', '.join(f'{r.kind} {r.name}' for r in result.leftovers)}",
              file=sys.stderr)
    if result.stopped_by and result.stopped_by.startswith("threshold"):
        print(f"stopped: {result.stopped_by}", file=sys.stderr)
    if result.stopped_by == "max_cost_usd":
        print(f"stopped: the run passed max_cost_usd = {runner.scenario.max_cost_usd:g}", file=sys.stderr)
    return result.exit_code


def cmd_run(args) -> int:
    return _run(args, [args.n] if args.n is not None else args.levels)


def cmd_sweep(args) -> int:
    """--up-to N doubles from the scenario's smallest level: 4, 8, ... for stress; 32, 64, ...
    for stress-hundreds."""
    levels = args.levels
    if not levels and args.up_to:
        from harness.runner.scenario import load_scenario
        levels = doubling(args.up_to, start=min(load_scenario(args.scenario).levels))
    return _run(args, levels)


def parse_age(text: str) -> float:
    """'24h', '30m', '2d', '90s' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return float(text[:-1]) * units[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"--older-than {text!r}: expected a number and a unit, e.g. 24h, 30m, 2d") from None


def cmd_cleanup(args) -> int:
    from harness.artifacts import AwsContext
    from harness.aws import Backend, ClientFactory, RetrySettings
    from harness.runner.cleanup import HARNESS_PREFIX, cleanup, find_resources, older_than, owned_by
    from harness.runner.run import run_prefix

    if args.endpoint_url and not args.region:
        backend = Backend.simulator(args.endpoint_url)
    else:
        backend = Backend.aws(args.region, args.aws_profile, args.endpoint_url)
    ctx = AwsContext(ClientFactory(backend, RetrySettings("botocore-standard")), bucket="")
    if args.run_id:
        prefix, owns, what = run_prefix(args.run_id), owned_by(args.run_id), f"run {args.run_id}"
    else:
        prefix, owns, what = HARNESS_PREFIX, older_than(args.older_than), f"runs older than {args.older_than:.0f} s"
    resources = find_resources(ctx, prefix, owns)
    for resource in resources:
        print(f"will delete {resource.kind} {resource.name}")
    deleted = cleanup(ctx, resources, say=print)
    print(f"{len(deleted)} resources of {what} deleted")
    return 0 if len(deleted) == len(resources) else 1


def cmd_plan(args) -> int:
    import json

    from harness.runner.plan import format_plan, make_plan
    from harness.runner.scenario import load_scenario
    scenario = load_scenario(args.scenario)
    plan = make_plan(scenario, args.n if args.n is not None else max(scenario.levels))
    print(json.dumps(plan, indent=2, default=str) if args.json else format_plan(plan))
    return 0


def cmd_doctor(args) -> int:
    """Preflight for a real account: what the run needs, what is missing, how to fix each."""
    from harness.aws import ClientFactory, RetrySettings
    from harness.aws.images import training_image
    from harness.aws.preflight import preflight, render
    from harness.runner.aws_context import scenario_backend
    from harness.runner.scenario import load_scenario
    scenario = load_scenario(args.scenario)
    if scenario.backend == "sim" and not args.endpoint_url:
        print(f"{scenario.source} runs on the embedded simulator: nothing in an account to check "
              "(pass --endpoint-url to check a running simulator or AWS stand-in)")
        return 0
    clients = ClientFactory(scenario_backend(scenario, args.endpoint_url), RetrySettings("botocore-standard"))
    image = scenario.account.training_image or training_image(scenario.region)
    checks = preflight(scenario, clients, scenario.allowed_accounts + (args.allow_account or []), image,
                       scenario.quota_table())
    print(render(checks))
    return 0 if all(c.ok for c in checks) else 1


def cmd_shootout(args) -> int:
    """The same scenario once per retry policy (same seed, same simulator), then side by side."""
    from pathlib import Path

    from harness.report.policies import write
    from harness.runner.run import Runner
    from harness.runner.scenario import load_scenario
    from harness.runner.session import run_and_report

    if args.runs:  # side by side from runs already made: nothing is run
        run_dirs = [Path(d) for d in args.runs.split(",")]
        for run_dir in run_dirs:
            if not (run_dir / "metrics.json").exists():
                raise ValueError(f"--runs: {run_dir} has no metrics.json (not a run folder, or not reported)")
        out = write(run_dirs, Path(args.reports) / ("shootout-" + run_dirs[0].name))
        print(out["table"].read_text())
        print(f"comparison: {out['table'].parent}")
        return 0
    policies = args.policies.split(",")
    for policy in policies:
        if policy not in POLICIES:
            raise ValueError(f"--policies: {policy!r} is not one of {', '.join(POLICIES)}")
    run_dirs = []
    for policy in policies:
        scenario = load_scenario(args.scenario)
        scenario.policy = policy
        if args.time_scale is not None:
            scenario.time_scale = args.time_scale
        if args.max_attempts is not None:
            scenario.max_attempts = None if args.max_attempts == SDK_DEFAULT else args.max_attempts
        result = run_and_report(Runner(scenario, args.reports, args.levels))
        run_dirs.append(result.run_dir)
        if result.stopped_by:
            print(f"run folder: {result.run_dir}")
            print(f"stopped by {result.stopped_by}: the policies after {policy} were not run", file=sys.stderr)
            return result.exit_code
    out = write(run_dirs, Path(args.reports) / ("shootout-" + run_dirs[0].name))
    print(out["table"].read_text())
    print(f"comparison: {out['table'].parent}")
    return 0


def cmd_report(args) -> int:
    from harness.report import render
    paths = render(args.run_dir)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def cmd_whatif(args) -> int:
    """A quota change's effect from a run's recorded demands; --verify reruns on the simulator."""
    import json
    from pathlib import Path

    from harness.report import whatif

    if args.scenario and not args.verify:
        raise ValueError(f"--scenario {args.scenario!r} is not allowed without --verify; expected --verify with it "
                         "(it names the scenario --verify reruns)")
    run_dir = Path(args.run)
    metrics, table = whatif.load(run_dir)
    changes = args.quota  # parsed and checked as the command line was read (_quota_change)
    result = whatif.whatif(metrics, table, changes)
    verified = None
    out = Path(args.reports) / f"whatif-{run_dir.name}"
    if args.verify:
        from harness.runner.run import Runner
        from harness.runner.scenario import load_scenario
        from harness.runner.session import run_and_report

        scenario = load_scenario(args.scenario or metrics["scenario"])
        if scenario.backend != "sim":
            raise ValueError(f"--verify reruns on the simulator; scenario {scenario.name} has backend = "
                             f"{scenario.backend!r}")
        out.mkdir(parents=True, exist_ok=True)
        rows = whatif.changed_rows(table, changes)
        scenario.profile = whatif.verify_profile(scenario.profile, rows, out)
        scenario.quota_overrides = list(scenario.quota_overrides) + rows
        scenario.time_scale = metrics["time_scale"]
        rerun = run_and_report(Runner(scenario, args.reports, [l["level"] for l in metrics["levels"]]))
        if rerun.stopped_by:
            print(f"stopped by {rerun.stopped_by}: nothing verified", file=sys.stderr)
            return 130
        measured = json.loads((rerun.run_dir / "metrics.json").read_text())
        verified = {l["level"]: l["throughput_per_hour"] for l in measured["levels"]}
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
    print(f"{path}: {len(profile['latency'])} operations' latency, "
          f"{sum(len(v) for v in profile['lifecycle'].values())} lifecycle durations, {len(profile['fault'])} fault "
          f"rates, {len(profile['quota'])} inferred quotas; the rest from {args.extends}")
    print(f"use it: harness sim --profile {path}, or profile = \"{path}\" in a scenario")
    return 0


def cmd_compare(args) -> int:
    from harness.report.compare import ThresholdError, check, load_metrics, moved, scenario_thresholds
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


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("ml-pipeline-stress-harness")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments get one line naming what was wrong, and exit code 2 (no usage dump)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("sim", help="run the AWS simulator on loopback until Ctrl-C")
    sim.add_argument("--profile", type=_profile, default="aws-default", help="profile name or TOML path")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--time-scale", type=float, default=1.0, help="wall seconds per AWS second")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=0, help="0 picks a free port")
    sim.add_argument("--allow-remote", action="store_true", help="allow a non-loopback bind address")
    sim.set_defaults(func=cmd_sim)

    for name, helptext in (("run", "run a scenario at one concurrency level (-n) or its own levels"),
                           ("sweep", "run a scenario over several concurrency levels")):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("scenario", help="a scenario name (scenarios/NAME.toml) or path")
        if name == "run":
            cmd.add_argument("-n", type=_level, help="concurrent pipelines (one level)")
        else:
            cmd.add_argument("--up-to", type=_level, help="levels doubling from the scenario's smallest (4, 8, "
                                                       "16, ... for stress) up to N")
        cmd.add_argument("--levels", type=_levels, help="comma-separated levels, e.g. 4,8,16,32")
        cmd.add_argument("--reports", default="reports", help="where run folders go (default: reports)")
        cmd.add_argument("--policy", help="override the scenario's retry policy")
        cmd.add_argument("--profile", type=_profile, help="override the scenario's simulator profile")
        cmd.add_argument("--seed", type=int, help="override the scenario's seed")
        cmd.add_argument("--time-scale", type=_time_scale, metavar="SCALE",
                         help="override the scenario's time scale (wall seconds per AWS second, e.g. 1/30)")
        cmd.add_argument("--endpoint-url", help="use this running simulator (or AWS stand-in)")
        cmd.add_argument("--redis-url", type=_redis_url, metavar="URL",
                         help="share the limiter through this Redis with every run that uses it (the "
                              "scenario's [limiter] redis_url), e.g. redis://127.0.0.1:6379/0")
        cmd.add_argument("--allow-account", action="append", metavar="ACCOUNT_ID",
                         help="real AWS: allow this account id (in addition to the scenario's)")
        cmd.set_defaults(func=cmd_run if name == "run" else cmd_sweep)

    cleanup = sub.add_parser("cleanup", help="delete every resource that carries a run's tag")
    which = cleanup.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id", help="delete what carries this run's tag")
    which.add_argument("--older-than", type=parse_age, help="delete what runs older than this left, e.g. 24h")
    cleanup.add_argument("--endpoint-url", help="a running simulator's URL")
    cleanup.add_argument("--region", help="AWS region (real AWS)")
    cleanup.add_argument("--aws-profile", help="AWS config profile (real AWS)")
    cleanup.set_defaults(func=cmd_cleanup)

    doctor = sub.add_parser("doctor", help="check a real account has what a scenario needs, before anything is made")
    doctor.add_argument("scenario")
    doctor.add_argument("--endpoint-url", help="check this AWS stand-in (a running simulator) instead of AWS")
    doctor.add_argument("--allow-account", action="append", metavar="ACCOUNT_ID",
                        help="allow this account id (in addition to the scenario's)")
    doctor.set_defaults(func=cmd_doctor)

    shootout = sub.add_parser("shootout", help="run a scenario once per retry policy and compare them")
    shootout.add_argument("scenario")
    shootout.add_argument("--policies", default="harness,botocore-standard,botocore-adaptive,botocore-legacy")
    shootout.add_argument("--levels", type=_levels)
    shootout.add_argument("--time-scale", type=_time_scale, metavar="SCALE",
                          help="override the scenario's time scale (e.g. 1/15 for twice the pipelines)")
    shootout.add_argument("--max-attempts", type=_max_attempts, metavar="N|sdk-default",
                          help="override the scenario's attempt budget; sdk-default gives each policy its own "
                               "(botocore legacy 5, standard and adaptive 3, harness 8)")
    shootout.add_argument("--runs", help="comma-separated run folders already made: compare them, run nothing")
    shootout.add_argument("--reports", default="reports")
    shootout.set_defaults(func=cmd_shootout)

    plan = sub.add_parser("plan", help="what a scenario would create, call and cost, without calling AWS")
    plan.add_argument("scenario")
    plan.add_argument("-n", type=_level, help="concurrent pipelines (default: the scenario's largest level)")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.set_defaults(func=cmd_plan)

    report = sub.add_parser("report", help="(re)build the report of a run folder")
    report.add_argument("run_dir")
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser("compare", help="compare two runs; exit 1 when a threshold fails")
    compare.add_argument("base", help="the baseline run folder")
    compare.add_argument("head", help="the run folder to judge")
    compare.add_argument("--threshold", action="append",
                         help="e.g. 'throughput@32 >= 0.9*base' (repeatable; default: HEAD scenario's)")
    compare.set_defaults(func=cmd_compare)

    whatif = sub.add_parser("whatif", help="what a quota change would buy, from a run's recorded demands")
    whatif.add_argument("run", help="a run folder")
    whatif.add_argument("--quota", action="append", required=True, type=_quota_change,
                        metavar="SERVICE.OPERATION.FIELD=VALUE",
                        help="a changed quota, e.g. sagemaker.CreateEndpoint.concurrency=40 (repeatable; "
                             "field rate (calls per AWS second, > 0), burst (calls, >= 1) or concurrency (a whole "
                             "number >= 1))")
    whatif.add_argument("--verify", action="store_true",
                        help="rerun the scenario on the simulator with the changed quotas and compare")
    whatif.add_argument("--scenario", help="--verify: the scenario to rerun (default: the run's, by name)")
    whatif.add_argument("--reports", default="reports")
    whatif.set_defaults(func=cmd_whatif)

    calibrate = sub.add_parser("calibrate", help="write a simulator profile from a run's recorded events")
    calibrate.add_argument("run", help="a run folder (a real AWS run makes the simulator look like that account)")
    calibrate.add_argument("-o", "--output", required=True, help="the profile TOML to write")
    calibrate.add_argument("--extends", default="aws-default",
                           help="the shipped profile for everything the run did not measure (default aws-default)")
    calibrate.set_defaults(func=cmd_calibrate)

    quotas = sub.add_parser("quotas", help="print the quota table in force")
    quotas.add_argument("--table", help="a quota table TOML (default: the shipped table)")
    quotas.add_argument("action", nargs="?", choices=["show", "sync"], default="show",
                        help="show the table (default), or sync the account's applied quotas into --output")
    quotas.add_argument("--scenario", help="apply this scenario's overrides")
    quotas.add_argument("--output", default="quotas.local.toml", help="sync: where to write the overrides")
    quotas.add_argument("--region", help="sync: AWS region")
    quotas.add_argument("--aws-profile", help="sync: AWS config profile")
    quotas.add_argument("--endpoint-url", help="sync: a simulator (or other stand-in) instead of AWS")
    quotas.set_defaults(func=cmd_quotas)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ValueError, OSError, ClientError, BotoCoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
