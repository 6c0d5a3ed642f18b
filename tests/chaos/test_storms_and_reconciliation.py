"""Storms of 5xx and of throttling: under the harness policy no pipeline fails, the timeline
shows the storm, and the simulator's counters balance the recorded attempts."""

import pytest

from chaoshelpers import harness, metrics_of, profile, scenario

STORMY = """
quota_table = "default"
jitter = 0.0
[[fault]]
error_rate = 0.02
[[storm]]
start_seconds = 200
duration_seconds = 300
error_rate = 0.3
[[storm]]
start_seconds = 700
duration_seconds = 180
throttle = true
service = "sagemaker"
[lifecycle.feature_group]
create_seconds = 45
offline_store_seconds = 60
table_seconds = 120
[lifecycle.training_job]
run_seconds = 300
[lifecycle.endpoint]
create_seconds = 420
"""


@pytest.mark.chaos
def test_a_5xx_storm_and_a_throttling_storm_fail_no_pipeline_and_the_counters_balance(tmp_path):
    path = scenario(
        tmp_path,
        f"""
target = "sim"
profile = "{profile(tmp_path, STORMY)}"
time = "virtual"
policy = "harness"
max_attempts = 20
levels = [4]
ramp_up_seconds = 20
[params]
rows = 30
""",
    )
    done = harness("run", path, "--reports", str(tmp_path / "reports"))
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = next((tmp_path / "reports").iterdir())
    metrics = metrics_of(run_dir)
    level = metrics["levels"][0]
    assert level["failed"] == 0 and level["completed"] == 4
    # the throttling storm happened: each pipeline polls SageMaker at least once a minute, so each
    # meets the 3-minute storm (how often it retries in it depends on the limiter). On virtual
    # time a loaded machine cannot stretch the polls past it (on the wall it once did, in CI).
    assert level["api"]["throttled"] >= 4
    ops = level["simulator"]["operations"]
    assert sum(op["faults"] for op in ops.values()) > 10  # so did the 5xx storm
    assert metrics["integrity"]["all_match"] is True  # served == recorded, per operation
    assert "Integrity: simulator counters match" in (run_dir / "summary.md").read_text()
    assert (run_dir / "plots" / "timeline.png").stat().st_size > 10_000
