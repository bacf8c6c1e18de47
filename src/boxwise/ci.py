"""`boxwise ci`: detect, build, gate and report every app a change touches.

In a merge/pull request: the apps touched between the merge base with the target branch and
HEAD (or `--apps`) are built, gated against the rules, compared with their baseline and reported
(one comment per app). Outside one (a branch pipeline): every app is built and kept as the
baseline of that branch for later merge requests. One summary table at the end. Exit 0 all
passed, 1 an app failed its build or gate, 2 misconfiguration.

Images are built as `PREFIX/SLUG:ci-COMMIT`, PREFIX `--tag-prefix`, else `[tool.boxwise]
image-prefix`, else `boxwise`. The baseline of an app is `[tool.boxwise] baseline` resolved for
the target branch, else the engine image `docker://PREFIX/SLUG:BRANCH`; a branch pipeline
compares with its branch's previous baseline, then keeps the new image there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boxwise.errors import UserError
from boxwise.gate import GateFlags
from boxwise.printable import printable
from boxwise.report.baseline import fetch_baseline, keep_baseline, resolve_baseline
from boxwise.report.options import ArtifactPaths, PostingFlags

if TYPE_CHECKING:
    from boxwise.builder.options import BuildResult
    from boxwise.ci_cache import CacheImageUse

if TYPE_CHECKING:
    from rich.console import JustifyMethod

DEFAULT_PREFIX = "boxwise"


@dataclass(frozen=True)
class CiOptions:
    """`boxwise ci`: which apps, how to build them, and the report's gate, posting and files."""

    apps: tuple[str, ...] = ()  # --apps: named instead of asking git
    changed_since: str | None = None
    base: str | None = None
    builder: str | None = None
    tag_prefix: str | None = None
    cache_tag: str | None = None  # --cache-tag: each app's layer cache as PREFIX/APP:TAG
    pull_policy: str | None = None
    check: bool | None = None  # None: [tool.boxwise.build] check, else on
    posting: PostingFlags = field(default_factory=PostingFlags)
    gate: GateFlags = field(default_factory=GateFlags)
    artifacts: ArtifactPaths = field(default_factory=ArtifactPaths)


@dataclass
class AppOutcome:
    """One app's line of the summary: its report, or why it has none."""

    name: str
    report: Any = None  # ReportData
    error: str | None = None  # the build (or analysis) failed: one line
    kept_as: str | None = None  # where the image was kept as a baseline

    @property
    def failed(self) -> bool:
        from boxwise.report.model import verdict_passed

        return self.error is not None or verdict_passed(self.report.verdict) is False


def in_merge_request(env: Mapping[str, str]) -> bool:
    return bool(env.get("CI_MERGE_REQUEST_IID") or env.get("GITHUB_BASE_REF"))


def _one_line(exc: Exception) -> str:
    """An exception's first line, with any credentials in URLs hidden."""
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return re.sub(r"(//)[^/@\s]+@", r"\1***@", text)


def current_branch(root: Path, env: Mapping[str, str]) -> str:
    for name in ("CI_COMMIT_BRANCH", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"):
        if env.get(name):
            return env[name]
    result = subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=root, capture_output=True, text=True
    )
    branch = result.stdout.strip()
    return branch if result.returncode == 0 and branch and branch != "HEAD" else "main"


def _short_commit(root: Path, env: Mapping[str, str]) -> str:
    for name in ("CI_COMMIT_SHORT_SHA", "CI_COMMIT_SHA", "GITHUB_SHA"):
        if env.get(name):
            return env[name][:8]
    result = subprocess.run(
        ["git", "rev-parse", "--short=8", "HEAD"], cwd=root, capture_output=True, text=True
    )
    return result.stdout.strip() or "head"


def image_name(options: CiOptions, settings: Any, slug: str) -> str:
    """`PREFIX/SLUG`: the prefix is a repository path such as `$CI_REGISTRY_IMAGE` or `boxwise`."""
    prefix = options.tag_prefix or settings.image_prefix or DEFAULT_PREFIX
    return f"{prefix.rstrip('/')}/{slug}"


def choose_apps(options: CiOptions, settings: Any, env: Mapping[str, str]) -> tuple[list[Any], str | None]:
    """(apps to build, the ref the change was measured against or None for "every app")."""
    from boxwise.plan import changed_since_from_env, make_plan

    if options.apps:
        plan = make_plan(settings, list(options.apps), None)
        found = {app.name for app in plan.apps} | {app.slug for app in plan.apps}
        missing = [name for name in options.apps if name.strip("/") not in found]
        if missing or not plan.apps:
            raise UserError(
                f"--apps {' '.join(missing or options.apps)}: no such app in {settings.root}; "
                "name app folders relative to the repo root (see `boxwise plan`)"
            )
        return list(plan.apps), None
    since = options.changed_since or changed_since_from_env(env)
    plan = make_plan(settings, None, since)
    return list(plan.apps), since


def build_one(
    app: Any,
    options: CiOptions,
    settings: Any,
    tag: str,
    previous: str | None = None,
    cache_image: CacheImageUse | None = None,
) -> BuildResult:
    """Build the app with the build stage's own option precedence; the BuildResult."""
    from boxwise.builder.command import options_from_flags
    from boxwise.builder.lifecycle import build_app
    from boxwise.builder.options import BuildFlags

    flags = BuildFlags(
        app=str(app.path),
        base=options.base,
        tag=tag,
        output="docker",
        builder=options.builder,
        pull_policy=options.pull_policy,
        runner="docker",
        previous_image=previous,  # the baseline: a fresh runner's cache is warm from it
        cache_image=cache_image.ref if cache_image else None,  # ci_cache: where, and whether it is written
        cache_image_read_only=not (cache_image and cache_image.write),
        # the smoke check is on in ci unless the flag or [tool.boxwise.build] check turns it off
        check=options.check if options.check is not None else settings.build.get("check", True),
    )
    return build_app(app.path, options_from_flags(flags, settings.build))


def gate_startup(report: Any, startup: Any, settings: Any) -> None:
    """Add the startup rules to the report's verdict: an image that cannot start cannot pass."""
    from boxwise.gate_startup import evaluate_startup, load_startup_rules

    rules = load_startup_rules([settings.gate or {}], in_ci=True)
    if report.verdict is not None:
        report.verdict = report.verdict.with_results(evaluate_startup(startup, rules))


def layer_notes(result: Any) -> dict[str, str]:
    """What the build said of each layer it exported: served by the cache, or rebuilt and why."""
    notes = {}
    for layer in getattr(result, "layers", []):
        notes[layer.diff_id] = (
            "reused: key unchanged" if layer.status == "reused" else f"rebuilt: {layer.reason}"
        )
    return notes


def run_app(
    app: Any,
    options: CiOptions,
    settings: Any,
    env: Mapping[str, str],
    in_mr: bool,
    position: tuple[int, int] = (1, 1),
) -> AppOutcome:
    from boxwise.report.command import gather

    name = image_name(options, settings, app.slug)
    branch = current_branch(settings.root, env)
    # never the baseline's own name: the baseline must still be there to compare with
    tag = f"{name}:ci-{_short_commit(settings.root, env)}"
    # the position tells a long monorepo run's progress: apps done of all the change touches
    count = f" ({position[0]} of {position[1]})" if position[1] > 1 else ""
    print(f"boxwise ci: {printable(app.name)}: building {printable(tag)}{count}", file=sys.stderr)
    default_template = f"docker://{name}:{{branch}}"
    baseline = resolve_baseline(None, settings, app.slug, env, default_template)
    if not in_mr:
        # a branch pipeline is its own baseline: compare with the previous run of the branch
        baseline = resolve_baseline(None, settings, app.slug, {"CI_COMMIT_BRANCH": branch}, default_template)
    keep_at = baseline[0]  # where this branch's new baseline goes, whether an old one exists or not
    # The baseline first: it is also the previous image whose layers a fresh runner builds with.
    unpulled = fetch_baseline(baseline[0], env)
    if unpulled:
        print(f"boxwise ci: {printable(app.name)}: no baseline: {printable(unpulled)}", file=sys.stderr)
        baseline = (None, unpulled)
    from boxwise.ci_cache import cache_image_use

    cache_image = cache_image_use(name, options.cache_tag, env, in_mr, branch)
    print(f"boxwise ci: {printable(app.name)}: {printable(cache_image.why)}", file=sys.stderr)
    try:
        result = build_one(app, options, settings, tag, previous=baseline[0], cache_image=cache_image)
    except UserError as exc:
        return AppOutcome(app.name, error=f"build failed: {exc}")
    except Exception as exc:  # an engine or library failure: one app's failure, not the whole run's
        return AppOutcome(app.name, error=f"build failed: {type(exc).__name__}: {_one_line(exc)}")
    try:
        report = gather(result.ref, options.gate, settings, app, baseline=baseline, app_name=app.name)
    except UserError as exc:
        return AppOutcome(app.name, error=f"cannot analyse {result.ref}: {exc}")
    report.layer_notes = layer_notes(result)
    report.startup = result.startup
    try:
        gate_startup(report, result.startup, settings)
    except UserError as exc:
        return AppOutcome(app.name, error=f"misconfigured gate: {exc}")
    outcome = AppOutcome(app.name, report=report)
    if not in_mr and keep_at:
        try:
            outcome.kept_as = keep_baseline(result.ref, keep_at, env)
        except (UserError, OSError) as exc:
            print(f"boxwise ci: warning: {app.name}: baseline not kept: {exc}", file=sys.stderr)
        except Exception as exc:  # docker errors: say so, the build itself succeeded
            print(
                f"boxwise ci: warning: {app.name}: baseline not kept: {type(exc).__name__}", file=sys.stderr
            )
    return outcome


def summary_table(outcomes: Sequence[AppOutcome], out: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from boxwise.printable import for_rich as escape  # the image's or the MR's text
    from boxwise.report.model import failed_rules, verdict_passed
    from boxwise.units import DASH, human_bytes, percent

    table = Table(title="boxwise ci", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("app", "left"),
        ("result", "left"),
        ("size", "right"),
        ("change", "right"),
        ("efficiency", "right"),
        ("wasted", "right"),
    )
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for outcome in outcomes:
        report = outcome.report
        if report is None:
            table.add_row(
                escape(outcome.name), f"[bold red]{escape(outcome.error)}[/]", DASH, DASH, DASH, DASH
            )
            continue
        passed = verdict_passed(report.verdict)
        if passed is False:
            result = (
                "[bold red]gate failed: "
                + escape(", ".join(r.name for r in failed_rules(report.verdict)))
                + "[/]"
            )
        else:
            result = "[green]passed[/]"
        change = DASH
        if report.diff is not None:
            change = human_bytes(report.diff.change["size_bytes"], signed=True)
        analysis = report.analysis
        table.add_row(
            escape(outcome.name),
            result,
            human_bytes(analysis.size_bytes),
            change,
            percent(analysis.dive.efficiency),
            human_bytes(analysis.dive.wasted_bytes),
        )
    width = None if getattr(out, "isatty", lambda: False)() else 120
    Console(file=out, highlight=False, width=width).print(table)


def _fork_rule(env: Mapping[str, str]) -> None:
    """A merge request from a fork: its builds get no credentials (forks.py), unless the CI
    configuration opts in. The build reads the switch from the environment."""
    from boxwise.forks import OPT_IN, credentials_allowed

    if credentials_allowed(env):
        return
    os.environ["BOXWISE_BUILD_CREDENTIALS"] = "none"
    print(
        "boxwise ci: a merge request from a fork: its builds get no credentials (no netrc, no index "
        f"URL with credentials); set {OPT_IN}=1 in the CI configuration to give them",
        file=sys.stderr,
    )


def run_ci(options: CiOptions) -> int:
    from boxwise.config import load_settings, print_warnings
    from boxwise.gate import print_rule_warnings
    from boxwise.report.command import gate_rules, publish, resolve_posting
    from boxwise.report.markdown import render_failure, render_markdown
    from boxwise.report.model import BuildFailure
    from boxwise.report.terminal import render_terminal

    settings = load_settings()
    print_warnings(settings)
    env = dict(os.environ)
    print_rule_warnings(gate_rules(options.gate, settings))  # misconfigured rules: exit 2 before any build
    posting = resolve_posting(options.posting, settings, "auto")
    in_mr = in_merge_request(env) or bool(options.changed_since)
    _fork_rule(env)
    apps, since = choose_apps(options, settings, env)
    if since:
        print(f"boxwise ci: {len(apps)} app(s) changed since {since}", file=sys.stderr)
    if not apps:
        print("boxwise ci: no app is touched by this change; nothing to build", file=sys.stderr)
        nothing = "boxwise: no app is touched by this change; nothing was built.\n"
        publish([], posting, options.artifacts, nothing)
        return 0
    outcomes = [
        run_app(app, options, settings, env, in_mr, (number, len(apps))) for number, app in enumerate(apps, 1)
    ]
    reports = [o.report for o in outcomes if o.report is not None]
    broken = [BuildFailure(o.name, o.name, o.error) for o in outcomes if o.error is not None]
    markdown = "\n".join([*map(render_markdown, reports), *map(render_failure, broken)])
    for report in reports:
        render_terminal(report, sys.stdout)
        print()
    summary_table(outcomes, sys.stdout)
    for outcome in outcomes:
        if outcome.error:
            print(f"boxwise ci: {printable(outcome.name)}: {printable(outcome.error)}", file=sys.stderr)
        if outcome.kept_as:
            print(
                f"boxwise ci: {printable(outcome.name)}: kept as the baseline {printable(outcome.kept_as)}",
                file=sys.stderr,
            )
    post_code = publish(reports, posting, options.artifacts, markdown, broken)
    if post_code == 2:
        return 2
    return 1 if any(o.failed for o in outcomes) or post_code else 0
