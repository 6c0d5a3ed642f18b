"""The training image a pipeline uses when the scenario names none: SageMaker's XGBoost image
for the region, found by the SageMaker SDK's own lookup (its bundled image tables; no AWS call),
so it is the registry account AWS publishes for that region rather than a hand-kept table."""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache

FRAMEWORK, VERSION = "xgboost", "1.7-1"


@lru_cache(maxsize=None)
def training_image(region: str) -> str:
    # Some SDK versions (sagemaker-core 2.18) log to stdout on import and lookup ("sagemaker.config
    # INFO - ..."), where the harness prints its tables: their handlers are made on stdout now, so
    # they are made on a sink instead.
    with contextlib.redirect_stdout(io.StringIO()):
        from sagemaker.core import image_uris  # heavy import: only when an image is needed

        try:
            image: str = image_uris.retrieve(FRAMEWORK, region=region, version=VERSION)
        except ValueError as err:  # a region the SDK's tables do not list
            raise ValueError(
                f"no {FRAMEWORK} {VERSION} image is published for region {region!r} ({err}); "
                "set [account] training_image in the scenario"
            ) from None
        return image
