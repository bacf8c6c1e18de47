"""Which files of an app folder go into its image: the one walk lint and the app layer share.

Docker's `.dockerignore` rules (then `.boxwiseignore`, read last so its `!` lines win), as
`docker build` applies them to its context (moby's archive walk): a pattern matching a path or any
of its parents excludes it, the last matching line wins, and an excluded folder is still entered
when an exception line (`!docs/readme.md`, or `*` + `!src/...`) names something under it.
Never in an image whatever the ignore files say: VCS folders, `__pycache__`, `*.pyc`, and a
committed virtual environment (a folder holding `pyvenv.cfg`; lint reports it as an error).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# .boxwise-cache: where the CI templates keep $XDG_CACHE_HOME inside the project (GitLab's cache:
# paths must be there); an app at the repository root must not carry its own layer cache.
ALWAYS_EXCLUDED = frozenset({".git", ".hg", ".svn", "__pycache__", ".boxwise-cache"})


@dataclass(frozen=True)
class IgnoreRule:
    negate: bool  # a `!` line: re-includes what it matches
    regex: re.Pattern[str]
    text: str  # the cleaned pattern, as moby compares it with folder prefixes


class IgnoreMatcher:
    """`matcher(rel)`: is this app-relative POSIX path excluded; `matcher.enter(rel)`: must an
    excluded folder still be walked, because an exception line names something inside it."""

    def __init__(self, rules: list[IgnoreRule]) -> None:
        self.rules = rules
        self._exceptions = [rule.text for rule in rules if rule.negate]

    def __call__(self, rel: str) -> bool:
        rel = rel.strip("/")
        parts = rel.split("/")
        prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
        result = False
        for rule in self.rules:
            if any(rule.regex.match(prefix) for prefix in prefixes):
                result = not rule.negate
        return result

    def enter(self, rel: str) -> bool:
        folder = rel.strip("/") + "/"
        return any((text + "/").startswith(folder) for text in self._exceptions)


def is_venv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def always_excluded(name: str, path: str, is_dir: bool) -> bool:
    if is_dir:
        return name in ALWAYS_EXCLUDED or is_venv(path)
    return name.endswith(".pyc")


def walk(
    root: str | os.PathLike[str],
    excluded: Callable[[str], bool],
    skip_dir: Callable[[str], bool] = lambda rel: False,
) -> Iterator[tuple[str, os.stat_result]]:
    """(relative POSIX path, lstat) of every entry the image gets, sorted by path.

    `excluded` is an IgnoreMatcher (or any test); `skip_dir(rel)` lets a caller that only looks
    for a few kinds of file (lint) leave big trees unread; the build passes none.
    """
    enter = getattr(excluded, "enter", lambda rel: False)
    found: list[tuple[str, os.stat_result]] = []
    stack = [""]
    while stack:
        prefix = stack.pop()
        folder = os.path.join(root, prefix) if prefix else os.fspath(root)
        with os.scandir(folder) as entries:
            listed = sorted(entries, key=lambda entry: entry.name)
        for entry in listed:
            rel = f"{prefix}/{entry.name}" if prefix else entry.name
            st = entry.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            if always_excluded(entry.name, entry.path, is_dir):
                continue
            if excluded(rel):
                if is_dir and enter(rel):
                    stack.append(rel)  # walked for what an exception re-includes; not itself listed
                continue
            found.append((rel, st))
            if is_dir and not skip_dir(rel):
                stack.append(rel)
    found.sort(key=lambda item: item[0])
    return iter(found)
