"""When the pipenv-install buildpack applies: the app's package manager is Pipenv (Pipfile.lock, or a
Pipfile without one), as ../shared/package_managers.py decides for every buildpack.

A Pipfile.lock whose `_meta.hash` is not its Pipfile's is refused here, at detect, so that
`boxwise detect` (which loads this file in its own process) and the build say the same thing.
The hash is Pipenv's: sha256 of the Pipfile's sources, requires and package sections as sorted,
compact JSON (package names as written by older Pipenv, PEP 503-normalised by newer; either counts).

This module is the one place that rule lives. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys

# The shared decision: beside this file when boxwise packages the buildpack, in ../shared in a checkout.
_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shared")
if os.path.isdir(_SHARED) and _SHARED not in sys.path:
    sys.path.append(_SHARED)

import package_managers  # noqa: E402

BUILDPACK_ID = "pipenv-install"
MARKER = "Pipfile.lock"
PLAN_ENTRY = "pipenv-lock"
DEFAULT_SOURCE = [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True}]
# Pipfile tables that are not package categories (Pipenv leaves them out of the hash).
NOT_CATEGORIES = {"source", "packages", "dev-packages", "requires", "scripts", "pipfile", "pipenv"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pipfile_hashes(pipfile: dict) -> set[str]:
    """The `_meta.hash` a Pipfile.lock made from this Pipfile carries (old and new Pipenv)."""
    found = set()
    for normalise in (False, True):

        def section(values: object, normalise: bool = normalise) -> object:
            if not (normalise and isinstance(values, dict)):
                return values
            return {_normal(str(key)): value for key, value in values.items()}

        data = {
            "_meta": {
                "sources": pipfile.get("source", DEFAULT_SOURCE),
                "requires": pipfile.get("requires", {}),
            },
            "default": section(pipfile.get("packages", {})),
            "develop": section(pipfile.get("dev-packages", {})),
        }
        for category, values in pipfile.items():
            if category not in NOT_CATEGORIES and category not in ("default", "develop"):
                data[category] = section(values)
        content = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
        found.add(hashlib.sha256(content.encode("utf-8")).hexdigest())
    return found


def read_lock(app_dir: str) -> tuple[dict | None, str]:
    """(Pipfile.lock as a dict, "") or (None, what is wrong with it)."""
    text = package_managers.read_text(os.path.join(app_dir, MARKER), package_managers.MAX_LOCK_READ)
    if text is None:
        return None, f"{MARKER}: cannot read it (a regular file of at most 32 MiB); run `pipenv lock` again"
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, f"{MARKER}: not valid JSON ({exc}); run `pipenv lock` again"
    if not isinstance(data, dict) or not isinstance(data.get("default", {}), dict):
        return None, f"{MARKER}: no `default` package table; run `pipenv lock` again"
    return data, ""


def lock_problem(app_dir: str) -> str:
    """Why Pipfile.lock cannot be installed as it is, or ""."""
    lock, problem = read_lock(app_dir)
    if lock is None:
        return problem
    if not os.path.isfile(os.path.join(app_dir, "Pipfile")):
        return ""  # nothing to compare with: the lock alone says what to install
    pipfile = package_managers.read_toml(os.path.join(app_dir, "Pipfile"))
    meta = lock.get("_meta") if isinstance(lock.get("_meta"), dict) else {}
    recorded = (meta.get("hash") or {}).get("sha256") if isinstance(meta.get("hash"), dict) else None
    if recorded not in pipfile_hashes(pipfile):
        return (
            f"{MARKER} is out of date with Pipfile (its _meta.hash is not the Pipfile's); "
            "run `pipenv lock` and commit Pipfile.lock"
        )
    return ""


def detect(app_dir: str) -> tuple[bool | None, str, dict]:
    """(passed, why, build plan) for the app in `app_dir`; passed is None when the app is refused."""
    decision = package_managers.decide(app_dir)
    if decision.error:
        return None, decision.error, {}
    if decision.manager != "pipenv":
        marker = MARKER if os.path.lexists(os.path.join(app_dir, MARKER)) else "Pipfile"
        return False, decision.not_mine(BUILDPACK_ID, marker, app_dir), {}
    if decision.warning:  # a Pipfile without its lock: installed from the Pipfile, with a warning
        plan = {
            "provides": [{"name": PLAN_ENTRY}],
            "requires": [{"name": PLAN_ENTRY, "metadata": {"file": "Pipfile", "launch": True}}],
        }
        return True, f"found Pipfile; WARNING: {decision.warning}", plan
    problem = lock_problem(app_dir)
    if problem:
        return None, problem, {}
    plan = {
        "provides": [{"name": PLAN_ENTRY}],
        "requires": [{"name": PLAN_ENTRY, "metadata": {"file": MARKER, "launch": True}}],
    }
    return True, f"found {MARKER}", plan
