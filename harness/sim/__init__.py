"""A local AWS simulator: moto server behind middleware that adds AWS-like quotas, latency,
faults, resource lifecycles in scaled time, and the APIs moto lacks."""
# On every simulated response: the milliseconds (wall) that were the profile's latency or
# timeout, i.e. AWS behaviour. The rest of a client's round trip is the measurement's own cost.
INJECTED_HEADER = "x-sim-injected-ms"
# And the milliseconds from the request's arrival in the application to its answer: what is
# beyond the injected part is the simulator's own work and its queue for moto.
SERVED_HEADER = "x-sim-served-ms"

from harness.sim.profile import Profile, available_profiles, load_profile
from harness.sim.server import Simulator

__all__ = ["INJECTED_HEADER", "SERVED_HEADER", "Profile", "Simulator", "available_profiles", "load_profile"]
