"""The service models the simulator reads requests with: botocore's installed ones, and the
variants AWS has since moved a service to or away from.

A service's wire protocol changes under its callers: botocore 1.44.18 moved Athena from `json`
(X-Amz-Target) to `rest-json` (`POST /query-executions`). A caller with an older botocore still
speaks the old one, a newer caller the new one, and AWS answers both while they are in use. So
the simulator knows every variant it has a model for: the installed botocore's, and the ones
kept in `harness/sim/models/<protocol>/` (botocore's own files, in botocore's layout, so a test
can build a client from them too). Each variant routes and decodes the requests of its protocol.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

BUNDLED = Path(__file__).resolve().parent.parent / "models"
REST_PROTOCOLS = ("rest-json", "rest-xml")


@dataclass(frozen=True)
class Variant:
    """One model of a service: the protocols it lists and the bindings they need."""

    model: ServiceModel
    source: str  # "botocore <version>" or the bundled file it came from

    @property
    def service(self) -> str:
        name: str = self.model.service_name
        return name

    @cached_property
    def protocols(self) -> tuple[str, ...]:
        listed = self.model.metadata.get("protocols") or [self.model.metadata["protocol"]]
        return tuple(listed)

    @property
    def target_prefix(self) -> str | None:
        prefix: str | None = self.model.metadata.get("targetPrefix")
        return prefix

    @cached_property
    def operation_names(self) -> frozenset[str]:
        return frozenset(self.model.operation_names)

    def operation(self, name: str) -> OperationModel | None:
        return self.model.operation_model(name) if name in self.operation_names else None


class ServiceModels:
    """Variants per service name, and which services sign with a given SigV4 name."""

    def __init__(self, bundled: Path = BUNDLED):
        self._session = botocore.session.get_session()
        self._bundled = bundled
        self._variants: dict[str, tuple[Variant, ...]] = {}
        self._signing: dict[str, tuple[str, ...]] = {}
        self._lock = threading.RLock()  # the signing index reads variants under it

    def variants(self, service: str) -> tuple[Variant, ...]:
        found = self._variants.get(service)
        if found is None:
            with self._lock:
                found = self._variants.get(service)
                if found is None:
                    found = self._variants[service] = tuple(self._load(service))
        return found

    def installed(self, service: str) -> Variant | None:
        """The installed botocore's model (what moto routes by), or None."""
        return next((v for v in self.variants(service) if v.source.startswith("botocore")), None)

    def _load(self, service: str) -> Iterator[Variant]:
        installed: Variant | None = None
        try:
            installed = Variant(self._session.get_service_model(service), f"botocore {botocore.__version__}")
            yield installed
        except UnknownServiceError:
            pass
        for path in sorted(self._bundled.glob(f"*/{service}/*/service-2.json*")):
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as handle:
                bundled = Variant(ServiceModel(json.load(handle), service), str(path.relative_to(self._bundled)))
            if installed is None or bundled.protocols != installed.protocols:  # else the installed one serves
                yield bundled

    def signing_services(self, signing_name: str) -> tuple[str, ...]:
        """The services a request signed for `signing_name` may be for (SageMaker's control
        plane and its runtimes all sign as "sagemaker"; CloudWatch signs as "monitoring")."""
        if not self._signing:
            with self._lock:
                if not self._signing:
                    self._signing = self._signing_index()
        return self._signing.get(signing_name, ())

    def _signing_index(self) -> dict[str, tuple[str, ...]]:
        """Signing name -> services, from the head of each installed model (its metadata comes
        first): reading every model whole would take seconds."""
        loader = self._session.get_component("data_loader")
        index: dict[str, list[str]] = {}
        for service in loader.list_available_services("service-2"):
            metadata = _metadata_head(loader, service)
            if metadata:
                name = metadata.get("signingName") or metadata.get("endpointPrefix") or service
                index.setdefault(name, []).append(service)
        for path in self._bundled.glob("*/*/*/service-2.json*"):
            service = path.parent.parent.name
            for variant in self.variants(service):
                name = variant.model.metadata.get("signingName") or variant.model.metadata.get("endpointPrefix")
                if service not in index.setdefault(name, []):
                    index[name].append(service)
        return {name: tuple(services) for name, services in index.items()}


def _metadata_head(loader: Loader, service: str) -> dict[str, Any] | None:
    """A model's metadata, read from the first bytes of its file."""
    try:
        version = loader.determine_latest_version(service, "service-2")
    except Exception:  # noqa: BLE001 - a data directory botocore cannot read is not a service
        return None
    for root in loader.search_paths:
        for name in ("service-2.json.gz", "service-2.json"):
            path = Path(root) / service / version / name
            if path.exists():
                opener = gzip.open if name.endswith(".gz") else open
                with opener(path, "rt", encoding="utf-8") as handle:
                    head = handle.read(8192)
                at = head.find('"metadata"')
                if at < 0:
                    return None
                try:  # an object: it is read from its "{"
                    metadata: dict[str, Any] = json.JSONDecoder().raw_decode(head, head.index("{", at))[0]
                except ValueError:
                    return None
                return metadata
    return None
