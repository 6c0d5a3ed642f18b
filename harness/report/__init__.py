"""Reports: metrics, the USL fit, the bottleneck analysis, plots, HTML/Markdown/JSON, comparison."""

from harness.report.render import render

__all__ = ["render"]
