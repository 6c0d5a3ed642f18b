"""A scenario's way to AWS: the target it names, and the context (clients, limiter, recorder)
its pipelines use. Built once per level by the runner, and once per level in each worker process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.artifacts import AwsContext
from harness.aws import Target, ClientFactory, Limiter
from harness.aws.images import training_image
from harness.clock import Clock
from harness.events import Recorder
from harness.runner.scenario import Scenario

if TYPE_CHECKING:
    from harness.aws.limiter import LimiterStore
    from harness.aws.limiter.redis_store import RedisStore


def scenario_target(scenario: Scenario, endpoint_url: str | None) -> Target:
    if scenario.target == "sim":
        if endpoint_url is None:  # never the AWS endpoints with a simulator's run
            raise ValueError(f'{scenario.source}: target = "sim" needs the simulator\'s endpoint URL')
        from harness.sim.inprocess import serving_here  # the run's own simulator, in this process?

        return Target.simulator(endpoint_url, scenario.region, serving_here(endpoint_url))
    return Target.aws(scenario.region, scenario.aws_profile, endpoint_url)


def shared_limiter_store(
    scenario: Scenario, endpoint_url: str | None, recorder: Recorder | None = None
) -> RedisStore | None:
    """The scenario's Redis limiter store, or None when its limiter lives in the run. Runs and
    hosts share a namespace when they spend one account's quotas: on the simulator, the same
    endpoint and region; on AWS, the region (set `namespace` to the account id when one Redis
    serves several accounts)."""
    shared = scenario.limiter
    if not shared.redis_url or not scenario.retry_policy().uses_limiter:
        return None
    from harness.aws.limiter.redis_store import RedisStore

    where = endpoint_url if scenario.target == "sim" else "aws"
    # the scale is part of it: the scripts keep AWS time as Redis time / scale
    namespace = f"{shared.namespace or f'harness:{where}:{scenario.region}'}:x{scenario.time_scale:g}"

    def fell_back(message: str) -> None:
        if recorder is not None:
            recorder.record("limiter_fallback", message=message)

    return RedisStore(shared.redis_url, namespace, scenario.time_scale, shared.on_unreachable, on_fallback=fell_back)


def scenario_context(
    scenario: Scenario,
    endpoint_url: str | None,
    run_id: str,
    prefix: str,
    recorder: Recorder,
    max_level: int,
    limiter_store: LimiterStore | None = None,
    clock: Clock | None = None,
) -> AwsContext:
    """Fresh per level (no carried adaptation); shared with worker processes through a limiter
    target. Only the harness policy has a limiter: under botocore's policies nothing is shared
    between pipelines, and a full concurrency quota is met by ResourceLimitExceeded and retried.
    clock: the run's clock (default: the wall at the scenario's time scale)."""
    clock = clock or Clock(scenario.time_scale)
    limiter = None
    if scenario.retry_policy().uses_limiter:
        limiter = Limiter(scenario.quota_table(), scenario.time_scale, limiter_store, clock=clock)
    factory = ClientFactory(
        scenario_target(scenario, endpoint_url),
        scenario.retry(),
        recorder,
        limiter,
        scenario.time_scale,
        max_pool_connections=max(64, 2 * max_level),
        clock=clock,
    )
    account = scenario.account
    where = {"role_arn": account.role_arn} if account.role_arn else {}  # else the simulator's own role
    return AwsContext(
        factory,
        bucket=account.bucket or f"{prefix}-data",
        key_prefix=f"{prefix}/" if account.bucket else "",
        run_id=run_id,
        limiter=limiter,
        recorder=recorder,
        deadlines=scenario.deadlines,
        glue_database=account.glue_database,
        image_uri=account.training_image or training_image(scenario.region),
        extra_tags=dict(account.tags),
        **where,
    )
