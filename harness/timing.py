"""What the simulator tells a client about each answer's time, in two response headers: the
contract between the simulator and the harness's recorder (neither imports the other)."""

# The milliseconds (wall) that were the profile's latency or timeout, i.e. AWS behaviour. The rest
# of a client's round trip is the measurement's own cost.
INJECTED_HEADER = "x-sim-injected-ms"
# The milliseconds from the request's arrival in the simulator to its answer: what is beyond the
# injected part is the simulator's own work and its queue for moto.
SERVED_HEADER = "x-sim-served-ms"
# On virtual time (harness.virtual_time), the AWS instant (seconds on the run's clock) a request is
# sent at: the simulator handles it then, and neither sleeps nor reads the wall.
NOW_HEADER = "x-sim-aws-now"
# On virtual time, a request's place in the order its client sent them ("<series>:<n>"): the
# simulator handles them in that order (harness.sim.ordering), whichever arrives first.
ORDER_HEADER = "x-sim-order"
