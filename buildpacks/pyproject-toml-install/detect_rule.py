"""When the pyproject-toml-install buildpack applies: the app has a pyproject.toml.

This module is the one place that rule lives. `bin/detect` runs it inside the build image, and
`boxwise detect` loads this same file to decide for many apps in one process. Standard library
only: it runs under whatever python3 the build image has.
"""

from __future__ import annotations

import os
import stat

BUILDPACK_ID = "pyproject-toml-install"
MARKER = "pyproject.toml"
# What this buildpack hands its own build step through the build plan (CNB buildpack API §1.4).
PLAN_ENTRY = "pyproject-project"


def detect(app_dir: str) -> tuple[bool, str, dict]:
    """(passed, why, build plan) for the app in `app_dir`."""
    path = os.path.join(app_dir, MARKER)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False, f"no {MARKER}", {}
    except OSError as exc:
        return False, f"cannot read {MARKER} ({exc.strerror})", {}
    if not stat.S_ISREG(mode):
        return False, f"{MARKER} is not a regular file", {}
    if os.path.lexists(os.path.join(app_dir, "requirements.txt")):
        # As on Heroku: requirements.txt says what to install; `-e .` in it installs the project too.
        return False, "requirements.txt is there: pip-install installs what it lists", {}
    plan = {
        "provides": [{"name": PLAN_ENTRY}],
        "requires": [{"name": PLAN_ENTRY, "metadata": {"file": MARKER, "launch": True}}],
    }
    return True, f"found {MARKER}", plan
