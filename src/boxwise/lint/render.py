"""Findings (and detection results) as text, JSON, GitLab Code Quality or GitHub annotations.

`codequality_entries` and `github_lines` take plain `Finding`s, so the MR report can reuse them.
rich is imported inside `render_text` only: the other formats must stay fast.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from boxwise.lint.findings import ERROR, WARNING, Finding, sort_key, unique

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
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


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


def render_github(reports: Sequence[AppReport]) -> str:
    lines = github_lines(item for report in reports for item in report.findings)
    return "".join(line + "\n" for line in lines)


def render_text(reports: Sequence[AppReport], out: IO[str], color: bool | None = None) -> None:
    """Grouped by app: the detected group, why the other buildpacks did not pass, the findings."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, soft_wrap=True, highlight=False, no_color=color is False)
    styles = {ERROR: "bold red", WARNING: "yellow"}
    for report in reports:
        head = Text(report.name, style="bold")
        if report.group:
            head.append(": " + ", ".join(report.group), style="green")
        else:
            head.append(": no buildpack group detects it", style="bold red")
        console.print(head)
        for buildpack, why in report.failed.items():
            console.print(Text(f"  {buildpack}: {why}", style="dim"))
        for item in sorted(report.findings, key=sort_key):
            line = Text("  ")
            line.append(item.location, style="bold")
            line.append("  ")
            line.append(item.severity, style=styles.get(item.severity, ""))
            line.append(f"  {item.rule}  {item.message}")
            console.print(line)
            console.print(Text(f"      fix: {item.fix}", style="dim"))
    total = counts(unique(item for report in reports for item in report.findings))
    apps = f"{len(reports)} app" + ("" if len(reports) == 1 else "s")
    summary = f"{apps}, {total[ERROR]} error(s), {total[WARNING]} warning(s)"
    console.print(Text(summary, style="bold red" if total[ERROR] else "bold"))
