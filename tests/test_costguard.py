"""max_cost_usd: prices per region (harness/prices.toml), the scenario check, and the cost guard's
rule (harness/runner/costguard.py), on hand-made events with a clock the test moves, and on a
whole run on virtual time."""

import io
from dataclasses import replace

import pytest

from harness.config import ConfigError
from harness.events import Recorder, load_events, load_meta
from harness.events.context import bound
from harness.runner.costguard import CostGuard
from harness.runner.prices import PRICES, load_prices
from harness.runner.run import Runner
from harness.runner.scenario import load_scenario, parse_scenario
from runhelpers import nothing_in

HOUR = 3600.0
ON_AWS = {
    "target": "aws",
    "account": {"role_arn": "arn:aws:iam::111122223333:role/r"},
    "max_cost_usd": 25.0,
}


# --- prices per region ---------------------------------------------------------------------------
def test_prices_are_read_for_the_region_asked_and_never_borrowed_from_another():
    table = load_prices()
    virginia, ireland, oregon = table.region("us-east-1"), table.region("eu-west-1"), table.region("us-west-2")
    assert virginia.training["ml.m5.large"] == 0.115 and virginia.athena["per_tb_scanned"] == 5.0
    assert ireland.hosting["ml.m5.xlarge"] == 0.257 != virginia.hosting["ml.m5.xlarge"]
    assert "ml.m5.large" not in ireland.training  # not found for Ireland: no price, not Virginia's
    assert oregon.missing_for("ml.m5.large") == [
        "training ml.m5.large",
        "hosting ml.m5.large",
        "feature_store writes",
        "athena per TB scanned",
    ]
    assert table.region("ap-south-1").missing_for("ml.m5.large")  # a region the file does not list
    assert virginia.missing_for("ml.m5.large") == [] and table.guarded_regions("ml.m5.large") == ["us-east-1"]


def test_each_priced_region_names_the_offer_files_and_where_its_figures_were_found():
    table = load_prices()
    assert table.taken
    for name, region in table.regions.items():
        assert f"/AmazonSageMaker/current/{name}/index.json" in region.sources[0]
        assert region.found_in
        if region.training or region.hosting:
            assert region.as_of


def test_a_prices_file_that_gives_a_figure_it_also_says_was_not_found_is_refused(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text(
        'taken = "2026-12-06"\n[region.eu-west-1]\nnot_found = ["hosting ml.m5.xlarge"]\n'
        '[region.eu-west-1.hosting]\n"ml.m5.xlarge" = 0.257\n'
    )
    with pytest.raises(ConfigError) as refused:
        load_prices(path)
    assert str(path) in str(refused.value) and "region.eu-west-1.not_found" in str(refused.value)


# --- max_cost_usd where there are no prices -------------------------------------------------------
def test_max_cost_usd_in_a_region_without_prices_is_refused_when_the_scenario_is_read():
    with pytest.raises(ConfigError) as refused:
        parse_scenario({**ON_AWS, "region": "eu-west-1"}, "scenarios/ireland.toml", "ireland")
    message = str(refused.value)
    assert message.startswith("scenarios/ireland.toml: max_cost_usd = 25.0 is not allowed")
    assert "region eu-west-1 has no price for training ml.m5.large, hosting ml.m5.large" in message
    assert "the regions with every price for ml.m5.large: us-east-1" in message and str(PRICES) in message


def test_max_cost_usd_for_an_instance_type_no_region_prices_is_refused_too():
    data = {**ON_AWS, "region": "us-east-1", "params": {"instance_type": "ml.g5.xlarge"}}
    with pytest.raises(ConfigError, match="the regions with every price for ml.g5.xlarge: none"):
        parse_scenario(data, "gpu.toml", "gpu")


def test_max_cost_usd_is_checked_again_when_the_region_changes_after_reading(tmp_path):
    """`harness run --region eu-west-1` changes the region of a scenario that passed as read."""
    scenario = replace(load_scenario("smoke"), max_cost_usd=1.0)
    Runner(scenario, tmp_path)  # us-east-1: priced
    with pytest.raises(ConfigError, match="region eu-west-1 has no price"):
        Runner(replace(scenario, region="eu-west-1"), tmp_path)


def test_a_max_cost_usd_of_zero_is_refused():
    with pytest.raises(ConfigError, match="max_cost_usd = 0.0 is not allowed; expected a number > 0"):
        parse_scenario({"max_cost_usd": 0.0}, "free.toml", "free")


# --- the guard's rule, on hand-made events ----------------------------------------------------------
class Events:
    """A run's events.db written by hand, on a clock (AWS seconds, time scale 1) the test moves."""

    def __init__(self, path):
        self.now = 0.0
        self.recorder = Recorder(path, "run-cost")
        self.recorder.time_source = lambda: self.now

    def record(self, pipeline, kind, level=2, **fields):
        with bound(level=level, pipeline=pipeline):
            self.recorder.record(kind, **fields)

    def create(self, pipeline, operation):
        self.record(pipeline, "api_attempt", service="sagemaker", operation=operation, outcome="ok")

    def hold(self, pipeline, operation, seconds):
        self.record(pipeline, "quota_hold", service="sagemaker", operation=operation, duration=seconds)

    def pipeline(self, pipeline, hours, outcome="ok"):
        """A whole pipeline from now on: a training job `hours` long, then its end."""
        self.record(pipeline, "pipeline_start")
        self.create(pipeline, "CreateTrainingJob")
        self.now += hours * HOUR
        self.hold(pipeline, "CreateTrainingJob", hours * HOUR)
        self.record(pipeline, "pipeline_end", outcome=outcome)

    def guard(self, limit, **options):
        decisions = []
        guard = CostGuard(
            self.recorder.path,
            limit,
            load_prices().region("us-east-1"),
            "ml.m5.large",
            lambda spend: decisions.append(("stop", spend)),
            lambda spend: decisions.append(("no new pipelines", spend)),
            now=lambda: self.now,
            flush=self.recorder.flush,
            interval=None,
            **options,
        )
        return guard, decisions


@pytest.fixture
def events(tmp_path):
    made = Events(tmp_path / "events.db")
    yield made
    made.recorder.close()


TRAINING = load_prices().region("us-east-1").training["ml.m5.large"]  # USD per instance-hour


def test_a_training_job_costs_from_its_start_while_it_runs(events):
    guard, _ = events.guard(100.0)
    events.record("n2-w00-001", "pipeline_start")
    events.create("n2-w00-001", "CreateTrainingJob")
    events.now += HOUR / 2
    assert guard.look().spent_usd == pytest.approx(TRAINING / 2)  # no hold yet: counted as it runs
    events.now += HOUR / 2
    assert guard.look().spent_usd == pytest.approx(TRAINING)
    events.hold("n2-w00-001", "CreateTrainingJob", HOUR)
    events.now += HOUR  # released: it costs no more
    assert guard.look().spent_usd == pytest.approx(TRAINING)


def test_the_guard_stops_the_run_before_what_is_running_passes_the_cap(events):
    """Two training jobs run: $0.23 an hour. With a look every 10 minutes, the guard stops the
    run at the look after which the next would come too late, spent still under the cap."""
    guard, decisions = events.guard(0.1, lookahead=600.0)
    for pipeline in ("n2-w00-001", "n2-w01-001"):
        events.record(pipeline, "pipeline_start")
        events.create(pipeline, "CreateTrainingJob")
    looks = []
    while not decisions:
        events.now += 600.0
        looks.append(guard.look().spent_usd)
    ((decision, spend),) = decisions
    assert decision == "stop" and guard.tripped
    assert spend.spent_usd == looks[-1] < 0.1 < looks[-1] + 2 * TRAINING / 6  # a look's worth more passes it
    assert len(looks) == 2  # after 20 minutes (0.077 spent), not after 10 (0.038)


def test_a_pipeline_whose_expected_cost_would_cross_the_cap_is_not_started(events):
    """One pipeline has cost $0.115 (an hour of training); another has run half an hour of its
    own. A third would take the expected spend to 0.115 + 0.115 + 0.115 = 0.345."""
    guard, decisions = events.guard(0.3)
    assert guard.admit(2, "n2-w00-001")
    events.pipeline("n2-w00-001", hours=1.0)
    assert guard.admit(2, "n2-w01-001")
    events.record("n2-w01-001", "pipeline_start")
    events.create("n2-w01-001", "CreateTrainingJob")
    events.now += HOUR / 2
    assert not guard.admit(2, "n2-w00-002")
    ((decision, spend),) = decisions
    assert decision == "no new pipelines" and guard.closed and not guard.tripped
    assert spend.spent_usd == pytest.approx(1.5 * TRAINING)  # the running one at its half hour
    assert spend.expected_usd == pytest.approx(TRAINING)
    assert spend.committed_usd == pytest.approx(2 * TRAINING)  # it is expected to run its hour
    events.now += HOUR / 2
    assert not guard.admit(2, "n2-w01-002")  # refused once, never again, even were there room
    assert len(decisions) == 1


def test_pipelines_let_start_count_before_their_first_event_is_read(events):
    """Two workers ask at once: the second sees the first's pipeline though it has not started."""
    guard, _ = events.guard(0.25)
    events.pipeline("n2-w00-001", hours=1.0)  # $0.115
    assert guard.admit(2, "n2-w00-002")
    assert not guard.admit(2, "n2-w01-001")  # 0.115 + 0.115 expected + 0.115 > 0.25


def test_worker_processes_start_pipelines_unasked_so_a_look_stops_a_start_past_the_cap(events):
    guard, decisions = events.guard(0.2, gated=False)
    events.pipeline("n2-w00-001", hours=1.0)
    assert guard.look() is not None and not decisions  # 0.115 committed
    events.record("n2-w00-002", "pipeline_start")  # expected to cost 0.115 more: 0.23
    guard.look()
    assert [d for d, _ in decisions] == ["stop"]


def test_an_endpoint_without_a_hold_costs_until_its_pipeline_ends(events):
    """The SageMaker SDK makes its endpoint itself: no quota_hold, so it runs till the end."""
    guard, _ = events.guard(100.0)
    events.record("n2-w00-001", "pipeline_start")
    events.create("n2-w00-001", "CreateEndpoint")
    events.now += HOUR
    events.record("n2-w00-001", "pipeline_end", outcome="ok")
    events.now += HOUR
    hosting = load_prices().region("us-east-1").hosting["ml.m5.large"]
    assert guard.look().spent_usd == pytest.approx(hosting)


def test_athena_bills_dml_that_succeeded_or_was_cancelled_with_10_mb_at_least(events):
    guard, _ = events.guard(100.0)
    for outcome, statement_type, scanned in [
        ("SUCCEEDED", "DML", 1),  # 10 MB
        ("SUCCEEDED", "DML", 25_000_001),  # 26 MB
        ("CANCELLED", "DML", 0),  # 10 MB
        ("FAILED", "DML", 50_000_000),  # free
        ("SUCCEEDED", "DDL", 0),  # free
    ]:
        events.record(
            "n2-w00-001",
            "query",
            service="athena",
            operation="StartQueryExecution",
            outcome=outcome,
            statement_type=statement_type,
            scanned_bytes=scanned,
        )
    assert guard.look().spent_usd == pytest.approx(46e6 / 1e12 * 5.0)


# --- a whole run ---------------------------------------------------------------------------------
def test_a_capped_run_starts_no_pipeline_that_would_pass_the_cap_and_ends_under_it(simulator, tmp_path):
    """On virtual time (the same run every time): a pipeline costs about $0.0126 at N=2 on the
    calm profile, so a $0.0407 cap lets three of six start. Each worker's next pipeline is
    refused while the other's is still running; the ones in flight finish; spent <= cap."""
    scenario = replace(load_scenario("smoke"), time="virtual", profile="calm", iterations=3, max_cost_usd=0.0407)
    simulator.reset(profile=scenario.profile, seed=scenario.seed, manual_time=True)
    out = io.StringIO()
    result = Runner(scenario, tmp_path, [2], endpoint_url=simulator.endpoint_url, out=out).run()
    meta, events = load_meta(result.run_dir), load_events(result.run_dir)
    ends = events[events.kind == "pipeline_end"]
    assert result.stopped_by == "max_cost_usd" and result.exit_code == 3
    assert list(ends.outcome) == ["ok"] * 3  # started and finished: none torn down half-way
    assert meta["cost_guard"]["decision"] == "no new pipelines"
    assert 3 * 0.012 < meta["cost_usd"] <= 0.0407
    assert "max_cost_usd: no new pipelines" in out.getvalue()
    assert nothing_in(simulator.endpoint_url)
