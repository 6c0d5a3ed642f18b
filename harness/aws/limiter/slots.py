"""One key's concurrency slots (e.g. 4 feature groups Creating at once), as leases, handed
out in arrival order.

A caller joins the line with a ticket and asks again until a slot is free for it; nobody who
arrives later can take a slot ahead of those already waiting. A granted slot is a lease with
an expiry: its holder renews it while it works, releases it when done, and if the holder dies
the slot comes back once the lease runs out. Non-blocking and in AWS time, like the pacing.
"""

from __future__ import annotations

import math
import secrets
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class Lease:
    key: str
    token: str
    expires: float  # AWS time


class SlotQueue:
    def __init__(self, key: str):
        self.key = key
        self._holders: dict[str, float] = {}  # token -> expires
        self._tickets: OrderedDict[str, float] = OrderedDict()  # ticket -> due again by
        self.expired = 0  # leases that ran out (their holder stopped renewing)

    def _tidy(self, now: float) -> None:
        for token in [t for t, expires in self._holders.items() if expires <= now]:
            del self._holders[token]
            self.expired += 1
        for ticket in [t for t, due in self._tickets.items() if due < now]:
            del self._tickets[ticket]

    def ask(
        self, ticket: str | None, limit: int, lease_seconds: float, now: float, stale_after: float
    ) -> tuple[str, Lease | None]:
        """(ticket, lease) once a slot is free for this ticket (it is then spent), else
        (ticket, None): ask again later (within `stale_after` AWS seconds, or lose the place)."""
        self._tidy(now)
        if ticket is None or ticket not in self._tickets:
            ticket = ticket or secrets.token_hex(8)
            self._tickets[ticket] = math.inf
        free = limit - len(self._holders)
        position = next(i for i, t in enumerate(self._tickets) if t == ticket)
        if position < free:
            del self._tickets[ticket]
            self._holders[ticket] = now + lease_seconds
            return ticket, Lease(self.key, ticket, now + lease_seconds)
        self._tickets[ticket] = now + stale_after
        return ticket, None

    def leave(self, ticket: str) -> None:
        self._tickets.pop(ticket, None)

    def adopt(self, token: str, expires: float) -> None:
        """A lease granted elsewhere (by Redis, before it became unreachable) counts here too."""
        self._holders[token] = expires

    def release(self, token: str) -> bool:
        """False when the lease had already run out (or was never granted): harmless."""
        return self._holders.pop(token, None) is not None

    def renew(self, token: str, lease_seconds: float, now: float) -> Lease | None:
        """The lease extended from now, or None when it had already run out (the slot may be
        someone else's by now)."""
        self._tidy(now)
        if token not in self._holders:
            return None
        self._holders[token] = now + lease_seconds
        return Lease(self.key, token, now + lease_seconds)

    def waiting(self) -> int:
        return len(self._tickets)

    def held(self, now: float) -> int:
        self._tidy(now)
        return len(self._holders)
