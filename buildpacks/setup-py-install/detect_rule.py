"""When the setup-py-install buildpack applies: the app is a setup.py project and no other package
manager file (requirements.txt, a lock, a pyproject.toml project) says how to install it, as
../shared/package_managers.py decides for every buildpack.

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

BUILDPACK_ID = "setup-py-install"
MARKER = "setup.py"
PLAN_ENTRY = "setup-py-project"


def detect(app_dir: str) -> tuple[bool | None, str, dict]:
    """(passed, why, build plan) for the app in `app_dir`; passed is None when the app is refused."""
    decision = package_managers.decide(app_dir)
    if decision.error:
        return None, decision.error, {}
    if decision.manager != "setuptools":
        return False, decision.not_mine(BUILDPACK_ID, MARKER, app_dir), {}
    if not os.path.isfile(os.path.join(app_dir, MARKER)):
        return False, f"{MARKER} is not a regular file", {}
    plan = {
        "provides": [{"name": PLAN_ENTRY}],
        "requires": [{"name": PLAN_ENTRY, "metadata": {"file": MARKER, "launch": True}}],
    }
    return True, f"found {MARKER}", plan
