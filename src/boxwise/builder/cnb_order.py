"""The CNB group choice, shared by the in-container driver (bin/detect in the build image) and
`boxwise detect` (the detect rules in process): one copy of the rule both must agree on.

Standard library only and no boxwise import: the build copies this file next to the driver as
/cnb/lifecycle/cnb_order.py (builder/lifecycle.py, DRIVER_FILES).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def choose_group(
    order: list[list[dict[str, Any]]], passes: Callable[[str], bool]
) -> tuple[int, list[str]] | None:
    """CNB group choice: the first group (1-based index, passing ids) whose required buildpacks all
    pass, with at least one passing. `passes(id)` runs a buildpack's detect; it is asked at most
    once per group entry and may raise to abort. `boxwise detect` makes the same choice with the
    in-process rules, so this is the one copy of it."""
    for index, group in enumerate(order, 1):
        passing = []
        for entry in group:
            if passes(entry["id"]):
                passing.append(entry["id"])
            elif not entry.get("optional"):
                break
        else:
            if passing:
                return index, passing
    return None
