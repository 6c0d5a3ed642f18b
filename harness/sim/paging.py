"""NextToken and MaxResults as the simulator's own list answers use them: the token is the
offset of the next item, and a bad token or page size is the caller's error."""

from __future__ import annotations


def page_window(params: dict, default: int, minimum: int, maximum: int) -> tuple[int, int]:
    """(start, size) of the page asked for; ValueError with AWS-style wording if out of range."""
    try:
        start = int(params.get("NextToken") or 0)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid NextToken {params.get('NextToken')!r}") from None
    size = params.get("MaxResults")
    size = default if size is None else size
    if isinstance(size, bool) or not isinstance(size, int) or not minimum <= size <= maximum:
        raise ValueError(f"MaxResults {size!r} must be from {minimum} to {maximum}")
    return start, size


def page(items: list, start: int, size: int, key: str) -> dict:
    answer: dict = {key: items[start : start + size]}
    if start + size < len(items):
        answer["NextToken"] = str(start + size)
    return answer
