"""The account a test's simulator plays: a profile, and what the test changes on it.

    @pytest.mark.aws_sim(
        profile="aws-default",                               # a shipped profile, or a .toml path
        quotas={"sagemaker.CreateEndpoint.concurrency": 4},  # as `harness whatif --quota` writes them
        faults={"s3.PutObject.error_rate": 0.3},             # a profile's [[fault]] rows, one field a key
        storms=[{"start_seconds": 0, "duration_seconds": 60, "service": "glue", "throttle": True}],
        tenant_active_queries=12,                            # other teams' Athena queries, held all along
        time_scale=1.0, manual_time=False, seed=0, region="us-east-1",   # the defaults
    )

Markers on the module, class and test merge, the nearest winning key by key. A changed account
is written as a profile of its own (the shipped or given one, with the changes on top) for the
simulator to load; an unchanged one is passed by name. Bad input is refused before the test runs,
naming the marker, the key, the value and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.config import ConfigError, dumps_toml, read_toml
from harness.profiles import PROFILE_DIR, available_profiles, load_profile, parse_profile, with_base
from harness.quotas import Quota

MARKER = "aws_sim"
# service.Operation.field, as `harness whatif --quota` takes them (an operation may be a family: Describe*)
KEY = re.compile(r"^(?P<service>[a-z0-9*-]+)\.(?P<operation>[A-Za-z*][A-Za-z0-9*]*)\.(?P<field>[a-z_]+)$")
# what each quota field takes, as a quota table row does (harness/quotas.py)
QUOTA_FIELDS = {
    "rate": "calls per AWS second, a number > 0 (fractions allowed, e.g. 0.5)",
    "burst": "the bucket size in calls, a number of 1 or more",
    "concurrency": "resources in progress at once, a whole number of 1 or more",
}
FAULT_FIELDS = ("error_rate", "timeout_rate")
# AWS time is the wall's unless the test says otherwise: users' code sleeps and times out on the
# wall, and on the wall every millisecond of the machine's CPU is 1/time_scale ms of AWS time
DEFAULT_TIME_SCALE = 1.0


@dataclass(frozen=True)
class SimAccount:
    profile: str = "aws-default"
    quotas: Mapping[str, float] = field(default_factory=dict)
    faults: Mapping[str, float] = field(default_factory=dict)
    storms: tuple[Mapping[str, Any], ...] = ()
    tenant_active_queries: int | None = None
    time_scale: float = DEFAULT_TIME_SCALE
    manual_time: bool = False
    seed: int = 0
    region: str = "us-east-1"
    source: str = f"@pytest.mark.{MARKER}"  # where it was said, for errors

    @classmethod
    def from_markers(cls, markers: Iterable[Any], source: str, root: Path) -> SimAccount:
        """The account the markers (nearest first, as pytest's iter_markers gives them) describe.
        root: what a relative profile path is relative to (the test run's rootdir)."""
        said: dict[str, Any] = {}
        for marker in reversed(list(markers)):  # farthest first: the nearest overrides
            if len(marker.args) > 1:
                raise ConfigError(source, "(arguments)", marker.args, "at most one: the profile")
            said.update({"profile": marker.args[0]} if marker.args else {}, **marker.kwargs)
        return cls.from_options(said, source, root)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], source: str, root: Path) -> SimAccount:
        known = [f.name for f in fields(cls) if f.name != "source"]
        for key, value in options.items():
            if key not in known:
                raise ConfigError(source, key, value, "a known key (" + ", ".join(known) + ")")
        account = cls(**{**options, "source": source})  # type: ignore[arg-type]
        account = account._with_profile_resolved(root)
        account._check()
        return account

    def _with_profile_resolved(self, root: Path) -> SimAccount:
        profile = self.profile
        if isinstance(profile, Path):
            profile = str(profile)
        if isinstance(profile, str) and profile in available_profiles():
            return self._replace(profile=profile)
        if not isinstance(profile, str) or not profile.endswith(".toml"):
            raise ConfigError(
                self.source,
                "profile",
                profile,
                "one of " + ", ".join(available_profiles()) + ", or the path of a profile .toml",
            )
        path = Path(profile) if Path(profile).is_absolute() else root / profile
        if not path.is_file():
            raise ConfigError(self.source, "profile", profile, f"an existing profile .toml (looked for {path})")
        return self._replace(profile=str(path))

    def _replace(self, **changes: Any) -> SimAccount:
        return SimAccount(**{**{f.name: getattr(self, f.name) for f in fields(self)}, **changes})

    def _check(self) -> None:
        def number(key: str, value: Any, low: float, high: float) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ConfigError(self.source, key, value, f"a number from {low:g} to {high:g}")

        number("time_scale", self.time_scale, 1e-4, 1.0)
        if not isinstance(self.manual_time, bool):
            raise ConfigError(self.source, "manual_time", self.manual_time, "True or False")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(self.source, "seed", self.seed, "an integer >= 0")
        if not isinstance(self.region, str) or not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", self.region):
            raise ConfigError(self.source, "region", self.region, "an AWS region name such as us-east-1")
        tenants = self.tenant_active_queries
        if tenants is not None and (isinstance(tenants, bool) or not isinstance(tenants, int) or tenants < 0):
            raise ConfigError(self.source, "tenant_active_queries", tenants, "an integer >= 0")
        for name in ("quotas", "faults"):
            if not isinstance(getattr(self, name), Mapping):
                raise ConfigError(self.source, name, getattr(self, name), "a dict of service.Operation.field: value")
        if not isinstance(self.storms, (list, tuple)) or not all(isinstance(s, Mapping) for s in self.storms):
            raise ConfigError(self.source, "storms", self.storms, "a list of dicts, each a profile's [[storm]] row")
        self.quota_changes()
        self.fault_rows()

    # --- what changes --------------------------------------------------------------------------
    @property
    def changed(self) -> bool:
        return bool(self.quotas or self.faults or self.storms or self.tenant_active_queries is not None)

    def quota_changes(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(service, operation) -> the fields the test gives it (rate, burst, concurrency)."""
        changes: dict[tuple[str, str], dict[str, Any]] = {}
        for key, value in self.quotas.items():
            found = KEY.match(key) if isinstance(key, str) else None
            if not found or found["field"] not in QUOTA_FIELDS:
                raise ConfigError(
                    self.source,
                    "quotas",
                    key,
                    "keys service.Operation.field with field rate, burst or concurrency, "
                    'e.g. "sagemaker.CreateEndpoint.concurrency": 4 (as harness whatif --quota)',
                )
            name = found["field"]
            number = not isinstance(value, bool) and isinstance(value, (int, float))
            if name == "concurrency":
                fits = number and isinstance(value, int) and value >= 1
            else:
                fits = number and (value > 0 if name == "rate" else value >= 1)
            if not fits:
                raise ConfigError(self.source, f"quotas[{key!r}]", value, QUOTA_FIELDS[name])
            changes.setdefault((found["service"], found["operation"]), {})[name] = value
        return changes

    def quota_rows(self) -> list[Quota]:
        """Each changed quota as a whole row: the profile's row for the call, with the fields
        given replaced (a rate change keeps the row's burst and concurrency)."""
        changes = self.quota_changes()
        if not changes:
            return []
        table = load_profile(self.profile).quotas
        rows = []
        for (service, operation), given in changes.items():
            row = table.lookup(service, operation) or Quota(service, operation)
            rows.append(replace(row, service=service, operation=operation, source=self.source, **given))
        return rows

    def fault_rows(self) -> dict[tuple[str, str], dict[str, float]]:
        rows: dict[tuple[str, str], dict[str, float]] = {}
        for key, value in self.faults.items():
            found = KEY.match(key) if isinstance(key, str) else None
            if not found or found["field"] not in FAULT_FIELDS:
                raise ConfigError(
                    self.source,
                    "faults",
                    key,
                    "keys service.Operation.field with field error_rate or timeout_rate (a share of "
                    'calls, 0 to 1), e.g. "s3.PutObject.error_rate": 0.3; "*" for any',
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(self.source, f"faults[{key!r}]", value, "a share of calls, from 0 to 1")
            rows.setdefault((found["service"], found["operation"]), {})[found["field"]] = float(value)
        return rows

    # --- the profile the simulator loads ---------------------------------------------------------
    def _base_data(self) -> dict[str, Any]:
        path = PROFILE_DIR / f"{self.profile}.toml" if self.profile in available_profiles() else Path(self.profile)
        return with_base(read_toml(path), str(path))  # `extends` resolved: rows can be replaced

    def profile_data(self) -> dict[str, Any]:
        """The base profile with this account's changes on top."""
        data = self._base_data()
        data.pop("extends", None)
        quota = [{k: v for k, v in asdict(row).items() if v is not None} for row in self.quota_rows()]
        data["quota"] = list(data.get("quota", [])) + quota  # a later row replaces one for the same call
        changed = self.fault_rows()
        faults = []
        for row in data.get("fault", []):  # a row for the same call is changed in place, its other field kept
            call = (row.get("service", "*"), row.get("operation", "*"))
            faults.append({**row, **changed.pop(call, {})})
        data["fault"] = faults + [{"service": s, "operation": o, **row} for (s, o), row in changed.items()]
        data["storm"] = list(data.get("storm", [])) + [dict(storm) for storm in self.storms]
        if self.tenant_active_queries is not None:
            lifecycle = data.setdefault("lifecycle", {})
            lifecycle.setdefault("athena_query", {})["tenant_active_queries"] = self.tenant_active_queries
        return {k: v for k, v in data.items() if v != []}

    def simulator_profile(self, folder: Path) -> str:
        """What the simulator loads: the profile as given when nothing changes it, else a profile
        written into `folder` (checked here first, so an error names the marker, not the file)."""
        if not self.changed:
            return self.profile
        data = self.profile_data()
        name = f"{Path(self.profile).stem}-changed"
        parse_profile(data, self.source, name)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.toml"
        path.write_text(dumps_toml(data))
        return str(path)
