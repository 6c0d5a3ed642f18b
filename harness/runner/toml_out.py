"""Writing a resolved scenario back as TOML (tomllib only reads)."""
from __future__ import annotations

import json


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def dumps(data: dict) -> str:
    """Scalars and lists first, then one [table] per dict; None values are left out."""
    lines, tables = [], []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.extend((f"[{key}]", item) for item in value)
        else:
            lines.append(f"{key} = {_value(value)}")
    for key, table in tables:
        header = f"[{key}]" if not key.startswith("[") else f"[{key}]"
        lines.append("")
        lines.append(header)
        lines.extend(f"{json.dumps(str(k)) if not str(k).isidentifier() else k} = {_value(v)}"
                     for k, v in table.items() if v is not None)
    return "\n".join(lines) + "\n"
