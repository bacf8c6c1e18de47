"""When the setup-py-install buildpack applies: the app is a setup.py project and no other package
manager file (requirements.txt, a lock, a pyproject.toml project) says how to install it, as
../shared/package_managers.py decides for every buildpack (detect_manager, the rule the lock-file
buildpacks share).

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
    return package_managers.detect_manager(app_dir, "setuptools", MARKER, PLAN_ENTRY)
