"""Virtual time: workers take turns, and AWS time jumps when every one of them waits."""

import threading
import time

import pytest

from harness.stopping import Stopped, stop_on
from harness.virtual_time import VirtualClock, VirtualTimeStuck, watch_wall_sleeps


def run_actors(clock, bodies):
    threads = [clock.thread(body, name=f"a{i}") for i, body in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
        assert not t.is_alive(), "an actor never finished"


def test_time_jumps_to_the_earliest_wake_up():
    clock = VirtualClock()
    seen = []

    def sleeper(name, seconds):
        def body():
            for _ in range(3):
                clock.sleep(seconds)
                seen.append((clock.now(), name))

        return body

    run_actors(clock, [sleeper("hour", 3600), sleeper("day", 86400)])  # a day's waits, not slept
    assert seen == [(3600, "hour"), (7200, "hour"), (10800, "hour"), (86400, "day"), (172800, "day"), (259200, "day")]


def test_the_order_of_turns_is_the_same_every_time():
    def one_run():
        clock, order = VirtualClock(), []

        def worker(i):
            def body():
                for step in range(5):
                    order.append((i, step))  # a shared list: only the turn holder touches it
                    clock.sleep((i * 7 + step * 3) % 5)

            return body

        run_actors(clock, [worker(i) for i in range(8)])
        return order, clock.now()

    first = one_run()
    for _ in range(3):
        assert one_run() == first


def test_a_parked_worker_wakes_when_what_it_waits_for_changes():
    clock, box, woke = VirtualClock(), [], []

    def consumer():
        clock.wait_until(lambda: bool(box))
        woke.append(clock.now())

    def producer():
        clock.sleep(42)
        box.append("slot")
        clock.changed()

    run_actors(clock, [consumer, producer])
    assert woke == [42]


def test_everyone_waiting_for_nobody_is_an_error_not_a_hang():
    clock, errors = VirtualClock(), []

    def body():
        try:
            clock.wait_until(lambda: False)
        except VirtualTimeStuck as err:
            errors.append(str(err))

    run_actors(clock, [body, body])
    assert len(errors) == 2 and "no worker will do" in errors[0]


def test_a_stop_wakes_sleepers_and_the_ones_under_another_signal_sleep_on():
    clock, stop, abort = VirtualClock(), threading.Event(), threading.Event()
    outcome = {}

    def stage():
        with stop_on(stop):
            try:
                clock.sleep(10_000)
            except Stopped:
                outcome["stage"] = clock.now()

    def teardown():
        with stop_on(abort):
            clock.sleep(500)
            outcome["teardown"] = clock.now()

    def stopper():
        clock.sleep(100)
        stop.set()
        clock.interrupt()

    run_actors(clock, [stage, teardown, stopper])
    assert outcome == {"stage": 100, "teardown": 500}


def test_gather_runs_tasks_as_workers_and_raises_the_first_failure():
    clock, done = VirtualClock(), []

    def task(i):
        def body():
            clock.sleep(10)
            if i == 3:
                raise ValueError("row 3")
            done.append(i)

        return body

    def parent():
        with pytest.raises(ValueError, match="row 3"):
            clock.gather([task(i) for i in range(8)], workers=2)
        done.append(("parent", clock.now()))

    run_actors(clock, [parent])
    # two at a time, 10 s each. At 20 s row 2 ends first (its worker went first) and row 4
    # starts; then row 3 fails, and no row starts after it: row 4 ends at 30 s, rows 5-7 never run
    assert done == [0, 1, 2, 4, ("parent", 30)]


def test_a_wait_outside_any_worker_moves_time_at_once_when_nobody_runs():
    clock = VirtualClock()
    clock.sleep(30)
    assert clock.now() == 30


def test_time_sleep_in_a_worker_is_counted_and_slept_on_the_clock():
    clock = VirtualClock(time_scale=1 / 60)

    def body():
        time.sleep(2)  # two wall seconds of code written for the wall: 120 AWS seconds here

    with watch_wall_sleeps():
        run_actors(clock, [body])
    assert clock.now() == pytest.approx(120)
    assert len(clock.wall_sleeps) == 1 and "time.sleep(2)" in clock.wall_sleeps[0]
    assert time.sleep.__module__ == "time"  # put back


def test_a_sleep_below_the_clocks_precision_still_moves_time():
    """botocore's token bucket asks for 2.6e-16 s when it is a hair short of a token: time must
    move, or the bucket sleeps again at the same instant for ever."""
    clock, slept = VirtualClock(start=23.453758823502778), []

    def body():
        clock.sleep(2.6e-16)
        slept.append(clock.now())

    run_actors(clock, [body])
    assert slept[0] > 23.453758823502778
