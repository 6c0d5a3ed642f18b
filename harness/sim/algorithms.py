"""What a training job's container does with its input before it trains: the simulator reads the
job's channels as SageMaker hands them over and fails the job as SageMaker and the container would,
so an input a real account would refuse is refused here too.

Two sources, each named where it is used:
- SageMaker itself, for every image: a channel whose S3 prefix holds no object fails the job
  before the container starts (ClientError: No S3 objects found under S3 URL ...).
- The built-in XGBoost algorithm's container (github.com/aws/sagemaker-xgboost-container,
  data_utils.py: get_content_type, validate_data_file_path): a channel without ContentType is
  read as libsvm, a ContentType it does not take is refused, and the first line of each file must
  parse in the format named. Its UserError reaches DescribeTrainingJob as
  "AlgorithmError: framework error: ..." (the training toolkit writes that failure file).

Only File input mode is read (Pipe streams the data; the container reads it as it trains).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable

# the built-in XGBoost images: <registry account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:<v>
# (and the old xgboost:1 repository)
BUILTIN_XGBOOST = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/(sagemaker-)?xgboost:")
# what the container's get_content_type accepts (data_utils.VALID_CONTENT_TYPES)
XGBOOST_CONTENT_TYPES = {
    "csv": "csv",
    "text/csv": "csv",
    "libsvm": "libsvm",
    "text/libsvm": "libsvm",
    "text/x-libsvm": "libsvm",
    "parquet": "parquet",
    "application/x-parquet": "parquet",
    "recordio-protobuf": "recordio-protobuf",
    "application/x-recordio-protobuf": "recordio-protobuf",
}

Objects = Callable[[str], list[tuple[str, bytes]]]  # an S3 URI prefix -> (key, body) under it


def training_failure(request: dict, objects: Objects, role: str) -> str | None:
    """The FailureReason a CreateTrainingJob request ends with once its container reads its
    input, or None when it would train. `objects` reads the account's S3."""
    algorithm = request.get("AlgorithmSpecification") or {}
    image = str(algorithm.get("TrainingImage") or "")
    file_mode = algorithm.get("TrainingInputMode", "File") == "File"
    # The same image runs a user's own script (script mode: the SDK's ModelTrainer sets a
    # ContainerEntrypoint, the older Estimator the sagemaker_program hyperparameter): the script,
    # not the algorithm, reads the data then.
    script = bool(algorithm.get("ContainerEntrypoint")) or "sagemaker_program" in (request.get("HyperParameters") or {})
    builtin_xgboost = BUILTIN_XGBOOST.match(image) is not None and file_mode and not script
    for channel in request.get("InputDataConfig") or []:
        source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        uri = str(source.get("S3Uri") or "")
        if not uri or source.get("S3DataType", "S3Prefix") != "S3Prefix":
            continue  # manifests and other sources are not read here
        found = objects(uri)
        if not found:
            bucket = uri.removeprefix("s3://").split("/", 1)[0]
            return (
                f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
                "Please ensure that the bucket exists in the selected region, that objects exist under "
                f'that S3 prefix, and that the role "{role}" has "s3:ListBucket" permissions on bucket '
                f'"{bucket}".'
            )
        if builtin_xgboost:
            problem = _xgboost_reads(channel.get("ContentType"), found)
            if problem is not None:
                return (
                    "AlgorithmError: framework error: \n"
                    f"sagemaker_algorithm_toolkit.exceptions.UserError: {problem}\n\n{problem}"
                )
    return None


def _xgboost_reads(content_type: str | None, found: list[tuple[str, bytes]]) -> str | None:
    """The container's UserError for one channel's files, or None."""
    if content_type is None:
        kind = "libsvm"  # data_utils.get_content_type: no ContentType is libsvm
    else:
        kind = XGBOOST_CONTENT_TYPES.get(content_type.split(";")[0].strip().lower(), "")
        if not kind:
            accepted = ", ".join(XGBOOST_CONTENT_TYPES)
            return f"{content_type} is not an accepted ContentType: {accepted}."
    for key, body in found:
        name = key.rsplit("/", 1)[-1]
        if not name or name.startswith((".", "_")):
            continue  # data_utils._is_data_file: hidden files are not data
        lines = body.decode("utf-8", "ignore").splitlines()
        if kind == "csv":
            first = lines[0] if lines else ""
            try:
                csv.Sniffer().sniff(first)  # the container finds the delimiter as this does
            except csv.Error as err:
                return f"Could not determine delimiter on line {first[:50]}:\n{err}"
        elif kind == "libsvm":
            for line in lines:
                features = _libsvm_features(line)
                if features < 0:
                    return (
                        f"First line '{line[:50]}...' of file '{name}' is not 'LIBSVM' format. "
                        "Please ensure the file is in 'LIBSVM' format."
                    )
                if features > 1:
                    break
    return None


def _libsvm_features(line: str) -> int:
    """<label>(:<weight>) <index>:<value> ...: the features of a line, -1 for one the container
    refuses. As data_utils._get_num_valid_libsvm_features does it: every token after the label
    must hold a colon, and the first feature (only it) must split into exactly two parts."""
    parts = line.split(" ")
    label = parts[0].split(":")
    if len(label) > 2 or not all(_is_number(p) for p in label):
        return -1
    for part in parts[1:]:
        if ":" not in part or len(parts[1].split(":")) != 2:
            return -1
    return len(parts) - 1


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
