"""Artifacts read live state, build through AWS's lifecycles, and clean up after themselves."""

import threading
import time

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from harness.artifacts import DataSource, Endpoint, FeatureSet, Model, PartialStateError
from harness.aws.limiter import Limiter
from harness.clock import ManualClock
from harness.events import load_events
from harness.meta import Meta
from harness.quotas import Quota, QuotaTable


def dataset(rows=10):
    return pd.DataFrame(
        {
            "id": [str(i) for i in range(rows)],
            "event_time": ["2026-11-26T00:00:00Z"] * rows,
            "x": [i / 10 for i in range(rows)],
            "y": [i % 2 for i in range(rows)],
        }
    )


def test_a_whole_chain_builds_lists_describes_and_deletes(aws_ctx):
    meta = Meta(aws_ctx)
    df = dataset()
    source = DataSource(aws_ctx, "orders").create(df)
    assert source.ready() and meta.data_source("orders")["Name"] == "orders"
    assert list(meta.data_sources()["name"]) == ["orders"]

    features = FeatureSet(aws_ctx, "orders-fs").create(df, "id", "event_time")
    assert features.status() == "Created"
    assert features.ingest(df) == 10
    assert features.get_record("3")["x"] == "0.3"
    features.wait_for_offline_store()
    assert features.health_check() == []
    assert meta.feature_sets().loc[0, "status"] == "Created"

    model = Model(aws_ctx, "orders-model").train(df, "y")
    model.register()
    assert model.ready() and meta.model("orders-model")["ModelPackages"]
    endpoint = Endpoint(aws_ctx, "orders-ep").deploy("orders-model")
    assert endpoint.ready() and len(endpoint.invoke([[1, 2], [3, 4]])) == 2
    assert meta.endpoints(details=True).loc[0, "details"]["EndpointStatus"] == "InService"
    assert list(meta.training_jobs()["status"]) == ["Completed"]

    for artifact in (endpoint, model, features, source):
        artifact.delete()
        artifact.delete()  # idempotent
    assert not endpoint.exists() and not features.exists() and not model.exists() and not source.exists()
    for method in ("data_sources", "feature_sets", "models", "endpoints"):
        assert getattr(meta, method)().empty, method
    for describe in (meta.data_source, meta.feature_set, meta.model, meta.endpoint):
        assert describe("missing") is None


def test_lists_paginate_past_100_items(aws_ctx):
    sagemaker = aws_ctx.client("sagemaker")
    for i in range(105):
        sagemaker.create_model_package_group(ModelPackageGroupName=f"group-{i:03d}")
    meta = Meta(aws_ctx)
    assert len(meta.models()) == 105


def test_a_late_offline_store_is_waited_for(aws_ctx):
    ctx = aws_ctx.reset(profile="aws-default", time_scale=0.01)
    df = dataset(3)
    features = FeatureSet(ctx, "late-fs").create(df, "id", "event_time")
    features.ingest(df)
    assert features.health_check()  # the offline store is not there yet
    waited = features.wait_for_offline_store()
    assert waited > 0 and features.health_check() == []
    ctx.recorder.flush()
    kinds = list(load_events(ctx.events_path, ["partial_state_detected", "partial_state_resolved"])["kind"])
    assert kinds == ["partial_state_detected", "partial_state_resolved"]


def test_under_the_partial_state_profile_late_stores_return_and_missing_ones_fail_in_time(aws_ctx):
    """partial-state: offline stores take ~10 AWS minutes and a quarter never appear."""
    ctx = aws_ctx.reset(profile="partial-state", time_scale=0.005)
    df, deadline = dataset(2), 1500.0
    outcomes = {}

    def build(name):
        features = FeatureSet(ctx, name).create(df, "id", "event_time")
        start = time.monotonic()
        try:
            features.wait_for_offline_store(deadline=deadline)
            outcomes[name] = ("resolved", features.health_check())
        except PartialStateError as err:
            outcomes[name] = ("failed", (time.monotonic() - start) / 0.005, err.missing)

    threads = [threading.Thread(target=build, args=(f"ps-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    resolved = [o for o in outcomes.values() if o[0] == "resolved"]
    failed = [o for o in outcomes.values() if o[0] == "failed"]
    assert resolved and failed, outcomes  # seed 0 gives both kinds among these eight names
    assert all(problems == [] for _, problems in resolved)
    for _, waited, missing in failed:  # (exactly how long past the deadline: the manual-clock test below)
        assert waited >= deadline and missing == ["offline_glue_table_missing", "offline_s3_prefix_empty"]


def test_an_offline_store_that_never_appears_fails_clearly_at_the_deadline(aws_ctx, tmp_path):
    """On a manual clock the harness's waits are exact: polls every 15 s growing by half, the
    last one cut to end at the 300 s deadline, then a clear error."""
    profile = tmp_path / "never.toml"
    profile.write_text(
        'quota_table = "none"\n[lifecycle.feature_group]\ncreate_seconds = 0\n'
        "offline_store_seconds = 0\nnever_fraction = 1.0\n"
    )
    clock = ManualClock(time_scale=0.01)
    ctx = aws_ctx.reset(profile=str(profile), time_scale=0.01, clock=clock)
    features = FeatureSet(ctx, "never-fs").create(dataset(3), "id", "event_time")
    start = clock.now()
    with pytest.raises(PartialStateError) as raised:
        features.wait_for_offline_store(deadline=300)
    assert 300 <= clock.now() - start <= 300.01
    assert clock.slept[:4] == [15, 22.5, 33.75, 50.625] and max(clock.slept) == 60  # the poll cap
    assert raised.value.waited == pytest.approx(300, abs=0.01)
    assert "offline_glue_table_missing" in str(raised.value) and "never-fs" in str(raised.value)
    ctx.recorder.flush()
    assert list(load_events(ctx.events_path, ["partial_state_failed"])["kind"]) == ["partial_state_failed"]


def test_16_feature_sets_at_once_respect_the_4_creation_quota(aws_ctx):
    ctx = aws_ctx.reset(profile="aws-default", time_scale=0.01)
    df = dataset(2)
    errors = []

    def build_and_delete(i):
        try:
            features = FeatureSet(ctx, f"fs-{i:02d}").create(df, "id", "event_time")
            features.delete()
        except Exception as err:  # noqa: BLE001 - the test reports every failure
            errors.append(repr(err))

    threads = [threading.Thread(target=build_and_delete, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Meta(ctx).feature_sets().empty
    assert (
        ctx.clients.client("glue").get_tables(DatabaseName="sagemaker_featurestore")["TableList"] == []
        if "sagemaker_featurestore" in [d["Name"] for d in ctx.client("glue").get_databases()["DatabaseList"]]
        else True
    )
    ctx.recorder.flush()
    limited = load_events(ctx.events_path, ["api_attempt"])
    assert (limited.error_code == "ResourceLimitExceeded").sum() == 0  # the slots kept us inside the quota


# --- an endpoint's concurrency slot --------------------------------------------------------------
ENDPOINT_SLOT = "slot:sagemaker.CreateEndpoint"


def with_endpoint_slots(ctx, limit=1):
    """ctx with a limiter whose only quota is `limit` endpoints at once (calm has none)."""
    ctx.limiter = Limiter(QuotaTable([Quota("sagemaker", "CreateEndpoint", concurrency=limit)]))
    sagemaker = ctx.client("sagemaker")
    sagemaker.create_model(ModelName="scorer", ExecutionRoleArn=ctx.role_arn, PrimaryContainer={"Image": ctx.image_uri})
    return sagemaker


def throttled(operation):
    """An AWS call that stays throttled past its retries."""

    def call(**_):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)

    return call


def test_an_endpoint_aws_refused_to_create_gives_its_slot_back_at_once(aws_ctx, monkeypatch):
    """CreateEndpoint is throttled past its retries: no endpoint was made, so deploy() gives the
    slot back as it fails. (It used to keep it for the teardown to give back, and when the
    teardown's DescribeEndpoint was throttled too the slot stayed taken for good.)"""
    sagemaker = with_endpoint_slots(aws_ctx)
    monkeypatch.setattr(sagemaker, "create_endpoint", throttled("CreateEndpoint"))
    endpoint = Endpoint(aws_ctx, "refused-ep")
    with pytest.raises(ClientError, match="ThrottlingException"):
        endpoint.deploy("scorer")
    assert aws_ctx.limiter.store.held(ENDPOINT_SLOT) == 0
    monkeypatch.setattr(sagemaker, "describe_endpoint", throttled("DescribeEndpoint"))
    with pytest.raises(ClientError, match="ThrottlingException"):
        endpoint.delete()  # the teardown, throttled too
    assert aws_ctx.limiter.store.held(ENDPOINT_SLOT) == 0


def test_a_teardown_that_fails_keeps_the_endpoints_slot_until_a_later_delete(aws_ctx, monkeypatch):
    """DeleteEndpoint is throttled past its retries: the endpoint is still there and still counts
    against the account's quota, so it keeps its slot (the slot's life bounds how long, see
    test_limiter); a later delete() that goes through gives it back."""
    ctx = aws_ctx.reset(time_scale=0.001)  # the endpoint is InService in 240 AWS seconds
    sagemaker = with_endpoint_slots(ctx)
    endpoint = Endpoint(ctx, "kept-ep").deploy("scorer")
    with monkeypatch.context() as throttling:
        throttling.setattr(sagemaker, "delete_endpoint", throttled("DeleteEndpoint"))
        with pytest.raises(ClientError, match="ThrottlingException"):
            endpoint.delete()
    assert endpoint.status() == "InService" and ctx.limiter.store.held(ENDPOINT_SLOT) == 1
    endpoint.delete()
    assert not endpoint.exists() and ctx.limiter.store.held(ENDPOINT_SLOT) == 0
