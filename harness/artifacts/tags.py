"""SageMaker tags as metadata, as Workbench keeps them: each artifact object reads its tags
(ListTags) when it is built and writes what it learned back (AddTags), so tag traffic grows
with every stage. AWS allows 50 tags per resource; the keys written here are reused."""

from __future__ import annotations

from harness.artifacts.context import AwsContext

META_KEYS = 10  # distinct metadata keys a resource carries, well under AWS's 50


def tag_traffic(ctx: AwsContext, arn: str, reads: int, writes: int) -> None:
    """`reads` ListTags and `writes` AddTags on one resource, interleaved as Workbench's are."""
    sagemaker = ctx.client("sagemaker")
    for i in range(max(reads, writes)):
        if i < reads:
            sagemaker.list_tags(ResourceArn=arn)
        if i < writes:
            sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": f"workbench_meta_{i % META_KEYS}", "Value": f"step {i}"}])
