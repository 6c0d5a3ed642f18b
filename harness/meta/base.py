"""The Meta interface. `Meta(platform="aws")` picks the implementation by name.

List methods return DataFrames whose columns are LIST_COLUMNS[method] (stable: reports and
dashboards rely on them); `details=True` adds a `details` column with each item's describe
answer. Describe methods return a dict, or None when the artifact does not exist.
"""

from __future__ import annotations

from typing import NoReturn

import pandas as pd

LIST_COLUMNS = {
    "data_sources": ["name", "database", "location", "created", "run_id"],
    "feature_sets": ["name", "status", "offline_store_status", "created"],
    "models": ["name", "arn", "created", "description"],
    "endpoints": ["name", "status", "created", "modified"],
    "training_jobs": ["name", "status", "created", "ended"],
}
PLATFORMS = ("aws", "azure", "gcp")


class Meta:
    platform = "abstract"

    def __new__(cls, *args, platform: str | None = None, **kwargs):
        if cls is Meta:
            from harness.meta.aws import AWSMeta
            from harness.meta.stubs import AzureMeta, GCPMeta

            chosen = {"aws": AWSMeta, "azure": AzureMeta, "gcp": GCPMeta}.get(platform or "aws")
            if chosen is None:
                raise ValueError(f"Meta platform {platform!r} is not one of {', '.join(PLATFORMS)}")
            return super().__new__(chosen)
        return super().__new__(cls)

    def __init__(self, *args, platform: str | None = None, **kwargs):
        pass

    def _missing(self, method: str) -> NoReturn:
        raise NotImplementedError(f"{type(self).__name__} ({self.platform}) does not implement {method}()")

    # List API
    def data_sources(self, details: bool = False) -> pd.DataFrame:
        self._missing("data_sources")

    def feature_sets(self, details: bool = False) -> pd.DataFrame:
        self._missing("feature_sets")

    def models(self, details: bool = False) -> pd.DataFrame:
        self._missing("models")

    def endpoints(self, details: bool = False) -> pd.DataFrame:
        self._missing("endpoints")

    def training_jobs(self, details: bool = False) -> pd.DataFrame:
        self._missing("training_jobs")

    # Describe API
    def data_source(self, name: str) -> dict | None:
        self._missing("data_source")

    def feature_set(self, name: str) -> dict | None:
        self._missing("feature_set")

    def model(self, name: str) -> dict | None:
        self._missing("model")

    def endpoint(self, name: str) -> dict | None:
        self._missing("endpoint")


def frame(method: str, rows: list[dict], details: list[dict | None] | None = None) -> pd.DataFrame:
    columns = LIST_COLUMNS[method] + (["details"] if details is not None else [])
    if details is not None:
        rows = [{**row, "details": d} for row, d in zip(rows, details, strict=False)]
    return pd.DataFrame(rows, columns=columns)
