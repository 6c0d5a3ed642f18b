"""The `harness` command line."""
from __future__ import annotations

import argparse
import sys

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
    print(f"{'service':32} {'operation':24} {'rate/s':>8} {'burst':>7} {'conc':>5}  source")
    for q in table.rows():
        rate = "-" if q.rate is None else f"{q.rate:g}"
        burst = "-" if q.rate is None else f"{q.bucket_size:g}"
        conc = "-" if q.concurrency is None else str(q.concurrency)
        print(f"{q.service:32} {q.operation:24} {rate:>8} {burst:>7} {conc:>5}  {q.source}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("sim", help="run the AWS simulator on loopback until Ctrl-C")
    sim.add_argument("--profile", default="aws-default", help="profile name or TOML path")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--time-scale", type=float, default=1.0, help="wall seconds per AWS second")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=0, help="0 picks a free port")
    sim.add_argument("--allow-remote", action="store_true", help="allow a non-loopback bind address")
    sim.set_defaults(func=cmd_sim)

    quotas = sub.add_parser("quotas", help="print the quota table in force")
    quotas.add_argument("--table", help="a quota table TOML (default: the shipped table)")
    quotas.add_argument("--scenario", help="apply this scenario's overrides")
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
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
