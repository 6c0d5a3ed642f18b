"""The price table a run's cost is estimated from: harness/prices.toml, list prices per region.

A region has a price for what the file gives a figure for and nothing else: a figure that
could not be found is left out (and named in the region's `not_found`), never filled in from
another region. `RegionPrices.missing_for` says what the cost guard would need and the region
lacks; a scenario's max_cost_usd is refused on it (harness.runner.scenario).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from harness.config import Section, read_toml

PRICES = Path(__file__).resolve().parents[1] / "prices.toml"
INSTANCE_TABLES = ("training", "hosting")  # USD per instance-hour, by instance type
DEFAULT_INSTANCE_TYPE = "ml.m5.large"  # the built-in pipelines' params.instance_type


def instance_type(params: dict[str, object]) -> str:
    """The instance type a scenario's training jobs and endpoints run on."""
    return str(params.get("instance_type", DEFAULT_INSTANCE_TYPE))


@dataclass(frozen=True)
class RegionPrices:
    region: str
    as_of: str = ""  # when the source stated the figures ("" with none)
    found_in: str = ""  # where they were read
    sources: tuple[str, ...] = ()  # AWS's offer files for the region
    training: dict[str, float] = field(default_factory=dict)
    hosting: dict[str, float] = field(default_factory=dict)
    feature_store: dict[str, float] = field(default_factory=dict)  # write_per_million, read_per_million
    athena: dict[str, float] = field(default_factory=dict)  # per_tb_scanned

    def missing_for(self, instance_type: str) -> list[str]:
        """What the cost guard prices that this region has no figure for: empty when a run of
        `instance_type` can be guarded here."""
        missing = [f"{table} {instance_type}" for table in INSTANCE_TABLES if instance_type not in getattr(self, table)]
        if "write_per_million" not in self.feature_store:
            missing.append("feature_store writes")
        if "per_tb_scanned" not in self.athena:
            missing.append("athena per TB scanned")
        return missing


@dataclass(frozen=True)
class PriceTable:
    source: str  # the file
    taken: str  # when its figures were gathered
    regions: dict[str, RegionPrices]

    def region(self, name: str) -> RegionPrices:
        """The region's prices; a region the file does not list has none."""
        return self.regions.get(name) or RegionPrices(name)

    def guarded_regions(self, instance_type: str) -> list[str]:
        """The regions where a run of `instance_type` can be guarded (every price it needs)."""
        return [name for name, prices in self.regions.items() if not prices.missing_for(instance_type)]


def load_prices(path: str | Path = PRICES) -> PriceTable:
    return _load(str(path))


@cache
def _load(path: str) -> PriceTable:
    root = Section(read_toml(path), path)
    taken = root.string("taken", required=True)
    listed = root.section("region")
    regions = {}
    for name in list(listed.data):
        regions[name] = _region(listed.section(name), name)
    listed.done()
    root.done()
    return PriceTable(path, taken, regions)


def _region(section: Section, name: str) -> RegionPrices:
    def figures(key: str, allowed: tuple[str, ...] | None = None) -> dict[str, float]:
        table = section.section(key)
        for figure in list(table.data):
            if allowed is not None and figure not in allowed:
                raise table.error(figure, table.data[figure], f"one of {', '.join(allowed)}")
            table.number(figure, above=0.0)
        table.done()
        return {figure: float(value) for figure, value in table.data.items()}

    not_found = section.raw("not_found", [])
    if not isinstance(not_found, list) or any(not isinstance(item, str) for item in not_found):
        raise section.error("not_found", not_found, "a list of the figures looked for and not found")
    prices = RegionPrices(
        name,
        as_of=section.string("as_of", ""),
        found_in=section.string("found_in", ""),
        sources=tuple(s for s in (section.string("sagemaker_offer"), section.string("athena_offer")) if s),
        training=figures("training"),
        hosting=figures("hosting"),
        feature_store=figures("feature_store", ("write_per_million", "read_per_million")),
        athena=figures("athena", ("per_tb_scanned",)),
    )
    section.done()
    for item in not_found:  # a figure both given and said to be missing: one of the two is stale
        table, _, key = item.partition(" ")
        given = getattr(prices, table, None) if table in (*INSTANCE_TABLES, "feature_store", "athena") else None
        if given and (key in given if key else True):
            raise section.error("not_found", item, "only figures the region has no price for")
    return prices
