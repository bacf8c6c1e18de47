"""Find the apps of a repo, map paths and changes to them, and read an app's ignore files.

An app is a folder holding `requirements.txt`, `pyproject.toml` (one with a `[project]` or `[build-system]`
table or `[tool.poetry.dependencies]`: a `pyproject.toml` that only holds other `[tool.*]`
settings, like a monorepo root's, does not make an app), `Procfile`, a lock file (`Pipfile.lock`,
`poetry.lock`, `uv.lock`), `Pipfile`, `setup.py` or `setup.cfg` (one with `[metadata]` or
`[options]`: a `setup.cfg` of tool settings does not make an app either). A folder that holds one is
an app even when no buildpack builds it, so that `boxwise detect` reports it instead of skipping it.

`[tool.boxwise] apps = [globs]` replaces that discovery, `exclude = [globs]` drops apps (globs are
repo-relative; `*` stays within one folder, `**` crosses folders; a glob naming a folder covers
what is in it). Discovery never descends into `.git`, virtualenvs, `node_modules`, caches or
build output, nor follows a symlinked folder.

`App` fields:

- `name`: the app folder relative to the repo root, POSIX style (`apps/api`; `.` for the root).
  It is the app's identity everywhere: output, JSON, `--apps`.
- `path`: the app folder, absolute.
- `slug` (property): a name fit for an image or a CI job: `apps/api` → `apps-api`; the root app
  takes the repo folder's name.

Entry points: `discover_apps(settings)`, `apps_for_paths(settings, paths)` (what `boxwise detect`
and pre-commit pass), `app_of(settings, path)`, `changed_files(root, since_ref)` and
`apps_touched(settings, changed)` (for `ci`/`plan`), `load_ignore(app_dir)` (what the build
leaves out of the app layer).

Only the standard library is imported at module level: this runs on every `boxwise detect`.
GitPython is imported inside `changed_files` alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from boxwise.appfiles import IgnoreMatcher, IgnoreRule
from boxwise.config import Settings
from boxwise.errors import UserError

if TYPE_CHECKING:
    from boxwise.findings import Finding

MARKERS = (
    "requirements.txt",
    "pyproject.toml",
    "Procfile",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "uv.lock",
    "setup.py",
    "setup.cfg",
)
# Markers that make an app by being there; pyproject.toml and setup.cfg must also describe a project.
_PLAIN_MARKERS = frozenset(MARKERS) - {"pyproject.toml", "setup.cfg"}
# Folders that are never app source: VCS data, virtualenvs, dependency trees, caches, build output.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".boxwise-cache",  # the CI templates' $XDG_CACHE_HOME inside the project
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".tox",
        ".nox",
        ".eggs",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        "build",
        "dist",
    }
)
IGNORE_FILES = (".dockerignore", ".boxwiseignore")


@dataclass(frozen=True)
class App:
    name: str
    path: Path

    @property
    def slug(self) -> str:
        base = self.path.name if self.name == "." else self.name.replace("/", "-")
        return re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("-._") or "app"


# ---------------------------------------------------------------------------------------- globs


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A repo-relative glob as a regex: `*`/`?` stay in one folder, `**` crosses folders."""
    pattern = pattern.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    pattern = pattern.strip("/") or "."
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def matches_any(rel: str, patterns: Iterable[str]) -> bool:
    return any(glob_regex(p).match(rel) for p in patterns)


def _parents_and_self(rel: str) -> Iterator[str]:
    parts = rel.split("/")
    for end in range(1, len(parts) + 1):
        yield "/".join(parts[:end])


# --------------------------------------------------------------------------------- ignore files


def parse_ignore(text: str) -> list[IgnoreRule]:
    """`.dockerignore` lines → rules, in file order (the last match wins)."""
    rules: list[IgnoreRule] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:].strip()
        line = os.path.normpath(line).replace(os.sep, "/").lstrip("/")
        if line in ("", "."):
            continue
        rules.append(IgnoreRule(negate, glob_regex(line), line))
    return rules


def ignore_matcher(rules: list[IgnoreRule]) -> IgnoreMatcher:
    """`excluded(rel_path)`: Docker's rule, a pattern matching a path or any of its parents."""
    return IgnoreMatcher(rules)


def read_ignore_files(app_dir: Path, root: Path) -> tuple[list[IgnoreRule], list[Finding]]:
    """The rules of the app's `.dockerignore` then `.boxwiseignore`, and findings for unreadable ones."""
    from boxwise.inputfiles import read_text

    rules: list[IgnoreRule] = []
    problems: list[Finding] = []
    for name in IGNORE_FILES:
        path = app_dir / name
        if not os.path.lexists(path):
            continue
        text, found = read_text(path, rel_path(root, path))
        problems += found
        if text is not None:
            rules += parse_ignore(text)
    return rules, problems


def load_ignore(app_dir: Path) -> IgnoreMatcher:
    """What the app's `.dockerignore` then `.boxwiseignore` exclude, as `excluded(rel_path) -> bool`.

    `rel_path` is relative to the app folder, POSIX style. The build exports the app folder minus
    these paths; lint warns about secrets that are not excluded. An ignore file that cannot be
    read is a UserError naming it (lint reports it as a finding instead).
    """
    rules, problems = read_ignore_files(app_dir, app_dir)
    if problems:
        first = problems[0]
        raise UserError(f"{app_dir / first.path}: {first.message}; {first.fix}")
    return ignore_matcher(rules)


# ----------------------------------------------------------------------------------- discovery


def rel_path(root: Path, path: Path | str) -> str:
    """`path` relative to `root`, POSIX style, `.` for the root itself (fast for paths inside it)."""
    root_text, path_text = os.fspath(root), os.fspath(path)
    if path_text == root_text:
        return "."
    if path_text.startswith(root_text.rstrip(os.sep) + os.sep):
        return path_text[len(root_text.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
    rel = os.path.relpath(path_text, root_text).replace(os.sep, "/")
    return "." if rel in ("", ".") else rel


def _is_project_pyproject(path: Path) -> bool:
    """True unless the file is valid TOML with only `[tool.*]` settings (a config, not an app)."""
    from boxwise.config import tomllib
    from boxwise.inputfiles import read_text

    text, _ = read_text(path, path.name)
    if text is None:
        return True  # let lint report what is wrong with it
    from boxwise.tomlsafe import unsafe_reason

    if unsafe_reason(text):
        return True  # never parsed: lint says why
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        return True
    if "project" in data or "build-system" in data:
        return True
    # Poetry's own dependency table declares an app too (one the build refuses without poetry.lock).
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    return isinstance(poetry, dict) and isinstance(poetry.get("dependencies"), dict)


def _is_project_setup_cfg(path: Path) -> bool:
    """True when setup.cfg holds setuptools metadata ([metadata] or [options]), not only tool settings."""
    from boxwise.inputfiles import read_text

    text, _ = read_text(path, path.name)
    if text is None:
        return False
    return bool(re.search(r"^\s*\[(metadata|options)\]", text, re.M))


def _holds_app_marker(folder: Path, names: set[str]) -> bool:
    if names & _PLAIN_MARKERS:
        return True
    if "pyproject.toml" in names and _is_project_pyproject(folder / "pyproject.toml"):
        return True
    return "setup.cfg" in names and _is_project_setup_cfg(folder / "setup.cfg")


def _is_app_folder(settings: Settings, folder: Path, names: set[str] | None = None) -> bool:
    rel = rel_path(settings.root, folder)
    if settings.apps:
        return matches_any(rel, settings.apps)
    if names is None:
        names = {name for name in MARKERS if os.path.lexists(folder / name)}
    return _holds_app_marker(folder, names)


def _matches_with_parents(rel: str, patterns: Iterable[str]) -> bool:
    """A glob that names a folder covers everything in it."""
    return any(matches_any(prefix, patterns) for prefix in _parents_and_self(rel))


def _excluded(settings: Settings, rel: str) -> bool:
    return bool(settings.exclude) and _matches_with_parents(rel, settings.exclude)


def _walk_folders(top: Path) -> Iterator[tuple[Path, set[str]]]:
    """Every folder under `top` (itself first) with its entry names, minus the skipped ones."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                names: set[str] = set()
                subdirs: list[Path] = []
                for entry in entries:
                    names.add(entry.name)
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue
                    if is_dir and entry.name not in SKIP_DIRS and not entry.name.endswith(".egg-info"):
                        subdirs.append(Path(entry.path))
        except OSError:
            continue
        if "pyvenv.cfg" in names:  # a virtualenv under any name
            continue
        yield folder, names
        stack.extend(sorted(subdirs, reverse=True))


def discover_apps(settings: Settings, under: Path | None = None) -> list[App]:
    """The apps of the repo (or of the folder `under` inside it), sorted by name.

    A local package another app installs (`-e ./libs/x`, a path source) belongs to that app: it is
    not an app of its own (a change in it touches the app that uses it, see apps_touched)."""
    top = (under or settings.root).resolve()
    apps: list[App] = []
    for folder, names in _walk_folders(top):
        rel = rel_path(settings.root, folder)
        if _excluded(settings, rel):
            continue
        if _is_app_folder(settings, folder, names):
            apps.append(App(rel, folder))
    owned = package_owners(settings, apps)
    return sorted((app for app in apps if app.name not in owned), key=lambda app: app.name)


_LOCAL_REQUIREMENT = re.compile(r"^\s*(?:-e|--editable)?\s*(?:file:)?(\.{1,2}(?:/\S*)?)\s*(?:#.*)?$")
_MAX_PROJECT_FILE = 1 << 20


def _small_text(path: Path) -> str:
    try:
        if path.is_file() and path.stat().st_size <= _MAX_PROJECT_FILE:
            return path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        pass
    return ""


def _path_sources(table: object) -> list[str]:
    """`{ path = "../libs/x" }` values of a TOML table of dependencies or sources."""
    if not isinstance(table, dict):
        return []
    return [str(v["path"]) for v in table.values() if isinstance(v, dict) and isinstance(v.get("path"), str)]


def local_packages(app: App) -> list[str]:
    """Folders (relative to the app) of the local projects the app installs from its own files."""
    found = []
    for line in _small_text(app.path / "requirements.txt").splitlines():
        match = _LOCAL_REQUIREMENT.match(line)
        if match and match.group(1) not in (".", "./"):
            found.append(match.group(1))
    from boxwise.config import tomllib
    from boxwise.tomlsafe import unsafe_reason

    texts = [_small_text(app.path / "pyproject.toml"), _small_text(app.path / "Pipfile")]
    if any(unsafe_reason(text) for text in texts):
        return found  # lint says what is wrong with the file
    try:
        pyproject, pipfile = (tomllib.loads(text) for text in texts)
    except (ValueError, RecursionError):
        return found
    tool = value if isinstance(value := pyproject.get("tool"), dict) else {}
    uv = value if isinstance(value := tool.get("uv"), dict) else {}
    poetry = value if isinstance(value := tool.get("poetry"), dict) else {}
    found += _path_sources(uv.get("sources")) + _path_sources(poetry.get("dependencies"))
    found += _path_sources(pipfile.get("packages"))
    return found


def package_owners(settings: Settings, apps: list[App]) -> dict[str, list[App]]:
    """{repo-relative folder of a local package: the apps that install it} (inside the repo only)."""
    owners: dict[str, list[App]] = {}
    for app in apps:
        for target in local_packages(app):
            rel = rel_path(settings.root, os.path.normpath(app.path / target))
            if rel not in (".", app.name) and not rel.startswith("../") and rel != "..":
                owners.setdefault(rel, []).append(app)
    return owners


def _skipped_path(rel: str) -> bool:
    return any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.split("/"))


def app_of(settings: Settings, path: Path) -> App | None:
    """The app a file or folder belongs to: the nearest app folder upward, up to the repo root."""
    path = Path(os.path.abspath(path))
    folder = path if path.is_dir() else path.parent
    root = settings.root
    rel = rel_path(root, folder)
    if rel.startswith("../") or rel == ".." or _skipped_path(rel):
        return None
    while True:
        if _is_app_folder(settings, folder):
            rel = rel_path(root, folder)
            return None if _excluded(settings, rel) else App(rel, folder)
        if folder == root or folder.parent == folder:
            return None
        folder = folder.parent


def apps_for_paths(settings: Settings, paths: Iterable[str | Path]) -> list[App]:
    """The apps the given repos, app folders or files belong to (what pre-commit passes)."""
    found: dict[str, App] = {}
    for given in paths:
        absolute = Path(os.path.abspath(given))
        # the repo root is a resolved path: resolve the folder part the same way (not a symlinked file)
        path = Path(os.path.realpath(absolute.parent)) / absolute.name if absolute.name else absolute
        if not os.path.lexists(path):
            raise UserError(f"{given}: no such file or folder; pass a repo, an app folder or files in it")
        rel = rel_path(settings.root, path)
        if rel == ".." or rel.startswith("../"):
            raise UserError(f"{given}: outside the repo {settings.root}; run boxwise detect once per repo")
        if path.is_dir() and not path.is_symlink():
            inside = discover_apps(settings, path)
            if not inside:
                owner = app_of(settings, path)
                # A folder that holds no app and lies in none is taken as the app the user named,
                # so that "no buildpack detects it" is reported instead of nothing at all.
                inside = [owner] if owner else [App(rel, path)]
            for app in inside:
                found[app.name] = app
        else:
            owner = app_of(settings, path)
            if owner is not None:
                found[owner.name] = owner
    return sorted(found.values(), key=lambda app: app.name)


# ------------------------------------------------------------------------------------- changes


def changed_files(root: Path, since_ref: str) -> list[str]:
    """Repo-relative paths changed between the merge base of `since_ref` and HEAD.

    Renames count as a deletion plus an addition, so the app a file left is touched too.
    """
    import git  # GitPython: only the ci/plan commands pay for it

    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UserError(f"{root}: not a git repository; run boxwise in a clone to compare changes") from None
    try:
        bases = repo.merge_base(since_ref, "HEAD")
    except git.GitCommandError:
        raise UserError(
            f"{since_ref}: not a commit in {root}; fetch it first (git fetch origin <branch>) "
            "or pass another --changed-since"
        ) from None
    if not bases:
        raise UserError(
            f"{since_ref}: shares no history with HEAD in {root}; in a shallow CI clone fetch more "
            "history (GIT_DEPTH=0 or git fetch --unshallow)"
        )
    output = repo.git.diff("--name-only", "--no-renames", "-z", f"{bases[0].hexsha}..HEAD")
    return sorted({name for name in output.split("\0") if name})


def apps_touched(settings: Settings, changed: Iterable[str]) -> list[App]:
    """The apps under which a changed file lies; a change to a `shared` glob touches every app."""
    changed = [name.replace(os.sep, "/").strip("/") for name in changed]
    if settings.shared and any(_matches_with_parents(name, settings.shared) for name in changed):
        return discover_apps(settings)
    owners = package_owners(settings, [*_all_apps(settings)])
    found: dict[str, App] = {}
    for name in changed:
        for folder, users in owners.items():
            if name == folder or name.startswith(folder + "/"):
                found.update((app.name, app) for app in users)  # a local package touches its users
        app = app_of(settings, settings.root / name)
        if app is not None and app.name not in owners:
            found[app.name] = app
    return sorted(found.values(), key=lambda app: app.name)


def _all_apps(settings: Settings) -> list[App]:
    """Every app folder, local packages included (their owners are found from the others)."""
    apps = []
    for folder, names in _walk_folders(settings.root.resolve()):
        rel = rel_path(settings.root, folder)
        if not _excluded(settings, rel) and _is_app_folder(settings, folder, names):
            apps.append(App(rel, folder))
    return apps
