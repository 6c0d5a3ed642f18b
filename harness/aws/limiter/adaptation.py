"""One key's rate when nobody is sure of the quota: adapted from AWS's answers, in AWS time.

- **One cut per throttle episode.** A throttled answer to a call sent after the last cut starts
  an episode: the rate is cut once, to BETA times the rate calls were really going at (the
  measured send rate, where that is lower than the allowed rate); an episode that comes while
  the rate is still recovering from the last one cuts by BETA squared (the last cut was not
  enough). Answers to calls already in flight at the cut belong to that episode and change
  nothing, as TCP cuts once per window.
- **Growth after a cut follows CUBIC** (RFC 9438), scaled to W, just below the rate that was
  throttled: from where the cut left the rate back to W within RECOVERY_CALLS calls (concave,
  quick at first), a plateau near W, then faster and faster above it (convex), so a cut that
  undershot is made good soon and a quota that was raised is found. A deeper cut starts lower
  on a steeper curve: the next success does not undo it.
- **Ceilings and estimates.** A published or synced rate is a ceiling the rate never exceeds.
  An estimate is a starting point: until the first throttle the rate may double every DOUBLING
  AWS seconds (TCP's slow start), so a table that is too low costs seconds, not the run.
- **An early throttle is about the burst.** One in the first EARLY seconds of a key shows that
  AWS's bucket ran dry, not how fast it refills; the cut is made from a deliberately low
  estimate and the rate then grows by slow start, not CUBIC, until the next throttle.
- **Only while it limits.** Time counts towards growth only while callers queue for the key
  (demand is at the rate); an idle key does not drift up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BETA = 0.8  # the cut: a share of the rate that was throttled
NEAR = 0.95  # the plateau after a cut: W, this share of the rate that was throttled (which was too fast)
# Growth after a cut: rate = W (1 + C (x - K)^3), where x counts calls at W since the cut (AWS
# seconds times W) and K calls bring the rate back to W. Counting in calls, not seconds, keeps
# the share of throttled calls the same for a 1/s quota and a 1000/s one.
RECOVERY_CALLS = 60.0
DOUBLING = 1.0  # AWS seconds: an estimated rate, before any throttle, doubles this fast
FLOOR = 0.001  # never below this share of the table's rate
EARLY = 2.0  # AWS seconds: a throttle this soon after a key's first call is about AWS's burst


@dataclass(frozen=True)
class Pace:
    """What the quota table says for a key, in AWS time: the rate to start from, the bucket the
    limiter may spend (its share of the account's burst), and whether the rate is a ceiling."""

    rate: float
    capacity: float
    ceiling: bool


class AdaptiveRate:
    def __init__(self, pace: Pace, now: float):
        self.pace = pace
        self.rate = pace.rate
        self.throttled_at: float | None = None  # W: the rate the last episode was throttled at
        self.depth = BETA  # the share of throttled_at the last cut left: growth starts from there
        self.last_cut = -math.inf  # AWS time of the last cut
        self._since_cut = 0.0  # AWS seconds since the last cut during which the key was limiting
        self._seen = self._born = now
        self._slow_start = not pace.ceiling  # doubling while waited on, until a throttle ends it
        self.cuts = 0

    @property
    def floor(self) -> float:
        return self.pace.rate * FLOOR

    def on_throttle(self, sent_at: float, now: float, send_rate: float | None) -> bool:
        """A throttled answer to a call granted at `sent_at`; True when it started an episode."""
        self._seen = max(self._seen, now)
        if sent_at < self.last_cut:
            return False  # in flight when we cut: the same episode
        going = max(self.floor, self.rate if not send_rate else min(self.rate, send_rate))
        recovering = (
            not self._slow_start
            and self.throttled_at is not None
            and self._since_cut * NEAR * self.throttled_at < RECOVERY_CALLS
        )
        self.throttled_at, self.depth = going, BETA * BETA if recovering else BETA
        self.rate = max(self.floor, self.depth * going)
        self.last_cut, self._since_cut = now, 0.0
        self._slow_start = now - self._born < EARLY
        self.cuts += 1
        return True

    def on_success(self, sent_at: float, now: float, limiting: bool) -> None:
        """A good answer. `limiting`: callers are queueing for this key (the rate holds them back)."""
        dt, self._seen = max(0.0, now - self._seen), max(self._seen, now)
        if sent_at < self.last_cut or not limiting or dt == 0.0:
            return  # an answer to the old rate, or no demand beyond the rate: no evidence to grow on
        if self._slow_start:
            self.rate *= 2.0 ** (dt / DOUBLING)
        elif self.throttled_at is None:
            return  # at a published rate, never throttled: nothing to learn
        else:
            self._since_cut += dt
            w = NEAR * self.throttled_at
            c = (1 - self.depth / NEAR) / RECOVERY_CALLS**3  # so that the curve starts where the cut left the rate
            self.rate = max(self.rate, w * (1 + c * (self._since_cut * w - RECOVERY_CALLS) ** 3))
        if self.pace.ceiling:
            self.rate = min(self.rate, self.pace.rate)

    def capacity(self) -> float:
        """The bucket follows the rate: a cut rate gets a proportionally smaller burst."""
        return max(1.0, self.pace.capacity * min(1.0, self.rate / self.pace.rate))
