"""Simulator profiles: how busy an AWS account the simulator pretends to be.

A profile is TOML shipped in `harness/profiles/` (or any file path). Every duration and rate
is in AWS time; the simulator applies the scenario's time scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.config import ConfigError, Section, read_toml
from harness.quotas import DEFAULT_TABLE, QuotaTable, load_table, most_specific, parse_rows

PROFILE_DIR = Path(__file__).parent


@dataclass(frozen=True)
class LatencyRule:
    service: str
    operation: str
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class FaultRule:
    service: str
    operation: str
    error_rate: float = 0.0  # share of requests answered 500 InternalFailure / 503 ServiceUnavailable
    timeout_rate: float = 0.0  # share of requests held past the client's read timeout


@dataclass(frozen=True)
class Storm:
    """For a stretch of AWS time after the simulator starts (or is reset), matching calls meet
    extra 5xx faults, or are all throttled."""

    start_seconds: float
    duration_seconds: float
    service: str = "*"
    operation: str = "*"
    error_rate: float = 0.0
    throttle: bool = False

    def active(self, aws_now: float) -> bool:
        return self.start_seconds <= aws_now < self.start_seconds + self.duration_seconds


@dataclass(frozen=True)
class FeatureGroupLifecycle:
    create_seconds: float = 60.0  # Creating -> Created
    offline_store_seconds: float = 60.0  # Created -> OfflineStoreStatus Active
    table_seconds: float = 120.0  # OfflineStore Active -> Glue table and S3 prefix exist
    never_fraction: float = 0.0  # share of feature groups whose Glue table never appears
    delete_seconds: float = 30.0
    # A record put to the online store reaches the offline store (and Athena) this long after,
    # drawn uniformly: Workbench's log says rows "often take 10-20 minutes" to appear.
    rows_min_seconds: float = 600.0
    rows_max_seconds: float = 1200.0


@dataclass(frozen=True)
class TrainingJobLifecycle:
    run_seconds: float = 300.0
    fail_fraction: float = 0.0
    stop_seconds: float = 120.0  # Stopping -> Stopped: AWS gives the algorithm 120 s after SIGTERM


@dataclass(frozen=True)
class EndpointLifecycle:
    create_seconds: float = 480.0
    fail_fraction: float = 0.0
    delete_seconds: float = 60.0


@dataclass(frozen=True)
class AthenaQueryLifecycle:
    """AWS seconds a query spends QUEUED, then RUNNING by kind (what the statement does)."""

    queued_seconds: float = 0.4
    ddl_seconds: float = 1.2  # CREATE VIEW, DROP, SHOW, DESCRIBE
    count_seconds: float = 1.5  # SELECT COUNT(*) FROM t
    select_seconds: float = 1.2  # SELECT ... [LIMIT n]: rows, no aggregation
    aggregate_seconds: float = 3.0  # GROUP BY, aggregates, joins: statistics over a table
    fail_fraction: float = 0.0  # share of queries that fail with an internal error
    # other tenants' queries (dashboards, other teams) holding this many of the account's
    # active-query slots all the time: the quota counts them, the harness's table cannot know
    tenant_active_queries: int = 0

    def run_seconds(self, kind: str) -> float:
        return {
            "ddl": self.ddl_seconds,
            "count": self.count_seconds,
            "select": self.select_seconds,
            "aggregate": self.aggregate_seconds,
        }[kind]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    quotas: QuotaTable = field(default_factory=lambda: QuotaTable([]))
    latency: list[LatencyRule] = field(default_factory=list)
    faults: list[FaultRule] = field(default_factory=list)
    storms: list[Storm] = field(default_factory=list)
    timeout_seconds: float = 90.0  # AWS time a timed-out answer is held
    # AWS's rules that moto does not keep: a role from another account and an image from another
    # region are refused, and requests are checked against the service model's constraints
    strict_account: bool = False
    jitter: float = 0.2  # lifecycle durations vary by +-jitter, drawn from the seed
    feature_group: FeatureGroupLifecycle = FeatureGroupLifecycle()
    training_job: TrainingJobLifecycle = TrainingJobLifecycle()
    endpoint: EndpointLifecycle = EndpointLifecycle()
    athena_query: AthenaQueryLifecycle = AthenaQueryLifecycle()

    def latency_for(self, service: str, operation: str) -> LatencyRule | None:
        return most_specific(self.latency, service, operation)

    def fault_for(self, service: str, operation: str) -> FaultRule | None:
        return most_specific(self.faults, service, operation)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name (`aws-default`) or a TOML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ConfigError(
                "simulator profile",
                "profile",
                str(name_or_path),
                "one of " + ", ".join(available_profiles()) + ", or a .toml path",
            )
    return parse_profile(read_toml(path), str(path), path.stem)


def with_base(data: dict, source: str, seen: tuple[str, ...] = ()) -> dict:
    """`extends = "aws-default"`: the named shipped profile, with this file's keys on top
    (tables merged key by key, arrays of tables such as [[quota]] appended after the base's)."""
    base_name = data.get("extends")
    if base_name is None:
        return data
    if not isinstance(base_name, str) or base_name not in available_profiles() or base_name in seen:
        raise ConfigError(
            source, "extends", base_name, "one of " + ", ".join(available_profiles()) + " (not the profile itself)"
        )
    base_path = PROFILE_DIR / f"{base_name}.toml"
    merged = with_base(read_toml(base_path), str(base_path), seen + (base_name,))
    merged.pop("description", None)
    return _merge(merged, {k: v for k, v in data.items() if k != "extends"})


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + value
        else:
            out[key] = value
    return out


def parse_profile(data: dict, source: str, name: str) -> Profile:
    root = Section(with_base(data, source) if isinstance(data, dict) else data, source)
    description = root.string("description", "")
    base = root.string("quota_table", "default", choices=["default", "none"])
    table = load_table(DEFAULT_TABLE) if base == "default" else QuotaTable([])
    table = table.overridden(parse_rows(root.sections("quota")))

    latency = []
    for row in root.sections("latency"):
        rule = LatencyRule(
            row.string("service", "*"),
            row.string("operation", "*"),
            row.number("p50_ms", required=True, minimum=0.0),
            row.number("p99_ms", required=True, minimum=0.0),
        )
        if rule.p99_ms < rule.p50_ms:
            raise row.error("p99_ms", rule.p99_ms, f"a number >= p50_ms ({rule.p50_ms})")
        row.done()
        latency.append(rule)

    faults = []
    for row in root.sections("fault"):
        faults.append(
            FaultRule(
                row.string("service", "*"),
                row.string("operation", "*"),
                row.number("error_rate", 0.0, minimum=0.0, maximum=1.0),
                row.number("timeout_rate", 0.0, minimum=0.0, maximum=1.0),
            )
        )
        row.done()

    storms = []
    for row in root.sections("storm"):
        storms.append(
            Storm(
                row.number("start_seconds", required=True, minimum=0.0),
                row.number("duration_seconds", required=True, minimum=0.0),
                row.string("service", "*"),
                row.string("operation", "*"),
                row.number("error_rate", 0.0, minimum=0.0, maximum=1.0),
                row.boolean("throttle", False),
            )
        )
        row.done()

    lifecycle = root.section("lifecycle")
    fg, tj, ep, aq = (lifecycle.section(k) for k in ("feature_group", "training_job", "endpoint", "athena_query"))
    query_defaults = AthenaQueryLifecycle()

    profile = Profile(
        name=name,
        description=description,
        quotas=table,
        latency=latency,
        faults=faults,
        storms=storms,
        timeout_seconds=root.number("timeout_seconds", 90.0, minimum=0.0),
        strict_account=root.boolean("strict_account", False),
        jitter=root.number("jitter", 0.2, minimum=0.0, maximum=0.9),
        feature_group=FeatureGroupLifecycle(
            create_seconds=fg.number("create_seconds", 60.0, minimum=0.0),
            offline_store_seconds=fg.number("offline_store_seconds", 60.0, minimum=0.0),
            table_seconds=fg.number("table_seconds", 120.0, minimum=0.0),
            never_fraction=fg.number("never_fraction", 0.0, minimum=0.0, maximum=1.0),
            delete_seconds=fg.number("delete_seconds", 30.0, minimum=0.0),
            rows_min_seconds=fg.number("rows_min_seconds", 600.0, minimum=0.0),
            rows_max_seconds=fg.number("rows_max_seconds", 1200.0, minimum=0.0),
        ),
        training_job=TrainingJobLifecycle(
            run_seconds=tj.number("run_seconds", 300.0, minimum=0.0),
            fail_fraction=tj.number("fail_fraction", 0.0, minimum=0.0, maximum=1.0),
            stop_seconds=tj.number("stop_seconds", 120.0, minimum=0.0),
        ),
        endpoint=EndpointLifecycle(
            create_seconds=ep.number("create_seconds", 480.0, minimum=0.0),
            fail_fraction=ep.number("fail_fraction", 0.0, minimum=0.0, maximum=1.0),
            delete_seconds=ep.number("delete_seconds", 60.0, minimum=0.0),
        ),
        athena_query=AthenaQueryLifecycle(
            **{
                key: aq.number(
                    key, getattr(query_defaults, key), minimum=0.0, maximum=1.0 if key == "fail_fraction" else None
                )
                for key in (
                    "queued_seconds",
                    "ddl_seconds",
                    "count_seconds",
                    "select_seconds",
                    "aggregate_seconds",
                    "fail_fraction",
                )
            },
            tenant_active_queries=aq.integer("tenant_active_queries", 0, minimum=0),
        ),
    )
    rows = profile.feature_group
    if rows.rows_max_seconds < rows.rows_min_seconds:
        raise fg.error(
            "rows_max_seconds", rows.rows_max_seconds, f"a number >= rows_min_seconds ({rows.rows_min_seconds:g})"
        )
    for section in (fg, tj, ep, aq, lifecycle, root):
        section.done()
    return profile
