"""`[tool.boxwise]` of the repo root's pyproject.toml (and the environment) → one Settings value.

Only the standard library is imported here: this runs on every `boxwise detect`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxwise.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# Every key boxwise understands, per table. A key not listed here gets a warning naming it.
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "tool.boxwise": frozenset(
        {"apps", "exclude", "shared", "baseline", "lint", "gate", "build", "report", "image-prefix"}
    ),
    "tool.boxwise.lint": frozenset({"disable"}),
    "tool.boxwise.gate": frozenset(
        {
            "lowestEfficiency",
            "highestWastedBytes",
            "highestUserWastedPercent",
            "highestImageBytes",
            "accounting",
            "highestStartupSeconds",
            "requireAnswer",
        }
    ),
    "tool.boxwise.build": frozenset(
        {"base", "run-image", "builder", "network", "ca-cert", "cache"}
        | {"check", "check-timeout", "check-path"}
    ),
    "tool.boxwise.report": frozenset({"post", "strict"}),
}


@dataclass(frozen=True)
class Settings:
    """Everything the repo's configuration says, with defaults filled in."""

    root: Path
    apps: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    baseline: str | None = None
    image_prefix: str | None = None
    lint_disable: frozenset[str] = frozenset()
    gate: dict[str, Any] = field(default_factory=dict)
    build: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def find_repo_root(start: Path) -> Path:
    """The nearest folder upward holding `.git`; the start folder itself when there is none."""
    start = start.resolve()
    if start.is_file():
        start = start.parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def _unknown_keys(table: dict[str, Any], name: str) -> list[str]:
    known = KNOWN_KEYS.get(name, frozenset())
    found = [f"unknown key '{name}.{key}' in pyproject.toml (ignored)" for key in table if key not in known]
    for key, value in table.items():
        child = f"{name}.{key}"
        if isinstance(value, dict) and child in KNOWN_KEYS:
            found.extend(_unknown_keys(value, child))
    return found


def _string_list(table: dict[str, Any], key: str, path: Path) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UserError(f'{path}: [tool.boxwise] {key} must be a list of strings, e.g. {key} = ["apps/*"]')
    return tuple(value)


def _table(table: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise UserError(f"{path}: [tool.boxwise] {key} must be a table, e.g. [tool.boxwise.{key}]")
    return value


def read_tool_table(pyproject: Path) -> dict[str, Any]:
    """The `[tool.boxwise]` table of one pyproject.toml; empty when the file or table is absent."""
    try:
        data = tomllib.loads(pyproject.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return {}
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(
            f"{pyproject}: not valid TOML ({exc}); fix the file so boxwise can read its settings"
        ) from None
    except OSError as exc:
        raise UserError(f"{pyproject}: cannot read it ({exc.strerror}); check its permissions") from None
    tool = data.get("tool", {})
    table = tool.get("boxwise", {}) if isinstance(tool, dict) else {}
    return table if isinstance(table, dict) else {}


def load_settings(start: Path | None = None) -> Settings:
    """Settings for the repo that holds `start` (default: the current folder)."""
    root = find_repo_root(start or Path.cwd())
    pyproject = root / "pyproject.toml"
    table = read_tool_table(pyproject)
    lint = _table(table, "lint", pyproject)
    baseline = table.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise UserError(
            f'{pyproject}: [tool.boxwise] baseline must be a string such as "registry://r/{{app}}:{{branch}}"'
        )
    return Settings(
        root=root,
        apps=_string_list(table, "apps", pyproject),
        exclude=_string_list(table, "exclude", pyproject),
        shared=_string_list(table, "shared", pyproject),
        baseline=baseline,
        image_prefix=table.get("image-prefix"),
        lint_disable=frozenset(_string_list(lint, "disable", pyproject)),
        gate=_table(table, "gate", pyproject),
        build=_table(table, "build", pyproject),
        report=_table(table, "report", pyproject),
        warnings=tuple(_unknown_keys(table, "tool.boxwise")),
    )


def print_warnings(settings: Settings) -> None:
    for warning in settings.warnings:
        print(f"boxwise: warning: {warning}", file=sys.stderr)
