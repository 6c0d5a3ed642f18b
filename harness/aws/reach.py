"""An endpoint that does not answer at all: what counts as that, and what a person is told.

No answer means the request never got one: the name does not resolve, the connection is
refused or not made in time, a proxy does not answer, or the connection closes before any
answer. Unlike a throttle or a 5xx, waiting seldom fixes it: it is no network, a wrong region or
a wrong endpoint URL. So calls retry it briefly (`RetrySettings.unreachable_seconds`), set-up
calls give up within seconds, and the command says in one line which endpoint, which region,
and what to check (exit code `EXIT_CODE`).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ProxyConnectionError,
    ReadTimeoutError,
)

CONNECTION_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError, ConnectionClosedError)
# the same, as the hooks see them in a call's error code (an exception's class name)
NO_ANSWER_CODES = frozenset(kind.__name__ for kind in CONNECTION_ERRORS)
# A set-up read (the account guard, doctor) that gets nothing back within its read timeout is
# unreachable too. Not so in a run, where an answer held past the read timeout is a fault the
# simulator models (`timeout_rate`) and the policies retry within their attempt budget.
SETUP_NO_ANSWER = (*CONNECTION_ERRORS, ReadTimeoutError)
TIMEOUT = re.compile(r"(connect|read) timeout=([0-9.]+)")  # in urllib3's message
EXIT_CODE = 5  # README, "Exit codes": an endpoint of the account did not answer


class Unreachable(Exception):
    """An endpoint did not answer: `str()` is the one line a command prints."""

    def __init__(self, endpoint: str, region: str | None, reason: str, check: str) -> None:
        self.endpoint, self.region, self.reason, self.check = endpoint, region, reason, check
        where = f"{endpoint} (region {region})" if region else endpoint
        super().__init__(f"cannot reach {where}: {reason}. Check {check}")


def unreachable(err: BaseException, region: str | None) -> Unreachable:
    """What a connection error (one of SETUP_NO_ANSWER) means, in words a person can act on."""
    kwargs = getattr(err, "kwargs", {})
    url = kwargs.get("proxy_url") if isinstance(err, ProxyConnectionError) else kwargs.get("endpoint_url")
    endpoint = (urlsplit(url).netloc or str(url)) if url else "the endpoint"
    causes = list(_chain(err))
    if isinstance(err, ProxyConnectionError):
        return Unreachable(endpoint, region, "the proxy does not answer", "HTTPS_PROXY and HTTP_PROXY")
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        host = endpoint.split(":")[0]
        if region and host.endswith((".amazonaws.com", ".amazonaws.com.cn")) and region not in known_regions():
            # botocore makes a name for any region; one it does not list whose name does not
            # resolve either is most likely a typo, not the network
            return Unreachable(
                endpoint,
                region,
                f"the region {region} does not exist or has no endpoint ({host} does not resolve, and "
                "botocore lists no such region)",
                "the region: the scenario's region, or --region",
            )
        return Unreachable(
            endpoint, region, "no network: the name does not resolve", "the network (DNS, a VPN), or the region"
        )
    if isinstance(err, ConnectionClosedError):
        return Unreachable(
            endpoint,
            region,
            "the connection closed before any answer",
            "the network (a proxy in between), or the endpoint URL",
        )
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return Unreachable(
            endpoint, region, "the connection was refused", "the network (a firewall, a proxy), or the endpoint URL"
        )
    if isinstance(err, (ConnectTimeoutError, ReadTimeoutError)):
        limit = next(filter(None, (TIMEOUT.search(str(cause)) for cause in causes)), None)
        within = f"{float(limit[2]):g} s" if limit else "the timeout"
        if isinstance(err, ReadTimeoutError):
            return Unreachable(
                endpoint,
                region,
                f"connected, but no answer within {within}",
                "the network (a proxy in between), or the endpoint URL",
            )
        return Unreachable(
            endpoint,
            region,
            f"no network: no connection within {within}",
            "the network (a firewall, a proxy, a VPN), or the region",
        )
    found = next((cause for cause in causes if isinstance(cause, OSError) and cause.strerror), None)
    reason = found.strerror.lower() if found is not None and found.strerror else type(err).__name__
    return Unreachable(endpoint, region, f"no network: {reason}", "the network, or the region")


def known_regions() -> set[str]:
    """Every region of every partition in botocore's endpoint data (no call: the bundled file)."""
    import botocore.session

    data = botocore.session.get_session().get_component("data_loader").load_data("endpoints")
    return {region for partition in data["partitions"] for region in partition["regions"]}


def _chain(err: BaseException) -> Iterator[BaseException]:
    """The error, what it wraps (botocore keeps urllib3's in kwargs["error"]) and their causes."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = (getattr(current, "kwargs", {}).get("error"), getattr(current, "reason", None))
        todo.extend([current.__cause__, current.__context__, *(e for e in inner if isinstance(e, BaseException))])
