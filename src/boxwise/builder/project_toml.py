"""A CNB project descriptor (`project.toml` in the app folder), honoured as pack honours it.

Schema 0.2 (`[_] schema-version = "0.2"`, settings under `[io.buildpacks]`) and 0.1 (`[project]`,
settings under `[build]`): `include` or `exclude` (gitignore-style patterns; never both) choose
the app files the image gets, and `[[…build.env]]` `name`/`value` pairs are environment variables
for the build only (they never reach the image config).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boxwise.appfiles import IgnoreRule
from boxwise.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MAX_BYTES = 1 << 20
FILE = "project.toml"


@dataclass(frozen=True)
class ProjectDescriptor:
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    build_env: dict[str, str] = field(default_factory=dict)

    def ignore_rules(self) -> list[IgnoreRule]:
        """The descriptor's file choice as ignore rules, read after .dockerignore/.boxwiseignore."""
        from boxwise.apps import parse_ignore

        if self.include:
            return parse_ignore("*\n" + "".join(f"!{pattern}\n" for pattern in self.include))
        return parse_ignore("".join(f"{pattern}\n" for pattern in self.exclude))


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UserError(f"{where}: must be a list of strings (gitignore-style patterns); fix {FILE}")
    return value


def read_project_toml(app_dir: Path) -> ProjectDescriptor:
    path = app_dir / FILE
    if not path.is_file():
        return ProjectDescriptor()
    try:
        data = path.read_bytes()
        if len(data) > MAX_BYTES:
            raise UserError(f"{path}: over 1 MiB; a project descriptor is a few lines")
        table = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise UserError(f"{path}: not a valid project descriptor ({exc}); fix the file") from None
    schema = str((table.get("_") or {}).get("schema-version", "0.1"))
    section = (table.get("io") or {}).get("buildpacks") if schema.startswith("0.2") else table.get("build")
    section = section if isinstance(section, dict) else {}
    prefix = "[io.buildpacks]" if schema.startswith("0.2") else "[build]"
    include = _strings(section.get("include"), f"{path}: {prefix} include")
    exclude = _strings(section.get("exclude"), f"{path}: {prefix} exclude")
    if include and exclude:
        raise UserError(f"{path}: {prefix} has both include and exclude; pack allows one of them")
    env: dict[str, str] = {}
    items = (section.get("build") or {}).get("env") if schema.startswith("0.2") else section.get("env")
    for item in items or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise UserError(f"{path}: each {prefix} build env entry needs a name and a value")
        env[item["name"]] = str(item.get("value", ""))
    return ProjectDescriptor(include, exclude, env)
