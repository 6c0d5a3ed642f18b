"""Commands that run a scenario: run, sweep, shootout, and plan (which dry-runs it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.aws.policies import RETRYING
from harness.cli import options


def doubling(up_to: int, start: int = 4) -> list[int]:
    """4, 8, 16, ... up to and including N (N itself always last)."""
    found, n = [], min(start, up_to)
    while n < up_to:
        found.append(n)
        n *= 2
    return found + [up_to]


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def run_scenario(args, levels: list[int] | None) -> int:
    from functools import partial

    from harness.runner.plan import planned_pipeline_seconds, predict_sustainable_rate
    from harness.runner.run import Runner
    from harness.runner.session import run_and_report

    scenario = options.load_with_overrides(args)
    levels = levels or scenario.levels
    predicted = predict_sustainable_rate(scenario, levels, say=_say)
    runner = Runner(
        scenario,
        args.reports,
        levels,
        endpoint_url=args.endpoint_url,
        allow_accounts=args.allow_account or [],
        predicted_rate=predicted,
        plan_pipeline_seconds=partial(planned_pipeline_seconds, scenario, levels),
    )
    view = live_view(args, runner)
    try:
        result = run_and_report(runner)
        if view is not None:
            view.run_ended()
        print(f"run folder: {result.run_dir}")
        if args.junit:
            copy_junit(result.run_dir, Path(args.junit))
        if result.leftovers:
            _say(f"left behind (could not delete): {', '.join(f'{r.kind} {r.name}' for r in result.leftovers)}")
        if result.stopped_by and result.stopped_by.startswith("threshold"):
            _say(f"stopped: {result.stopped_by}")
        if result.stopped_by == "max_cost_usd":
            _say(f"stopped: max_cost_usd = {scenario.max_cost_usd:g} (going on would have passed it)")
        if view is not None and args.ui_keep:
            _say(f"live view: the run is over; its last figures stay at {view.url} until Ctrl-C")
            view.serve_until_interrupted()
        return result.exit_code
    finally:
        if view is not None:
            view.close()


def live_view(args, runner):
    """--ui (or --ui-port, --ui-keep): the run's live view, serving before the run begins."""
    if not (args.ui or args.ui_port or args.ui_keep):
        return None
    from harness.live import LiveState, LiveView

    state = LiveState.for_run(runner.run_id, runner.scenario, runner.levels)
    view = LiveView(state, runner.run_dir / "events.db", args.ui_port or 0).start()
    _say(f"live view: {view.url} (127.0.0.1 only)")
    return view


def copy_junit(run_dir: Path, path: Path) -> None:
    """--junit: the run folder's junit.xml, where CI looks for it."""
    import shutil

    written = run_dir / "junit.xml"
    if not written.exists():  # the report could not be rendered (said already)
        _say(f"--junit: nothing written to {path}: the run folder has no junit.xml")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(written, path)
    _say(f"thresholds (JUnit): {path}")


def cmd_run(args) -> int:
    return run_scenario(args, [args.n] if args.n is not None else args.levels)


def cmd_sweep(args) -> int:
    """--up-to N doubles from the scenario's smallest level: 4, 8, ... for stress; 32, 64, ...
    for stress-hundreds."""
    levels = args.levels
    if not levels and args.up_to:
        from harness.runner.scenario import load_scenario

        levels = doubling(args.up_to, start=min(load_scenario(args.scenario).levels))
    return run_scenario(args, levels)


def cmd_shootout(args) -> int:
    """The same scenario once per retry policy (same seed, same simulator), then side by side."""
    from harness.report.policies import write
    from harness.runner.shootout import shootout

    if args.runs:  # side by side from runs already made: nothing is run
        run_dirs = [Path(d) for d in args.runs.split(",")]
        for run_dir in run_dirs:
            if not (run_dir / "metrics.json").exists():
                raise ValueError(f"--runs: {run_dir} has no metrics.json (not a run folder, or not reported)")
    else:
        run_dirs, stopped = shootout(
            lambda: options.load_with_overrides(args),
            args.policies,
            args.levels,
            args.reports,
            args.max_attempts,
            endpoint_url=args.endpoint_url,
            allow_accounts=args.allow_account or [],
        )
        if stopped is not None:
            print(f"run folder: {stopped.run_dir}")
            _say(f"stopped by {stopped.stopped_by}: the policies after it were not run")
            return stopped.exit_code
    out = write(run_dirs, Path(args.reports) / ("shootout-" + run_dirs[0].name))
    print(out["table"].read_text())
    print(f"comparison: {out['table'].parent}")
    return 0


def cmd_plan(args) -> int:
    from harness.runner.plan import format_plan, make_plan

    scenario = options.load_with_overrides(args)
    plan = make_plan(scenario, args.n if args.n is not None else max(scenario.levels))
    print(json.dumps(plan, indent=2, default=str) if args.json else format_plan(plan))
    return 0


def add_parsers(sub) -> None:
    for name, helptext in (
        ("run", "run a scenario at one concurrency level (-n) or its own levels"),
        ("sweep", "run a scenario over several concurrency levels"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("scenario", help="a scenario name (scenarios/NAME.toml) or path")
        if name == "run":
            cmd.add_argument("-n", type=options.level, help="concurrent pipelines (one level)")
        else:
            cmd.add_argument(
                "--up-to",
                type=options.level,
                metavar="N",
                help="levels doubling from the scenario's smallest (4, 8, 16, ... for stress) up to N",
            )
        cmd.add_argument("--levels", type=options.levels, help="comma-separated levels, e.g. 4,8,16,32")
        cmd.add_argument(
            "--junit",
            type=options.junit_path,
            metavar="PATH",
            help="also write the thresholds' JUnit XML here (the run folder always has junit.xml)",
        )
        options.add_overrides(cmd)
        options.add_account(cmd, with_role=True)
        options.add_live_view(cmd)
        cmd.set_defaults(func=cmd_run if name == "run" else cmd_sweep)

    shootout = sub.add_parser("shootout", help="run a scenario once per retry policy and compare them")
    shootout.add_argument("scenario", help="a scenario name (scenarios/NAME.toml) or path")
    shootout.add_argument(
        "--policies",
        type=options.policies,
        default=",".join(RETRYING),
        help="comma-separated retry policies, run in this order (default: every one that retries, %(default)s)",
    )
    shootout.add_argument("--levels", type=options.levels, help="comma-separated levels, e.g. 32,64")
    shootout.add_argument(
        "--max-attempts",
        type=options.max_attempts,
        metavar="N|sdk-default",
        help="override the scenario's attempt budget; sdk-default gives each policy its own "
        "(botocore legacy 5, standard and adaptive 3, harness 8)",
    )
    shootout.add_argument("--runs", help="comma-separated run folders already made: compare them, run nothing")
    options.add_overrides(shootout, with_policy=False)
    options.add_account(shootout, with_role=True)
    shootout.set_defaults(func=cmd_shootout)

    plan = sub.add_parser("plan", help="what a scenario would create, call and cost, without calling AWS")
    plan.add_argument("scenario", help="a scenario name (scenarios/NAME.toml) or path")
    plan.add_argument("-n", type=options.level, help="concurrent pipelines (default: the scenario's largest level)")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--region", help="the AWS region whose prices and quotas apply (default: the scenario's)")
    options.add_overrides(plan, writes_runs=False)
    plan.set_defaults(func=cmd_plan)
