"""Lint a Procfile: `name: command` lines, unique names, a web process or a module to run."""

from __future__ import annotations

import re
from pathlib import Path

from boxwise.findings import Finding, finding
from boxwise.inputfiles import credential_findings, read_text, redact

_LINE = re.compile(r"^([^:\s]*)\s*:(.*)$")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def lint_procfile(path: Path, rel: str) -> list[Finding]:
    """Findings for the Procfile."""
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
    if seen and "web" not in seen and not any(f.rule.startswith("procfile-") for f in findings):
        first = next(iter(seen))
        findings.append(
            finding(
                rel,
                None,
                "procfile-no-web",
                f"no `web` process: the image starts `{first}` by default and nothing answers HTTP",
                "add `web: <command>` if the app serves HTTP (e.g. `web: gunicorn app:app`)",
            )
        )
    return findings
