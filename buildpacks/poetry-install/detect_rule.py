"""When the poetry-install buildpack applies: the app's package manager is Poetry (its poetry.lock),
as ../shared/package_managers.py decides for every buildpack (detect_manager, the rule the lock-file
buildpacks share).

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
    return package_managers.detect_manager(app_dir, "poetry", MARKER, PLAN_ENTRY, ("pyproject.toml",))
