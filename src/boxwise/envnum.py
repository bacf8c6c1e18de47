"""A positive number from the environment (a limit the CI configuration may set), else a default."""

from __future__ import annotations

import os


def positive_float(name: str, default: float) -> float:
    """`$name` as a number above zero; unset, empty, not a number or not positive: `default`."""
    try:
        value = float(os.environ.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default
