"""Events: the one append-only record of a run, and how to read it back."""

from harness.events.recorder import Recorder, finalize
from harness.events.schema import KINDS, Event
from harness.events.store import load_events, load_meta

__all__ = ["Event", "KINDS", "Recorder", "finalize", "load_events", "load_meta"]
