"""Warn about files in an app folder that would land in its image (.env, private keys), and a
committed virtual environment (an error: the build never copies it, as Heroku refuses it)."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from boxwise.appfiles import is_venv, walk
from boxwise.apps import SKIP_DIRS
from boxwise.findings import Finding, finding

KEY_PATTERNS = ("*.pem", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*")
# .env templates are committed on purpose and hold no secrets.
ENV_TEMPLATES = (".env.example", ".env.sample", ".env.template", ".env.dist")
IGNORE_FIX = "add it to the app's .dockerignore or .boxwiseignore (or remove it from the app folder)"


def _walk(app_dir: Path, excluded: Callable[[str], bool]) -> Iterator[tuple[str, bool]]:
    """(path relative to the app, is_dir) of the entries the build would export: the build's own
    walk (boxwise.appfiles), except that dependency trees, caches and build output are listed but
    never entered (walking them on every commit would cost more than it finds)."""
    skip = lambda rel: rel.rsplit("/", 1)[-1] in SKIP_DIRS  # noqa: E731 - a one-line predicate
    for rel, st in walk(app_dir, excluded, skip_dir=skip):
        yield rel, stat.S_ISDIR(st.st_mode)


def _venvs(app_dir: Path) -> list[str]:
    """Committed virtual environments (a folder with pyvenv.cfg) at the top or one level down."""
    found = []
    with contextlib.suppress(OSError), os.scandir(app_dir) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False) and is_venv(entry.path):
                found.append(entry.name)
    return found


def _kind(name: str, is_dir: bool) -> str | None:
    if is_dir:
        return None
    if name == ".env" or (name.startswith(".env.") and name not in ENV_TEMPLATES):
        return "env-file"
    if not name.endswith(".pub") and any(fnmatch.fnmatchcase(name, p) for p in KEY_PATTERNS):
        return "private-key"
    return None


def lint_contents(app_dir: Path, app_rel: str, excluded: Callable[[str], bool]) -> list[Finding]:
    findings: list[Finding] = []
    for rel, is_dir in _walk(app_dir, excluded):
        kind = _kind(rel.rsplit("/", 1)[-1], is_dir)
        if kind is None:
            continue
        path = rel if app_rel == "." else f"{app_rel}/{rel}"
        why = {
            "env-file": "an environment file usually holds secrets",
            "private-key": "a private key is a secret",
        }[kind]
        findings.append(finding(path, None, kind, f"would land in the image ({why})", IGNORE_FIX))
    for name in _venvs(app_dir):
        path = name if app_rel == "." else f"{app_rel}/{name}"
        findings.append(
            finding(
                path,
                None,
                "venv-dir",
                "a virtual environment is committed in the app (boxwise never copies it into the image)",
                f"remove it from the repository (git rm -r --cached {name}) and list it in .gitignore",
            )
        )
    return findings
