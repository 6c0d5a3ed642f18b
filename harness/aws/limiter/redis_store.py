"""The limiter's state in Redis, shared by every run and host that spends one account's quotas.

Each operation of the `LimiterStore` interface is one atomic Lua script call
(`limiter.lua`, a port of pacing, adaptation and slots), timed by Redis's own clock, so
neither the hosts' clocks nor the order their calls arrive in can break it. Slots are leases:
a holder that dies stops renewing and its slot comes back when the lease runs out.

Keys live under a namespace (by default the account and region the runs share) and expire a day
after their last use.

When Redis cannot be reached, `on_unreachable` decides, once per run:
- "local" (the default): a warning, and this process goes on with an in-process limiter. The
  run keeps going and still adapts to throttling, but no longer shares the account's quotas with
  other runs: they may together exceed them until it ends. A stress run that stopped because a
  coordination service blinked would measure nothing. The limiter it falls back to carries on
  Redis's clock, the keys this process paced and the slots it held, so the answers to calls
  Redis let go still count, once per throttle episode.
- "fail": every call that needs a token or a slot fails with LimiterUnreachable, so nothing
  is sent that was not paced (for accounts where production shares the quotas).
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import Callable
from importlib.resources import files
from typing import Any, TypeVar

from harness.aws.limiter.adaptation import BETA, DOUBLING, EARLY, FLOOR, NEAR, RECOVERY_CALLS, Pace
from harness.aws.limiter.stores import SLOT_POLL_SECONDS, STALE_WALL_SECONDS, Answer, LocalStore
from harness.aws.limiter.slots import Lease
from harness.clock import Clock

log = logging.getLogger(__name__)
T = TypeVar("T")

ON_UNREACHABLE = ("local", "fail")
KEY_PARTS = ("queue", "line", "due", "rate", "holders", "slot-line", "slot-due", "slot-counters")
KEY_TTL_SECONDS = 86400  # wall: state nobody has used for a day is gone
SOCKET_TIMEOUT_SECONDS = 2.0  # wall: an unreachable Redis is found out in this long, not hung on
ADAPTATION = (BETA, NEAR, RECOVERY_CALLS, DOUBLING, FLOOR, EARLY)


class LimiterUnreachable(ConnectionError):
    """The shared limiter could not be reached and the run said to fail rather than go on alone."""


def without_password(url: str) -> str:
    """The URL as it may be printed or written down: no user, password or `password=` query
    parameter (redis-py reads credentials from all three)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in ("password", "username")]
    )
    if not host:  # unix:///path: no host, and urlunsplit would drop the empty authority
        return f"{parts.scheme}://{parts.path}" + (f"?{query}" if query else "")
    return urlunsplit((parts.scheme, host, parts.path, query, parts.fragment))


def _number(text: str) -> float:
    return float(text)


class _CarriedOn(Clock):
    """Redis's clock, carried on by this process's once Redis is gone: a fallback's cuts are
    then timed on the clock that timed the calls Redis let go, and a throttled answer to one of
    those is told from a new episode by its send time."""

    def __init__(self, local: Clock, ahead: float):
        super().__init__(local.time_scale)
        self.local, self.ahead = local, ahead

    def now(self) -> float:
        return self.local.now() + self.ahead


class RedisStore:
    """`RedisStore(url, namespace, time_scale)`: the LimiterStore on a Redis server.
    `clock`: tests only, to drive the scripts with given times; in a run Redis's TIME is the clock."""

    def __init__(
        self,
        url: str,
        namespace: str = "harness",
        time_scale: float = 1.0,
        on_unreachable: str = "local",
        clock: Clock | None = None,
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        import redis  # only runs that share a limiter need the client library

        if on_unreachable not in ON_UNREACHABLE:
            raise ValueError(f"on_unreachable {on_unreachable!r} is not one of {', '.join(ON_UNREACHABLE)}")
        self.url, self.namespace, self.time_scale = url, namespace, time_scale
        self.on_unreachable, self.on_fallback = on_unreachable, on_fallback
        self._given_clock = clock
        # A fallback limiter carries Redis's clock on from this process's (see _saw), and begins
        # the keys this process paced (see feedback).
        self._clock = clock or Clock(time_scale)
        self._ahead, self._ahead_lock = -math.inf, threading.Lock()
        self._paces: dict[str, Pace] = {}
        # a refused connection, a timeout, and a server that cannot run the script (read-only
        # after a failover, out of memory, too old for TIME before writes) alike
        self._errors = (redis.RedisError,)
        self._redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )
        self._script = self._redis.register_script(files("harness.aws.limiter").joinpath("limiter.lua").read_text())
        self._fallback: LocalStore | None = None
        self._fallback_lock = threading.Lock()
        # slots this process holds in Redis (token -> key, lease seconds): a fallback limiter
        # adopts them, or it would hand their slots out again while their holders still work
        self._leases: dict[str, tuple[str, float]] = {}
        self._stale = STALE_WALL_SECONDS / time_scale

    # --- reaching Redis ---------------------------------------------------------------------
    @property
    def shared(self) -> bool:
        """False once this process has fallen back to a limiter of its own."""
        return self._fallback is None

    def check(self) -> None:
        """Reach Redis now (at the start of a run), so a wrong URL is found before any pipeline."""
        self._run("now", "check")

    def _keys(self, key: str) -> list[str]:
        # the braces make every part of one key land on one Redis Cluster slot
        return [f"{self.namespace}:{{{key}}}:{part}" for part in KEY_PARTS]

    def _run(self, op: str, key: str, *args: str | int) -> Any:
        """The script's reply to `op` (decoded): a string, an integer, or a list of them."""
        now = "" if self._given_clock is None else repr(self._given_clock.now())
        try:
            return self._script(keys=self._keys(key), args=[op, repr(self.time_scale), now, KEY_TTL_SECONDS, *args])
        except self._errors as err:
            raise LimiterUnreachable(
                f"the shared limiter at {without_password(self.url)} cannot be reached: {err}"
            ) from None

    def _local(self) -> LocalStore:
        with self._fallback_lock:
            if self._fallback is None:
                ahead = self._ahead if self._ahead > -math.inf else 0.0  # never reached: nothing to carry on
                fallback = LocalStore(_CarriedOn(self._clock, ahead))
                for token, (key, seconds) in self._leases.items():
                    fallback.adopt(Lease(key, token, 0.0), seconds)
                self._fallback = fallback  # only once it counts them: other threads use it at once
                message = (
                    f"the shared limiter at {without_password(self.url)} cannot be reached: this process goes on with "
                    "a limiter of its own, and no longer shares the account's quotas with other runs"
                )
                log.warning(message)
                if self.on_fallback is not None:
                    self.on_fallback(message)
            return self._fallback

    def _saw(self, at: float) -> float:
        """A time Redis answered with. Taken once the answer is here, `at` less our clock is at
        most how far Redis's clock is ahead of ours; carried on from the most of those, a
        fallback's clock is never behind a time Redis gave."""
        ahead = at - self._clock.now()
        with self._ahead_lock:
            self._ahead = max(self._ahead, ahead)
        return at

    def _either(self, shared: Callable[[], T], local: Callable[[LocalStore], T]) -> T:
        if self._fallback is not None:
            return local(self._fallback)
        try:
            return shared()
        except LimiterUnreachable:
            if self.on_unreachable == "fail":
                raise
            return local(self._local())

    # --- the LimiterStore interface ---------------------------------------------------------
    def now(self) -> float:
        return self._either(lambda: self._saw(_number(self._run("now", "clock"))), lambda b: b.now())

    def ask_token(self, key: str, ticket: str | None, pace: Pace) -> Answer:
        def shared() -> Answer:
            mine = ticket or secrets.token_hex(8)
            got, wait, at = self._run(
                "ask_token",
                key,
                mine,
                "1" if ticket is None else "0",
                repr(pace.rate),
                repr(pace.capacity),
                "1" if pace.ceiling else "0",
                repr(self._stale),
            )
            return Answer(got or None, _number(wait), at=self._saw(_number(at)))

        self._paces[key] = pace
        return self._either(shared, lambda b: b.ask_token(key, ticket, pace))

    def feedback(self, key: str, sent_at: float, throttled: bool) -> float:
        def local(b: LocalStore) -> float:
            if key in self._paces:  # it may answer a call Redis let go, before any went from here
                b.begin(key, self._paces[key])
            return b.feedback(key, sent_at, throttled)

        return self._either(
            lambda: _number(
                self._run("feedback", key, repr(sent_at), "1" if throttled else "0", *map(repr, ADAPTATION))
            ),
            local,
        )

    def rate(self, key: str) -> float | None:
        def shared() -> float | None:
            rate = self._run("rate", key)
            return _number(rate) if rate else None

        return self._either(shared, lambda b: b.rate(key))

    def ask_slot(self, key: str, ticket: str | None, limit: int, lease_seconds: float) -> Answer:
        def shared() -> Answer:
            mine = ticket or secrets.token_hex(8)
            got, expires, at = self._run(
                "ask_slot", key, mine, limit, repr(lease_seconds), repr(SLOT_POLL_SECONDS + self._stale)
            )
            if got:
                return Answer(got, SLOT_POLL_SECONDS, at=self._saw(_number(at)))
            lease = Lease(key, mine, _number(expires))
            self._keep(lease, lease_seconds)
            return Answer(None, 0.0, lease=lease, at=self._saw(_number(at)))

        return self._either(shared, lambda b: b.ask_slot(key, ticket, limit, lease_seconds))

    def _keep(self, lease: Lease, lease_seconds: float | None) -> None:
        """Note a slot held in Redis (None: no longer held). One granted just as another thread
        fell back goes straight to the fallback."""
        with self._fallback_lock:
            if lease_seconds is None:
                self._leases.pop(lease.token, None)
                return
            self._leases[lease.token] = (lease.key, lease_seconds)
            if self._fallback is not None:
                self._fallback.adopt(lease, lease_seconds)

    def release(self, lease: Lease) -> None:
        self._keep(lease, None)
        self._either(lambda: self._run("release", lease.key, lease.token), lambda b: b.release(lease))

    def renew(self, lease: Lease, lease_seconds: float) -> Lease | None:
        def shared() -> Lease | None:
            expires = self._run("renew", lease.key, lease.token, repr(lease_seconds))
            self._keep(lease, lease_seconds if expires else None)
            return Lease(lease.key, lease.token, _number(expires)) if expires else None

        return self._either(shared, lambda b: b.renew(lease, lease_seconds))

    def waiters(self, key: str) -> int:
        return self._either(lambda: int(self._run("waiters", key)), lambda b: b.waiters(key))

    def held(self, key: str) -> int:
        return self._either(lambda: int(self._run("held", key)), lambda b: b.held(key))

    def leave(self, key: str, ticket: str) -> None:
        self._either(lambda: self._run("leave", key, ticket), lambda b: b.leave(key, ticket))
