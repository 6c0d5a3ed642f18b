"""The pytest plugin as a team's own suite uses it: each test here writes a small suite of the
team's, and pytest runs it in a process of its own (pytester), in a folder of its own, with
nothing of this repository's conftest: the plugin is there only through its `pytest11` entry
point, as in any environment where the harness is installed."""

import shlex
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

# a profile of the team's own: calm, with one CreateBucket per 100 AWS seconds
TEAM_ACCOUNT = """
extends = "calm"
[[quota]]
service = "s3"
operation = "CreateBucket"
rate = 0.01
"""


def run_suite(pytester, source: str, **files: str):
    """The team's test file (and any other files, name -> text), run by pytest."""
    for name, text in files.items():
        path = pytester.path / name
        path.write_text(text)
    pytester.makepyfile(test_team=source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("harness.pytest_plugin") == "harness.pytest_plugin", (
        "the harness's pytest11 entry point is not installed: refresh the environment (make, or uv sync)"
    )


def test_a_suite_gets_aws_sim_through_the_entry_point_and_boto3_reaches_it(pytester, monkeypatch):
    # a developer's shell, set up for a real account: none of it may take a test's calls there
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.eu-west-1.amazonaws.com")
    result = run_suite(
        pytester,
        """
        import boto3


        def test_plain_boto3_and_the_fixtures_clients_reach_one_account(aws_sim):
            aws_sim.client("s3").create_bucket(Bucket="landing-zone")
            # a client made without an endpoint, as the team's code makes them
            assert [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]] == ["landing-zone"]
            assert aws_sim.session.client("s3").head_bucket(Bucket="landing-zone")
            assert aws_sim.stats()["operations"]["s3.ListBuckets"]["requests"] == 1
            assert aws_sim.endpoint_url.startswith("http://127.0.0.1:")


        def test_each_test_starts_from_an_empty_account(aws_sim):
            assert aws_sim.client("s3").list_buckets()["Buckets"] == []
            assert aws_sim.stats()["profile"] == "aws-default"
        """,
    )
    result.assert_outcomes(passed=2)


def test_the_marker_sets_the_accounts_profile_and_quotas(pytester):
    result = run_suite(
        pytester,
        """
        import pytest
        from botocore.exceptions import ClientError

        ONCE = {"total_max_attempts": 1}  # botocore retries nothing: what the account answered
        LONG_NAME = "d" * 300  # Glue allows 255 characters; botocore checks only the minimum

        pytestmark = pytest.mark.aws_sim(profile="aws-default")


        def code_of(call):
            with pytest.raises(ClientError) as refused:
                call()
            return refused.value.response["Error"]["Code"]


        def test_aws_default_refuses_what_aws_refuses(aws_sim):
            glue = aws_sim.client("glue", retries=ONCE)
            assert code_of(lambda: glue.create_database(DatabaseInput={"Name": LONG_NAME})) == "ValidationException"


        @pytest.mark.aws_sim(profile="calm")  # the nearest marker wins
        def test_calm_is_as_lenient_as_moto(aws_sim):
            aws_sim.client("glue", retries=ONCE).create_database(DatabaseInput={"Name": LONG_NAME})


        @pytest.mark.aws_sim(quotas={"s3.ListBuckets.rate": 0.01, "s3.ListBuckets.burst": 1})
        def test_a_quota_override_throttles_the_second_call(aws_sim):
            s3 = aws_sim.client("s3", retries=ONCE)
            s3.list_buckets()
            assert code_of(s3.list_buckets) == "SlowDown"


        @pytest.mark.aws_sim(profile="team-account.toml")
        def test_a_profile_file_of_the_teams(aws_sim):
            assert aws_sim.stats()["profile"] == "team-account"
            s3 = aws_sim.client("s3", retries=ONCE)
            s3.create_bucket(Bucket="first-bucket")
            assert code_of(lambda: s3.create_bucket(Bucket="second-bucket")) == "SlowDown"


        @pytest.mark.aws_sim(quota={"s3.ListBuckets.rate": 1})
        def test_a_misspelt_key(aws_sim):
            pass
        """,
        **{"team-account.toml": TEAM_ACCOUNT},
    )
    result.assert_outcomes(passed=4, errors=1)
    # bad input: one line naming the marker, the key, the value and what is allowed
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.aws_sim on test_team.py::test_a_misspelt_key: quota = {'s3.ListBuckets.rate': 1} "
            "is not allowed; expected a known key (profile, quotas, faults, storms, tenant_active_queries, "
            "time_scale, manual_time, seed, region)"
        ]
    )


def test_faults_storms_and_other_tenants_show_in_the_test(pytester):
    result = run_suite(
        pytester,
        """
        import pytest
        from botocore.exceptions import ClientError

        ONCE = {"total_max_attempts": 1}


        def code_of(call):
            with pytest.raises(ClientError) as refused:
                call()
            return refused.value.response["Error"]["Code"]


        @pytest.mark.aws_sim(faults={"s3.PutObject.error_rate": 1.0})
        def test_every_put_fails_as_aws_fails(aws_sim):
            s3 = aws_sim.client("s3", retries=ONCE)
            s3.create_bucket(Bucket="landing-zone")
            assert code_of(lambda: s3.put_object(Bucket="landing-zone", Key="a.csv", Body=b"1")) in (
                "InternalError",
                "ServiceUnavailable",
            )
            assert aws_sim.stats()["operations"]["s3.PutObject"]["faults"] == 1


        GLUE_STORM = {"start_seconds": 0, "duration_seconds": 600, "service": "glue", "throttle": True}


        @pytest.mark.aws_sim(storms=[GLUE_STORM])
        def test_a_throttle_storm_on_glue(aws_sim):
            glue = aws_sim.client("glue", retries=ONCE)
            assert code_of(glue.get_databases) == "ThrottlingException"
            aws_sim.client("s3").list_buckets()  # the storm is Glue's only


        @pytest.mark.aws_sim(tenant_active_queries=20)
        def test_other_teams_hold_every_athena_query_slot(aws_sim):
            aws_sim.client("s3").create_bucket(Bucket="query-results")
            athena = aws_sim.client("athena", retries=ONCE)
            start = lambda: athena.start_query_execution(
                QueryString="SELECT 1", ResultConfiguration={"OutputLocation": "s3://query-results/"}
            )
            assert code_of(start) == "TooManyRequestsException"


        @pytest.mark.aws_sim(manual_time=True)
        def test_on_manual_time_the_test_moves_the_clock(aws_sim):
            aws_sim.client("glue").create_database(DatabaseInput={"Name": "analytics"})
            aws_sim.client("s3").create_bucket(Bucket="query-results")
            athena = aws_sim.client("athena")
            query = athena.start_query_execution(
                QueryString="SELECT 1",
                QueryExecutionContext={"Database": "analytics"},
                ResultConfiguration={"OutputLocation": "s3://query-results/"},
            )["QueryExecutionId"]
            state = lambda: athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]["Status"]["State"]
            assert state() == "QUEUED"
            assert aws_sim.advance(10) == 10
            assert state() == "SUCCEEDED"
        """,
    )
    result.assert_outcomes(passed=4)


def test_run_at_once_runs_the_teams_function_n_at_once_and_returns_the_metrics(pytester):
    result = run_suite(
        pytester,
        """
        import json

        import boto3
        import pytest

        # feature groups take 30 AWS seconds to create on calm; at most 2 may be creating at once
        pytestmark = pytest.mark.aws_sim(
            profile="calm", time_scale=0.02, quotas={"sagemaker.CreateFeatureGroup.concurrency": 2}
        )


        def register_features(name: str) -> None:
            boto3.client("sagemaker").create_feature_group(
                FeatureGroupName=name,
                RecordIdentifierFeatureName="id",
                EventTimeFeatureName="event_time",
                FeatureDefinitions=[
                    {"FeatureName": "id", "FeatureType": "String"},
                    {"FeatureName": "event_time", "FeatureType": "String"},
                ],
                OnlineStoreConfig={"EnableOnlineStore": True},
                RoleArn="arn:aws:iam::123456789012:role/features",
            )


        def test_with_botocores_retries_two_of_four_fail_on_the_quota(aws_sim):
            result = aws_sim.run_at_once(register_features, n=4, policy="botocore-standard")
            assert (result.completed, result.failed) == (2, 2)
            assert result.failure_reasons == {"resource_limit": 2}


        def test_the_harness_policy_waits_for_a_slot_instead(aws_sim):
            result = aws_sim.run_at_once(register_features, n=4)
            assert (result.completed, result.failed, result.time) == (4, 0, "wall")
            # two waited for a slot: a creation takes 30 AWS seconds on calm, +-20%
            assert result.p95_seconds > 24
            assert result.level["api"]["retries"] > 0
            metrics = json.loads((result.run_dir / "metrics.json").read_text())
            assert metrics["levels"][0]["completed"] == 4
        """,
    )
    result.assert_outcomes(passed=2)


def test_run_at_once_runs_a_harness_pipeline_on_virtual_time(pytester):
    result = run_suite(
        pytester,
        """
        def test_the_light_pipeline_twice_at_once(aws_sim):
            result = aws_sim.run_at_once("workbench-light", n=2)
            assert (result.completed, result.failed, result.time) == (2, 0, "virtual")
            # its endpoint alone takes 7 minutes of AWS time on aws-default, waited out on no clock
            assert result.p95_seconds > 420
        """,
    )
    result.assert_outcomes(passed=1)


def test_run_at_once_names_what_a_pipeline_may_be():
    from harness.pytest_plugin.at_once import pipeline_spec

    def nested(name: str) -> None:
        pass

    argv = ["python", "-m", "churn", "--name", "{name}", "--note", "two words"]
    spec = pipeline_spec(argv)
    assert spec.startswith("command:") and shlex.split(spec.removeprefix("command:")) == argv  # as the runner reads it
    assert pipeline_spec(run_suite) == f"function:{__name__}:run_suite"
    for not_importable in (nested, lambda name: None):
        with pytest.raises(ValueError, match="expected a top-level function of an importable module"):
            pipeline_spec(not_importable)


def test_a_quota_the_marker_cannot_read_is_refused_with_the_form_it_takes(tmp_path):
    from harness.config import ConfigError
    from harness.pytest_plugin.account import SimAccount

    with pytest.raises(ConfigError) as refused:
        SimAccount.from_options({"quotas": {"sagemaker.CreateEndpoint": 4}}, "@pytest.mark.aws_sim on t", tmp_path)
    assert str(refused.value) == (
        "@pytest.mark.aws_sim on t: quotas = 'sagemaker.CreateEndpoint' is not allowed; expected keys "
        "service.Operation.field with field rate, burst or concurrency, e.g. "
        '"sagemaker.CreateEndpoint.concurrency": 4 (as harness whatif --quota)'
    )
    with pytest.raises(ConfigError, match="concurrency.*resources in progress at once, a whole number"):
        SimAccount.from_options({"quotas": {"sagemaker.CreateEndpoint.concurrency": 0.5}}, "m", tmp_path)
