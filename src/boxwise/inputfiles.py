"""Read an input file safely: never block on a FIFO, never slurp a huge file, never raise.

Every failure becomes one finding naming the file, so one bad file never hides the others.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path, PurePosixPath

from boxwise.findings import Finding, finding

# No requirements.txt, Procfile or pyproject.toml is anywhere near this size; reading a bigger
# one on every commit would make the hook slow for nothing.
MAX_BYTES = 1 << 20
# scheme://userinfo@host: the userinfo is what must never be committed nor printed.
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*)://([^/@\s'\"]+)@([^/\s'\"]*)")
_ENV_REF = re.compile(r"\$\{[A-Za-z0-9_]+\}")
# What a line that holds a secret looks like, so a finding never quotes one: a PEM armour line,
# a crypt(3) hash (/etc/shadow), NAME=value / NAME: value where NAME says token, password, key...,
# and any long token that mixes letters and digits the way generated secrets do.
_PEM = re.compile(r"-----(BEGIN|END)[A-Z ]*-----")
_CRYPT = re.compile(r"\$(1|2[abxy]?|5|6|7|y|gy|sha1|md5)\$[^\s:]*")
_NAMED_SECRET = re.compile(
    r"(?i)([A-Za-z0-9_.-]*(?:token|secret|passw(?:or)?d|passwd|pwd|api[_-]?key|private|auth|credential)"
    r"[A-Za-z0-9_.-]*\s*[:=]\s*)(\S+)"
)
_TOKEN = re.compile(r"[A-Za-z0-9+/_=.~-]{20,}")
SECRET_MASK = "****"
CREDENTIALS_FIX = (
    "remove the credentials from the file (and its history) and revoke them; give them to the build "
    "only: ${VARS} that pip or the process expands, e.g. https://${PIP_USER}:${PIP_TOKEN}@host/simple, "
    "or a .netrc"
)


def _looks_generated(token: str) -> bool:
    """A long token with letters and digits mixed: an API token, a key, a hash (not a word, a
    path or a version, which are mostly letters or mostly dots and digits)."""
    letters = sum(c.isalpha() for c in token)
    digits = sum(c.isdigit() for c in token)
    if digits < 3 or letters < 3:
        return False
    cased = any(c.isupper() for c in token) and any(c.islower() for c in token)
    hexish = all(c in "0123456789abcdefABCDEF" for c in token)
    return cased or hexish or digits * 4 >= len(token)


def redact(text: str) -> str:
    """`text` with whatever looks like a secret masked, so a finding never repeats one: the
    userinfo of `scheme://user:token@`, PEM lines, crypt hashes, `TOKEN=value` values and long
    generated-looking tokens."""
    text = _URL.sub(rf"\1://{SECRET_MASK}@\3", text)
    if _PEM.search(text):
        return SECRET_MASK
    text = _CRYPT.sub(SECRET_MASK, text)
    text = _NAMED_SECRET.sub(rf"\1{SECRET_MASK}", text)
    return _TOKEN.sub(lambda m: SECRET_MASK if _looks_generated(m.group()) else m.group(), text)


def _root_of(path: Path, rel: str) -> Path | None:
    """The repo root `rel` is relative to (every finding names a file by its repo-relative path),
    or None when `rel` climbs out of it."""
    parts = PurePosixPath(rel).parts
    if not parts or ".." in parts or parts[0] == "/" or path.name != parts[-1]:
        return None
    return path.parents[len(parts) - 1]


def is_outside(path: Path | str, root: Path | str) -> bool:
    """True when `path`, symlinks resolved, is not inside `root`."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real != top and not real.startswith(top.rstrip(os.sep) + os.sep)


def outside_finding(rel: str, line: int | None, what: str) -> Finding:
    return finding(
        rel,
        line,
        "outside-repo",
        f"{what} resolves outside the repository: not read (a merge request may not make boxwise read "
        "the files of the machine it runs on)",
        "keep the file inside the repository (a symlink or -r/-c path must stay in it)",
    )


# pip reads a requirements file whose byte-order mark names UTF-16 or UTF-32 in that encoding
# (pip._internal.utils.encoding.auto_decode); lint reads it the same way, not as an error.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_text(path: Path, rel: str, boms: bool = False) -> tuple[str | None, list[Finding]]:
    """(text, []) or (None, [the one finding that says why it cannot be linted]).

    `rel` is `path` relative to the repo root: a file that resolves outside that root (a symlink
    to a file of the runner) is never opened.
    """
    root = _root_of(path, rel)
    if root is None or is_outside(path, root):
        return None, [outside_finding(rel, None, "the file")]
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
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None) if boms else None
    try:
        return data.decode(encoding or "utf-8-sig"), []
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
