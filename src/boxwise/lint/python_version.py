"""Lint the Python version an app asks for: each file readable, and all of them agreeing.

The rules are buildpacks/shared/pyversion.py's, the module the build checks the base with, so
lint and build never disagree on what a file asks for.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from boxwise.apps import rel_path
from boxwise.findings import Finding, finding


def lint_python_version(app_dir: Path, root: Path, pyversion: ModuleType) -> list[Finding]:
    """One `python-version` finding when a version file is invalid or two of them disagree."""
    try:
        pyversion.read_request(str(app_dir))
    except pyversion.VersionError as exc:
        rel = rel_path(root, app_dir / exc.source)
        return [finding(rel, exc.line, "python-version", exc.message, exc.fix)]
    return []
