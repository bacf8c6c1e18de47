"""`boxwise detect [PATH...]`: which buildpacks detect each app, and lint the app's files.

Exit 0 when no finding is an error, 1 when one is, 2 when an input could not be read (or a
usage error). Runs on every commit: only the standard library and `packaging` are imported
unless the text format needs rich.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from boxwise.apps import App, apps_for_paths, ignore_matcher, read_ignore_files, rel_path
from boxwise.config import Settings, find_repo_root, load_settings, print_warnings
from boxwise.errors import UserError
from boxwise.findings import RULES, Finding, exit_code, finding, unique
from boxwise.lint.detection import Builder, detect_app, load_builder, load_rules, load_shared
from boxwise.lint.render import AppReport


def _no_process(app: App, processes: ModuleType) -> Finding | None:
    """`no-process` when the build would find nothing to start: the build's own inference decides."""
    choice = processes.infer_process(str(app.path), {})
    if not isinstance(choice, processes.NoProcess):
        return None
    return finding(app.name, None, "no-process", "no Procfile and nothing to start", choice.hint)


def _refused(settings: Settings, app: App, error: str) -> Finding:
    """`package-manager`: the detect rules refused the app, with the line the build would fail with.

    The finding points at the file the line starts with (`Pipfile.lock is out of date ...`), else
    at the app folder; what follows the first `; ` is the fix.
    """
    message, _, fix = error.partition("; ")
    first = re.match(r"[\w.-]+", message)
    path = app.name
    if first and (app.path / first.group(0)).is_file():
        path = rel_path(settings.root, app.path / first.group(0))
    return finding(path, None, "package-manager", message, fix or "see docs/package-managers.md")


def lint_app(
    settings: Settings,
    app: App,
    builder: Builder,
    rules: dict[str, ModuleType],
    processes: ModuleType | None = None,
    pyversion: ModuleType | None = None,
    managers: ModuleType | None = None,
) -> AppReport:
    """Detection and every lint finding for one app (disabled rules already dropped)."""
    from boxwise.lint.contents import lint_contents
    from boxwise.lint.procfile import lint_procfile
    from boxwise.lint.pyproject import lint_pyproject
    from boxwise.lint.python_version import lint_python_version
    from boxwise.lint.requirements import lint_requirements, requirement_files

    managers = managers or load_shared(builder, "package_managers")
    detection = detect_app(builder, rules, app.path)
    report = AppReport(app.name, app.slug, detection.group, detection.failed)
    findings: list[Finding] = []
    decision = managers.decide(str(app.path))
    if detection.error:
        findings.append(_refused(settings, app, detection.error))
    elif decision.warning:
        message, _, fix = decision.warning.partition("; ")
        pipfile = rel_path(settings.root, app.path / decision.files[0])
        findings.append(finding(pipfile, None, "lock-missing", message, fix))
    if not detection.passed and not detection.error:
        why = "; ".join(f"{bp}: {reason}" for bp, reason in detection.failed.items())
        findings.append(
            finding(
                app.name,
                None,
                "no-buildpack",
                f"no buildpack group detects this app ({why})",
                "add a requirements.txt (or Pipfile.lock, poetry.lock, uv.lock), a pyproject.toml or "
                "setup.py project, or a Procfile; or list the folder in [tool.boxwise] exclude",
            )
        )
    requirements, pyproject, procfile = (
        app.path / name for name in ("requirements.txt", "pyproject.toml", "Procfile")
    )
    for path in requirement_files(app.path):
        findings += lint_requirements(path, settings.root, app.path, in_image=path == requirements)
    if os.path.lexists(pyproject):
        built = "" if detection.error else managers.project_build(str(app.path), decision)
        findings += lint_pyproject(pyproject, rel_path(settings.root, pyproject), built, app.path)
    findings += lint_python_version(app.path, settings.root, pyversion or load_shared(builder, "pyversion"))
    if os.path.lexists(procfile):
        findings += lint_procfile(procfile, rel_path(settings.root, procfile))
    elif detection.passed:
        missing = _no_process(app, processes or load_shared(builder, "processes"))
        findings += [missing] if missing else []
    ignore_rules, ignore_findings = read_ignore_files(app.path, settings.root)
    findings += ignore_findings
    if (app.path / "project.toml").is_file():  # a CNB project descriptor chooses files as well
        from boxwise.builder.project_toml import read_project_toml

        with contextlib.suppress(UserError):  # the build says what is wrong with it
            ignore_rules = ignore_rules + read_project_toml(app.path).ignore_rules()
    findings += lint_contents(app.path, app.name, ignore_matcher(ignore_rules))
    report.findings = [item for item in unique(findings) if item.rule not in settings.lint_disable]
    return report


def _settings_for(paths: list[str]) -> Settings:
    """The settings of the repo around the current folder, or around the first path outside it."""
    here = find_repo_root(Path.cwd())
    if not paths:
        return load_settings(here)
    first = Path(paths[0])
    if not os.path.lexists(first):
        raise UserError(f"{paths[0]}: no such file or folder; pass a repo, an app folder or files in it")
    inside = not rel_path(here, os.path.realpath(first)).startswith("../")
    return load_settings(here if inside else first)


@dataclass(frozen=True)
class DetectOptions:
    """`boxwise detect`: what to look at and where the report goes."""

    paths: tuple[str, ...] = ()  # a repo, an app folder or changed files (none: the current folder)
    format: str = "text"  # text | json | codequality | sarif | github
    output: str | None = None  # a file instead of stdout


def _write(args: DetectOptions, reports: list[AppReport]) -> None:
    from boxwise.lint import render

    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(errors="backslashreplace")  # a non-UTF-8 terminal never makes a traceback
    handle = None
    if args.output:
        try:
            handle = open(args.output, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UserError(
                f"{args.output}: cannot write the report ({exc.strerror}); pick another --output"
            ) from None
        out = handle
    try:
        if args.format == "text":
            render.render_text(reports, out, color=None if handle is None else False)
        else:
            writer = {
                "json": render.render_json,
                "codequality": render.render_codequality,
                "sarif": render.render_sarif,
                "github": render.render_github,
            }[args.format]
            out.write(writer(reports))
    finally:
        if handle is not None:
            handle.close()


def run_detect(args: DetectOptions) -> int:
    paths = list(args.paths)
    settings = _settings_for(paths)
    print_warnings(settings)
    for rule in sorted(settings.lint_disable - RULES.keys()):
        print(
            f"boxwise: warning: unknown lint rule '{rule}' in [tool.boxwise.lint] disable (ignored)",
            file=sys.stderr,
        )
    apps = apps_for_paths(settings, paths or [Path.cwd()])
    builder = load_builder()
    rules = load_rules(builder)
    processes = load_shared(builder, "processes") if apps else None
    pyversion = load_shared(builder, "pyversion") if apps else None
    managers = load_shared(builder, "package_managers") if apps else None
    reports = [lint_app(settings, app, builder, rules, processes, pyversion, managers) for app in apps]
    _write(args, reports)
    return exit_code(item for report in reports for item in report.findings)
