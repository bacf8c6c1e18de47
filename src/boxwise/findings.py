"""The findings model shared by lint, detect and the merge-request report.

A `Finding` is one problem at one place: `path` (repo-relative, POSIX style), `line` (1-based;
`None` when the problem is the whole file or folder), `rule` (a stable id, see RULES), `severity`
(`error` or `warning`), `message` (what is wrong; never a secret) and `fix` (what to do).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"

# rule id -> (severity, one line of what it checks). docs/lint-rules.md lists the same ids.
RULES: dict[str, tuple[str, str]] = {
    "no-buildpack": (ERROR, "no buildpack group of builder.toml detects the app"),
    "package-manager": (
        ERROR,
        "the build refuses the app's package manager files (several, unsupported, stale)",
    ),
    "lock-missing": (WARNING, "a Pipfile without its Pipfile.lock: packages installed unpinned"),
    "unreadable": (ERROR, "a file boxwise must read is not a readable regular file"),
    "file-too-large": (ERROR, "a dependency or process file too large to be one"),
    "encoding": (ERROR, "a file that is not UTF-8 text"),
    "requirements-syntax": (ERROR, "a requirements line that is no PEP 508 requirement nor pip option"),
    "unpinned": (WARNING, "a requirement not pinned to one version (the image is not reproducible)"),
    "url-credentials": (ERROR, "a URL with a user or token in it (a secret committed to the repo)"),
    "conflicting-pins": (ERROR, "one package pinned to two versions"),
    "include-missing": (ERROR, "a -r/-c file that does not exist"),
    "include-cycle": (ERROR, "requirements files that include each other"),
    "include-too-deep": (ERROR, "a -r/-c chain more than 50 files deep"),
    "outside-repo": (ERROR, "a file or -r/-c path that resolves outside the repository (never read)"),
    "include-outside-app": (WARNING, "a -r/-c file outside the app folder, which the build does not see"),
    "toml-syntax": (ERROR, "pyproject.toml is not valid TOML"),
    "project-name": (ERROR, "pyproject.toml has no [project] name"),
    "project-version": (ERROR, 'pyproject.toml has no [project] version nor dynamic = ["version"]'),
    "build-system": (WARNING, "pyproject.toml has no [build-system] table"),
    "dependency-syntax": (ERROR, "a pyproject.toml dependency that is not PEP 508"),
    "python-version": (ERROR, "a Python version file that cannot be read, or two that disagree"),
    "procfile-syntax": (ERROR, "a Procfile line that is not `name: command`"),
    "procfile-duplicate": (ERROR, "a Procfile process name used twice"),
    "procfile-empty-command": (ERROR, "a Procfile process without a command"),
    "procfile-no-web": (WARNING, "a Procfile without a web process: nothing answers HTTP"),
    "no-process": (WARNING, "no Procfile and nothing boxwise can infer to start"),
    "env-file": (WARNING, "a .env file that would land in the image"),
    "private-key": (WARNING, "a private key that would land in the image"),
    "venv-dir": (ERROR, "a committed virtual environment in the app folder"),
}
# Findings that mean boxwise could not read its input: the command exits 2, not 1.
UNREADABLE_RULES = frozenset({"unreadable"})


@dataclass(frozen=True)
class Finding:
    path: str
    line: int | None
    rule: str
    severity: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def finding(path: str, line: int | None, rule: str, message: str, fix: str) -> Finding:
    """A finding with the severity its rule carries."""
    return Finding(path, line, rule, RULES[rule][0], message, fix)


def sort_key(item: Finding) -> tuple[str, int, str, str]:
    return (item.path, item.line or 0, item.rule, item.message)


def unique(findings: Iterable[Finding]) -> list[Finding]:
    """Sorted, each once (a requirements file shared by two apps is linted for both)."""
    return sorted(set(findings), key=sort_key)


def exit_code(findings: Iterable[Finding]) -> int:
    """0 no error, 1 an error finding, 2 an input boxwise could not read."""
    code = 0
    for item in findings:
        if item.rule in UNREADABLE_RULES:
            return 2
        if item.severity == ERROR:
            code = 1
    return code
