"""Stress-test concurrent ML pipelines on AWS or on a local moto-based simulator."""

__version__ = "0.1.0"
