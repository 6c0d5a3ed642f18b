"""Meta's platforms, CachedMeta's single flight, and the deprecation notice."""

import threading
import warnings

import pytest

from harness.clock import ManualClock
from harness.events import load_events
from harness.meta import AWSServiceBroker, AzureMeta, CachedMeta, GCPMeta, Meta


def test_meta_picks_the_platform_by_name_and_the_stubs_say_what_is_missing(aws_ctx):
    assert type(Meta(aws_ctx)).__name__ == "AWSMeta"
    assert isinstance(Meta(platform="azure"), AzureMeta) and isinstance(Meta(platform="gcp"), GCPMeta)
    with pytest.raises(NotImplementedError, match=r"AzureMeta \(azure\) does not implement models\(\)"):
        Meta(platform="azure").models()
    with pytest.raises(NotImplementedError, match="gcp.*endpoint"):
        Meta(platform="gcp").endpoint("x")
    with pytest.raises(ValueError, match="aws, azure, gcp"):
        Meta(platform="oracle")


def test_cached_meta_makes_one_call_for_32_concurrent_callers_then_respects_the_ttl_in_aws_time(aws_ctx):
    clock = ManualClock(time_scale=1 / 30)  # a 10-second TTL is 10 AWS seconds, a third of a wall second
    cached = CachedMeta(Meta(aws_ctx), ttl={"models": 10.0}, recorder=aws_ctx.recorder, clock=clock)
    barrier = threading.Barrier(32)

    def call():
        barrier.wait()
        cached.models()

    threads = [threading.Thread(target=call) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def list_attempts():
        aws_ctx.recorder.flush()
        events = load_events(aws_ctx.events_path, ["api_attempt"])
        return int((events.operation == "ListModelPackageGroups").sum())

    assert list_attempts() == 1
    clock.advance(5.0)
    cached.models()
    assert list_attempts() == 1  # within the TTL: no call
    clock.advance(6.0)
    cached.models()
    assert list_attempts() == 2  # after it: one
    events = load_events(aws_ctx.events_path, ["cache_hit", "cache_miss"])
    assert (events.kind == "cache_miss").sum() == 2 and (events.kind == "cache_hit").sum() == 32


def test_the_deprecation_notice_is_exact_and_appears_once(aws_ctx, capsys):
    broker = AWSServiceBroker(Meta(aws_ctx))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        broker.models()
        broker.endpoints()
    lines = [line for line in capsys.readouterr().err.splitlines() if "AWSServiceBroker" in line]
    assert lines == ["WARNING AWSServiceBroker is deprecated and will be removed in version 0.9."]
    assert [str(w.message) for w in caught if w.category is DeprecationWarning] == [
        "AWSServiceBroker is deprecated and will be removed in version 0.9."
    ]
