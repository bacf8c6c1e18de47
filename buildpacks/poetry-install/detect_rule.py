"""When the poetry-install buildpack applies: the app's package manager is Poetry (its poetry.lock),
as ../shared/package_managers.py decides for every buildpack.

Whether poetry.lock is in sync with pyproject.toml only Poetry can say (its content-hash changed
over Poetry's versions): the build asks it, and refuses a stale lock naming both files.

This module is the one place that rule lives. Standard library only.
"""

from __future__ import annotations

import os
import sys

# The shared decision: beside this file when boxwise packages the buildpack, in ../shared in a checkout.
_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shared")
if os.path.isdir(_SHARED) and _SHARED not in sys.path:
    sys.path.append(_SHARED)

import package_managers  # noqa: E402

BUILDPACK_ID = "poetry-install"
MARKER = "poetry.lock"
PLAN_ENTRY = "poetry-lock"


def detect(app_dir: str) -> tuple[bool | None, str, dict]:
    """(passed, why, build plan) for the app in `app_dir`; passed is None when the app is refused."""
    decision = package_managers.decide(app_dir)
    if decision.error:
        return None, decision.error, {}
    if decision.manager != "poetry":
        return False, decision.not_mine(BUILDPACK_ID, MARKER, app_dir), {}
    if not os.path.isfile(os.path.join(app_dir, "pyproject.toml")):
        return None, f"{MARKER} without pyproject.toml: Poetry needs both; commit pyproject.toml", {}
    plan = {
        "provides": [{"name": PLAN_ENTRY}],
        "requires": [{"name": PLAN_ENTRY, "metadata": {"file": MARKER, "launch": True}}],
    }
    return True, f"found {MARKER}", plan
