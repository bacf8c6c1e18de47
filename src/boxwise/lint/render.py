"""Findings (and detection results) as text, JSON, GitLab Code Quality, SARIF or GitHub annotations.

`codequality_entries` and `github_lines` take plain `Finding`s, so the MR report can reuse them.
rich is imported by `render_text` only, and only for a terminal: every other output stays fast.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from boxwise.findings import ERROR, WARNING, Finding, sort_key, unique
from boxwise.printable import printable

# GitLab Code Quality severities: info, minor, major, critical, blocker.
_CODEQUALITY_SEVERITY = {ERROR: "major", WARNING: "minor"}
_SECRET_RULES = frozenset({"url-credentials"})


@dataclass
class AppReport:
    """One app's result: where it is, which buildpacks detect it, what lint found."""

    name: str
    slug: str
    group: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.name,
            "slug": self.slug,
            "group": self.group,
            "failed": self.failed,
            "findings": [item.to_dict() for item in sorted(self.findings, key=sort_key)],
        }


def counts(findings: Iterable[Finding]) -> Counter[str]:
    return Counter(item.severity for item in findings)


def fingerprint(item: Finding, occurrence: int = 0) -> str:
    """Stable across runs and line moves: rule, file, message (never the line number)."""
    import hashlib  # only the codequality format needs it

    key = "\0".join((item.rule, item.path, item.message, str(occurrence)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def codequality_entries(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """GitLab Code Quality report entries (the `codequality` artifact format)."""
    seen: Counter[tuple[str, str, str]] = Counter()
    entries: list[dict[str, Any]] = []
    for item in unique(findings):
        key = (item.rule, item.path, item.message)
        entries.append(
            {
                "description": f"{item.message} (fix: {item.fix})",
                "check_name": item.rule,
                "fingerprint": fingerprint(item, seen[key]),
                "severity": "critical"
                if item.rule in _SECRET_RULES
                else _CODEQUALITY_SEVERITY[item.severity],
                "location": {"path": item.path, "lines": {"begin": item.line or 1}},
            }
        )
        seen[key] += 1
    return entries


def _escape_data(text: str) -> str:
    """GitHub's workflow-command escaping, after every control character is made printable."""
    return printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_lines(findings: Iterable[Finding]) -> list[str]:
    """GitHub Actions workflow commands (`::error file=…,line=…,title=…::…`), one per finding."""
    lines = []
    for item in unique(findings):
        props = [f"file={_escape_property(item.path)}"]
        if item.line:
            props.append(f"line={item.line}")
        props.append(f"title={_escape_property('boxwise ' + item.rule)}")
        message = _escape_data(f"{item.message}. Fix: {item.fix}")
        lines.append(f"::{item.severity} {','.join(props)}::{message}")
    return lines


def render_json(reports: Sequence[AppReport]) -> str:
    findings = unique(item for report in reports for item in report.findings)
    total = counts(findings)
    data = {
        "apps": [report.to_dict() for report in reports],
        "findings": [item.to_dict() for item in findings],
        "errors": total[ERROR],
        "warnings": total[WARNING],
    }
    return json.dumps(data, indent=2) + "\n"


def render_codequality(reports: Sequence[AppReport]) -> str:
    findings = [item for report in reports for item in report.findings]
    return json.dumps(codequality_entries(findings), indent=2) + "\n"


def render_sarif(reports: Sequence[AppReport]) -> str:
    """SARIF 2.1.0: every lint rule, and each finding as a result at its file and line."""
    from boxwise.findings import RULES
    from boxwise.sarif import SarifResult, SarifRule, dumps, sarif_log

    rules = [SarifRule(rule, description, severity) for rule, (severity, description) in RULES.items()]
    seen: Counter[tuple[str, str, str]] = Counter()
    results = []
    for item in unique(finding for report in reports for finding in report.findings):
        key = (item.rule, item.path, item.message)
        message = f"{item.message}. Fix: {item.fix}"
        results.append(
            SarifResult(item.rule, item.severity, message, item.path, item.line, fingerprint(item, seen[key]))
        )
        seen[key] += 1
    return dumps(sarif_log(rules, results))


def render_github(reports: Sequence[AppReport]) -> str:
    lines = github_lines(item for report in reports for item in report.findings)
    return "".join(line + "\n" for line in lines)


def text_lines(reports: Sequence[AppReport]) -> list[list[tuple[str, str]]]:
    """The text report as lines of (text, rich style) segments, grouped by app."""
    styles = {ERROR: "bold red", WARNING: "yellow"}
    lines: list[list[tuple[str, str]]] = []
    for report in reports:
        # names, paths and quotes are the merge request's: one printable line each (a newline
        # in a file name would start a `::warning` workflow command line in a GitHub log)
        name = printable(report.name)
        if report.group:
            lines.append([(name, "bold"), (": " + ", ".join(report.group), "green")])
        else:
            lines.append([(name, "bold"), (": no buildpack group detects it", "bold red")])
        lines += [[(f"  {buildpack}: {printable(why)}", "dim")] for buildpack, why in report.failed.items()]
        for item in sorted(report.findings, key=sort_key):
            lines.append(
                [
                    ("  ", ""),
                    (printable(item.location), "bold"),
                    ("  ", ""),
                    (item.severity, styles.get(item.severity, "")),
                    (f"  {item.rule}  {printable(item.message)}", ""),
                ]
            )
            lines.append([(f"      fix: {printable(item.fix)}", "dim")])
    total = counts(unique(item for report in reports for item in report.findings))
    apps = f"{len(reports)} app" + ("" if len(reports) == 1 else "s")
    summary = f"{apps}, {total[ERROR]} error(s), {total[WARNING]} warning(s)"
    lines.append([(summary, "bold red" if total[ERROR] else "bold")])
    return lines


def render_text(reports: Sequence[AppReport], out: IO[str], color: bool | None = None) -> None:
    """Grouped by app: the detected group, why the other buildpacks did not pass, the findings.

    Styled with rich on a terminal (or with FORCE_COLOR; pre-commit gives hooks a terminal when
    it shows colour); a pipe or file gets the same lines as plain text, without importing rich.
    """
    lines = text_lines(reports)
    styled = color is not False and (color or out.isatty() or bool(os.environ.get("FORCE_COLOR")))
    if not styled:
        out.write("".join("".join(text for text, _ in line) + "\n" for line in lines))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, soft_wrap=True, highlight=False, force_terminal=True if color else None)
    for line in lines:
        console.print(Text.assemble(*line))
