"""Commands that work on an account or stand in for one: sim, doctor, cleanup, quotas."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.cli import options


def cmd_sim(args) -> int:
    from harness.sim.server import serve

    print("Ctrl-C stops the simulator.", file=sys.stderr)
    serve(args.profile, args.seed, args.time_scale, args.host, args.port, args.allow_remote)
    return 0


def cmd_doctor(args) -> int:
    """Preflight for a real account: what the run needs, what is missing, how to fix each."""
    from harness.aws.clients import setup_clients
    from harness.aws.images import training_image
    from harness.aws.preflight import preflight, render
    from harness.runner.aws_context import scenario_target

    scenario = options.load_with_overrides(args)
    if scenario.target == "sim" and not args.endpoint_url:
        print(
            f"{scenario.source} runs on the embedded simulator: nothing in an account to check "
            "(pass --endpoint-url to check a running simulator or AWS stand-in)"
        )
        return 0
    from harness.runner.plan import operations_used
    from harness.runner.run_ids import new_run_id, run_prefix

    clients = setup_clients(scenario_target(scenario, args.endpoint_url))  # fails in seconds, not minutes
    image = scenario.account.training_image or training_image(scenario.region)
    allowed = scenario.allowed_accounts + (args.allow_account or [])

    def operations() -> set[str]:
        print("listing the calls a run makes (a dry run of its pipelines on a private simulator)...", file=sys.stderr)
        return operations_used(scenario)

    checks = preflight(scenario, clients, allowed, image, scenario.quota_table(), operations, run_prefix(new_run_id()))
    print(render(checks))
    return 0 if all(c.ok for c in checks) else 1


def cmd_cleanup(args) -> int:
    """Without --yes, list what would be deleted; with it, delete that and say what went."""
    from harness.artifacts import AwsContext
    from harness.artifacts.context import Deadlines
    from harness.aws import ClientFactory, RetrySettings
    from harness.aws.account import check_account
    from harness.runner.aws_context import scenario_target
    from harness.runner.cleanup import cleanup
    from harness.runner.leftovers import Storage, find_leftovers
    from harness.runner.ownership import OlderRuns, OneRun, Scope
    from harness.runner.scenario import Account

    scenario = options.load_with_overrides(args) if args.scenario else None
    if scenario is not None and scenario.target == "sim" and not args.endpoint_url:
        print(
            f"{scenario.source} runs on the embedded simulator, which ends with the run: nothing in an account "
            "to clean up (pass --endpoint-url to clean up a running simulator or AWS stand-in)"
        )
        return 0
    target = scenario_target(scenario, args.endpoint_url) if scenario else options.target_of(args)
    clients = ClientFactory(target, RetrySettings("botocore-standard"))
    if target.kind == "aws":  # as a run: on a simulator there is no account to mistake
        allowed = (scenario.allowed_accounts if scenario else []) + (args.allow_account or [])
        check_account(clients.client("sts"), target.region, allowed, say=_to_stderr, purpose="for cleanup")
    account = scenario.account if scenario else Account()
    ctx = AwsContext(
        clients,
        bucket=account.bucket or "",
        glue_database=account.glue_database,
        deadlines=scenario.deadlines if scenario else Deadlines(),  # how long a deletion is waited for
    )
    scope: Scope = OneRun(args.run_id) if args.run_id else OlderRuns(args.older_than)
    found = find_leftovers(ctx, scope, Storage(account.glue_database, account.bucket))
    if not args.yes:
        for resource in found:
            print(f"{resource.kind} {resource.name}")
        print(f"{len(found)} resources would be deleted; run again with --yes to delete them")
        return 0
    deleted = cleanup(ctx, found, say=print)
    print(f"{len(deleted)} resources of {scope.description} deleted")
    return 0 if len(deleted) == len(found) else 1


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def cmd_quotas(args) -> int:
    from harness.quotas import DEFAULT_TABLE, load_table

    table, instance_type = load_table(args.table or DEFAULT_TABLE), None
    if args.scenario:
        from harness.runner.scenario import load_scenario

        scenario = load_scenario(args.scenario)
        table, instance_type = scenario.quota_table(), scenario.params.get("instance_type")
    if args.action == "sync":
        return quotas_sync(args, table, instance_type)
    print(f"{'service':32} {'operation':24} {'rate/s':>8} {'burst':>7} {'rate is':>9} {'conc':>5}  source")
    for q in table.rows():
        rate = "-" if q.rate is None else f"{q.rate:g}"
        burst = "-" if q.rate is None else f"{q.bucket_size:g}"
        basis = "-" if q.rate is None else q.rate_basis
        conc = "-" if q.concurrency is None else str(q.concurrency)
        print(f"{q.service:32} {q.operation:24} {rate:>8} {burst:>7} {basis:>9} {conc:>5}  {q.source}")
    return 0


def quotas_sync(args, table, instance_type: str | None) -> int:
    from harness.aws import ClientFactory, RetrySettings
    from harness.aws.quota_sync import sync, to_toml

    client = ClientFactory(options.target_of(args), RetrySettings("botocore-standard")).client("service-quotas")
    overrides = sync(client, table, instance_type=instance_type)
    Path(args.output).write_text(to_toml(overrides))
    print(f'{len(overrides)} quotas written to {args.output}; use them with quota_files = ["{args.output}"]')
    return 0


def add_parsers(sub) -> None:
    sim = sub.add_parser("sim", help="run the AWS simulator on loopback until Ctrl-C")
    sim.add_argument(
        "--profile",
        type=options.profile,
        default="aws-default",
        help="the account it plays: a shipped profile name or a TOML path (default aws-default)",
    )
    sim.add_argument("--seed", type=int, default=0, help="the seed its draws come from (default 0)")
    sim.add_argument(
        "--time-scale",
        type=options.time_scale,
        default=1.0,
        metavar="SCALE",
        help="wall seconds per AWS second, e.g. 1/60 (default 1)",
    )
    sim.add_argument("--host", default="127.0.0.1", help="the address to bind (loopback unless --allow-remote)")
    sim.add_argument("--port", type=int, default=0, help="the port (0 picks a free one)")
    sim.add_argument("--allow-remote", action="store_true", help="allow a non-loopback bind address")
    sim.set_defaults(func=cmd_sim)

    doctor = sub.add_parser("doctor", help="check a real account has what a scenario needs, before anything is made")
    doctor.add_argument("scenario", help="a scenario name (scenarios/NAME.toml) or path")
    options.add_account(doctor, with_role=True)
    doctor.set_defaults(func=cmd_doctor)

    cleanup = sub.add_parser(
        "cleanup", help="list what a run (or runs older than an age) left in the account; --yes deletes it"
    )
    cleanup.add_argument(
        "scenario",
        nargs="?",
        help="the scenario the runs ran (its account, region, bucket and Glue database); without one, a bucket "
        "per run and the harness database",
    )
    which = cleanup.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id", help="what this run left (named with its prefix and carrying its tag)")
    which.add_argument(
        "--older-than",
        type=options.age,
        metavar="AGE",
        help="what runs older than this left (by their run tag), e.g. 24h, 30m, 2d",
    )
    cleanup.add_argument("--yes", action="store_true", help="delete it (without: only list it)")
    options.add_account(cleanup)
    cleanup.set_defaults(func=cmd_cleanup)

    quotas = sub.add_parser("quotas", help="print the quota table in force, or sync an account's applied quotas")
    quotas.add_argument(
        "action",
        nargs="?",
        choices=["show", "sync"],
        default="show",
        help="show the table (default), or sync the account's applied quotas into --output",
    )
    quotas.add_argument("--table", help="a quota table TOML (default: the shipped table)")
    quotas.add_argument("--scenario", help="apply this scenario's overrides")
    quotas.add_argument("--output", default="quotas.local.toml", help="sync: where to write the overrides")
    options.add_account(quotas)
    quotas.set_defaults(func=cmd_quotas)
