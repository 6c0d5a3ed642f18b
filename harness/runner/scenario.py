"""Scenario files (TOML): what to run, against what, how hard. Validated on load: an unknown
key or a bad value is an error naming the file, the key, the value and what is allowed."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from harness.artifacts.context import Deadlines
from harness.aws.limiter.redis_store import ON_UNREACHABLE, without_password
from harness.aws.policies import POLICIES, SDK_DEFAULT, RetryPolicy, RetrySettings, policy_named
from harness.config import ConfigError, Section, read_toml
from harness.events.otel import without_userinfo
from harness.runner.arrivals import RampStage
from harness.quotas import DEFAULT_TABLE, Quota, QuotaTable, load_table, parse_rows
from harness.profiles import available_profiles, load_profile

if TYPE_CHECKING:
    from harness.pipelines.base import Param, Pipeline

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


@dataclass
class Dashboard:
    workers: int = 0  # threads polling Meta lists while the pipelines run
    cached: bool = False  # through CachedMeta
    poll_seconds: float = 30.0  # AWS time between polls


WORKERS = ("threads", "processes", "ray")
TIMES = ("wall", "virtual")
SIMULATOR_PROCESSES = ("run", "own")
RAY_ADDRESS = re.compile(r"^(auto|[\w.-]+:\d{1,5})$")
REDIS_URL = re.compile(r"^(redis|rediss|unix)://\S+$")
# How many pipelines one level may run at once: the scenario's levels and the command line's -n,
# --levels and --up-to all go through is_level, so the limits live here only.
LEVELS = range(1, 1025)
LEVEL_RANGE = f"from {LEVELS[0]} to {LEVELS[-1]}"


def is_level(n: object) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n in LEVELS


def check_profile(profile: object, source: str) -> None:
    """A shipped profile's name, or the path of a profile TOML that loads. Checked where the
    profile is given (scenario or --profile), before a run folder exists: the simulator that
    would read it runs in a subprocess, and a bad profile only shows there as a start timeout."""
    if isinstance(profile, str) and profile in available_profiles():
        return
    if not isinstance(profile, str) or not profile.endswith(".toml") or not Path(profile).is_file():
        raise ConfigError(
            source,
            "profile",
            profile,
            "one of " + ", ".join(available_profiles()) + ", or the path of an existing profile .toml",
        )
    load_profile(profile)  # a profile that does not load: its error names that file and key


@dataclass
class SharedLimiter:
    """Where the harness policy's limiter keeps its state. Without `redis_url`, in this run (its
    threads, or its worker processes through the runner); with it, in Redis, shared by every run
    and host that uses the same Redis and namespace (runs that spend one account's quotas)."""

    redis_url: str | None = None
    namespace: str | None = None  # default: the target, endpoint and region (see aws_context)
    on_unreachable: str = "local"  # or "fail": see harness/aws/limiter/redis_store.py


# Live metrics (harness/events/otel.py): the base URL of an OTLP/HTTP receiver, as
# OTEL_EXPORTER_OTLP_ENDPOINT takes it; the metrics go to <base>/v1/metrics.
OTLP_ENDPOINT = (
    "an OTLP/HTTP base URL such as http://127.0.0.1:4318 (http:// or https://, a host, an optional port "
    "and path; no user:password, no query: headers go in OTEL_EXPORTER_OTLP_HEADERS)"
)


def is_otlp_endpoint(url: object) -> bool:
    if not isinstance(url, str) or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        return False
    plain = "@" not in parts.netloc and not parts.query and not parts.fragment
    return parts.scheme in ("http", "https") and bool(parts.hostname) and plain


@dataclass
class Telemetry:
    """Live metrics to an OpenTelemetry collector (harness/events/otel.py). Off unless an endpoint
    is given: here, with --otlp-endpoint, or in OTEL_EXPORTER_OTLP_ENDPOINT."""

    otlp_endpoint: str | None = None
    # wall seconds between exports; None: OTEL_METRIC_EXPORT_INTERVAL (milliseconds), else 10
    export_interval_seconds: float | None = None


ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3's bucket naming rules, in short
GLUE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")  # Glue lower-cases names; Athena wants no hyphen
IMAGE = re.compile(r"^[^\s/]+/[^\s]+$")


@dataclass
class Account:
    """Where the pipelines put things in the account. On the simulator every key has a default;
    on real AWS `role_arn` is required (there is no role every account has)."""

    role_arn: str | None = None  # an IAM role SageMaker assumes: it must trust sagemaker.amazonaws.com
    training_image: str | None = None  # default: SageMaker's XGBoost image for the region (the SDK's lookup)
    bucket: str | None = None  # an existing bucket (objects under the run's prefix); default: one per run
    glue_database: str = "harness"
    tags: dict[str, str] = field(default_factory=dict)  # added to every resource the run tags


@dataclass
class Scenario:
    name: str
    source: str
    description: str = ""
    target: str = "sim"
    profile: str = "aws-default"
    region: str = "us-east-1"
    aws_profile: str | None = None
    allowed_accounts: list[str] = field(default_factory=list)
    # "virtual": AWS time moves only when every worker waits (harness.virtual_time), so the run
    # measures the account and not the machine; "wall": it follows the wall at time_scale
    time: str = "wall"
    # where the run's own simulator works: "run", the runner's process (virtual time only: its
    # clients then reach it without a socket, harness.sim.inprocess), or "own", a process of its
    # own; unset, "run" on virtual time and "own" on the wall
    simulator_process: str | None = None
    time_scale: float = 1.0
    # from a level on, another time scale ({128: 0.1}: N=128 and above run at 1/10), so that the
    # simulator and the client keep up at high N; the report says which scale each level ran at
    level_time_scales: dict[int, float] = field(default_factory=dict)
    seed: int = 0
    policy: str = "harness"
    max_attempts: int | None = 8  # None: each retry policy's own default ("sdk-default")
    levels: list[int] = field(default_factory=lambda: [4])
    iterations: int = 1
    duration_seconds: float = 0.0
    # the open model: each level is an arrival rate (pipelines per AWS hour) instead of N workers;
    # pipelines arrive for duration_seconds, at most max_in_flight run at once (the rest wait, and
    # their start delay counts from when they were due)
    arrivals: bool = False
    max_in_flight: int = 256
    # a ramp instead of fixed rates (k6's ramping-arrival-rate): one level, the rate moving from
    # start_rate to each stage's target over its duration
    start_rate: float = 0.0
    arrival_stages: list[RampStage] = field(default_factory=list)
    ramp_up_seconds: float = 0.0
    # "threads", or spread over `processes` worker processes ("processes") or Ray workers ("ray",
    # on the cluster at `ray_address`: a run across hosts), each running its share as threads
    workers: str = "threads"
    processes: int = 2
    ray_address: str | None = None  # None: a Ray cluster on this machine, started for the run
    grace_seconds: float = 600.0
    max_cost_usd: float | None = None  # start no pipeline that would take the run past this (costguard.py)
    pipelines: dict[str, float] = field(default_factory=lambda: {"workbench": 1.0})
    params: dict[str, Any] = field(default_factory=dict)
    deadlines: Deadlines = field(default_factory=Deadlines)
    quota_overrides: list[Quota] = field(default_factory=list)  # quota_files first, then [[quota]] rows
    dashboard: Dashboard = field(default_factory=Dashboard)
    thresholds: list[str] = field(default_factory=list)
    abort_thresholds: list[str] = field(default_factory=list)  # also in thresholds; stop the run when failing
    account: Account = field(default_factory=Account)
    limiter: SharedLimiter = field(default_factory=SharedLimiter)
    telemetry: Telemetry = field(default_factory=Telemetry)
    # run once at the start of every level, before its pipelines (the simulator starts each level
    # as a fresh account): what an account's onboarding would have made. A pipeline spec, usually
    # a user's own function: or command:
    setup: str | None = None

    def quota_table(self) -> QuotaTable:
        return load_table(DEFAULT_TABLE).overridden(self.quota_overrides)

    def time_scale_at(self, level: int) -> float:
        """The scale of the largest `level_time_scales` entry at or below `level`, else time_scale.
        On virtual time, 1: event times are AWS seconds, and no scale makes a run quicker."""
        if self.time == "virtual":
            return 1.0
        at = [n for n in self.level_time_scales if n <= level]
        return self.level_time_scales[max(at)] if at else self.time_scale

    def retry(self) -> RetrySettings:
        return RetrySettings(self.policy, max_attempts=self.max_attempts)

    def retry_policy(self) -> RetryPolicy:
        """The scenario's retry policy (the one `retry()` resolves its name to)."""
        return policy_named(self.policy)

    def resolved(self) -> dict[str, Any]:
        """The scenario as run, for the run folder's scenario.toml."""
        data = asdict(self)
        data["quota_overrides"] = [asdict(q) for q in self.quota_overrides]
        data["level_time_scales"] = {str(n): scale for n, scale in self.level_time_scales.items()}
        if self.max_attempts is None:
            data["max_attempts"] = SDK_DEFAULT
        if self.limiter.redis_url:
            data["limiter"]["redis_url"] = without_password(self.limiter.redis_url)  # the run folder is shared
        return data


def _quota_files(root: Section, source: str) -> list[Quota]:
    """Override files (e.g. written by `harness quotas sync`), relative to the scenario file."""
    files = root.raw("quota_files", [])
    if not isinstance(files, list) or any(not isinstance(f, str) for f in files):
        raise root.error("quota_files", files, "a list of quota TOML file paths")
    rows = []
    for name in files:
        path = Path(name) if Path(name).is_absolute() else Path(source).parent / name
        if not path.exists():
            raise root.error("quota_files", name, f"an existing file (looked for {path})")
        rows += load_table(path).quotas
    return rows


def resolve_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.exists() or path.suffix:
        return path
    shipped = SCENARIO_DIR / f"{name_or_path}.toml"
    if shipped.exists():
        return shipped
    names = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
    raise ConfigError("scenario", "scenario", name_or_path, "a TOML path or one of " + ", ".join(names))


def parse_target(root: Section) -> str:
    """target = "sim" or "aws": where the run's calls go. `backend` was its name before; it is
    still read, so older scenarios run unchanged."""
    if root.has("backend"):
        if root.has("target"):
            raise root.error("backend", root.raw("backend"), "nothing beside target (backend is its older name)")
        return root.string("backend", "sim", choices=["sim", "aws"])
    return root.string("target", "sim", choices=["sim", "aws"])


def load_scenario(name_or_path: str) -> Scenario:
    path = resolve_path(name_or_path)
    return parse_scenario(read_toml(path), str(path), path.stem)


def parse_scenario(data: dict[str, Any], source: str, name: str) -> Scenario:
    root = Section(data, source)
    target = parse_target(root)
    profile = root.raw("profile", "aws-default")
    check_profile(profile, source)
    stages = parse_stages(root)
    arrivals = bool(stages) or root.has("arrival_rates")
    if arrivals and root.has("levels"):
        raise root.error(
            "arrival_rates",
            root.raw("arrival_rates"),
            "nothing beside levels: a scenario runs N "
            "pipelines at once (levels) or pipelines "
            "arriving at rates (arrival_rates)",
        )
    levels = (
        [max(1, int(round(max(s.end_rate for s in stages))))]
        if stages
        else root.raw("arrival_rates" if arrivals else "levels", [4])
    )
    if arrivals and (
        not isinstance(levels, list)
        or not levels
        or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100000 for n in levels)
    ):
        raise root.error(
            "arrival_rates", levels, "a non-empty list of pipelines per AWS hour, integers from 1 to 100000"
        )
    if arrivals and not stages and not root.number("duration_seconds", 0.0, minimum=0.0):
        raise root.error(
            "duration_seconds",
            root.raw("duration_seconds"),
            "how long pipelines arrive, in AWS seconds (> 0, required with arrival_rates)",
        )
    if not arrivals and (not isinstance(levels, list) or not levels or not all(map(is_level, levels))):
        raise root.error("levels", levels, f"a non-empty list of integers {LEVEL_RANGE}")
    accounts = root.raw("allowed_accounts", [])
    if not isinstance(accounts, list) or any(
        not isinstance(a, str) or not a.isdigit() or len(a) != 12 for a in accounts
    ):
        raise root.error("allowed_accounts", accounts, "a list of 12-digit account ids as strings")
    thresholds, abort_thresholds = parse_thresholds(root)

    pipelines = root.raw("pipelines", {"workbench": 1})
    if isinstance(pipelines, str):
        pipelines = {pipelines: 1}
    if (
        not isinstance(pipelines, dict)
        or not pipelines
        or any(isinstance(w, bool) or not isinstance(w, (int, float)) or w <= 0 for w in pipelines.values())
    ):
        raise root.error("pipelines", pipelines, "a pipeline name, or a table of pipeline = weight (> 0)")

    params = root.raw("params", {})
    if not isinstance(params, dict):
        raise root.error("params", params, "a table of pipeline parameters")

    section = root.section("deadlines")
    deadlines = Deadlines(
        **{f.name: section.number(f.name, getattr(Deadlines(), f.name), minimum=0.0) for f in fields(Deadlines)}
    )
    section.done()
    dash = root.section("dashboard")
    dashboard = Dashboard(
        workers=dash.integer("workers", 0, minimum=0, maximum=64),
        cached=dash.boolean("cached", False),
        poll_seconds=dash.number("poll_seconds", 30.0, minimum=0.1),
    )
    dash.done()

    account = parse_account(root.section("account"), target)
    limiter = parse_limiter(root.section("limiter"))
    telemetry = parse_telemetry(root.section("telemetry"))

    scenario = Scenario(
        name=root.string("name", name),
        source=source,
        description=root.string("description", ""),
        target=target,
        profile=profile,
        region=root.string("region", "us-east-1" if target == "sim" else None, required=target == "aws"),
        aws_profile=root.string("aws_profile"),
        allowed_accounts=list(accounts),
        time=root.string("time", "wall", choices=TIMES),
        simulator_process=root.string("simulator_process", None, choices=SIMULATOR_PROCESSES),
        time_scale=root.number("time_scale", 1.0 if target == "aws" else 1 / 30, minimum=1e-4, maximum=1.0),
        level_time_scales=parse_level_time_scales(root.section("level_time_scale"), target),
        seed=root.integer("seed", 0, minimum=0),
        policy=root.string("policy", "harness", choices=POLICIES),
        max_attempts=parse_max_attempts(root),
        levels=list(levels),
        iterations=root.integer("iterations", 1, minimum=1, maximum=10000),
        duration_seconds=(
            sum(s.duration_seconds for s in stages) if stages else root.number("duration_seconds", 0.0, minimum=0.0)
        ),
        arrivals=arrivals and _threads_only(root),
        max_in_flight=root.integer("max_in_flight", 256, minimum=1, maximum=100000),
        start_rate=root.number("start_rate", 0.0, minimum=0.0, maximum=100000.0),
        arrival_stages=stages,
        ramp_up_seconds=root.number("ramp_up_seconds", 0.0, minimum=0.0),
        workers=root.string("workers", "threads", choices=WORKERS),
        processes=root.integer("processes", 2, minimum=1, maximum=1024),
        ray_address=parse_ray_address(root),
        grace_seconds=root.number("grace_seconds", 600.0, minimum=0.0),
        max_cost_usd=root.number("max_cost_usd", None, above=0.0),
        pipelines={str(k): float(v) for k, v in pipelines.items()},
        params=dict(params),
        deadlines=deadlines,
        quota_overrides=_quota_files(root, source) + parse_rows(root.sections("quota")),
        dashboard=dashboard,
        thresholds=thresholds,
        abort_thresholds=abort_thresholds,
        account=account,
        limiter=limiter,
        telemetry=telemetry,
        setup=root.string("setup"),
    )
    root.done()
    if scenario.time == "virtual":
        check_virtual_time(scenario)
    check_simulator_process(scenario)
    from harness.pipelines.base import load_pipeline

    loaded = {}
    for spec in scenario.pipelines:
        try:
            loaded[spec] = load_pipeline(spec)
        except ValueError as err:
            raise ConfigError(source, "pipelines", spec, str(err).split(": ", 1)[-1]) from None
    check_params(scenario.params, loaded, source)
    if scenario.setup is not None:
        try:
            load_pipeline(scenario.setup)
        except ValueError as err:
            raise ConfigError(source, "setup", scenario.setup, str(err).split(": ", 1)[-1]) from None
    check_max_cost(scenario)
    return scenario


def check_max_cost(scenario: Scenario) -> None:
    """max_cost_usd is guarded with the list prices of the scenario's region: a region (or an
    instance type) that harness/prices.toml has no price for is refused, not guarded with a
    figure from elsewhere. Checked on reading, and again once the command line has had its say
    (--region)."""
    if scenario.max_cost_usd is None:
        return
    from harness.runner.prices import PRICES, instance_type, load_prices

    table, instance = load_prices(), instance_type(scenario.params)
    missing = table.region(scenario.region).missing_for(instance)
    if missing:
        raise ConfigError(
            scenario.source,
            "max_cost_usd",
            scenario.max_cost_usd,
            f"a region and instance type that {PRICES} prices: region {scenario.region} has no price for "
            f"{', '.join(missing)}; the regions with every price for {instance}: "
            f"{', '.join(table.guarded_regions(instance)) or 'none'} (or no max_cost_usd)",
        )


def check_params(params: dict[str, Any], pipelines: dict[str, Pipeline], source: str) -> None:
    """[params] against the parameters the scenario's pipelines declare (one table serves the
    whole mix): a key none of them declares is a typo, a value of another type would fail mid-run.
    A pipeline that declares nothing (a user's module:function) may read any key: then only the
    declared keys' types are checked."""
    declared: dict[str, list[tuple[str, Param]]] = {}
    for spec, pipeline in pipelines.items():
        for param in pipeline.params or ():
            declared.setdefault(param.name, []).append((spec, param))
    every_pipeline_declares = all(p.params is not None for p in pipelines.values())
    for key, value in params.items():
        if key not in declared and every_pipeline_declares:
            raise ConfigError(
                source,
                f"params.{key}",
                value,
                f"a parameter of {' or '.join(pipelines)}: " + (", ".join(declared) or "none"),
            )
        for spec, param in declared.get(key, ()):
            if not param.accepts(value):
                raise ConfigError(source, f"params.{key}", value, f"{param.kind} ({spec}: {param.help})")


def parse_stages(root: Section) -> list[RampStage]:
    """arrival_stages = [{ end_rate = 60, duration_seconds = 1800 }, ...] and start_rate. (k6 calls
    end_rate `target`; that name is read too.)"""
    if not root.has("arrival_stages"):
        return []
    for key in ("arrival_rates", "levels", "duration_seconds"):
        if root.has(key):
            raise root.error(
                key, root.raw(key), "nothing beside arrival_stages (the stages say the rates and how long)"
            )
    rows = root.sections("arrival_stages")
    stages = []
    for row in rows:
        stages.append(
            RampStage(
                row.number(
                    "target" if row.has("target") and not row.has("end_rate") else "end_rate",
                    required=True,
                    minimum=0.0,
                    maximum=100000.0,
                ),
                row.number("duration_seconds", required=True, above=0.0),
            )
        )
        row.done()
    if not stages or max(s.end_rate for s in stages) < 1:
        raise root.error(
            "arrival_stages", root.raw("arrival_stages"), "stages with an end_rate of 1 pipeline per hour or more"
        )
    return stages


def on_its_time(scenario: Scenario) -> Scenario:
    """The scenario as it runs: on virtual time (checked) its time scale is 1, so that every
    event time and duration is in AWS seconds; time_scale and level_time_scale are for wall time."""
    check_simulator_process(scenario)
    if scenario.time != "virtual":
        return scenario
    check_virtual_time(scenario)
    return replace(scenario, time_scale=1.0, level_time_scales={})


def simulator_in_run_process(scenario: Scenario) -> bool:
    return (scenario.simulator_process or ("run" if scenario.time == "virtual" else "own")) == "run"


def check_simulator_process(scenario: Scenario) -> None:
    """On the wall the simulator needs a core of its own: in the runner's process its work would
    hold up the workers' and show as latency."""
    if scenario.simulator_process == "run" and scenario.time != "virtual":
        why = 'own with time = "wall" (the runner\'s process is for virtual time)'
        raise ConfigError(scenario.source, "simulator_process", "run", why)


def check_virtual_time(scenario: Scenario) -> None:
    """Virtual time runs every worker as a thread of this process, on the simulator, through the
    in-process limiter, and only code that waits on the harness's clock."""
    why = None
    if scenario.target != "sim":
        why = 'wall: real AWS keeps its own time (time = "virtual" needs target = "sim")'
    elif scenario.workers != "threads":
        why = f'wall with workers = "{scenario.workers}" (virtual time runs its workers as threads of the runner)'
    elif scenario.limiter.redis_url:
        why = "wall with a Redis limiter (virtual time paces through the runner's own limiter)"
    else:
        own = [spec for spec in scenario.pipelines if spec.startswith(("function:", "command:"))]
        if own:
            why = (
                f"wall for users' own code ({own[0]}): it reads the machine's clock and waits on it, "
                "so it runs on wall time"
            )
    if why is not None:
        raise ConfigError(scenario.source, "time", "virtual", why)


def _threads_only(root: Section) -> bool:
    if root.raw("workers", "threads") != "threads":
        raise root.error(
            "workers", root.raw("workers"), "threads with arrival_rates (each arrival is a thread of the runner)"
        )
    return True


def parse_thresholds(root: Section) -> tuple[list[str], list[str]]:
    """Strings, or tables {check = "failed <= 2", abort = true} for thresholds that stop the run.
    Each is read as the run and `harness compare` will read it (harness/report/thresholds.py)."""
    from harness.report.thresholds import ThresholdError, parse
    from harness.runner.abort import check_abortable

    items = root.raw("thresholds", [])
    allowed = "a list of strings like 'failed == 0', or tables like { check = \"failed <= 2\", abort = true }"
    if not isinstance(items, list):
        raise root.error("thresholds", items, allowed)
    checks, aborts = [], []
    for item in items:
        if not isinstance(item, str) and (
            not isinstance(item, dict)
            or set(item) - {"check", "abort"}
            or not isinstance(item.get("check"), str)
            or not isinstance(item.get("abort", False), bool)
        ):
            raise root.error("thresholds", item, allowed)
        check = item if isinstance(item, str) else item["check"]
        try:
            parse(check)
        except ThresholdError as err:
            raise root.error("thresholds", check, f"a threshold: {err.reason}") from None
        checks.append(check)
        if isinstance(item, str):
            continue
        if item.get("abort"):
            why = check_abortable(item["check"])
            if why is not None:
                raise root.error("thresholds", item, f"an abort threshold on {why}")
            aborts.append(item["check"])
    return checks, aborts


def parse_level_time_scales(section: Section, target: str) -> dict[int, float]:
    """[level_time_scale] 128 = 0.1: from N=128 on, one wall second is 10 AWS seconds."""
    scales = {}
    for key in list(section.data):
        if not key.isdigit() or int(key) < 1:
            raise section.error(key, section.data[key], "a level (an integer >= 1) = a time scale")
        scales[int(key)] = section.number(key, minimum=1e-4, maximum=1.0)
    if scales and target == "aws":
        raise section.error(
            next(iter(section.data)),
            next(iter(scales.values())),
            'nothing with target = "aws" (AWS runs in real time)',
        )
    section.done()
    return dict(sorted(scales.items()))


def parse_ray_address(root: Section) -> str | None:
    address = root.string("ray_address")
    if address is None:
        return None
    if root.raw("workers", "threads") != "ray":
        raise root.error("ray_address", address, 'nothing unless workers = "ray"')
    if not RAY_ADDRESS.match(address):
        raise root.error(
            "ray_address",
            address,
            'a Ray cluster address: "auto" or host:port of its head node (not '
            "ray:// - the runner's host must be a node: it writes the run folder)",
        )
    return address


def check_shared_limiter(scenario: Scenario) -> None:
    """Ray workers on several hosts pace through one limiter only if it lives in Redis. Checked
    when the run starts, after the command line had its say (--redis-url)."""
    if scenario.workers == "ray" and scenario.retry_policy().uses_limiter and not scenario.limiter.redis_url:
        raise ConfigError(
            scenario.source,
            "workers",
            "ray",
            "threads or processes, unless the limiter is shared through Redis ([limiter] redis_url "
            "or --redis-url): Ray workers on every host pace through one limiter",
        )


def parse_limiter(section: Section) -> SharedLimiter:
    url = section.string("redis_url")
    if url is not None and not REDIS_URL.match(url):
        raise section.error(
            "redis_url",
            without_password(url),
            "a Redis URL such as redis://127.0.0.1:6379/0 (redis://, rediss:// or unix://)",
        )
    limiter = SharedLimiter(
        redis_url=url,
        namespace=section.string("namespace"),
        on_unreachable=section.string("on_unreachable", "local", choices=ON_UNREACHABLE),
    )
    section.done()
    return limiter


def parse_telemetry(section: Section) -> Telemetry:
    url = section.raw("otlp_endpoint")
    if url is not None and not is_otlp_endpoint(url):
        raise section.error("otlp_endpoint", without_userinfo(url) if isinstance(url, str) else url, OTLP_ENDPOINT)
    telemetry = Telemetry(
        otlp_endpoint=url.rstrip("/") if url else None,
        export_interval_seconds=section.number("export_interval_seconds", None, minimum=0.1, maximum=3600.0),
    )
    section.done()
    return telemetry


def parse_max_attempts(root: Section) -> int | None:
    """An attempt budget every policy shares, or "sdk-default": each policy's own."""
    value = root.raw("max_attempts", 8)
    if value == SDK_DEFAULT:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 50:
        raise root.error(
            "max_attempts",
            value,
            f'an integer from 1 to 50, or "{SDK_DEFAULT}" (each retry '
            "policy's own default: botocore legacy 5, standard and adaptive "
            "3, harness 8)",
        )
    return value


def parse_account(section: Section, target: str) -> Account:
    def matching(key: str, pattern: re.Pattern[str], allowed: str, required: bool = False) -> str | None:
        value = section.string(key)
        if value is None and required:
            raise section.error(key, None, allowed + ' (required with target = "aws")')
        if value is not None and not pattern.match(value):
            raise section.error(key, value, allowed)
        return value

    tags = section.raw("tags", {})
    if (
        not isinstance(tags, dict)
        or any(not isinstance(v, str) or len(v) > 256 for v in tags.values())
        or any(not 1 <= len(k) <= 128 or k.lower().startswith("aws:") for k in tags)
    ):
        raise section.error(
            "tags", tags, 'a table of tag = "value" (keys 1-128 characters, not aws:*; values up to 256)'
        )
    account = Account(
        role_arn=matching(
            "role_arn", ROLE_ARN, "an IAM role ARN like arn:aws:iam::111122223333:role/name", required=target == "aws"
        ),
        training_image=matching(
            "training_image", IMAGE, "an image URI like 111122223333.dkr.ecr.eu-west-1.amazonaws.com/repository:tag"
        ),
        bucket=matching("bucket", BUCKET, "an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)"),
        glue_database=matching(
            "glue_database", GLUE_NAME, "a Glue database name (lower-case letters, digits, underscores)"
        )
        or "harness",
        tags={str(k): v for k, v in tags.items()},
    )
    section.done()
    return account
