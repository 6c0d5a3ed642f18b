"""The price table a run's cost is estimated from (harness/prices.toml: one region's list prices)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypedDict, cast

PRICES = Path(__file__).resolve().parents[1] / "prices.toml"


class Prices(TypedDict):
    date: str
    region: str
    source: str
    training: dict[str, float]  # instance type -> USD per instance-hour
    hosting: dict[str, float]
    feature_store: dict[str, float]  # write_per_million, read_per_million


def load_prices() -> Prices:
    return cast(Prices, tomllib.loads(PRICES.read_text()))  # the file's shape, as written above
