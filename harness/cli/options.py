"""What the commands' flags accept, checked as the command line is read (one line, exit 2, no
traceback), and the option groups several commands share: every command that reaches an
account takes the same account flags, every command that runs a scenario the same overrides."""

from __future__ import annotations

import argparse
from fractions import Fraction

from harness.aws.policies import POLICIES, SDK_DEFAULT
from harness.config import ConfigError


def _as_level(text: str) -> int | None:
    """Concurrent pipelines from the command line (-n, --levels, --up-to): the limits a scenario's
    levels have, or None."""
    from harness.runner.scenario import is_level

    try:
        n = int(text)
    except ValueError:
        return None
    return n if is_level(n) else None


def level(text: str) -> int:
    from harness.runner.scenario import LEVEL_RANGE

    n = _as_level(text)
    if n is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected an integer {LEVEL_RANGE}")
    return n


def levels(text: str) -> list[int]:
    from harness.runner.scenario import LEVEL_RANGE

    found = [_as_level(part) for part in text.split(",") if part.strip()]
    chosen = [n for n in found if n is not None]
    if not found or len(chosen) < len(found):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed; expected comma-separated integers {LEVEL_RANGE}, like 4,8,16,32"
        )
    return chosen


def profile(text: str) -> str:
    """Checked as the command line is read, so a bad profile stops the run before its folder exists."""
    from harness.runner.scenario import check_profile

    try:
        check_profile(text, "--profile")
    except ConfigError as err:  # a name or path that is no profile, or a profile file that does not load
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed; expected {err.allowed}" if err.source == "--profile" else str(err)
        ) from None
    return text


def policy(text: str) -> str:
    if text not in POLICIES:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected one of {', '.join(POLICIES)}")
    return text


def policies(text: str) -> list[str]:
    return [policy(part.strip()) for part in text.split(",") if part.strip()]


def redis_url(text: str) -> str:
    from harness.aws.limiter.redis_store import without_password
    from harness.runner.scenario import REDIS_URL

    if not REDIS_URL.match(text):
        raise argparse.ArgumentTypeError(
            f"redis url {without_password(text)!r}: expected redis://HOST:PORT/DB, rediss://... or unix://PATH"
        )
    return text


def otlp_endpoint(text: str) -> str:
    from harness.events.otel import without_userinfo
    from harness.runner.scenario import OTLP_ENDPOINT, is_otlp_endpoint

    if not is_otlp_endpoint(text):
        raise argparse.ArgumentTypeError(f"otlp endpoint {without_userinfo(text)!r}: expected {OTLP_ENDPOINT}")
    return text.rstrip("/")


def max_attempts(text: str) -> int | str:
    if text == SDK_DEFAULT:
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 50:
        raise argparse.ArgumentTypeError(f"max attempts {text!r}: expected an integer from 1 to 50 or {SDK_DEFAULT}")
    return value


def time_scale(text: str) -> float:
    """A wall second per AWS second: 0.0333 or 1/30."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        value = 0.0
    if not 1e-4 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"time scale {text!r}: expected a number from 0.0001 to 1, or a fraction like 1/30"
        )
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {text!r}: expected an integer from 1 to 65535")
    return value


def age(text: str) -> float:
    """'24h', '30m', '2d', '90s' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return float(text[:-1]) * units[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"--older-than {text!r}: expected a number and a unit, e.g. 24h, 30m, 2d"
        ) from None


def role_arn(text: str) -> str:
    from harness.runner.scenario import ROLE_ARN

    if not ROLE_ARN.match(text):
        raise argparse.ArgumentTypeError(
            f"--role-arn {text!r}: expected an IAM role ARN like arn:aws:iam::111122223333:role/name"
        )
    return text


def junit_path(text: str) -> str:
    """--junit PATH: a file to write, not a folder (checked before the run, not after it)."""
    from pathlib import Path

    path = Path(text)
    if path.is_dir() or text.endswith(("/", "\\")):
        raise argparse.ArgumentTypeError(
            f"--junit {text!r}: expected a file path, e.g. reports/junit.xml (it is a folder)"
        )
    return text


def quota_change(text: str):
    """whatif --quota SERVICE.OPERATION.FIELD=VALUE, checked as the quota table's rows are."""
    from harness.report.whatif import parse_change

    try:
        return parse_change(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# --- option groups ------------------------------------------------------------------------------
def add_account(cmd: argparse.ArgumentParser, with_role: bool = False) -> None:
    """The account a command reaches: a running simulator, or real AWS by region and profile.
    with_role: the command runs or checks a scenario, whose SageMaker role may be given here (a
    scenario kept in a repository that several accounts run names no account's role)."""
    group = cmd.add_argument_group("account")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="a running simulator (or other AWS stand-in) instead of the scenario's target",
    )
    group.add_argument(
        "--region",
        help="the AWS region (default: the scenario's, else AWS_REGION, AWS_DEFAULT_REGION or the profile's)",
    )
    group.add_argument("--aws-profile", metavar="NAME", help="the AWS config profile (default: the standard chain)")
    group.add_argument(
        "--allow-account",
        action="append",
        metavar="ACCOUNT_ID",
        help="real AWS: allow this account id, in addition to the scenario's (repeatable)",
    )
    if with_role:
        group.add_argument(
            "--role-arn",
            type=role_arn,
            metavar="ARN",
            help="real AWS: the role SageMaker assumes (default: the scenario's [account] role_arn)",
        )


def add_overrides(cmd: argparse.ArgumentParser, with_policy: bool = True, writes_runs: bool = True) -> None:
    """What a command that runs a scenario may change of it for this run."""
    group = cmd.add_argument_group("scenario overrides")
    if with_policy:
        group.add_argument("--policy", type=policy, help=f"the retry policy: {', '.join(POLICIES)}")
    group.add_argument("--profile", type=profile, help="the simulator profile: a shipped name or a TOML path")
    group.add_argument("--seed", type=int, help="the simulator's seed (the same seed, the same draws)")
    group.add_argument(
        "--time",
        choices=("wall", "virtual"),
        help="virtual: AWS time moves only when every worker waits (the simulator only); wall: at --time-scale",
    )
    group.add_argument(
        "--time-scale", type=time_scale, metavar="SCALE", help="wall seconds per AWS second on the simulator, e.g. 1/30"
    )
    group.add_argument(
        "--redis-url",
        type=redis_url,
        metavar="URL",
        help="share the limiter through this Redis with every run that uses it (the "
        "scenario's [limiter] redis_url), e.g. redis://127.0.0.1:6379/0",
    )
    if writes_runs:
        group.add_argument("--reports", default="reports", help="where run folders go (default: reports)")
        group.add_argument(
            "--otlp-endpoint",
            type=otlp_endpoint,
            metavar="URL",
            help="send live metrics to this OpenTelemetry collector over OTLP/HTTP (the scenario's "
            "[telemetry] otlp_endpoint; default: OTEL_EXPORTER_OTLP_ENDPOINT, else none), e.g. http://127.0.0.1:4318",
        )


def add_live_view(cmd: argparse.ArgumentParser) -> None:
    group = cmd.add_argument_group("live view")
    group.add_argument(
        "--ui", action="store_true", help="serve a live view of the run on 127.0.0.1 (its URL is printed at the start)"
    )
    group.add_argument(
        "--ui-port", type=port, metavar="PORT", help="the live view's port (default: a free one); implies --ui"
    )
    group.add_argument(
        "--ui-keep",
        action="store_true",
        help="after the run, keep serving the live view's last figures until Ctrl-C; implies --ui",
    )


def load_with_overrides(args):
    """The command's scenario, with what the command line changes of it."""
    from harness.runner.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    for name in ("policy", "profile", "seed", "time", "time_scale", "region", "aws_profile"):
        if getattr(args, name, None) is not None:
            setattr(scenario, name, getattr(args, name))
    if getattr(args, "redis_url", None):
        scenario.limiter.redis_url = args.redis_url
    if getattr(args, "otlp_endpoint", None):
        scenario.telemetry.otlp_endpoint = args.otlp_endpoint
    if getattr(args, "role_arn", None):
        scenario.account.role_arn = args.role_arn
    return scenario


def target_of(args):
    """A command's target without a scenario (cleanup, quotas sync): a running simulator, or AWS.
    Without --region, the region the AWS CLI would use (AWS_REGION, AWS_DEFAULT_REGION, the
    profile's); a simulator plays us-east-1 when none is set."""
    from harness.aws import Target
    from harness.aws.clients import configured_region

    region = args.region or configured_region(args.aws_profile)
    if args.endpoint_url and not args.region:
        return Target.simulator(args.endpoint_url, region or "us-east-1")
    if not region:
        raise ValueError("no AWS region: pass --region, or set AWS_REGION, AWS_DEFAULT_REGION or the profile's region")
    return Target.aws(region, args.aws_profile, args.endpoint_url)
