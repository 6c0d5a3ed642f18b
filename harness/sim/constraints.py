"""The constraints AWS checks on a request before it does anything: lengths, patterns, ranges and
enums from botocore's service model, answered in AWS's own words.

botocore's client checks only what the model marks required and the minimum lengths; AWS checks
the rest on the server: "2 validation errors detected: Value 'x' at 'modelName' failed to satisfy
constraint: Member must have length less than or equal to 63; ...". A client that never meets
those answers on the simulator meets them first on a real account.
"""

from __future__ import annotations

import re
from functools import lru_cache


# Services whose constraint failures AWS answers as ValidationException (their framework's code,
# not in the service model). Athena and the Feature Store runtime answer theirs differently.
CHECKED_SERVICES = ("sagemaker", "glue")
MAX_REPORTED = 10  # AWS lists at most this many in one message


@lru_cache(maxsize=None)
def _pattern(text: str) -> re.Pattern | None:
    """The model's Java regex, where Python reads it the same way (None where it cannot)."""
    try:
        return re.compile(text)
    except re.error:  # Java-only syntax, e.g. surrogate-pair ranges: not checked rather than misread
        return None


def _member_path(parent: str, name: str) -> str:
    member = name[:1].lower() + name[1:]
    return f"{parent}.{member}" if parent else member


def _shown(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _check(shape, value, path: str, out: list[str]) -> None:
    meta = shape.metadata
    failed = []
    if shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            failed.append(f"Member must have length less than or equal to {meta['max']}")
        if "min" in meta and len(value) < meta["min"]:
            failed.append(f"Member must have length greater than or equal to {meta['min']}")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            failed.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            failed.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    elif (
        shape.type_name in ("integer", "long", "float", "double")
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    ):
        if "max" in meta and value > meta["max"]:
            failed.append(f"Member must have value less than or equal to {meta['max']}")
        if "min" in meta and value < meta["min"]:
            failed.append(f"Member must have value greater than or equal to {meta['min']}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            failed.append(f"Member must have length less than or equal to {meta['max']}")
        for i, item in enumerate(value, 1):
            _check(shape.member, item, f"{path}.{i}.member", out)
    elif shape.type_name == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            failed.append(f"Member must have length less than or equal to {meta['max']}")
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", out)
            _check(shape.value, item, f"{path}.{key}", out)
    elif shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _check(member, value[name], _member_path(path, name), out)
    out.extend(f"Value '{_shown(value)}' at '{path}' failed to satisfy constraint: {why}" for why in failed)


def violations(shape, request: dict) -> list[str]:
    """Each constraint the request (in the internal form) breaks against its input shape, in AWS's words."""
    out: list[str] = []
    if shape is not None:
        _check(shape, request, "", out)
    return out


def message(found: list[str]) -> str:
    """AWS's summary: "1 validation error detected: ..." or "3 validation errors detected: ...; ..."."""
    shown = found[:MAX_REPORTED]
    noun = "error" if len(found) == 1 else "errors"
    return f"{len(found)} validation {noun} detected: " + "; ".join(shown)
