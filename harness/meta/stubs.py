"""Placeholders for other clouds: selectable by name, every method raises NotImplementedError."""

from harness.meta.base import Meta


class AzureMeta(Meta):
    platform = "azure"


class GCPMeta(Meta):
    platform = "gcp"
