"""Small helpers the simulator tests share: write a profile, create a feature group, wait."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

ROLE = "arn:aws:iam::123456789012:role/harness-test"


def write_profile(tmp_path: Path, text: str, name: str = "test-profile") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return str(path)


def create_feature_group(sagemaker, s3, name: str, bucket: str = "offline-bucket") -> None:
    s3.create_bucket(Bucket=bucket)
    sagemaker.create_feature_group(
        FeatureGroupName=name,
        RecordIdentifierFeatureName="id",
        EventTimeFeatureName="event_time",
        FeatureDefinitions=[
            {"FeatureName": "id", "FeatureType": "String"},
            {"FeatureName": "event_time", "FeatureType": "String"},
            {"FeatureName": "x", "FeatureType": "Fractional"},
        ],
        OnlineStoreConfig={"EnableOnlineStore": True},
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{bucket}/offline"}},
        RoleArn=ROLE,
    )


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    """Poll until predicate() is truthy; return its value, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def client_speaking(service: str, protocol: str, endpoint_url: str, models_dir: Path, **config):
    """A boto3 client whose model makes it speak `protocol`, as a botocore from before or after a
    move would: the simulator's bundled variant where it has one (Athena's json and rest-json),
    else the installed model with only its protocol changed (an RPC service as
    smithy-rpc-v2-cbor, before AWS moves it)."""
    import copy
    import json

    import boto3
    import botocore.session
    from botocore.config import Config

    from harness.sim.wire.models import BUNDLED

    session = botocore.session.Session()
    if (BUNDLED / protocol / service).is_dir():
        search = BUNDLED / protocol
    else:
        reader = botocore.session.Session().get_component("data_loader")
        version = reader.determine_latest_version(service, "service-2")
        model = copy.deepcopy(reader.load_service_model(service, "service-2"))
        model["metadata"].update(protocol=protocol, protocols=[protocol])
        folder = models_dir / protocol / service / version
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "service-2.json").write_text(json.dumps(model))
        search = models_dir / protocol  # the endpoint rules still come from botocore's own folder
    session.get_component("data_loader").search_paths.insert(0, str(search))
    settings = {"retries": {"total_max_attempts": 1, "mode": "standard"}, **config}
    made = boto3.Session(botocore_session=session).client(
        service, endpoint_url=endpoint_url, region_name="us-east-1", config=Config(**settings)
    )
    assert made.meta.service_model.resolved_protocol == protocol  # the test speaks what it says
    return made


@contextlib.contextmanager
def simulator_in_this_process(profile: str = "calm"):
    """The simulator's application served from a thread of the test's own process, so the test
    can reach inside it (monkeypatch moto, read its state): yields (app, client), where
    client(service) is a boto3 client on it with botocore's retries off."""
    import threading

    import boto3
    from botocore.config import Config
    from werkzeug.serving import make_server

    from harness.profiles import load_profile
    from harness.sim.app import SimulatorApp
    from harness.sim.server import keep_alive_handler

    app = SimulatorApp(load_profile(profile))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=keep_alive_handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=url,
            region_name="us-east-1",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    try:
        yield app, client
    finally:
        server.shutdown()


# --- an account as a real one is set up: a role SageMaker assumes, a user who may run ------------
SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
RUNS = {
    "Effect": "Allow",
    "Action": ["sagemaker:*", "s3:*", "glue:*", "athena:*", "logs:*", "lakeformation:GetDataAccess"],
    "Resource": "*",
}


def policy(*statements) -> str:
    import json

    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def pass_role(role_arn: str) -> dict:
    return {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": role_arn,
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }


def sagemaker_role(iam, name: str) -> str:
    """A role SageMaker may assume, allowed what SageMaker does as it; returns its ARN."""
    import json

    from harness.aws.permissions import EXECUTION_ROLE_ACTIONS

    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]["Arn"]
    role_may = {"Effect": "Allow", "Action": list(EXECUTION_ROLE_ACTIONS), "Resource": "*"}
    iam.put_role_policy(RoleName=name, PolicyName="runs", PolicyDocument=policy(role_may))
    return arn


def runner_user(iam, role_arn: str, name: str = "runner") -> dict[str, str]:
    """An IAM user who may run the harness and pass `role_arn` to SageMaker: its credentials as
    environment variables (STS names the user, IAM's simulator reads its policies)."""
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="runs", PolicyDocument=policy(RUNS, pass_role(role_arn)))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
