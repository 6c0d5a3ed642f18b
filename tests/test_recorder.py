"""The recorder: durable, batched, readable while written, and losing at most one flush on SIGKILL."""

import json
import signal
import subprocess
import sys
import time

from harness.events import Recorder, load_events, load_meta
from harness.events.context import bound

CHILD = """
import sys, time
from harness.events import Recorder
recorder = Recorder(sys.argv[1], "run-kill", flush_interval=0.25)
i = 0
while True:
    recorder.record("api_attempt", seq=i)
    if i % 200 == 0:
        print(i, time.monotonic(), flush=True)
    i += 1
    time.sleep(0.0005)
"""


def test_events_carry_the_context_and_read_back_as_a_dataframe(tmp_path):
    with Recorder(tmp_path / "events.db", "run-1") as recorder:
        with bound(level=4, worker=2, pipeline="p-7", stage="feature_set"):
            recorder.record(
                "api_attempt",
                service="sagemaker",
                operation="DescribeFeatureGroup",
                attempt=1,
                outcome="ok",
                duration=0.01,
                status=200,
            )
        recorder.record("run_end")
    events = load_events(tmp_path)
    assert list(events["kind"]) == ["api_attempt", "run_end"]
    first = events.iloc[0]
    assert (first.level, first.worker, first.pipeline, first.stage) == (4, 2, "p-7", "feature_set")
    assert json.loads(first.detail) == {"status": 200}


def test_events_can_be_read_while_the_run_writes_them(tmp_path):
    recorder = Recorder(tmp_path / "events.db", "run-2", flush_interval=0.05)

    def seen(count: int) -> bool:
        """Whether a reader sees `count` events while the recorder keeps the file open (with
        patience for a busy machine: this is not a timing claim)."""
        deadline = time.monotonic() + 30
        while len(load_events(tmp_path)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(load_events(tmp_path)) == count

    try:
        recorder.record("stage_start")
        assert seen(1)
        recorder.record("stage_end")
        assert seen(2)
    finally:
        recorder.close()


def test_a_run_caught_before_its_schema_is_written_reads_as_no_events_yet(tmp_path):
    import sqlite3

    sqlite3.connect(tmp_path / "events.db").close()  # the file exists, the recorder has not made its tables
    assert load_events(tmp_path).empty and load_meta(tmp_path) == {}


def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path):
    db = tmp_path / "events.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True)
    marks = []
    # three seconds of recording, counted from the child's first record (its start-up, importing
    # pandas and more, may take seconds of its own on a loaded machine)
    while not marks or time.monotonic() - marks[0][1] < 3.0:
        seq, at = child.stdout.readline().split()
        marks.append((int(seq), float(at)))
    child.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    child.wait()
    recorded = load_events(db)
    seqs = {json.loads(d)["seq"] for d in recorded["detail"]}
    # Everything recorded more than one second before the kill is on disk.
    safe = max(seq for seq, at in marks if at < killed_at - 1.0)
    assert set(range(safe + 1)) <= seqs


WRITER = """
import sys
from harness.events import Recorder
recorder = Recorder(sys.argv[1], "run-multi", flush_interval=0.05)
for i in range(500):
    recorder.record("api_attempt", writer=sys.argv[2], seq=i)
recorder.close()
"""


def test_several_processes_can_record_into_one_run(tmp_path):
    db = tmp_path / "events.db"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(w)]) for w in range(3)]
    assert [w.wait(60) for w in writers] == [0, 0, 0]
    events = load_events(db)
    assert len(events) == 1500
    per_writer = events.detail.map(lambda d: json.loads(d)["writer"]).value_counts()
    assert sorted(per_writer.tolist()) == [500, 500, 500]


def _hold_write_lock(db_path):
    """Another connection takes the write lock, as a second writer stuck mid-commit would."""
    import sqlite3

    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def _until(condition, what: str, patience: float = 60.0) -> None:
    deadline = time.monotonic() + patience
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def test_a_write_refused_by_a_locked_database_is_kept_and_written_later(tmp_path):
    db = tmp_path / "events.db"
    recorder = Recorder(db, "run-locked", flush_interval=0.02, busy_timeout=0.01)
    holder = _hold_write_lock(db)
    for i in range(100):
        recorder.record("api_attempt", seq=i)
    _until(lambda: recorder.failed_writes >= 2, "two refused flushes")  # the batch was refused, twice
    for i in range(100, 150):
        recorder.record("api_attempt", seq=i)
    holder.rollback()
    holder.close()
    recorder.close()
    seqs = [json.loads(d)["seq"] for d in load_events(db)["detail"]]
    assert seqs == list(range(150))  # all of them, in the order they were recorded


def test_rows_the_database_never_takes_are_kept_beside_it_and_read_back(tmp_path, capsys):
    db = tmp_path / "events.db"
    recorder = Recorder(db, "run-stuck", flush_interval=0.02, busy_timeout=0.01, close_patience=0.1)
    recorder.record("stage_start")
    recorder.flush()
    holder = _hold_write_lock(db)
    for i in range(20):
        recorder.record("api_attempt", seq=i)
    recorder.close()  # still locked: the rows go to a file beside the database
    holder.rollback()
    holder.close()
    assert "20 events could not be written" in capsys.readouterr().err
    assert len(list(tmp_path.glob("events.unwritten-*.jsonl"))) == 1
    events = load_events(tmp_path)
    assert list(events.kind) == ["stage_start"] + ["api_attempt"] * 20
    assert list(events.id) == list(range(1, 22))
    assert len(load_events(tmp_path, ["api_attempt"])) == 20


def test_a_finalized_run_folder_is_one_file_without_a_write_ahead_log(tmp_path):
    from harness.events import finalize

    with Recorder(tmp_path / "events.db", "run-final") as recorder:
        recorder.record("run_end")
    finalize(tmp_path / "events.db")
    load_events(tmp_path)  # reading it afterwards leaves nothing behind either
    load_meta(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.db"]


def test_a_run_folder_is_finalized_even_while_a_reader_has_it_open(tmp_path):
    """A reader mid-read at the run's end (the live view's feed, a report read mid-run): SQLite
    refuses to leave WAL at once; finalize waits for the reader to let go instead of failing."""
    import sqlite3
    import threading

    from harness.events import finalize

    with Recorder(tmp_path / "events.db", "run-read") as recorder:
        recorder.record("run_end")
    reader = sqlite3.connect(f"file:{tmp_path / 'events.db'}?mode=ro", uri=True, check_same_thread=False)
    reader.execute("SELECT count(*) FROM events").fetchall()
    threading.Timer(0.3, reader.close).start()
    started = time.monotonic()
    finalize(tmp_path / "events.db")
    assert time.monotonic() - started >= 0.25  # it waited for the reader
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.db"]
    assert len(load_events(tmp_path)) == 1


def test_events_forwarded_from_another_host_arrive_once_in_order_on_the_runners_clock(tmp_path):
    """A Ray worker's recorder: batches go to the sink in the run folder; a batch the sink could
    not take (the connection dropped) is sent again, ahead of newer rows."""
    from harness.events.forwarding import EventSink, ForwardingRecorder, clock_offset

    sink = EventSink(tmp_path / "events.db")
    refused = []

    def send(sender, first, rows):
        if len(refused) < 2:
            refused.append(len(rows))
            raise ConnectionError("the hub did not answer")
        sink.write(sender, first, rows)

    # the runner's host booted 1000 s before this one; round trips of 4, 2 and 6 s: the shortest
    # counts, the remote reading taken halfway through it
    local = iter([10.0, 14.0, 20.0, 22.0, 30.0, 36.0])
    remote = iter([1012.5, 1021.0, 1033.5])
    offset = clock_offset(lambda: next(remote), local_monotonic=lambda: next(local))
    assert offset == 1021.0 - 21.0
    ahead = 1000.0
    began = time.monotonic()
    recorder = ForwardingRecorder(send, "run-ray", clock_offset=offset, flush_interval=0.02)
    for i in range(100):
        recorder.record("api_attempt", seq=i)
    _until(lambda: len(refused) == 2, "two refused sends")
    for i in range(100, 150):
        recorder.record("api_attempt", seq=i)
    recorder.close()
    events = load_events(tmp_path)
    assert [json.loads(d)["seq"] for d in events.detail] == list(range(150))
    assert events.mono_time.between(began + ahead, time.monotonic() + ahead).all()  # on the runner's clock


def test_a_batch_the_sink_took_after_the_sender_gave_up_is_not_written_twice(tmp_path):
    """The hub was only slow: the send timed out, the batch was committed anyway, and the sender
    sends it again with newer rows. The sink skips what it has."""
    from harness.events.forwarding import EventSink, ForwardingRecorder

    sink = EventSink(tmp_path / "events.db")
    timeouts = []

    def send(sender, first, rows):
        sink.write(sender, first, rows)
        if not timeouts:
            timeouts.append(len(rows))
            raise TimeoutError("no answer within SEND_PATIENCE")  # ...but it was committed

    recorder = ForwardingRecorder(send, "run-ray", flush_interval=0.02)
    for i in range(50):
        recorder.record("api_attempt", seq=i)
    _until(lambda: timeouts, "a send that timed out")
    for i in range(50, 80):
        recorder.record("api_attempt", seq=i)
    recorder.close()
    assert [json.loads(d)["seq"] for d in load_events(tmp_path).detail] == list(range(80))
    assert recorder.written == sink.written == 80


def test_events_that_never_reach_the_run_folder_are_kept_on_the_workers_host(tmp_path, capsys):
    from harness.events.forwarding import ForwardingRecorder

    def send(sender, first, rows):
        raise ConnectionError("the runner is gone")

    recorder = ForwardingRecorder(send, "run-ray", flush_interval=0.02, close_patience=0.1, spill_dir=tmp_path)
    for i in range(20):
        recorder.record("api_attempt", seq=i)
    recorder.close()
    assert "20 events could not be written to the run folder (from " in capsys.readouterr().err
    assert recorder.spilled == 20 and recorder.spill_path.parent == tmp_path  # the Ray worker reports these
    [spilled] = tmp_path.glob("events.unwritten-*.jsonl")  # as load_events reads it, once put beside events.db
    assert [json.loads(json.loads(line)["detail"])["seq"] for line in spilled.read_text().splitlines()] == list(
        range(20)
    )
