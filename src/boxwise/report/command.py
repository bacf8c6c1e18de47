"""`boxwise report REF [--baseline REF]`: the merge-request report, its artifacts and its comment.

REF is an image reference (docker://, docker-archive:, oci:, or a bare name or path) or a `.json`
file saved by `boxwise inspect --format json`. Exit 0 when the gate passes, 1 when it fails, 2 on
bad input; a comment that cannot be posted is a warning unless `--strict`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boxwise.analyze.diff import load_analysis
from boxwise.errors import UserError
from boxwise.report.baseline import fetch_baseline, load_baseline, resolve_baseline
from boxwise.report.model import BuildFailure, ReportData, marker, verdict_passed
from boxwise.report.options import ArtifactPaths, Posting, PostingFlags, ReportOptions

if TYPE_CHECKING:
    from boxwise.analyze.efficiency import Analysis
    from boxwise.findings import Finding
    from boxwise.gate import GateFlags, Rules, Verdict

# --- inputs ------------------------------------------------------------------------------------------


def gate_rules(flags: GateFlags, settings: Any) -> Rules:
    """The gate rules `boxwise gate` would use with these flags; UserError when misconfigured."""
    from boxwise.gate import load_rules

    return load_rules(settings, flags.ci_config, flags.overrides())


def evaluate(analysis: Analysis, rules: Rules) -> Verdict:
    from boxwise.gate import evaluate as evaluate_rules

    return evaluate_rules(analysis, rules)


def lint_findings(settings: Any, app: Any) -> list[Finding]:
    from boxwise.lint.command import lint_app
    from boxwise.lint.detection import load_builder, load_rules

    builder = load_builder()
    report = lint_app(settings, app, builder, load_rules(builder))
    return list(report.findings)


def find_app(settings: Any, name: str | None) -> Any:
    """The app named by --app (its folder, relative to the repo root), else the one holding the cwd."""
    from boxwise.apps import app_of, discover_apps

    if name:
        for app in discover_apps(settings):
            if name in (app.name, app.slug):
                return app
        return None
    return app_of(settings, Path.cwd())


def _ref_name(ref: str) -> str:
    tail = ref.rstrip("/").rsplit("/", 1)[-1]
    return re.split(r"[:@]", tail.removesuffix(".json"))[0] or "image"


def gather(
    ref: str,
    flags: GateFlags,
    settings: Any,
    app: Any = None,
    baseline: tuple[str | None, str] | None = None,
    app_name: str | None = None,
) -> ReportData:
    """Everything one app's report shows: analysis, baseline and diff, verdict, lint findings.
    `app_name` (--app) names the report; else the app's folder, else the image's name."""
    from boxwise.analyze.diff import diff_analyses

    app_name = app_name or (app.name if app is not None else _ref_name(ref))
    if baseline is None:
        baseline = resolve_baseline(None, settings, app.slug if app is not None else app_name, os.environ)
    rules = gate_rules(flags, settings)  # misconfigured rules fail before any image is read
    analysis, files = load_analysis(ref)
    base_ref, how = baseline
    base_analysis, base_files, note = load_baseline(base_ref, how)
    diff = diff_analyses(base_analysis, analysis, base_files, files) if base_analysis is not None else None
    verdict = evaluate(analysis, rules)
    rules_file = verdict.config_path
    if rules_file:
        rules_file = os.path.relpath(rules_file, settings.root).replace(os.sep, "/")
    return ReportData(
        app=app_name,
        ref=ref,
        analysis=analysis,
        verdict=verdict,
        baseline_ref=base_ref,
        baseline=base_analysis,
        baseline_note=note,
        diff=diff,
        findings=lint_findings(settings, app) if app is not None else [],
        app_path=app.name if app is not None else None,
        rules_path=rules_file,
    )


# --- outputs ---------------------------------------------------------------------------------------


def post_reports(
    reports: Sequence[ReportData],
    mode: str,
    strict: bool,
    env: Mapping[str, str] | None = None,
    broken: Sequence[BuildFailure] = (),
    post_when: str = "always",
) -> int:
    """Post each app's comment; returns the exit code posting adds (0 unless --strict and it failed).

    An app whose report `post-when` does not call for (the image is unchanged, the gate passed)
    gets no new comment, but its existing one is updated.
    """
    from boxwise.report.markdown import render_failure, render_markdown
    from boxwise.report.policy import creates_comment, update_only, why_not_created
    from boxwise.report.post import NoTarget, PostError, resolve_target, upsert_comment

    env = os.environ if env is None else env
    try:
        target = resolve_target(mode, env)
    except PostError as exc:
        return _post_failed(exc, strict)
    if isinstance(target, NoTarget):
        if mode != "none":
            print(f"boxwise: report not posted: {target.reason}", file=sys.stderr)
        return 0
    bodies = [
        (r.app, render_markdown(r, limit=target.limit, where=target.where), creates_comment(post_when, r))
        for r in reports
    ]
    bodies += [(f.app, render_failure(f, limit=target.limit), True) for f in broken]
    code = 0
    for app, body, create in bodies:
        try:
            posted = (
                upsert_comment(target, marker(app), body)
                if create
                else update_only(target, marker(app), body)
            )
        except PostError as exc:
            code = max(code, _post_failed(exc, strict))
            continue
        if posted is None:
            print(
                f"boxwise: no {app} comment created (post-when = {post_when}: {why_not_created(post_when)})",
                file=sys.stderr,
            )
            continue
        print(f"boxwise: {posted.action} the {app} comment on {posted.what}", file=sys.stderr)
    return code


POST_MODES = ("auto", "gitlab", "github", "none", "summary")


def resolve_posting(flags: PostingFlags, settings: Any, default: str) -> Posting:
    """`--post`/`--strict`/`--post-when`, else `[tool.boxwise.report] post`/`strict`/`post-when`,
    else the command's default (`post-when` always)."""
    from boxwise.report.policy import POST_WHEN

    table = settings.report or {}
    where = settings.root / "pyproject.toml"
    mode, strict, post_when = flags.post, flags.strict, flags.post_when
    if mode is None:
        mode = table.get("post", default)
        if mode not in POST_MODES:
            raise UserError(
                f"{where}: [tool.boxwise.report] post = {mode!r}; use one of {', '.join(POST_MODES)}"
            )
    if strict is None:
        strict = table.get("strict", False)
        if not isinstance(strict, bool):
            raise UserError(f"{where}: [tool.boxwise.report] strict must be true or false")
    if post_when is None:
        post_when = table.get("post-when", "always")
        if post_when not in POST_WHEN:
            raise UserError(
                f"{where}: [tool.boxwise.report] post-when = {post_when!r}; use one of {', '.join(POST_WHEN)}"
            )
    return Posting(str(mode), strict, str(post_when))


def _post_failed(exc: Exception, strict: bool) -> int:
    kind = "error" if strict else "warning"
    print(f"boxwise: {kind}: report not posted: {exc}", file=sys.stderr)
    return getattr(exc, "exit_code", 1) if strict else 0


def publish(
    reports: Sequence[ReportData],
    posting: Posting,
    artifacts: ArtifactPaths,
    markdown: str,
    broken: Sequence[BuildFailure] = (),
) -> int:
    """Artifacts, GitHub runner files and comments for reports already shown; the posting exit code.

    In summary-only mode (asked for, or a fork's merge request under `auto`) nothing is posted:
    the summary and the HTML report say so on top.
    """
    from boxwise.report.artifacts import write_artifacts, write_github
    from boxwise.report.policy import summary_note, summary_only

    only = summary_only(posting.mode, os.environ)
    if only:
        markdown = summary_note(only) + markdown
    note = f"No comment posted: {only}." if only else ""
    write_artifacts(artifacts, reports, broken, note=note, markdown=markdown)
    for line in write_github(reports, markdown, broken=broken):
        print(line)
    if only:
        print(
            f"boxwise: no comment posted: {only}; the report is in the job summary and artifacts",
            file=sys.stderr,
        )
        return 0
    if not reports and not broken:  # nothing to comment on: artifacts only, the files CI expects
        return 0
    return post_reports(reports, posting.mode, posting.strict, broken=broken, post_when=posting.post_when)


def run_report(options: ReportOptions) -> int:
    from boxwise.config import load_settings, print_warnings
    from boxwise.gate import print_rule_warnings
    from boxwise.report.markdown import render_markdown

    settings = load_settings()
    print_warnings(settings)
    print_rule_warnings(gate_rules(options.gate, settings))  # misconfigured rules: exit 2 before any read
    posting = resolve_posting(options.posting, settings, "none")
    app = find_app(settings, options.app)
    if options.app and app is None:
        app_note = (
            f"boxwise: note: no app folder named {options.app!r} in {settings.root}; reporting without lint"
        )
        print(app_note, file=sys.stderr)
    key = app.slug if app is not None else (options.app or _ref_name(options.ref))
    baseline = resolve_baseline(options.baseline, settings, key, os.environ)
    unpulled = fetch_baseline(baseline[0], os.environ)  # a registry baseline a fresh engine lacks
    if unpulled:
        baseline = (None, unpulled)
    report = gather(options.ref, options.gate, settings, app, baseline=baseline, app_name=options.app)
    markdown = render_markdown(report)
    if options.format == "markdown":
        sys.stdout.write(markdown)
    else:
        from boxwise.report.terminal import render_terminal

        render_terminal(report, sys.stdout)
    post_code = publish([report], posting, options.artifacts, markdown)
    gate_code = 1 if verdict_passed(report.verdict) is False else 0
    return max(gate_code, post_code) if post_code != 2 else 2
