"""Lint an app's pyproject.toml: valid TOML, a [project] with name and version, a build system.

What the build does with the file decides what is a problem (`built`, from the buildpacks' own
package_managers.project_build): a project pip builds through its backend needs a name and a
[build-system], unless the backend reads them elsewhere (Poetry's [tool.poetry], setuptools'
setup.py/setup.cfg); one installed in place needs neither; one not installed at all (a
requirements.txt app, `package-mode = false`, a virtual uv project) only needs valid TOML.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from boxwise.config import tomllib
from boxwise.findings import Finding, finding
from boxwise.inputfiles import credential_findings, read_text, redact
from boxwise.lint.requirements import is_simple_requirement
from boxwise.tomlsafe import unsafe_reason

_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def _line_of(lines: list[str], needle: str, default: int | None = None) -> int | None:
    for number, line in enumerate(lines, start=1):
        if needle in line:
            return number
    return default


def _dependencies(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, requirement string) for every PEP 508 string the file declares."""
    found: list[tuple[str, str]] = []
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    for dep in project.get("dependencies") or []:
        found.append(("[project] dependencies", dep))
    optional = project.get("optional-dependencies") or {}
    if isinstance(optional, dict):
        for extra, deps in optional.items():
            for dep in deps if isinstance(deps, list) else []:
                found.append((f"[project.optional-dependencies] {extra}", dep))
    build = data.get("build-system") if isinstance(data.get("build-system"), dict) else {}
    for dep in build.get("requires") or []:
        found.append(("[build-system] requires", dep))
    return found


def _name_elsewhere(data: dict[str, Any], app_dir: Path | None) -> bool:
    """The build backend takes the project's name from its own settings, not from [project]."""
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    flit = tool.get("flit") if isinstance(tool.get("flit"), dict) else {}
    if poetry.get("name") or "metadata" in flit:
        return True
    return app_dir is not None and any((app_dir / name).is_file() for name in ("setup.py", "setup.cfg"))


def lint_pyproject(
    path: Path, rel: str, built: str = "backend", app_dir: Path | None = None
) -> list[Finding]:
    """Findings for one pyproject.toml; `built` is how the build installs the project ("backend",
    "in-place" or "" for not at all) and `app_dir` the folder it builds from."""
    text, problems = read_text(path, rel)
    if text is None:
        return problems
    unsafe = unsafe_reason(text)
    if unsafe:
        return [finding(rel, None, "toml-syntax", f"not parsed: {unsafe}", "write the keys as tables")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _POSITION.search(message)
        line = int(position.group(1)) if position else None
        where = f" (line {position.group(1)}, column {position.group(2)})" if position else ""
        reason = redact(_POSITION.sub("", message).strip())
        return [finding(rel, line, "toml-syntax", f"not valid TOML: {reason}{where}", "fix the TOML syntax")]
    except RecursionError:
        return [finding(rel, None, "toml-syntax", "not valid TOML: nested too deep", "flatten the arrays")]
    lines = text.splitlines()
    findings = credential_findings(rel, text)
    project = data.get("project")
    project_line = _line_of(lines, "[project]")
    if not isinstance(project, dict):
        if built == "backend" and not _name_elsewhere(data, app_dir):
            findings.append(
                finding(
                    rel,
                    None,
                    "project-name",
                    "has no [project] table, so pip cannot install it as a project",
                    'add [project] with name = "..." and version = "..."',
                )
            )
    else:
        if not isinstance(project.get("name"), str) or not project.get("name"):
            findings.append(
                finding(rel, project_line, "project-name", "[project] has no name", 'add name = "my-app"')
            )
        dynamic = project.get("dynamic") if isinstance(project.get("dynamic"), list) else []
        # (only a build backend needs it: an in-place install and a project not installed do not)
        if "version" not in project and "version" not in dynamic and built == "backend":
            findings.append(
                finding(
                    rel,
                    project_line,
                    "project-version",
                    '[project] has no version and does not declare dynamic = ["version"]',
                    'add version = "0.1.0", or dynamic = ["version"] with a build backend that sets it',
                )
            )
    setup_py = app_dir is not None and (app_dir / "setup.py").is_file()  # the legacy fallback is right there
    if "build-system" not in data and built == "backend" and not setup_py:
        findings.append(
            finding(
                rel,
                None,
                "build-system",
                "has no [build-system]: pip falls back to legacy setuptools behaviour",
                'add [build-system] with requires = ["hatchling"], build-backend = "hatchling.build"',
            )
        )
    for where, dep in _dependencies(data):
        if not isinstance(dep, str):
            findings.append(
                finding(rel, None, "dependency-syntax", f"{where}: {dep!r} is not a string", "quote it")
            )
            continue
        if is_simple_requirement(dep):
            continue  # valid as written; packaging is only imported for the others
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            Requirement(dep)
        except InvalidRequirement as exc:
            findings.append(
                finding(
                    rel,
                    _line_of(lines, dep),
                    "dependency-syntax",
                    f"{where}: not a PEP 508 requirement: {redact(str(exc)).splitlines()[0]}",
                    'write it as "name>=version" with markers after ";"',
                )
            )
    return findings
