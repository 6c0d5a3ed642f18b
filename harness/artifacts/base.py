"""What every artifact answers the same way, from its own describe() and health_check()."""

from __future__ import annotations


class Artifact:
    """Subclasses implement describe() (None when absent) and health_check() (named problems).
    Nothing is cached: every question is a fresh read of AWS."""

    def describe(self) -> dict | None:
        raise NotImplementedError

    def health_check(self) -> list[str]:
        raise NotImplementedError

    def exists(self) -> bool:
        return self.describe() is not None

    def ready(self) -> bool:
        return not self.health_check()
