"""The AWS simulator in your own test suite: a pytest plugin (entry point `pytest11`, loaded by
pytest wherever the harness is installed).

    def test_my_pipeline_eight_at_once(aws_sim):
        s3 = aws_sim.client("s3")                       # or plain boto3: the environment points at it
        ...
        result = aws_sim.run_at_once(my_pipeline, n=8)  # the harness's runner, N at once
        assert result.failed == 0 and result.p95_seconds < 120

    @pytest.mark.aws_sim(profile="aws-default", quotas={"glue.CreateTable.rate": 0.5})
    def test_...(aws_sim): ...

- `aws_sim` (harness/pytest_plugin/fixtures.py): a fresh account per test on one simulator
  process per session;
- the `aws_sim` marker (harness/pytest_plugin/account.py): the account it plays (profile,
  quotas, faults, storms, other tenants, time scale, manual time, seed, region);
- `aws_sim.run_at_once` (harness/pytest_plugin/at_once.py): the test's pipeline N at once,
  with the run's metrics.

Nothing heavy is imported until a test asks for the fixture: the plugin loads in every pytest
run of an environment that has the harness.
"""

from __future__ import annotations

from typing import Any

from harness.pytest_plugin.account import MARKER
from harness.pytest_plugin.fixtures import AwsSim, aws_sim, aws_sim_server

__all__ = ["AwsSim", "aws_sim", "aws_sim_server"]


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(profile, quotas, faults, storms, tenant_active_queries, time_scale, manual_time, seed, "
        "region): the account the aws_sim fixture's simulator plays (harness.pytest_plugin.account)",
    )
