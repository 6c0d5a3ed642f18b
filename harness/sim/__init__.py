"""A local AWS simulator: moto server behind middleware that adds AWS-like quotas, latency,
faults, resource lifecycles in scaled time, and the APIs moto lacks."""

from harness.profiles import Profile, available_profiles, load_profile
from harness.sim.server import Simulator

__all__ = ["Profile", "Simulator", "available_profiles", "load_profile"]
