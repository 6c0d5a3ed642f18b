"""The live view of one run: its server bound before the run begins, its feed reading the run's
events while it goes, both stopped once it ends (or kept, serving the final figures)."""

from __future__ import annotations

import threading
from pathlib import Path

from harness.live.feed import EventFeed
from harness.live.server import LiveServer
from harness.live.state import LiveState


class LiveView:
    def __init__(self, state: LiveState, events_db: str | Path, port: int = 0, interval: float = 0.5) -> None:
        self.state = state
        self.server = LiveServer(state, port)
        self.feed = EventFeed(events_db, state, interval)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> LiveView:
        self.server.start()
        self.feed.start()
        return self

    def run_ended(self) -> None:
        """The run is over: its last events read, no more reads (the page keeps its figures)."""
        self.feed.stop()

    def serve_until_interrupted(self) -> None:
        """--ui-keep: the final figures stay up until Ctrl-C."""
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass

    def close(self) -> None:
        self.feed.stop()
        self.server.stop()
