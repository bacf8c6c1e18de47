"""Lint a Procfile: `name: command` lines, unique names, a web process or a module to run."""

from __future__ import annotations

import re
from pathlib import Path

from boxwise.lint.files import credential_findings, read_text, redact
from boxwise.lint.findings import Finding, finding

_LINE = re.compile(r"^([^:\s]*)\s*:(.*)$")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def lint_procfile(path: Path, rel: str, default_process: list[str] | None) -> list[Finding]:
    """Findings for the Procfile; `default_process` is what runs without a web process, if any."""
    text, problems = read_text(path, rel)
    if text is None:
        return problems
    findings = credential_findings(rel, text)
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            findings.append(
                finding(
                    rel,
                    number,
                    "procfile-syntax",
                    f"not `name: command`: {redact(line)[:80]!r}",
                    "write each process as `name: command`, e.g. `web: gunicorn app:app`",
                )
            )
            continue
        name, command = match.group(1), match.group(2).strip()
        if not _NAME.match(name):
            findings.append(
                finding(
                    rel,
                    number,
                    "procfile-syntax",
                    f"process name {redact(name)[:40]!r} may only hold letters, digits, '_' and '-'",
                    "rename the process",
                )
            )
            continue
        if name in seen:
            findings.append(
                finding(
                    rel,
                    number,
                    "procfile-duplicate",
                    f"process {name!r} is defined twice; only one can run",
                    "remove one of the two lines or rename one process",
                )
            )
        seen.setdefault(name, number)
        if not command:
            findings.append(
                finding(
                    rel,
                    number,
                    "procfile-empty-command",
                    f"process {name!r} has no command",
                    f"give it one, e.g. `{name}: python -m myapp`",
                )
            )
    if (
        "web" not in seen
        and default_process is None
        and not any(f.rule.startswith("procfile-") for f in findings)
    ):
        findings.append(
            finding(
                rel,
                None,
                "procfile-no-web",
                "no `web` process and no module to fall back on: the image has no default process",
                "add `web: <command>`, or a __main__.py / main.py / app.py to the app",
            )
        )
    return findings
