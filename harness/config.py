"""Reading TOML configuration with errors that name the file, the key, the value and what is allowed.

Profiles, quota tables and scenarios all go through here so bad input always reads the same way.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Iterable


class ConfigError(ValueError):
    """Bad configuration: the message names the file, the key, the value and what is allowed."""

    def __init__(self, source: str, key: str, value: Any, allowed: str):
        self.source, self.key, self.value, self.allowed = source, key, value, allowed
        super().__init__(f"{source}: {key} = {value!r} is not allowed; expected {allowed}")


def dumps_toml(data: dict[str, Any]) -> str:
    """TOML text for `data` (tomllib only reads), leaving out None values: TOML has no null, and
    an unset key reads back as its default."""
    import tomli_w

    def present(value):
        if isinstance(value, dict):
            return {str(k): present(v) for k, v in value.items() if v is not None}
        if isinstance(value, (list, tuple)):
            return [present(v) for v in value if v is not None]
        return value

    return tomli_w.dumps(present(data))


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", str(path), "an existing TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(str(path), "(syntax)", str(err), "valid UTF-8 TOML") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "(file)", str(path), "a TOML file, not a folder") from None


class Section:
    """A view of one TOML table that checks every key it hands out.

    `Section(data, source, prefix)`; call the typed getters, then `done()` to refuse unknown keys.
    """

    def __init__(self, data: Any, source: str, prefix: str = ""):
        if not isinstance(data, dict):
            raise ConfigError(source, prefix or "(root)", data, "a table")
        self.data, self.source, self.prefix = data, source, prefix
        self._seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def has(self, key: str) -> bool:
        return key in self.data

    def error(self, key: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(self.source, self._key(key), value, allowed)

    def raw(self, key: str, default: Any = None) -> Any:
        self._seen.add(key)
        return self.data.get(key, default)

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        above: float | None = None,
        required: bool = False,
    ) -> float:
        """above: an exclusive minimum (a rate of 0 would never let a call go)."""
        value = self.raw(key, default)
        allowed = f"a number > {above:g}" if above is not None else _range("a number", minimum, maximum)
        if value is None and required:
            raise self.error(key, None, allowed + " (required)")
        if value is None:
            return value  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise self.error(key, value, allowed)
        if (
            (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)
            or (above is not None and value <= above)
        ):
            raise self.error(key, value, allowed)
        return float(value)

    def integer(
        self,
        key: str,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        required: bool = False,
    ) -> int:
        value = self.raw(key, default)
        if value is None and required:
            raise self.error(key, None, "an integer (required)")
        if value is None:
            return value  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, value, _range("an integer", minimum, maximum))
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.error(key, value, _range("an integer", minimum, maximum))
        return value

    def string(
        self, key: str, default: str | None = None, *, choices: Iterable[str] | None = None, required: bool = False
    ) -> str:
        value = self.raw(key, default)
        choices = list(choices) if choices is not None else None
        allowed = f"one of {', '.join(choices)}" if choices else "a string"
        if value is None and required:
            raise self.error(key, None, allowed + " (required)")
        if value is None:
            return value  # type: ignore[return-value]
        if not isinstance(value, str) or (choices is not None and value not in choices):
            raise self.error(key, value, allowed)
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, value, "true or false")
        return value

    def section(self, key: str) -> "Section":
        return Section(self.raw(key, {}), self.source, self._key(key))

    def sections(self, key: str) -> list["Section"]:
        """An array of tables, e.g. [[quota]]."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise self.error(key, value, "an array of tables ([[%s]])" % key)
        return [Section(item, self.source, f"{self._key(key)}[{i}]") for i, item in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            allowed = ", ".join(sorted(self._seen)) or "no keys"
            raise self.error(unknown[0], self.data[unknown[0]], f"a known key ({allowed})")


def _range(kind: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{kind} from {minimum} to {maximum}"
    if minimum is not None:
        return f"{kind} >= {minimum}"
    if maximum is not None:
        return f"{kind} <= {maximum}"
    return kind
