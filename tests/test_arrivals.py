"""The open model's schedules (harness/runner/arrivals.py), as properties over any rate and
duration: pipeline k is due when the rate's integral since the start reaches k, and the window
holds floor(integral over the window) of them, all due before it ends. So a level never has more
arrivals than its rate asks for, and a rate for a whole number of intervals has exactly
rate x duration. The integral is worked out here on its own (a rate that moves linearly adds up
to the mean of its ends times the time), and the counts exactly, on the numbers as written."""

import math
from fractions import Fraction

from hypothesis import example, given, settings, strategies as st

from harness.runner.arrivals import RampStage, constant, ramping

HOUR = 3600
MOST = 2_000  # arrivals in one example, at most: enough for any edge, quick to check


def written(value) -> Fraction:
    """A number as a person wrote it: 0.3 is three tenths."""
    return Fraction(str(value))


@st.composite
def rate_and_duration(draw):
    """A scenario's arrival rate (an integer, pipelines per AWS hour, 1 to 100000) and any
    duration, often a whole number of the rate's intervals or a hair either side of one."""
    rate = draw(st.integers(1, 100_000))
    longest = HOUR * MOST / rate
    duration = draw(
        st.one_of(
            st.integers(1, max(1, int(longest))),
            st.floats(1e-3, longest, allow_nan=False, allow_infinity=False),
            st.integers(1, int(longest * rate / HOUR)).map(lambda k: k * HOUR / rate),  # whole intervals
            st.integers(1, int(longest * rate / HOUR)).map(lambda k: math.nextafter(k * HOUR / rate, math.inf)),
            st.integers(1, int(longest * rate / HOUR)).map(lambda k: math.nextafter(k * HOUR / rate, 0)),
        )
    )
    return rate, duration


@settings(max_examples=300, deadline=None)
@given(rate_and_duration())
@example((11, 3600))  # issue #26: 12 arrivals, the 12th at exactly t = 3600
@example((11, 7200))
@example((6, 1200))
@example((1, 1800))  # half a pipeline's share: none due
def test_a_constant_rate_has_as_many_arrivals_as_whole_intervals_fit_all_before_the_end(case):
    rate, duration = case
    schedule = constant(rate, duration)
    asked = written(rate) * written(duration) / HOUR  # pipelines the rate asks for in the window
    assert len(schedule) == math.floor(asked)  # never more than asked, and short of it by less than one
    offsets = [offset for offset, _ in schedule]
    assert all(0 <= offset < duration for offset in offsets)
    assert all(r == rate for _, r in schedule)
    interval = HOUR / rate
    assert all(
        math.isclose(offset, i * interval, rel_tol=1e-12, abs_tol=1e-9)  # one every 3600 / rate s
        for i, offset in enumerate(offsets)
    )


def test_a_whole_number_of_pipelines_an_hour_for_whole_hours_gives_exactly_that_many():
    """Issue #26's reproduction: 2,466 of these 8,000 had an extra arrival at t = duration."""
    for rate in range(1, 401):
        for hours in range(1, 21):
            schedule = constant(rate, hours * HOUR)
            assert len(schedule) == rate * hours and schedule[-1][0] < hours * HOUR, (rate, hours)


def integral(start_rate: float, stages: list[RampStage], t: float) -> float:
    """Pipelines the ramp adds up to by time t: each stage's rate moves linearly, so over any
    part of a stage it adds the mean of the rates at the part's ends times its length."""
    total, begin, now = 0.0, start_rate, 0.0
    for stage in stages:
        if t <= now + stage.duration_seconds:
            here = begin + (stage.end_rate - begin) * (t - now) / stage.duration_seconds
            return total + (begin + here) / 2 * (t - now) / HOUR
        total += (begin + stage.end_rate) / 2 * stage.duration_seconds / HOUR
        begin, now = stage.end_rate, now + stage.duration_seconds
    return total


def rate_at(start_rate: float, stages: list[RampStage], t: float) -> list[float]:
    """The rate in force at t (both sides of a stage boundary: a stage may jump)."""
    found, begin, now = [], start_rate, 0.0
    for stage in stages:
        if now <= t <= now + stage.duration_seconds:
            found.append(begin + (stage.end_rate - begin) * (t - now) / stage.duration_seconds)
        begin, now = stage.end_rate, now + stage.duration_seconds
    return found


rates = st.one_of(st.integers(0, 600), st.floats(0, 600, allow_nan=False, allow_infinity=False))
stage_list = st.lists(
    st.builds(
        RampStage, rates, st.one_of(st.integers(1, 7200), st.floats(1, 7200, allow_nan=False, allow_infinity=False))
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(rates, stage_list)
@example(0, [RampStage(60, 1800), RampStage(60, 600)])  # 15 while climbing, 10 at 60/h: 25, the last before 2400 s
@example(6, [RampStage(120, 1800)])  # 31.5 pipelines' worth: 31
@example(2, [RampStage(2, 1800)])  # one pipeline's worth exactly: one (floating point once made it none)
@example(3, [RampStage(57, 600)])  # five pipelines' worth exactly: five (once four)
@example(120, [RampStage(0, 1800), RampStage(0, 600)])  # ramping down, then nothing
def test_a_ramp_has_a_pipeline_each_time_its_rate_adds_up_to_one_more_all_before_the_end(start_rate, stages):
    schedule = ramping(start_rate, stages)
    end = sum(s.duration_seconds for s in stages)
    asked, begin = Fraction(0), written(start_rate)
    for stage in stages:
        asked += (begin + written(stage.end_rate)) / 2 * written(stage.duration_seconds) / HOUR
        begin = written(stage.end_rate)
    assert len(schedule) == math.floor(asked)
    offsets = [offset for offset, _ in schedule]
    assert offsets == sorted(offsets)
    assert all(0 <= offset < end for offset in offsets)
    for k, (offset, rate) in enumerate(schedule):  # due as the rate adds up to k, at the rate in force then
        assert math.isclose(integral(start_rate, stages, offset), k, abs_tol=1e-6 * max(1, k)), (k, offset)
        assert any(math.isclose(rate, r, rel_tol=1e-9, abs_tol=1e-9) for r in rate_at(start_rate, stages, offset))


@settings(max_examples=200, deadline=None)
@given(rate_and_duration())
def test_a_flat_ramp_is_the_constant_rate(case):
    """A ramp whose rate never moves is the constant schedule: the same arrivals at the same times."""
    rate, duration = case
    flat, steady = ramping(rate, [RampStage(rate, duration)]), constant(rate, duration)
    assert len(flat) == len(steady)
    assert all(
        math.isclose(t_flat, t_steady, rel_tol=1e-9, abs_tol=1e-6) and r_flat == r_steady
        for (t_flat, r_flat), (t_steady, r_steady) in zip(flat, steady, strict=False)
    )
