"""CI report files: JUnit XML, GitLab code quality, OpenMetrics, JSON, and the GitHub runner files.

Every writer takes the reports of one or more apps, so `boxwise ci` writes one file for all of
them and `boxwise report` one for its app.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from boxwise.atomicfile import write_atomically
from boxwise.errors import UserError
from boxwise.report.model import BuildFailure, ReportData, failed_rules, verdict_passed, verdict_rules

if TYPE_CHECKING:
    from boxwise.analyze.efficiency import Analysis
    from boxwise.findings import Finding
    from boxwise.gate import RuleResult
    from boxwise.report.options import ArtifactPaths

GATE_SEVERITY = "critical"  # a failed gate rule fails the pipeline


def _write(path: str | Path, text: str) -> None:
    try:
        write_atomically(Path(path), text.encode("utf-8", "backslashreplace"))  # non-UTF-8 names
    except OSError as exc:
        raise UserError(f"{path}: cannot write it ({exc.strerror}); pass a writable file path") from None


# --- JUnit ----------------------------------------------------------------------------------------


def _rule_text(rule: RuleResult) -> str:
    text = f"{rule.name}: figure {rule.figure_json()}, threshold {rule.threshold}"
    return f"{text}; {rule.message}" if rule.message else text


def junit_xml(reports: Sequence[ReportData], broken: Sequence[BuildFailure] = ()) -> str:
    """Each gate rule of each app is a test case; a failed rule is a failure naming figure and threshold.

    An app that could not be built is one failed `build` test case.
    """
    root = ET.Element("testsuites", name="boxwise gate")
    total = failures = skipped = 0
    for failure in broken:
        suite = ET.SubElement(root, "testsuite", name=f"boxwise gate: {failure.app}")
        case = ET.SubElement(
            suite, "testcase", classname=f"boxwise.gate.{failure.app}", name="build", time="0"
        )
        ET.SubElement(case, "failure", message=failure.message, type="build").text = failure.message
        for key, value in (("tests", "1"), ("failures", "1"), ("errors", "0"), ("skipped", "0")):
            suite.set(key, value)
        total, failures = total + 1, failures + 1
    for report in reports:
        rules = verdict_rules(report.verdict)
        suite = ET.SubElement(root, "testsuite", name=f"boxwise gate: {report.app}")
        suite_failures = suite_skipped = 0
        for rule in rules:
            case = ET.SubElement(
                suite, "testcase", classname=f"boxwise.gate.{report.app}", name=rule.name, time="0"
            )
            if rule.outcome == "fail":
                suite_failures += 1
                element = ET.SubElement(case, "failure", message=_rule_text(rule), type="gate")
                element.text = f"image {report.ref}\n{_rule_text(rule)}"
            elif rule.outcome == "skip":
                suite_skipped += 1
                ET.SubElement(case, "skipped", message=rule.message or "no threshold set")
        suite.set("tests", str(len(rules)))
        suite.set("failures", str(suite_failures))
        suite.set("errors", "0")
        suite.set("skipped", str(suite_skipped))
        total, failures, skipped = total + len(rules), failures + suite_failures, skipped + suite_skipped
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- GitLab code quality ---------------------------------------------------------------------------


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()


def gate_codequality(report: ReportData) -> list[dict[str, Any]]:
    """One code-quality entry per failed gate rule, located at the rules file or the app folder."""
    path = report.rules_path or report.app_path or "."
    return [
        {
            "description": f"{report.app}: gate rule {_rule_text(rule)}",
            "check_name": f"boxwise-gate/{rule.name}",
            # app and rule only: the same failure on the next pipeline is the same issue
            "fingerprint": _fingerprint("boxwise-gate", report.app, rule.name),
            "severity": GATE_SEVERITY,
            "location": {"path": path, "lines": {"begin": 1}},
        }
        for rule in failed_rules(report.verdict)
    ]


def findings_codequality(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """Lint findings in GitLab's format, through lint's own renderer (same fingerprints as detect)."""
    from boxwise.lint.render import codequality_entries

    return codequality_entries(findings)


def build_codequality(failure: BuildFailure) -> dict[str, Any]:
    return {
        "description": f"{failure.app}: {failure.message}",
        "check_name": "boxwise-build",
        "fingerprint": _fingerprint("boxwise-build", failure.app),
        "severity": "blocker",
        "location": {"path": failure.app_path or ".", "lines": {"begin": 1}},
    }


def codequality_json(reports: Sequence[ReportData], broken: Sequence[BuildFailure] = ()) -> str:
    entries: list[dict[str, Any]] = [build_codequality(failure) for failure in broken]
    for report in reports:
        entries += findings_codequality(report.findings)
        entries += gate_codequality(report)
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry["fingerprint"] not in seen:
            seen.add(entry["fingerprint"])
            unique.append(entry)
    return json.dumps(unique, indent=2) + "\n"


# --- OpenMetrics -----------------------------------------------------------------------------------

METRICS: tuple[tuple[str, str, Callable[[Analysis], float]], ...] = (
    ("boxwise_image_size_bytes", "Uncompressed image size (sum of layer sizes)", lambda a: a.size_bytes),
    ("boxwise_image_efficiency_ratio", "dive-compatible efficiency score", lambda a: a.dive.efficiency),
    (
        "boxwise_image_wasted_bytes",
        "Bytes wasted by duplicated or removed files (dive)",
        lambda a: a.dive.wasted_bytes,
    ),
    ("boxwise_image_layers", "Number of layers", lambda a: len(a.layers)),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(reports: Sequence[ReportData], broken: Sequence[BuildFailure] = ()) -> str:
    """OpenMetrics text: one gauge family per figure, one sample per app, ending with `# EOF`."""
    lines: list[str] = []
    for name, help_text, figure in METRICS:
        lines += [f"# TYPE {name} gauge", f"# HELP {name} {help_text}."]
        for report in reports:
            value = figure(report.analysis)
            lines.append(f'{name}{{app="{_label(report.app)}"}} {value}')
    lines += _startup_metrics(reports)
    lines += _gauge(
        "boxwise_dependencies_bytes",
        "Size of the installed Python distributions (their dist-info RECORDs)",
        [(r.app, _dependency_bytes(r)) for r in reports],
    )
    # a failed build has no image figures; this family still tells the widget which apps built
    lines += ["# TYPE boxwise_build_ok gauge", "# HELP boxwise_build_ok 1 when the app built, 0 if not."]
    lines += [f'boxwise_build_ok{{app="{_label(report.app)}"}} 1' for report in reports]
    lines += [f'boxwise_build_ok{{app="{_label(failure.app)}"}} 0' for failure in broken]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _dependency_bytes(report: ReportData) -> object:
    table = report.analysis.dependencies
    return table.size_bytes if table is not None else None


def _gauge(name: str, help_text: str, samples: Sequence[tuple[str, object]]) -> list[str]:
    lines = [f"# TYPE {name} gauge", f"# HELP {name} {help_text}."]
    for app, value in samples:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lines.append(f'{name}{{app="{_label(app)}"}} {value}')
    return lines


def _startup_metrics(reports: Sequence[ReportData]) -> list[str]:
    """What the smoke check saw, for the apps it ran on: did it answer, how fast, how much memory."""
    checked = [(r.app, r.startup) for r in reports if r.startup is not None and r.startup.checked]
    if not checked:
        return []
    lines = _gauge(
        "boxwise_startup_ok",
        "1 when the web process answered HTTP on PORT, 0 if not",
        [(app, int(s.answered)) for app, s in checked],
    )
    lines += _gauge(
        "boxwise_startup_seconds",
        "Seconds from starting the container to the first HTTP answer",
        [(app, s.seconds) for app, s in checked if s.answered],
    )
    lines += _gauge(
        "boxwise_startup_memory_bytes",
        "Memory in use just after the first answer",
        [(app, s.memory_bytes) for app, s in checked if s.answered],
    )
    return lines


# --- JSON ------------------------------------------------------------------------------------------


def report_json(reports: Sequence[ReportData], broken: Sequence[BuildFailure] = ()) -> str:
    passed = [verdict_passed(r.verdict) for r in reports]
    document = {
        "passed": not broken and all(p is not False for p in passed),
        "apps": [r.to_json() for r in reports] + [failure.to_json() for failure in broken],
    }
    return json.dumps(document, indent=2) + "\n"


Renderer = Callable[[Sequence[ReportData], Sequence[BuildFailure]], str]


def write_artifacts(
    paths: ArtifactPaths,
    reports: Sequence[ReportData],
    broken: Sequence[BuildFailure] = (),
    note: str = "",
    markdown: str = "",
) -> list[str]:
    """Write the files the flags ask for; returns what was written, for the log. `note` goes on
    top of the HTML report (why no comment was posted)."""
    from boxwise.report.html import render_html

    written = []
    if paths.markdown:  # the report as the summary shows it, for any comment tool
        _write(paths.markdown, markdown)
        written.append(paths.markdown)
    renderers: tuple[tuple[str | None, Renderer], ...] = (
        (paths.junit, junit_xml),
        (paths.codequality, codequality_json),
        (paths.metrics, metrics_text),
        (paths.json_file, report_json),
        (paths.html, lambda ok, bad: render_html(ok, bad, note)),
    )
    for path, render in renderers:
        if path:
            _write(path, render(reports, broken))
            written.append(str(path))
    return written


# --- GitHub Actions runner files ------------------------------------------------------------------


def _escape_data(text: str) -> str:
    from boxwise.lint.render import _escape_data as escape_data  # the one workflow-command rule

    return escape_data(text)


def _escape_property(text: str) -> str:
    from boxwise.lint.render import _escape_property as escape_property

    return escape_property(text)


def workflow_annotations(reports: Sequence[ReportData], broken: Sequence[BuildFailure] = ()) -> list[str]:
    """Workflow commands: one annotation per build failure, lint finding and failed gate rule."""
    from boxwise.lint.render import github_lines

    lines = [
        f"::error file={_escape_property(f.app_path or '.')},title=boxwise build::"
        f"{_escape_data(f.app + ': ' + f.message)}"
        for f in broken
    ]
    for report in reports:
        lines += github_lines(report.findings)
        for rule in failed_rules(report.verdict):
            props = f"file={_escape_property(report.rules_path or report.app_path or '.')}"
            props += f",title={_escape_property('boxwise gate ' + rule.name)}"
            lines.append(f"::error {props}::{_escape_data(report.app + ': ' + _rule_text(rule))}")
    return lines


def github_outputs(reports: Sequence[ReportData], broken: Sequence[BuildFailure] = ()) -> dict[str, str]:
    """size-bytes, efficiency (of the one app), the overall verdict and a JSON list of the apps."""
    verdicts = [verdict_passed(r.verdict) for r in reports] + [False for _ in broken]
    overall = "fail" if False in verdicts else "pass" if verdicts and None not in verdicts else "none"
    outputs = {"verdict": overall}
    if len(reports) == 1 and not broken:
        outputs["size-bytes"] = str(reports[0].analysis.size_bytes)
        outputs["efficiency"] = str(reports[0].analysis.dive.efficiency)
    outputs["apps"] = json.dumps(
        [
            {
                "app": r.app,
                "size-bytes": r.analysis.size_bytes,
                "efficiency": r.analysis.dive.efficiency,
                "verdict": {True: "pass", False: "fail", None: "none"}[verdict_passed(r.verdict)],
            }
            for r in reports
        ]
        + [{"app": f.app, "size-bytes": None, "efficiency": None, "verdict": "fail"} for f in broken],
        separators=(",", ":"),
    )
    return outputs


def write_github(
    reports: Sequence[ReportData],
    markdown: str,
    env: dict[str, str] | None = None,
    broken: Sequence[BuildFailure] = (),
) -> list[str]:
    """On a GitHub runner: summary, outputs; returns the annotation lines for stdout."""
    env = dict(os.environ if env is None else env)
    if env.get("GITHUB_ACTIONS") != "true":
        return []
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        _append(summary, markdown + "\n")
    output = env.get("GITHUB_OUTPUT")
    if output:
        lines = []
        for key, value in github_outputs(reports, broken).items():
            if "\n" in value:
                delimiter = f"boxwise_{secrets.token_hex(8)}"
                lines.append(f"{key}<<{delimiter}\n{value}\n{delimiter}")
            else:
                lines.append(f"{key}={value}")
        _append(output, "\n".join(lines) + "\n")
    return workflow_annotations(reports, broken)


def _append(path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(text)
    except OSError as exc:
        raise UserError(f"{path}: cannot append to it ({exc.strerror}); check the runner's files") from None
