"""`[tool.boxwise]` of the repo root's pyproject.toml (and the environment) → one Settings value.

Only the standard library is imported here: this runs on every `boxwise detect`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxwise.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib as tomllib  # re-exported: apps and lint read TOML through this one choice
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# The gate rules as dive spells them today (kebab-case) -> the camelCase spelling dive still reads
# (and boxwise's flags and JSON use). `.dive-ci` and [tool.boxwise.gate] accept both.
GATE_RULES: dict[str, str] = {
    "lowest-efficiency": "lowestEfficiency",
    "highest-wasted-bytes": "highestWastedBytes",
    "highest-user-wasted-percent": "highestUserWastedPercent",
    "highest-image-bytes": "highestImageBytes",
}
# The smoke check's rules (boxwise.gate_startup), read from the same tables in either spelling.
STARTUP_RULES: dict[str, str] = {
    "highest-startup-seconds": "highestStartupSeconds",
    "require-answer": "requireAnswer",
}

# Every key boxwise understands, per table. A key not listed here gets a warning naming it.
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "tool.boxwise": frozenset(
        {"apps", "exclude", "shared", "baseline", "lint", "gate", "build", "report", "image-prefix"}
        | {"package-manager"}  # the root app's choice, read by the buildpacks (docs/package-managers.md)
    ),
    "tool.boxwise.lint": frozenset({"disable"}),
    "tool.boxwise.gate": frozenset(
        {*GATE_RULES, *GATE_RULES.values(), *STARTUP_RULES, *STARTUP_RULES.values(), "accounting"}
    ),
    "tool.boxwise.build": frozenset(
        {"base", "run-image", "builder", "network", "ca-cert", "cache", "pull-policy"}
        | {"check", "check-timeout", "check-path"}
    ),
    "tool.boxwise.report": frozenset({"post", "strict", "post-when"}),
}


# The type each value must have, per table and key: (accepted types, what to write, an example).
# A rule's threshold may be a number or dive's text ("20MB", "disabled"); bool is never a number.
_TEXT = ((str,), "a string", '"text"')
_NUMBER_OR_TEXT = ((int, float, str), "a number or a string", "30")
_TRUE_OR_FALSE = ((bool,), "true or false", "true")
VALUE_TYPES: dict[str, dict[str, tuple[tuple[type, ...], str, str]]] = {
    "tool.boxwise": {
        "baseline": ((str,), "a string", '"registry://r/{app}:{branch}"'),
        "image-prefix": ((str,), "a string", '"registry.example.com/team"'),
        "package-manager": ((str,), "a string", '"uv"'),
    },
    "tool.boxwise.gate": {
        **{key: _NUMBER_OR_TEXT for key in (*GATE_RULES, *GATE_RULES.values())},
        "highest-startup-seconds": _NUMBER_OR_TEXT,
        "highestStartupSeconds": _NUMBER_OR_TEXT,
        "require-answer": ((bool, str), "true or false", "true"),
        "requireAnswer": ((bool, str), "true or false", "true"),
        "accounting": ((str,), "a string", '"exact"'),
    },
    "tool.boxwise.build": {
        **{key: _TEXT for key in ("base", "run-image", "builder", "network", "ca-cert", "cache")},
        **{key: _TEXT for key in ("pull-policy", "check-path")},
        "check": _TRUE_OR_FALSE,
        "check-timeout": _NUMBER_OR_TEXT,
    },
    "tool.boxwise.report": {"post": _TEXT, "strict": _TRUE_OR_FALSE, "post-when": _TEXT},
}


def check_value_types(table: dict[str, Any], name: str, path: Path) -> None:
    """UserError naming the file and the key for the first value of a wrong type in `table`."""
    for key, (types, what, example) in VALUE_TYPES.get(name, {}).items():
        value = table.get(key)
        if value is None:
            continue
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise UserError(f"{path}: [{name}] {key} must be {what}, e.g. {key} = {example}")
    for key, value in table.items():
        if isinstance(value, dict) and f"{name}.{key}" in KNOWN_KEYS:
            check_value_types(value, f"{name}.{key}", path)


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


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the known key nearest to a misspelt one (case-insensitive), or ''."""
    import difflib  # only a misspelt key pays for it

    by_lower = {name.lower(): name for name in known}
    close = difflib.get_close_matches(str(key).lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean '{by_lower[close[0]]}'?" if close else ""


def _unknown_keys(table: dict[str, Any], name: str) -> list[str]:
    known = KNOWN_KEYS.get(name, frozenset())
    found = [
        f"unknown key '{name}.{key}' in pyproject.toml (ignored){did_you_mean(key, known)}"
        for key in table
        if key not in known
    ]
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


MAX_PYPROJECT = 4 << 20  # a settings file beyond this is not read (bounded like every input)


def read_tool_table(pyproject: Path) -> dict[str, Any]:
    """The `[tool.boxwise]` table of one pyproject.toml; empty when the file or table is absent."""
    from boxwise.tomlsafe import unsafe_reason

    try:
        raw = pyproject.read_bytes()
        if len(raw) > MAX_PYPROJECT:
            raise UserError(f"{pyproject}: over {MAX_PYPROJECT >> 20} MiB; that is no project file")
        text = raw.decode("utf-8")
        unsafe = unsafe_reason(text)
        if unsafe:
            raise UserError(f"{pyproject}: {unsafe}; no project file has one, fix the file")
        data = tomllib.loads(text)
    except FileNotFoundError:
        return {}
    except RecursionError:
        raise UserError(f"{pyproject}: nested too deeply to read; fix the file") from None
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
    check_value_types(table, "tool.boxwise", pyproject)
    baseline = table.get("baseline")
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
