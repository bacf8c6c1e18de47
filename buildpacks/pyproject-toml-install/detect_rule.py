"""When the pyproject-toml-install buildpack applies: the app is a pyproject.toml project (a
[project] or [build-system] table) and no package manager file (requirements.txt, a lock) says
otherwise: ../shared/package_managers.py decides that once for every buildpack.

This module is the one place that rule lives. `bin/detect` runs it inside the build image, and
`boxwise detect` loads this same file to decide for many apps in one process. Standard library
only: it runs under whatever python3 the build image has.
"""

from __future__ import annotations

import os
import stat
import sys

# The shared decision: beside this file when boxwise packages the buildpack, in ../shared in a checkout.
_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shared")
if os.path.isdir(_SHARED) and _SHARED not in sys.path:
    sys.path.append(_SHARED)

import package_managers  # noqa: E402

BUILDPACK_ID = "pyproject-toml-install"
MARKER = "pyproject.toml"
# What this buildpack hands its own build step through the build plan (CNB buildpack API §1.4).
PLAN_ENTRY = "pyproject-project"


def detect(app_dir: str) -> tuple[bool | None, str, dict]:
    """(passed, why, build plan) for the app in `app_dir`; passed is None when the app is refused."""
    decision = package_managers.decide(app_dir)
    if decision.error:
        return None, decision.error, {}
    path = os.path.join(app_dir, MARKER)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False, f"no {MARKER}", {}
    except OSError as exc:
        return False, f"cannot read {MARKER} ({exc.strerror})", {}
    if not stat.S_ISREG(mode):
        return False, f"{MARKER} is not a regular file", {}
    if decision.manager == "pip":
        # As on Heroku: requirements.txt says what to install; `-e .` in it installs the project too.
        return False, "requirements.txt is there: pip-install installs what it lists", {}
    if decision.manager != "pyproject":
        if decision.buildpack:
            return False, decision.not_mine(BUILDPACK_ID, MARKER, app_dir), {}
        return False, f"{MARKER} holds no [project] or [build-system] table (only settings)", {}
    plan = {
        "provides": [{"name": PLAN_ENTRY}],
        "requires": [{"name": PLAN_ENTRY, "metadata": {"file": MARKER, "launch": True}}],
    }
    return True, f"found {MARKER}", plan
