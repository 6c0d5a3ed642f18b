"""One key's token bucket, with callers served in arrival order and never committed to a wait.

A caller asks for a token and holds a ticket (its place in line). If no token is free for it,
it is told how long to wait *at the current rate*, and asks again then with the same ticket:
if the rate has risen meanwhile it goes sooner, if it was cut it waits longer. A ticket that
has not asked again long after it was due (its caller died) loses its place. Non-blocking and
in AWS time, so it runs the same in-process, behind a manager proxy, or in a Redis script.
"""

from __future__ import annotations

import math
import secrets
from collections import OrderedDict

EPSILON = 1e-9  # tokens: float refills of tiny waits must not leave a caller at 0.999999999 forever


class TokenQueue:
    def __init__(self, rate: float, capacity: float, now: float, window: float = 1.0):
        self.rate, self.capacity = rate, capacity
        self.tokens, self._stamp = capacity, now
        self._tickets: OrderedDict[str, float] = OrderedDict()  # ticket -> due again by (AWS time)
        # Measured send rate: grants in the current and previous window, interpolated.
        self._window, self._window_start, self._count, self._previous = window, now, 0, 0
        self.granted = 0
        self.last_grant_waited = False  # was the bucket the limit when the last token went?

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def set_rate(self, rate: float, capacity: float, now: float, drain: bool = False) -> None:
        """drain: AWS just throttled us, so its bucket is empty: spend nothing we had saved."""
        self._refill(now)
        self.rate, self.capacity = rate, capacity
        self.tokens = min(self.tokens, 0.0 if drain else capacity)

    def _count_grant(self, now: float) -> None:
        elapsed = now - self._window_start
        if elapsed >= self._window:
            windows = int(elapsed // self._window)
            self._previous = self._count if windows == 1 else 0
            self._count, self._window_start = 0, self._window_start + windows * self._window
        self._count += 1
        self.granted += 1

    def send_rate(self, now: float) -> float:
        """Tokens granted per AWS second, over about the last window. In the first window that
        counts the burst as if it were spread over the window: a throttle that early says more
        about AWS's bucket than about its rate, and the estimate errs low (see adaptation)."""
        elapsed = now - self._window_start
        if elapsed >= 2 * self._window:
            return 0.0
        if elapsed >= self._window:
            return self._count * (2 * self._window - elapsed) / self._window / self._window
        return (self._previous * (self._window - elapsed) / self._window + self._count) / self._window

    def _drop_stale(self, now: float) -> None:
        for ticket in [t for t, due in self._tickets.items() if due < now]:
            del self._tickets[ticket]

    def ask(self, ticket: str | None, now: float, stale_after: float) -> tuple[str | None, float]:
        """(None, 0.0): a token is yours, go. (ticket, seconds): ask again that much later with
        this ticket. stale_after: AWS seconds past its due time a silent ticket is dropped."""
        self._refill(now)
        self._drop_stale(now)
        if ticket is None and not self._tickets and self.tokens >= 1.0 - EPSILON:
            return self._grant(now, waited=False)
        if ticket is None or ticket not in self._tickets:
            ticket = ticket or secrets.token_hex(8)
            self._tickets[ticket] = math.inf
        position = next(i for i, t in enumerate(self._tickets) if t == ticket)
        if self.tokens >= position + 1.0 - EPSILON:
            del self._tickets[ticket]
            return self._grant(now, waited=True)
        wait = (position + 1.0 - self.tokens) / self.rate
        self._tickets[ticket] = now + wait + stale_after
        return ticket, wait

    def _grant(self, now: float, waited: bool) -> tuple[None, float]:
        self.tokens -= 1.0
        self.last_grant_waited = waited
        self._count_grant(now)
        return None, 0.0

    def leave(self, ticket: str) -> None:
        self._tickets.pop(ticket, None)

    def waiting(self) -> int:
        return len(self._tickets)

    def limiting(self, now: float) -> bool:
        """Callers are queueing here: demand is at (or above) the rate."""
        self._refill(now)
        return bool(self._tickets) or (self.last_grant_waited and self.tokens < 1.0)
