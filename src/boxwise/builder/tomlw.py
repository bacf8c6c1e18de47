"""A tiny TOML writer for the files the platform writes for buildpacks (restored `<layer>.toml`)."""

from __future__ import annotations

import json
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def dumps(table: dict[str, Any], prefix: str = "") -> str:
    """Plain keys first, then one `[table]` per nested dict (recursively)."""
    lines = [f"{json.dumps(str(k))} = {_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    for key, value in table.items():
        if isinstance(value, dict):
            name = f"{prefix}{json.dumps(str(key))}"
            lines += ["", f"[{name}]", dumps(value, f"{name}.").rstrip("\n")]
    return "\n".join(lines).strip("\n") + "\n"
