"""Lint requirements.txt and the files it pulls in with -r/-c, as pip would read them."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from boxwise.apps import rel_path
from boxwise.findings import Finding, finding
from boxwise.inputfiles import credential_findings, is_outside, outside_finding, read_text, redact

# pip's requirements-file options: those that take a value, and plain flags.
OPTIONS_WITH_VALUE = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
    "-e": "editable",
    "--editable": "editable",
    "-i": "index",
    "--index-url": "index",
    "--extra-index-url": "index",
    "-f": "index",
    "--find-links": "index",
    "--trusted-host": "other",
    "--no-binary": "other",
    "--only-binary": "other",
    "--use-feature": "other",
    "--config-settings": "other",
    "--global-option": "other",
    "--hash": "hash",
}
FLAG_OPTIONS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes"}
# Options pip allows after a requirement on the same line.
PER_REQUIREMENT = {"--hash", "--config-settings", "--global-option"}

_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH = re.compile(r"^[a-z0-9]+:[0-9a-fA-F]+$")
# A project name, and a plain release version (with pre/post/dev parts): the shapes that are
# valid PEP 508 by construction, so most lines never need packaging's parser.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION = r"\d+(?:\.\d+)*(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?"
_CLAUSE = rf"\s*(?:==|!=|>=|<=|~=|<|>)\s*{_VERSION}\s*"
_SIMPLE_PIN = re.compile(rf"({_NAME})\s*==\s*({_VERSION})\Z")
_SIMPLE_REQUIREMENT = re.compile(rf"{_NAME}\s*(?:{_CLAUSE}(?:,{_CLAUSE})*)?\Z")


@dataclass
class _Pin:
    version: str
    marker: str
    path: str


@dataclass
class _State:
    root: Path
    app_dir: Path
    findings: list[Finding] = field(default_factory=list)
    visited: set[Path] = field(default_factory=set)
    pins: dict[str, list[_Pin]] = field(default_factory=dict)
    constrained: set[str] = field(default_factory=set)
    # (path, line, name, spec) of requirements not pinned, decided once constraints are known
    unpinned: list[tuple[str, int, str, str]] = field(default_factory=list)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, content) with `\\` continuations joined and comments removed."""
    result: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\") and not _COMMENT.search(raw):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        line = _COMMENT.sub("", " ".join(pending)).strip()
        pending = []
        if line:
            result.append((start, line))
    if pending:
        line = _COMMENT.sub("", " ".join(pending)).strip()
        if line:
            result.append((start, line))
    return result


def _split_options(tokens: list[str]) -> tuple[list[tuple[str, str | None]], str | None]:
    """[(option, value)] from option tokens, or an error message."""
    options: list[tuple[str, str | None]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, eq, value = token.partition("=")
        if name in FLAG_OPTIONS and not eq:
            options.append((name, None))
        elif name in OPTIONS_WITH_VALUE and eq:
            options.append((name, value))
        elif token in OPTIONS_WITH_VALUE:
            if i + 1 >= len(tokens):
                return options, f"option {token} needs a value"
            options.append((token, tokens[i + 1]))
            i += 1
        elif len(token) > 2 and token[:2] in ("-r", "-c", "-e", "-i", "-f") and not token.startswith("--"):
            options.append((token[:2], token[2:]))
        else:
            return options, f"pip does not accept the option {redact(name)!r} in a requirements file"
        i += 1
    return options, None


def _is_path_or_url(text: str) -> bool:
    return "://" in text or text.startswith((".", "/", "~")) or text.endswith((".whl", ".tar.gz", ".zip"))


def is_simple_requirement(text: str) -> bool:
    """True for `name`, `name==1.2`, `name>=1,<2` style strings: valid PEP 508 without a parser."""
    return _SIMPLE_REQUIREMENT.match(text) is not None


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name (what packaging.utils.canonicalize_name returns)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _same_version(left: str, right: str) -> bool:
    if left == right:
        return True
    from packaging.version import InvalidVersion, Version

    try:
        return Version(left) == Version(right)  # 3.0 == 3.0.0
    except InvalidVersion:
        return False


def _pin(state: _State, rel: str, line: int, name: str, version: str, marker: str, constraint: bool) -> None:
    """Record an exact pin; a second pin of the same package to another version is an error."""
    key = canonical_name(name)
    for pin in state.pins.setdefault(key, []):
        if pin.marker == marker and not _same_version(pin.version, version):
            state.findings.append(
                finding(
                    rel,
                    line,
                    "conflicting-pins",
                    f"{redact(name)} is pinned to {version} here and to {pin.version} in {pin.path}",
                    "keep one pin (pip refuses two versions of one package)",
                )
            )
            break
    state.pins[key].append(_Pin(version, marker, rel))
    if constraint:
        state.constrained.add(key)


def _requirement(state: _State, rel: str, line: int, text: str, constraint: bool) -> None:
    if _is_path_or_url(text):
        return
    simple = _SIMPLE_PIN.match(text)
    if simple:
        # The usual `name==1.2.3` line is valid PEP 508 by construction: read it without packaging,
        # whose import and parser cost more than the rest of a 200-app detect.
        _pin(state, rel, line, simple.group(1), simple.group(2), "", constraint)
        return
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        detail = redact(str(exc)).splitlines()[0]
        state.findings.append(
            finding(
                rel,
                line,
                "requirements-syntax",
                f"not a PEP 508 requirement ({detail}): {redact(text)[:80]!r}",
                "write it as name==version (markers after ';'), or fix the pip option",
            )
        )
        return
    if req.url:
        return
    exact = [s for s in req.specifier if s.operator in ("==", "===") and not s.version.endswith(".*")]
    if exact:
        marker = str(req.marker) if req.marker else ""
        _pin(state, rel, line, req.name, exact[0].version, marker, constraint)
    elif not constraint:
        state.unpinned.append((rel, line, req.name, str(req.specifier)))


MAX_INCLUDE_DEPTH = 50  # no real requirements file nests this deep; each level is a recursion


def _include(state: _State, rel: str, line: int, target: str, stack: list[Path], constraint: bool) -> None:
    if "://" in target:
        return  # a remote file: pip fetches it at build time, nothing to read here
    if len(stack) >= MAX_INCLUDE_DEPTH:
        state.findings.append(
            finding(
                rel,
                line,
                "include-too-deep",
                f"-r/-c {redact(target)[:80]} is {len(stack)} files deep: not followed further",
                "list the requirements in fewer files",
            )
        )
        return
    current = stack[-1]
    path = Path(os.path.normpath(current.parent / os.path.expanduser(target)))
    kind = "-c" if constraint else "-r"
    if rel_path(state.root, path).startswith("../") or is_outside(path, state.root):
        # checked before anything else: not even whether the file exists is told
        state.findings.append(outside_finding(rel, line, f"{kind} {redact(target)[:80]}"))
        return
    if path in stack:
        chain = " -> ".join(rel_path(state.root, p) for p in [*stack[stack.index(path) :], path])
        state.findings.append(
            finding(
                rel,
                line,
                "include-cycle",
                f"{kind} {target} closes a cycle: {chain}",
                "remove one of the includes so no file includes itself",
            )
        )
        return
    if not os.path.lexists(path):
        state.findings.append(
            finding(
                rel,
                line,
                "include-missing",
                f"{kind} {target}: no such file (paths are relative to {rel_path(state.root, current)})",
                "fix the path or add the file",
            )
        )
        return
    if rel_path(state.app_dir, path).startswith("../"):
        state.findings.append(
            finding(
                rel,
                line,
                "include-outside-app",
                f"{kind} {target} is outside the app folder, which is all the build gets",
                "move the file into the app folder (or list its requirements here)",
            )
        )
    _lint_file(state, path, stack, constraint)


def _lint_line(state: _State, rel: str, line: int, text: str, stack: list[Path], constraint: bool) -> None:
    try:
        tokens = shlex.split(text, posix=True) if text.startswith("-") else text.split()
    except ValueError as exc:
        state.findings.append(
            finding(rel, line, "requirements-syntax", f"cannot split the line ({exc})", "close the quote")
        )
        return
    if text.startswith("-"):
        options, error = _split_options(tokens)
        if error:
            state.findings.append(
                finding(rel, line, "requirements-syntax", error, "use an option pip accepts, or remove it")
            )
        for option, value in options:
            kind = OPTIONS_WITH_VALUE.get(option)
            if kind in ("requirement", "constraint") and value:
                _include(state, rel, line, value, stack, constraint or kind == "constraint")
            elif kind == "hash" and value and not _HASH.match(value):
                state.findings.append(
                    finding(rel, line, "requirements-syntax", "--hash must be algorithm:hexdigest", "fix it")
                )
        return
    first_option = next((i for i, token in enumerate(tokens) if token.startswith("-")), len(tokens))
    requirement = " ".join(tokens[:first_option])
    options, error = _split_options(tokens[first_option:])
    bad = [name for name, _ in options if name not in PER_REQUIREMENT]
    if error or bad:
        message = error or f"option {bad[0]} cannot follow a requirement on the same line"
        fix = "put it on a line of its own"
        state.findings.append(finding(rel, line, "requirements-syntax", message, fix))
    _requirement(state, rel, line, requirement, constraint)


def _lint_file(state: _State, path: Path, stack: list[Path], constraint: bool) -> None:
    if path in state.visited:
        return
    state.visited.add(path)
    rel = rel_path(state.root, path)
    text, problems = read_text(path, rel, boms=True)
    state.findings.extend(problems)
    if text is None:
        return
    state.findings.extend(credential_findings(rel, text))
    stack.append(path)
    for line, content in logical_lines(text):
        _lint_line(state, rel, line, content, stack, constraint)
    stack.pop()


def requirement_files(app_dir: Path) -> list[Path]:
    """The app's requirements files: requirements.txt (what the image gets) first, then the
    other `requirements*.txt` and `requirements/*.txt` (dev, test: linted, never installed)."""
    found = []
    for folder, pattern in ((app_dir, "requirements*.txt"), (app_dir / "requirements", "*.txt")):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        found += [folder / name for name in names if fnmatch.fnmatchcase(name, pattern)]
    main = app_dir / "requirements.txt"
    return sorted(found, key=lambda path: path != main)


def lint_requirements(path: Path, root: Path, app_dir: Path, in_image: bool = True) -> list[Finding]:
    """Findings for `path` and every file it includes (paths in findings relative to `root`).

    `in_image`: pip installs this file into the image, so an unpinned requirement is a warning.
    """
    state = _State(root=root, app_dir=app_dir)
    _lint_file(state, Path(os.path.normpath(path)), [], constraint=False)
    for rel, line, name, spec in state.unpinned if in_image else ():
        if canonical_name(name) in state.constrained:
            continue
        what = f"only a range ({spec})" if spec else "no version"
        name = redact(name)  # a name is the MR's text: a token pasted as a line parses as one
        state.findings.append(
            finding(
                rel,
                line,
                "unpinned",
                f"{name} has {what}: each build may install another version: the image is not reproducible",
                f"pin it: {name}==<version> (pip freeze shows the one you test with), or pin it in a -c file",
            )
        )
    return state.findings
