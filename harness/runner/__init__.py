"""Scenarios, the worker pool, sweeps over N, graceful stop and cleanup."""
