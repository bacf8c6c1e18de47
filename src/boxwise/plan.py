"""`boxwise plan`: the apps a change touches, as JSON, a GitHub job matrix or a GitLab child pipeline.

This is the monorepo fan-out: the CI system runs one job per app in parallel, each calling
`boxwise ci --apps APP`. The plan only decides which apps; it builds nothing.

A GitLab child pipeline job needs to know where it runs (job image, Docker engine, install
command) and how to gate; the plan job of `gitlab-ci/boxwise.yml` passes those as `BOXWISE_*`
variables and they are written into every generated job at plan time (see `ChildJobSpec`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from boxwise.apps import App
from boxwise.config import Settings, load_settings, print_warnings
from boxwise.errors import UserError

# The file names each generated GitLab job writes; the same ones `gitlab-ci/boxwise.yml` uses.
JUNIT_FILE = "boxwise-junit.xml"
CODEQUALITY_FILE = "boxwise-codequality.json"
METRICS_FILE = "boxwise-metrics.txt"
JSON_FILE = "boxwise-report.json"
HTML_FILE = "boxwise-report.html"

# BOXWISE_* variable of the plan job -> the `boxwise ci` flag it becomes in every child job.
CI_FLAG_VARIABLES: tuple[tuple[str, str], ...] = (
    ("BOXWISE_BASE", "--base"),
    ("BOXWISE_BUILDER", "--builder"),
    ("BOXWISE_IMAGE_PREFIX", "--tag-prefix"),
    ("BOXWISE_CACHE_TAG", "--cache-tag"),
    ("BOXWISE_POST", "--post"),
    ("BOXWISE_LOWEST_EFFICIENCY", "--lowestEfficiency"),
    ("BOXWISE_HIGHEST_WASTED_BYTES", "--highestWastedBytes"),
    ("BOXWISE_HIGHEST_USER_WASTED_PERCENT", "--highestUserWastedPercent"),
    ("BOXWISE_HIGHEST_IMAGE_BYTES", "--highestImageBytes"),
)
DIND_VARIABLES = {"DOCKER_HOST": "tcp://docker:2375", "DOCKER_TLS_CERTDIR": ""}
NO_APP_JOB = "boxwise-no-app-changed"


@dataclass(frozen=True)
class Plan:
    """Which apps to build, and against what the change was measured (None: every app)."""

    apps: tuple[App, ...]
    changed_since: str | None


@dataclass(frozen=True)
class ChildJobSpec:
    """What every generated GitLab job shares: where it runs and the flags given to `boxwise ci`."""

    image: str = ""
    dind_image: str = ""  # empty: use the engine the runner gives (DOCKER_HOST)
    install: str = ""
    package: str = ""  # BOXWISE_PACKAGE, which the default install command names: the child needs it too
    ci_flags: tuple[str, ...] = ()
    # $XDG_CACHE_HOME/boxwise in GitLab's cache, one per app (its job): "" none, else the policy
    # (pull-push on the default branch, pull in a merge request: the plan job's rules say which)
    cache_policy: str = ""
    # A child pipeline has GitLab's default stages, whatever stage the parent's jobs use.
    stage: str = "test"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ChildJobSpec:
        flags: list[str] = []
        for variable, flag in CI_FLAG_VARIABLES:
            value = env.get(variable, "").strip()
            if value:
                flags += [flag, value]
        engine = env.get("BOXWISE_ENGINE", "host").strip()
        if engine not in ("dind", "host"):
            raise UserError(f"BOXWISE_ENGINE={engine!r}: the engine must be dind or host; fix the include")
        return cls(
            image=env.get("BOXWISE_JOB_IMAGE", "").strip(),
            dind_image=env.get("BOXWISE_DIND_IMAGE", "").strip() if engine == "dind" else "",
            install=env.get("BOXWISE_INSTALL", "").strip(),
            package=env.get("BOXWISE_PACKAGE", "").strip(),
            ci_flags=tuple(flags),
            cache_policy=_cache_policy(env),
        )


def _cache_policy(env: Mapping[str, str]) -> str:
    """The child jobs' GitLab cache policy: none without the local-cache input; saved (pull-push)
    only where the template's rules say so, the default branch; else pulled only."""
    if env.get("BOXWISE_LOCAL_CACHE", "").strip() != "true":
        return ""
    return "pull-push" if env.get("BOXWISE_CACHE_POLICY", "").strip() == "pull-push" else "pull"


# ------------------------------------------------------------------------------ which apps


def changed_since_from_env(env: Mapping[str, str]) -> str | None:
    """The ref a merge/pull request is compared with; None outside one (then every app builds)."""
    if env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA"):
        return env["CI_MERGE_REQUEST_DIFF_BASE_SHA"]
    if env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"):
        return f"origin/{env['CI_MERGE_REQUEST_TARGET_BRANCH_NAME']}"
    if env.get("GITHUB_BASE_REF"):
        return f"origin/{env['GITHUB_BASE_REF']}"
    return None


def named_apps(settings: Settings, names: Sequence[str]) -> tuple[App, ...]:
    """The apps named on the command line (app folders relative to the repo root)."""
    from boxwise.apps import apps_for_paths, discover_apps

    known = {app.name: app for app in discover_apps(settings)}
    chosen: dict[str, App] = {}
    for name in names:
        if name in known:
            chosen[name] = known[name]
            continue
        by_slug = [app for app in known.values() if app.slug == name]
        found = by_slug or apps_for_paths(settings, [settings.root / name])
        for app in found:
            chosen[app.name] = app
    return tuple(sorted(chosen.values(), key=lambda app: app.name))


def make_plan(settings: Settings, names: Sequence[str] | None, changed_since: str | None) -> Plan:
    if names:
        return Plan(named_apps(settings, names), None)
    if changed_since is None:
        from boxwise.apps import discover_apps

        return Plan(tuple(discover_apps(settings)), None)
    from boxwise.apps import apps_touched, changed_files

    changed = changed_files(settings.root, changed_since)
    return Plan(tuple(apps_touched(settings, changed)), changed_since)


# ------------------------------------------------------------------------------ the formats


def as_json(plan: Plan) -> str:
    apps = [{"name": app.name, "slug": app.slug} for app in plan.apps]
    return json.dumps({"changed_since": plan.changed_since, "apps": apps}, indent=2) + "\n"


def as_github_matrix(plan: Plan) -> str:
    """One line (it goes into `$GITHUB_OUTPUT`); `{"include":[]}` when nothing changed."""
    include = [{"app": app.name, "slug": app.slug} for app in plan.apps]
    return json.dumps({"include": include}, separators=(",", ":")) + "\n"


def _yaml(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar, so no YAML library is needed.
    return json.dumps(value)


def _job_name(app: App, taken: set[str]) -> str:
    name = f"boxwise-build-{app.slug}"
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}-{number}", number + 1
    taken.add(candidate)
    return candidate


def _child_job(name: str, app: App, spec: ChildJobSpec) -> list[str]:
    command = ["boxwise", "ci", "--apps", app.name, *spec.ci_flags]
    command += ["--junit", JUNIT_FILE, "--codequality", CODEQUALITY_FILE]
    command += ["--metrics", METRICS_FILE, "--json", JSON_FILE, "--html", HTML_FILE]
    lines = [f"{_yaml(name)}:", f"  stage: {_yaml(spec.stage)}"]
    if spec.image:
        lines.append(f"  image: {_yaml(spec.image)}")
    variables = {"BOXWISE_APP": app.name, "GIT_DEPTH": "0"}
    if spec.package:
        variables["BOXWISE_PACKAGE"] = spec.package
    if spec.dind_image:
        lines += ["  services:", f"    - name: {_yaml(spec.dind_image)}", "      alias: docker"]
        variables.update(DIND_VARIABLES)
    if spec.cache_policy:  # as the template's .boxwise-local-cache-true
        variables["XDG_CACHE_HOME"] = "$CI_PROJECT_DIR/.boxwise-cache"
        lines += ["  cache:", f"    key: {_yaml('boxwise-' + app.slug)}"]
        lines += ["    paths: [.boxwise-cache/boxwise]", f"    policy: {_yaml(spec.cache_policy)}"]
    lines.append("  variables:")
    lines += [f"    {key}: {_yaml(value)}" for key, value in variables.items()]
    if spec.install:
        lines += ["  before_script:", f"    - {_yaml(spec.install)}"]
    lines += ["  script:", f"    - {_yaml(shlex.join(command))}"]
    lines += [
        "  artifacts:",
        "    when: always",
        "    expose_as: boxwise report",
        f"    paths: [{_yaml(HTML_FILE)}, {_yaml(JSON_FILE)}]",
        "    reports:",
        f"      junit: {_yaml(JUNIT_FILE)}",
        f"      codequality: {_yaml(CODEQUALITY_FILE)}",
        f"      metrics: {_yaml(METRICS_FILE)}",
    ]
    return lines


def as_gitlab_child(plan: Plan, spec: ChildJobSpec) -> str:
    """A child pipeline: one build job per app; a no-op job when no app changed (GitLab needs one)."""
    lines = ["# Generated by `boxwise plan --format gitlab-child`: one build job per app.", ""]
    if not plan.apps:
        lines += [
            f"{NO_APP_JOB}:",
            f"  stage: {_yaml(spec.stage)}",
            *([f"  image: {_yaml(spec.image)}"] if spec.image else []),
            "  script:",
            "    - " + _yaml("echo 'boxwise: no app changed, nothing to build'"),
        ]
        return "\n".join(lines) + "\n"
    taken: set[str] = set()
    for app in plan.apps:
        lines += [*_child_job(_job_name(app, taken), app, spec), ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ the command


def _write(text: str, output: str | None) -> None:
    if not output:
        print(text, end="")
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(
            f"{output}: cannot write the plan ({exc.strerror}); pick a writable --output"
        ) from None


def _check_ref(value: str) -> str:
    if not re.fullmatch(r"[\w./@^~{}-]+", value):
        raise UserError(f"--changed-since {value!r}: not a git ref or commit; pass e.g. origin/main")
    return value


@dataclass(frozen=True)
class PlanOptions:
    """`boxwise plan`: which apps (named, or what git says changed) and the output's shape."""

    apps: tuple[str, ...] | None = None  # named apps instead of asking git
    changed_since: str | None = None
    format: str = "json"  # json | gitlab-child | github-matrix
    output: str | None = None


def run_plan(args: PlanOptions) -> int:
    settings = load_settings()
    print_warnings(settings)
    since = args.changed_since or changed_since_from_env(os.environ)
    plan = make_plan(settings, list(args.apps) if args.apps else None, _check_ref(since) if since else None)
    if args.format == "github-matrix":
        text = as_github_matrix(plan)
    elif args.format == "gitlab-child":
        text = as_gitlab_child(plan, ChildJobSpec.from_env(os.environ))
    else:
        text = as_json(plan)
    _write(text, args.output)
    return 0
