"""Read an input file safely: never block on a FIFO, never slurp a huge file, never raise.

Every failure becomes one finding naming the file, so one bad file never hides the others.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from boxwise.lint.findings import Finding, finding

# No requirements.txt, Procfile or pyproject.toml is anywhere near this size; reading a bigger
# one on every commit would make the hook slow for nothing.
MAX_BYTES = 1 << 20
# scheme://userinfo@host: the userinfo is what must never be committed nor printed.
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*)://([^/@\s'\"]+)@([^/\s'\"]*)")
_ENV_REF = re.compile(r"\$\{[A-Za-z0-9_]+\}")
CREDENTIALS_FIX = (
    "remove the credentials from the file (and its history) and revoke them; give them to the build "
    "only: ${VARS} that pip or the process expands, e.g. https://${PIP_USER}:${PIP_TOKEN}@host/simple, "
    "or a .netrc"
)


def redact(text: str) -> str:
    """`text` with any `scheme://user:token@` part masked, so a finding never repeats a secret."""
    return _URL.sub(r"\1://****@\3", text)


def read_text(path: Path, rel: str) -> tuple[str | None, list[Finding]]:
    """(text, []) or (None, [the one finding that says why it cannot be linted])."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return None, [
            finding(
                rel, None, "unreadable", f"cannot read it ({exc.strerror})", "make it a readable regular file"
            )
        ]
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        return None, [
            finding(
                rel,
                None,
                "unreadable",
                f"is {kind}, so it cannot be read as {path.name}",
                f"replace it with a regular {path.name} file, or remove it",
            )
        ]
    if info.st_size > MAX_BYTES:
        size = f"{info.st_size / (1 << 20):.1f} MiB"
        return None, [
            finding(
                rel,
                None,
                "file-too-large",
                f"is {size}; a {path.name} over {MAX_BYTES >> 20} MiB is not a dependency or process list",
                "check that the right file was committed; split generated content out of it",
            )
        ]
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [
            finding(
                rel, None, "unreadable", f"cannot read it ({exc.strerror})", "make it a readable regular file"
            )
        ]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [
            finding(
                rel,
                line,
                "encoding",
                f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, column {column})",
                "save the file as UTF-8",
            )
        ]


def credential_findings(rel: str, text: str) -> list[Finding]:
    """`scheme://user:secret@host` on any line, comments included: a secret committed to the repo."""
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "@" not in line:
            continue
        for match in _URL.finditer(line):
            scheme, userinfo, host = match.group(1).lower(), match.group(2), match.group(3)
            if not _ENV_REF.sub("", userinfo).replace(":", ""):
                continue  # only ${VAR} references: the secret stays in the environment
            if "ssh" in scheme and ":" not in userinfo:
                continue  # git+ssh://git@host: a user name, not a secret
            findings.append(
                finding(
                    rel,
                    number,
                    "url-credentials",
                    f"a URL carries credentials ({scheme}://****@{host}/...): a secret committed to the repo",
                    CREDENTIALS_FIX,
                )
            )
    return findings
