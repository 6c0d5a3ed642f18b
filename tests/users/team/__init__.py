"""A team's package whose __init__ makes a client, as packages often do."""

import boto3

IDENTITY = boto3.client("sts")
