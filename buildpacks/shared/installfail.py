"""Why an installer (pip; uv and poetry say the same things) failed, read from its output.

Standard library only, and the one copy of these patterns: pylayer uses the requirement pattern to
point at the requirements line pip failed on, and boxwise (the platform, on the host) loads this
file to turn a failed build into one line that says what happened and what to do.

The kinds, in the order they are tried (a cause before its symptoms: without a network pip ends
with "No matching distribution", which is not the package's fault):

    tls        the index's certificate is not trusted (an intercepting proxy's CA is missing)
    network    no DNS, no route, refused or timed out
    compiler   a package built from source needs a compiler the build image lacks
    header     ... or a C header / a -config tool (a -dev package) it lacks
    no-match   no release of the requirement for this Python (or none at all)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# pip: "Could not find a version that satisfies the requirement X", "No matching distribution found
# for X", "Invalid requirement: 'X'"; uv: "Because there is no version of X==1 ...".
REQUIREMENT = re.compile(
    r"(?:satisfies the requirement|distribution found for|Invalid requirement:|there is no version of)"
    r"\s+'?([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?(?:\s*[<>=!~]=?\s*[^\s;,')]+)?)"
)
_HOST = re.compile(r"(?:HTTPSConnectionPool\(host='|Could not fetch URL https?://|https?://)([A-Za-z0-9.-]+)")
_TLS = re.compile(
    r"CERTIFICATE_VERIFY_FAILED|SSLCertVerificationError|certificate verify failed"
    r"|problem confirming the ssl certificate|invalid peer certificate|UnknownIssuer",
    re.I,
)
_DNS = re.compile(
    r"Temporary failure in name resolution|Name or service not known|No address associated with hostname"
    r"|nodename nor servname|failed to lookup address|dns error",
    re.I,
)
_NETWORK = re.compile(
    r"Network is unreachable|Connection refused|Failed to establish a new connection|ConnectTimeoutError"
    r"|Read timed out|ProxyError|Connection reset by peer|No route to host|error sending request",
    re.I,
)
_COMPILER = (
    re.compile(r"command '(?:[\w/.-]*/)?([\w.+-]*(?:gcc|g\+\+|cc|c\+\+|clang))' failed: No such file"),
    re.compile(r"unable to execute '(?:[\w/.-]*/)?([\w.+-]*(?:gcc|g\+\+|cc|c\+\+|clang))': No such file"),
    re.compile(r"(?:^|\s)([\w.+-]*(?:gcc|g\+\+|cc|c\+\+|clang)): (?:command )?not found"),
    re.compile(r"No such file or directory: '(?:[\w/.-]*/)?([\w.+-]*(?:gcc|g\+\+|cc|c\+\+|clang))'"),
    re.compile(r"(can't find Rust compiler|could not find `cargo`|Cargo, the Rust package manager)"),
    re.compile(r"(?:No CMAKE_C_COMPILER could be found|C compiler cannot create executables)()"),
)
_HEADER = re.compile(r"fatal error: ([\w./+-]+\.h(?:pp)?): No such file or directory")
_CONFIG_TOOL = re.compile(
    r"\b([\w-]+_config|[\w-]+-config|pkg-config)(?:'s)?[: ]+(?:command )?not found", re.I
)
_TOOL_FOUND = re.compile(r"\b(pg_config|mysql_config|pkg-config|xml2-config) executable not found", re.I)
_BUILDING = (
    re.compile(
        r"Failed to build (?:installable wheels for some pyproject\.toml based projects )?\(?([\w.-]+)"
    ),
    re.compile(r"Could not build wheels for ([\w.-]+)"),
    re.compile(r"Failed building wheel for ([\w.-]+)"),
    re.compile(r"Building wheel for ([\w.-]+) \("),
    re.compile(r"Running setup\.py install for ([\w.-]+)"),
    re.compile(r"Getting requirements to build wheel.*for ([\w.-]+)"),
)
_NO_MATCH = re.compile(
    r"(?:No matching distribution found for|satisfies the requirement|there is no version of)\s+"
    r"([A-Za-z0-9][^\s;,)]*)"
)
_VERSIONS = re.compile(r"\(from versions: ([^)]*)\)")
_OTHER_PYTHONS = re.compile(r"Ignored the following versions that require a different python version: (.*)")


@dataclass(frozen=True)
class Failure:
    kind: str  # tls | network | compiler | header | no-match
    subject: str = ""  # the host, compiler, header or tool, or the requirement
    package: str = ""  # the package being built (compiler, header) when the output names it
    detail: str = ""  # dns | the versions pip saw | releases for other Pythons


def _last(pattern: re.Pattern[str], lines: list[str]) -> re.Match[str] | None:
    for line in reversed(lines):
        match = pattern.search(line)
        if match:
            return match
    return None


def _host(lines: list[str], pattern: re.Pattern[str]) -> str:
    for line in reversed(lines):
        if pattern.search(line):
            match = _HOST.search(line)
            if match:
                return match.group(1)
    match = _last(_HOST, lines)
    return match.group(1) if match else ""


def _package(lines: list[str]) -> str:
    for pattern in _BUILDING:
        match = _last(pattern, lines)
        if match:
            return match.group(1)
    return ""


def _found_versions(lines: list[str]) -> bool:
    """Whether the index answered with versions at all (then the network worked)."""
    match = _last(_VERSIONS, lines)
    return bool(match and match.group(1).strip() not in ("", "none"))


def classify(lines: list[str]) -> Failure | None:
    """What the output of a failed install says happened; None when it says nothing known."""
    if not _found_versions(lines):
        if any(_TLS.search(line) for line in lines):
            return Failure("tls", _host(lines, _TLS))
        if any(_DNS.search(line) for line in lines):
            return Failure("network", _host(lines, _DNS), detail="dns")
        if any(_NETWORK.search(line) for line in lines):
            return Failure("network", _host(lines, _NETWORK))
    for pattern in _COMPILER:
        match = _last(pattern, lines)
        if match:
            subject = match.group(1) or "a C compiler"
            if "rust" in subject.lower() or "cargo" in subject.lower():
                subject = "the Rust compiler (cargo)"
            return Failure("compiler", subject, _package(lines))
    for pattern in (_HEADER, _CONFIG_TOOL, _TOOL_FOUND):
        match = _last(pattern, lines)
        if match:
            return Failure("header", match.group(1), _package(lines))
    match = _last(_NO_MATCH, lines)
    if match:
        versions = _last(_VERSIONS, lines)
        others = _last(_OTHER_PYTHONS, lines)
        detail = f"releases for other Pythons: {others.group(1).strip()}" if others else ""
        if not detail and versions:
            seen = versions.group(1).strip()
            found = [item.strip() for item in seen.split(",")]
            shown = ", ".join(found[-6:])
            detail = "no release at all" if seen in ("", "none") else f"newest found: {shown}"
        return Failure("no-match", match.group(1), detail=detail)
    return None


def requirement_name(lines: list[str]) -> str | None:
    """The project name in the last requirement pip failed on (for finding its line in a file)."""
    match = _last(REQUIREMENT, lines)
    if not match:
        return None
    return re.split(r"[\s\[<>=!~]", match.group(1), maxsplit=1)[0].lower()
