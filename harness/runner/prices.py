"""The price table a run's cost is estimated from (harness/prices.toml: one region's list prices)."""

from __future__ import annotations

import tomllib
from pathlib import Path

PRICES = Path(__file__).resolve().parents[1] / "prices.toml"


def load_prices() -> dict:
    return tomllib.loads(PRICES.read_text())
