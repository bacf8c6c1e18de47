"""Warn about files in an app folder that would land in its image: .env, private keys, .git."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from boxwise.apps import SKIP_DIRS
from boxwise.lint.findings import Finding, finding

KEY_PATTERNS = ("*.pem", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*")
# .env templates are committed on purpose and hold no secrets.
ENV_TEMPLATES = (".env.example", ".env.sample", ".env.template", ".env.dist")
IGNORE_FIX = "add it to the app's .dockerignore or .boxwiseignore (or remove it from the app folder)"


def _walk(app_dir: Path, excluded: Callable[[str], bool]) -> Iterator[tuple[str, bool]]:
    """(path relative to the app, is_dir) of the entries the build would export.

    Ignored paths are pruned; dependency trees, caches, build output and virtualenvs are listed
    but never entered (walking them on every commit would cost more than it finds).
    """
    stack = [""]
    while stack:
        prefix = stack.pop()
        try:
            with os.scandir(app_dir / prefix if prefix else app_dir) as entries:
                listed = list(entries)
        except OSError:
            continue
        for entry in listed:
            rel = f"{prefix}/{entry.name}" if prefix else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if excluded(rel):
                continue
            yield rel, is_dir
            venv = is_dir and os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
            if is_dir and entry.name not in SKIP_DIRS and not venv:
                stack.append(rel)


def _kind(name: str, is_dir: bool) -> str | None:
    if name == ".git":
        return "git-dir"
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
            "git-dir": "the repo's whole history",
            "env-file": "an environment file usually holds secrets",
            "private-key": "a private key is a secret",
        }[kind]
        findings.append(finding(path, None, kind, f"would land in the image ({why})", IGNORE_FIX))
    return findings
