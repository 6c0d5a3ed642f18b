"""What the account enforced, read from what it did, not from the quota table.

- A concurrency quota: every refusal (ResourceLimitExceeded, or Athena's TooManyRequestsException
  answered as an error) came while the run's resources filled the slots: the median number in
  progress at the moments of refusal is about the limit (other tenants' resources only make
  it lower still). The median, not the most: a slot handed from one pipeline to the next is
  counted twice for the milliseconds between the create and the previous holder's record.
  Each hold runs from the create or start the account accepted: a refused attempt holds no
  slot, and a hold that covered it would count the refused resource at its own refusal (one
  too many every time). Without refusals there is no figure: the account allowed at least what
  was in progress. (tests/test_enforced.py checks this against accounts whose limit is known.)
- A rate quota: in the windows where calls were throttled, the calls that got through measure
  the rate the account allowed (bursts make it read a little high). A few throttles say only
  that a burst met the bucket, not what the rate is: it takes at least MIN_THROTTLES, and
  THROTTLED_SHARE of the operation's attempts, to read one, and only windows where a third of
  the calls or more were throttled count (elsewhere what got through is the demand).

The bottleneck analysis takes the lower of the table and what was enforced, and the report
flags every row where they disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REFUSALS = ("ResourceLimitExceeded",)
WINDOW_AWS_SECONDS = 10.0
MIN_THROTTLES = 10
THROTTLED_SHARE = 0.02
SATURATED_SHARE = 0.33
DISAGREE = 0.9  # enforced below this share of the table's limit: the table is wrong for this account


def refusals(attempts: pd.DataFrame) -> pd.DataFrame:
    """Attempts a full concurrency quota refused (not throttled: the slot, not the rate)."""
    return attempts[
        attempts.error_code.isin(REFUSALS)
        | ((attempts.error_code == "TooManyRequestsException") & (attempts.outcome == "error"))
    ]


def in_progress_at(holds: pd.DataFrame, moments) -> np.ndarray:
    """How many holds were open at each moment."""
    starts = (holds.mono_time - holds.duration).to_numpy()
    ends = holds.mono_time.to_numpy()
    moments = np.asarray(list(moments), dtype=float)
    return ((starts[None, :] <= moments[:, None]) & (ends[None, :] > moments[:, None])).sum(axis=1)


def observed(ev: pd.DataFrame, attempts: pd.DataFrame, time_scale: float) -> dict:
    """Per quota the level met: {"service.Operation": {"kind", "refused" or "throttled", "enforced"}}."""
    out = {}
    holds = ev[ev.kind == "quota_hold"]
    for (service, operation), refused in refusals(attempts).groupby(["service", "operation"]):
        mine = holds[(holds.service == service) & (holds.operation == operation)]
        if mine.empty:
            continue
        busy = int(np.median(in_progress_at(mine, refused.mono_time)))
        if busy:
            out[f"{service}.{operation}"] = {"kind": "concurrency", "refused": int(len(refused)), "enforced": busy}
    window = WINDOW_AWS_SECONDS * time_scale
    for (service, operation), calls in attempts.groupby(["service", "operation"]):
        throttled = calls[calls.outcome == "throttled"]
        if len(throttled) < MIN_THROTTLES or len(throttled) < THROTTLED_SHARE * len(calls):
            continue
        bins = ((calls.mono_time - calls.mono_time.min()) // window).astype(int)
        tried = calls.groupby(bins).size()
        refused = calls[calls.outcome == "throttled"].groupby(bins[calls.outcome == "throttled"]).size()
        # only windows where the bucket was empty most of the time: a third or more throttled (else
        # what got through is the demand, and reads the rate low)
        full = [b for b, n in refused.items() if n >= SATURATED_SHARE * tried[b]]
        if not full:
            continue
        through = calls[(calls.outcome != "throttled") & bins.isin(full)]
        per_window = through.groupby(bins[through.index]).size().reindex(sorted(full), fill_value=0)
        if not per_window.median():
            # most saturated windows let nothing through: a throttling storm or an outage, not a
            # rate (a bucket that refills lets some through every window, at 0.1/s and more)
            continue
        out[f"{service}.{operation}"] = {
            "kind": "rate",
            "throttled": int(len(throttled)),
            "enforced": float(per_window.median()) / WINDOW_AWS_SECONDS,
        }
    return out


def merged(levels: list[dict]) -> dict:
    """Across levels: for a concurrency quota the most ever in progress where refusals came, for a
    rate the highest rate that got through while throttled (the account allowed at least that)."""
    out: dict[str, dict] = {}
    for level in levels:
        for key, seen in (level.get("enforced") or {}).items():
            have = out.get(key)
            if have is None or seen["enforced"] > have["enforced"]:
                out[key] = dict(seen, level=level["level"])
    return out
