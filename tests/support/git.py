"""git in a test repo, as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def snapshot_checkout(source: Path, work: Path) -> str:
    """A new git repo at `work` holding `source`'s tracked and new (not ignored) files as they are
    on disk, committed once: what a release of this checkout would hold, uncommitted edits too.
    Returns the commit."""
    import shutil

    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=source, capture_output=True, check=True
    )
    for rel in filter(None, listed.stdout.decode().split("\0")):
        path = source / rel
        if path.is_file():
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    git(work.parent, "init", "-q", str(work))
    git(work, "add", "-A")
    git(work, "-c", "user.name=boxwise", "-c", "user.email=boxwise@example.com", "commit", "-qm", "release")
    return git(work, "rev-parse", "HEAD").strip()
