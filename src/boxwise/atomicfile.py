"""Atomic file writes: a file is either its old content or its whole new content, never half of one.

The one rule for every writer (caches, blobs, images, artifacts): write to a name of our own in
the same folder (a rename is atomic only within one file system), rename it over the target when
the write is complete, and remove it when the write fails. A writer that is killed leaves its
temporary file behind; `remove_stale_temporaries` sweeps those once they are old enough that no
writer can still be at work on them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

TEMPORARY_PREFIX = ".tmp-"
STALE_SECONDS = 3600.0  # no write of one file takes an hour: its writer is gone


def temporary_name(path: Path) -> Path:
    """A name next to `path` that no other process or thread picks (pid and a clock in it)."""
    return path.parent / f"{TEMPORARY_PREFIX}{os.getpid()}-{time.monotonic_ns()}-{path.name}"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write `path`'s new content to: renamed over `path` when the block ends
    normally, removed when it raises. The folder is made when missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: Path, data: bytes, mode: int = 0o666) -> None:
    """`path` holds `data`, atomically; OSError when it cannot be written. `mode` is masked by the
    umask, as open() does."""
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)


def remove_stale_temporaries(folder: Path, prefix: str = TEMPORARY_PREFIX, suffix: str = "") -> int:
    """Remove `prefix…suffix` files in `folder` older than STALE_SECONDS; how many went."""
    cutoff = time.time() - STALE_SECONDS
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(suffix)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
    return removed
