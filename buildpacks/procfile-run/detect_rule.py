"""When the procfile-run buildpack applies (the app has a Procfile), and what runs without one.

This module is the one place that rule lives. `bin/detect` runs it inside the build image, and
`boxwise detect` loads this same file to decide for many apps in one process. Standard library
only: it runs under whatever python3 the build image has.
"""

from __future__ import annotations

import os
import stat

BUILDPACK_ID = "procfile-run"
MARKER = "Procfile"
# What this buildpack hands its own build step through the build plan (CNB buildpack API §1.4).
PLAN_ENTRY = "procfile"


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
    plan = {
        "provides": [{"name": PLAN_ENTRY}],
        "requires": [{"name": PLAN_ENTRY, "metadata": {"file": MARKER, "launch": True}}],
    }
    return True, f"found {MARKER}", plan


def default_process(app_dir: str) -> list[str] | None:
    """What python runs when the Procfile names no `web` process (or there is no Procfile).

    The arguments after `python`: `["-m", "pkg"]` for a package with a `__main__.py` (at the top
    or under `src/`), `["main.py"]` or `["app.py"]` for a top-level script, `["__main__.py"]` for
    an app folder that is itself runnable; None when there is nothing to run.
    """
    for script in ("__main__.py", "main.py", "app.py"):
        if os.path.isfile(os.path.join(app_dir, script)):
            return [script]
    for top in (app_dir, os.path.join(app_dir, "src")):
        try:
            names = sorted(os.listdir(top))
        except OSError:
            continue
        for name in names:
            if name.isidentifier() and os.path.isfile(os.path.join(top, name, "__main__.py")):
                return ["-m", name]
    return None
