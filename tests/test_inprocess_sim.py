"""The simulator in the run's own process (virtual time): the run's clients reach it without a
socket, and get what they would have got over HTTP."""

from dataclasses import replace

import boto3
import pytest

from harness.config import ConfigError
from harness.events import load_events
from harness.report.render import integrity
from harness.runner.run import Runner
from harness.runner.scenario import load_scenario, on_its_time, parse_scenario
from harness.sim.inprocess import InProcessSimulator, serving_here
from test_virtual_runs import same_run_figures

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


@pytest.fixture
def in_process():
    with InProcessSimulator("calm", seed=3) as sim:
        yield sim


def clients(sim, service):
    """One client that goes through the socket and one that hands its requests over directly."""
    over_http = boto3.client(service, endpoint_url=sim.endpoint_url, **CREDENTIALS)
    direct = boto3.client(service, endpoint_url=sim.endpoint_url, **CREDENTIALS)
    direct.meta.events.register_last("before-send", serving_here(sim.endpoint_url))
    return over_http, direct


def without_metadata(answer):
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}


def test_a_direct_client_gets_what_the_socket_gives_in_every_protocol(in_process):
    s3, s3_direct = clients(in_process, "s3")  # rest-xml, with bodies both ways
    s3.create_bucket(Bucket="both")
    s3_direct.put_object(Bucket="both", Key="a/b c.csv", Body=b"x,y\n1,2\n")
    assert s3.get_object(Bucket="both", Key="a/b c.csv")["Body"].read() == b"x,y\n1,2\n"
    assert s3_direct.get_object(Bucket="both", Key="a/b c.csv")["Body"].read() == b"x,y\n1,2\n"
    assert without_metadata(s3.list_objects_v2(Bucket="both")) == without_metadata(
        s3_direct.list_objects_v2(Bucket="both")
    )

    glue, glue_direct = clients(in_process, "glue")  # json
    glue_direct.create_database(DatabaseInput={"Name": "harness_db"})
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == ["harness_db"]
    assert glue_direct.get_database(Name="harness_db")["Database"]["Name"] == "harness_db"

    iam, iam_direct = clients(in_process, "iam")  # query
    iam_direct.create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    assert iam.get_role(RoleName="r")["Role"]["Arn"] == iam_direct.get_role(RoleName="r")["Role"]["Arn"]

    athena, athena_direct = clients(in_process, "athena")  # whatever the installed botocore speaks
    assert without_metadata(athena.list_work_groups()) == without_metadata(athena_direct.list_work_groups())


def test_a_direct_client_gets_aws_errors_in_its_own_protocol(in_process):
    _, s3_direct = clients(in_process, "s3")
    with pytest.raises(s3_direct.exceptions.NoSuchBucket):
        s3_direct.get_object(Bucket="missing", Key="k")
    _, sagemaker_direct = clients(in_process, "sagemaker")
    with pytest.raises(sagemaker_direct.exceptions.ClientError) as refused:
        sagemaker_direct.describe_model(ModelName="missing")
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_only_this_process_knows_where_its_simulator_serves(in_process):
    assert serving_here(in_process.endpoint_url) is not None
    assert serving_here("http://127.0.0.1:9") is None
    url = in_process.endpoint_url
    in_process.stop()
    assert serving_here(url) is None  # a stopped simulator is not answered for


def test_a_run_is_the_same_with_its_simulator_in_its_process_or_in_its_own(tmp_path):
    """The socket is only transport: the same scenario gives the same run either way."""
    scenario = replace(load_scenario("smoke"), time="virtual")
    figures = {}
    for where in ("run", "own"):
        runner = Runner(replace(scenario, simulator_process=where), tmp_path / where, [2, 3])
        result = runner.run()
        assert result.failed == 0
        events = load_events(result.run_dir)
        figures[where] = same_run_figures(events)
        # every request the simulator served was recorded in its level, the cleanups between
        # levels (the same virtual instant as the next level's start) included
        checks = integrity(events)
        assert checks and [row for row in checks if not row["match"]] == []
    assert figures["run"] == figures["own"]


def test_the_simulator_works_in_the_runners_process_only_on_virtual_time():
    scenario = {"target": "sim", "levels": [1], "pipelines": "workbench-light", "simulator_process": "run"}
    with pytest.raises(ConfigError, match=r"s.toml: simulator_process = 'run'.*time = \"wall\""):
        parse_scenario(scenario, "s.toml", "s")
    with pytest.raises(ConfigError, match=r"simulator_process = 'local'.*one of run, own"):
        parse_scenario({**scenario, "simulator_process": "local"}, "s.toml", "s")
    assert parse_scenario({**scenario, "time": "virtual"}, "s.toml", "s").simulator_process == "run"
    virtual = replace(load_scenario("stress"), simulator_process="run")
    with pytest.raises(ConfigError, match="simulator_process"):
        on_its_time(replace(virtual, time="wall"))  # --time wall on such a scenario


def test_a_failed_head_reads_as_its_status_alone_as_over_the_wire(tmp_path):
    """A HEAD answer has no body on the wire, so botocore names its error by the status; the
    direct client must not read more into it (an S3 SlowDown would count as a throttle)."""
    from botocore.config import Config

    from simhelpers import write_profile

    failing = write_profile(
        tmp_path, 'extends = "calm"\n[[fault]]\nservice = "s3"\noperation = "HeadObject"\nerror_rate = 1.0\n'
    )
    with InProcessSimulator(failing, seed=3) as sim:
        once = Config(retries={"total_max_attempts": 1})
        over_http = boto3.client("s3", endpoint_url=sim.endpoint_url, config=once, **CREDENTIALS)
        direct = boto3.client("s3", endpoint_url=sim.endpoint_url, config=once, **CREDENTIALS)
        direct.meta.events.register_last("before-send", serving_here(sim.endpoint_url))
        over_http.create_bucket(Bucket="heads")
        codes = []
        for client in (over_http, direct):
            with pytest.raises(client.exceptions.ClientError) as failed:
                client.head_object(Bucket="heads", Key="k")
            codes.append(failed.value.response["Error"]["Code"])
        assert codes[0] == codes[1] and codes[0] in ("500", "503")


def test_a_simulator_that_fails_answers_500_as_a_server_would(in_process, monkeypatch):
    _, glue_direct = clients(in_process, "glue")

    def broken(environ, start_response):
        raise KeyError("a gap")

    monkeypatch.setattr(serving_here(in_process.endpoint_url), "app", broken)
    with pytest.raises(glue_direct.exceptions.ClientError) as failed:
        glue_direct.get_databases()
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_stopped_simulator_answers_no_one_and_a_new_one_starts_empty():
    from botocore.exceptions import EndpointConnectionError

    with InProcessSimulator("calm") as first:
        _, s3_direct = clients(first, "s3")
        s3_direct.create_bucket(Bucket="left-behind")
    with pytest.raises(EndpointConnectionError):
        s3_direct.list_buckets()  # a client made before the stop reaches a closed port, as over HTTP
    with InProcessSimulator("calm") as second:
        _, s3_again = clients(second, "s3")
        assert s3_again.list_buckets()["Buckets"] == []
