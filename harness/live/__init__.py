"""The live view of a run (`harness run --ui`): a page on 127.0.0.1 that shows the run as it goes.

It is kept apart from the runner, as Locust keeps its runners, stats and web UI apart: the run
only records events; the feed reads them back from the run's events.db (feed.py) into live
figures (state.py), and the server hands those to the page (server.py, page.py). view.py starts
the three before a run and stops them after it; the run never waits on any of them.
"""

from harness.live.state import LiveState
from harness.live.view import LiveView

__all__ = ["LiveState", "LiveView"]
