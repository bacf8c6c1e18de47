"""The Python version an app asks for: read from its files, checked against a Python, and the
version the base image should have.

Standard library only, and the one copy of these rules: the buildpacks import it inside the build
(under the build image's python3, to check it before anything is installed), and boxwise loads
this same file on the host (boxwise.lint.detection.load_shared) for lint and to choose and check
the base image before a build starts.

Where an app asks, in order of precedence. The first four are Heroku's, in its order
(heroku-buildpack-python lib/python_version.sh, read_requested_python_version: "1. runtime.txt,
2. .python-version, 3. Pipfile.lock python_full_version, 4. Pipfile.lock python_version"); the
rest are files Heroku does not read but uv, Pipenv and Poetry do:

    runtime.txt               python-3.12 or python-3.12.1 (Heroku's, deprecated there)
    .python-version           3.12 or 3.12.1; blank lines and # comments allowed
    Pipfile.lock              _meta.requires.python_full_version, else python_version
    Pipfile                   [requires] python_full_version, else python_version
    pyproject.toml            [project] requires-python (PEP 440 specifiers, e.g. >=3.11,<3.14)
    pyproject.toml            [tool.poetry.dependencies] python (Poetry's ^3.11, ~3.11, || ...)

Heroku reads only the first file found. boxwise reads them all, because two that disagree
(`.python-version` 3.12 with `requires-python = ">=3.13"`) would give an image whose Python one of
them refuses: that is an error naming both files. When they agree, the first in the order above
names the request, and the most precise pin chooses the base (3.12.1 over 3.12).
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from dataclasses import dataclass

# Python versions older than this have reached their end of life (Heroku refuses them too:
# OLDEST_SUPPORTED_PYTHON_3_MINOR_VERSION=10). A base chosen for the app is never older.
OLDEST_SUPPORTED = (3, 10)
# The prefix of the build-log line that says the build's Python does not satisfy the app.
MISMATCH_MARK = "ERROR: [python-version] "
# The build-log line that says which Python the build runs (the platform reads it back).
_BUILD_PYTHON = "Python {} (the build's python3)"
# No version file is anywhere near this size (a Pipfile.lock is the largest).
_MAX_BYTES = 4 << 20
_NUMBERS = r"\d+(?:\.\d+){0,2}"
_PIN = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
_CLAUSE = re.compile(r"^(===|==|!=|~=|<=|>=|<|>|\^|~|=)?\s*(" + _NUMBERS + r")(\.\*)?$")
# Candidate versions for "can anything satisfy these?": every minor of Python 2 and 3 up to 3.40
# at a few patch levels, plus each patch level a specifier names and its neighbours.
_MINORS = [(2, minor) for minor in range(8)] + [(3, minor) for minor in range(41)]
_PATCHES = (0, 1, 50, 999)

Version = tuple[int, ...]
Clause = tuple[str, Version, bool]  # (operator, version, wildcard)


class VersionError(Exception):
    """An app file that asks for a Python version in a way that cannot be used; one line."""

    def __init__(self, source: str, message: str, fix: str, line: int | None = None) -> None:
        super().__init__(f"{source}: {message}; {fix}")
        self.source, self.message, self.fix, self.line = source, message, fix, line


@dataclass(frozen=True)
class Ask:
    """One place in the app that asks for a Python version."""

    source: str  # the file, relative to the app: runtime.txt, .python-version, pyproject.toml, ...
    field: str  # the key inside it ("" for the one-line files)
    text: str  # as written
    anyof: tuple[tuple[Clause, ...], ...]  # satisfied when every clause of one of these holds
    pin: Version | None = None  # an exact request (3.12 or 3.12.1), not a range
    line: int | None = None

    @property
    def where(self) -> str:
        return f"{self.source} {self.field}" if self.field else self.source

    def allows(self, version: Version) -> bool:
        return any(all(_holds(clause, version) for clause in group) for group in self.anyof)


@dataclass(frozen=True)
class Request:
    """Everything the app asks for, known to agree; `first` names it (precedence order)."""

    asks: tuple[Ask, ...]

    @property
    def first(self) -> Ask:
        return self.asks[0]

    def describe(self) -> str:
        return f"{self.first.text} ({self.first.where})"

    def refused_by(self, version: Version) -> Ask | None:
        """The first ask that `version` does not satisfy (a 2-part version: no patch satisfies)."""
        for ask in self.asks:
            if not any(ask.allows(full) for full in _fill(version, ask)):
                return ask
        return None

    def choose(self, default: str) -> str:
        """The version to name the base by: the most precise pin, else a minor every ask allows.

        With ranges only: the default when allowed, else the newest supported minor allowed,
        else the oldest newer one (a Python boxwise does not know yet), else the newest older one
        (which the caller refuses as end of life).
        """
        pins = [ask.pin for ask in self.asks if ask.pin is not None]
        if pins:
            return _text(max(pins, key=len))
        allowed = [minor for minor in _MINORS if self.refused_by(minor) is None]
        wanted = _parse_pin(default)
        if wanted is not None and wanted[:2] in allowed:
            return _text(wanted[:2])
        newest = max(wanted[:2] if wanted else OLDEST_SUPPORTED, OLDEST_SUPPORTED)
        supported = [minor for minor in allowed if OLDEST_SUPPORTED <= minor <= newest]
        newer = [minor for minor in allowed if minor > newest]
        pick = (supported and supported[-1]) or (newer and newer[0]) or (allowed and allowed[-1])
        return _text(pick) if pick else default


# ---------------------------------------------------------------------------------- versions


def parse_version(text: str) -> Version | None:
    """`3.12.1` → (3, 12, 1); `3.13.0rc1` → (3, 13, 0); None when it does not start with N.N."""
    match = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def _parse_pin(text: str) -> Version | None:
    match = _PIN.match(text.strip())
    return tuple(int(part) for part in match.groups() if part is not None) if match else None


def _text(version: Version) -> str:
    return ".".join(str(part) for part in version)


def _pad(version: Version) -> Version:
    return (*version, 0, 0, 0)[:3]


def end_of_life(version: str) -> bool:
    parsed = parse_version(version)
    return parsed is not None and parsed[:2] < OLDEST_SUPPORTED


def _holds(clause: Clause, version: Version) -> bool:
    op, want, wildcard = clause
    have = _pad(version)
    if op in ("==", "!=", "==="):
        same = have[: len(want)] == want if wildcard else have == _pad(want)
        return same if op != "!=" else not same
    if op == "~=":  # compatible release: >= want, and the same up to want's last-but-one part
        return have >= _pad(want) and have[: len(want) - 1] == want[:-1]
    return {
        ">=": have >= _pad(want),
        "<=": have <= _pad(want),
        ">": have > _pad(want),
        "<": have < _pad(want),
    }[op]


def _fill(version: Version, ask: Ask) -> list[Version]:
    """A full version as itself; a minor (patch unknown) as each patch level worth trying."""
    if len(version) >= 3:
        return [_pad(version)]
    patches = set(_PATCHES)
    for group in ask.anyof:
        for _, want, _ in group:
            if len(want) == 3 and want[:2] == tuple(version[:2]):
                patches.update({want[2], want[2] + 1, max(want[2] - 1, 0)})
    return [(version[0], version[1], patch) for patch in sorted(patches)]


def _candidates(asks: list[Ask]) -> list[Version]:
    found: set[Version] = set()
    for ask in asks:
        for minor in _MINORS:
            found.update(_fill(minor, ask))
    return sorted(found)


def _agree(asks: list[Ask]) -> bool:
    return any(all(ask.allows(version) for ask in asks) for version in _candidates(asks))


# --------------------------------------------------------------------------------- specifiers


def _pep440(text: str) -> tuple[tuple[Clause, ...], ...] | None:
    """`>=3.10, <3.14` (PEP 440, as requires-python holds it); None when it is not one."""
    clauses = []
    for part in text.split(","):
        match = _CLAUSE.match(part.strip())
        if not match or not match.group(1) or match.group(1) in ("^", "~", "="):
            return None
        op, numbers, wildcard = match.group(1), match.group(2), bool(match.group(3))
        want = tuple(int(n) for n in numbers.split("."))
        if (wildcard and op not in ("==", "!=")) or (op == "~=" and len(want) < 2):
            return None
        clauses.append((op, want, wildcard))
    return (tuple(clauses),) if clauses else None


def _poetry_clause(token: str) -> list[Clause] | None:
    match = _CLAUSE.match(token)
    if not match:
        return [] if token == "*" else None
    op, numbers, wildcard = match.group(1) or "", match.group(2), bool(match.group(3))
    want = tuple(int(n) for n in numbers.split("."))
    if op == "^":  # ^3.11 = >=3.11,<4; the first non-zero part may not change
        index = next((i for i, part in enumerate(want) if part != 0), len(want) - 1)
        upper = (*want[:index], want[index] + 1)
        return [(">=", want, False), ("<", upper, False)]
    if op == "~":  # ~3.11 = >=3.11,<3.12; ~3 = >=3,<4
        upper = (want[0] + 1,) if len(want) == 1 else (want[0], want[1] + 1)
        return [(">=", want, False), ("<", upper, False)]
    if op in ("", "="):  # a bare 3.11 is any 3.11.x; a bare 3.11.4 is that release
        return [("==", want, wildcard or len(want) < 3)]
    if wildcard and op not in ("==", "!="):
        return None
    return [(op, want, wildcard)]


def _poetry(text: str) -> tuple[tuple[Clause, ...], ...] | None:
    """Poetry's constraint syntax: `^3.11`, `~3.11`, `>=3.10,<3.13`, `>=3.10 <3.13`, `3.11.*`, `a || b`."""
    groups = []
    for alternative in re.split(r"\s*\|\|?\s*", text.strip()):
        tokens = re.findall(r"(?:===|==|!=|~=|<=|>=|<|>|\^|~|=)?\s*[^\s,]+", alternative)
        clauses: list[Clause] = []
        for token in tokens:
            parsed = _poetry_clause(re.sub(r"\s+", "", token))
            if parsed is None:
                return None
            clauses += parsed
        groups.append(tuple(clauses))
    return tuple(groups) if groups else None


# ------------------------------------------------------------------------------------- files


def _read(app_dir: str, rel: str) -> str | None:
    """A small regular file of the app as text; None when absent. Never follows a link out of
    the app, never opens a FIFO, never reads a huge file."""
    path = os.path.join(app_dir, rel)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise VersionError(rel, f"cannot read it ({exc.strerror})", "make it a readable file") from None
    inside = os.path.realpath(path).startswith(os.path.realpath(app_dir) + os.sep)
    if not stat.S_ISREG(info.st_mode) or not inside:
        why = "a link out of the app" if not inside else "not a regular file"
        raise VersionError(rel, f"is {why}", "replace it with a regular file")
    if info.st_size > _MAX_BYTES:
        raise VersionError(rel, f"is {info.st_size} bytes, too large to hold a version", "fix the file")
    with open(path, "rb") as handle:
        data = handle.read(_MAX_BYTES)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise VersionError(rel, "is not UTF-8 text", "save it as UTF-8") from None


def _pin_ask(source: str, field: str, text: str, line: int | None, example: str) -> Ask:
    pin = _parse_pin(text)
    if pin is None:
        raise VersionError(
            source,
            f"{field + ' ' if field else ''}{text.strip()[:40]!r} is not a Python version",
            f"write <major>.<minor> or <major>.<minor>.<patch>, e.g. {example}",
            line,
        )
    return Ask(source, field, _text(pin), ((("==", pin, len(pin) < 3),),), pin, line)


def _runtime_txt(app_dir: str) -> list[Ask]:
    text = _read(app_dir, "runtime.txt")
    if text is None:
        return []
    match = re.match(r"^\s*python-(\S+)\s*$", text)
    if not match:
        raise VersionError(
            "runtime.txt",
            f"{text.strip()[:40]!r} is not a Python version",
            "write python-<major>.<minor>, e.g. python-3.12 (or use a .python-version file holding 3.12)",
            1,
        )
    return [_pin_ask("runtime.txt", "", match.group(1), 1, "python-3.12")]


def _python_version_file(app_dir: str) -> list[Ask]:
    text = _read(app_dir, ".python-version")
    if text is None:
        return []
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    versions = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if len(versions) != 1:
        what = "no version" if not versions else f"{len(versions)} versions"
        raise VersionError(
            ".python-version", f"holds {what}", "keep exactly one line such as 3.12 (comments start with #)"
        )
    number, line = versions[0]
    return [_pin_ask(".python-version", "", line, number, "3.12")]


def _pipenv(app_dir: str) -> list[Ask]:
    asks = []
    lock = _read(app_dir, "Pipfile.lock")
    if lock is not None:
        try:
            data = json.loads(lock)
        except ValueError as exc:
            raise VersionError("Pipfile.lock", f"is not JSON ({exc})", "run `pipenv lock` again") from None
        meta = data.get("_meta") if isinstance(data, dict) else None
        requires = meta.get("requires") if isinstance(meta, dict) else None
        asks += _pipenv_requires("Pipfile.lock", requires, "_meta.requires.")
    asks += _pipenv_requires("Pipfile", _toml(app_dir, "Pipfile").get("requires"), "[requires] ")
    return asks


def _pipenv_requires(source: str, requires: object, prefix: str) -> list[Ask]:
    if not isinstance(requires, dict):
        return []
    for key in ("python_full_version", "python_version"):  # the full version wins, as in Pipenv
        value = requires.get(key)
        if value is not None:
            return [_pin_ask(source, prefix + key, str(value), None, "3.12")]
    return []


def _toml(app_dir: str, rel: str) -> dict:
    """A TOML file of the app; empty when absent or unreadable: lint's own rules (unreadable,
    encoding, toml-syntax) and the install step report those, not the version check."""
    import tomlsafe  # buildpacks/shared: refuses keys of thousands of dotted parts unparsed

    try:
        return tomlsafe.loads(_read(app_dir, rel))
    except VersionError:
        return {}


def _range_ask(field: str, value: object, parse, what: str, example: str) -> list[Ask]:
    """A pyproject.toml range (requires-python, Poetry's python) as an Ask; [] when absent."""
    if value is None:
        return []
    anyof = parse(str(value))
    if anyof is None:
        problem = f"{field} {str(value)[:40]!r} is not {what}"
        raise VersionError("pyproject.toml", problem, f"write e.g. {example}")
    return [Ask("pyproject.toml", field, str(value), anyof)]


def _pyproject(app_dir: str) -> list[Ask]:
    data = _toml(app_dir, "pyproject.toml")
    project = data.get("project")
    requires = project.get("requires-python") if isinstance(project, dict) else None
    tool = data.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
    python = deps.get("python") if isinstance(deps, dict) else None
    return _range_ask(
        "requires-python", requires, _pep440, "a PEP 440 version specifier", 'requires-python = ">=3.11"'
    ) + _range_ask(
        "[tool.poetry.dependencies] python", python, _poetry, "a version constraint", 'python = "^3.11"'
    )


def read_asks(app_dir: str) -> list[Ask]:
    """Every place the app asks for a Python version, in precedence order (see the top)."""
    return _runtime_txt(app_dir) + _python_version_file(app_dir) + _pipenv(app_dir) + _pyproject(app_dir)


def read_request(app_dir: str) -> Request | None:
    """What the app asks for, or None; VersionError when a file is invalid or two disagree."""
    accepted: list[Ask] = []
    for ask in read_asks(app_dir):
        # one ask alone is taken as it is (a version no base has is said later, with the bases)
        if accepted and not _agree([*accepted, ask]):
            other = next((old for old in accepted if not _agree([old, ask])), accepted[0])
            raise VersionError(
                ask.source,
                f"{ask.field + ' ' if ask.field else ''}asks for Python {ask.text} but {other.where} asks "
                f"for {other.text}",
                "make the two agree (or delete one)",
                ask.line,
            )
        accepted.append(ask)
    return Request(tuple(accepted)) if accepted else None


# ------------------------------------------------------------------------------------- checks


def mismatch(request: Request, version: Version, what: str) -> str | None:
    """None when `version` (of `what`: the base, the build's python3) satisfies the app; else the
    one line that says which file asks for what, and what `what` has."""
    ask = request.refused_by(version)
    if ask is None:
        return None
    return (
        f"{ask.source}: {ask.field + ' ' if ask.field else ''}asks for Python {ask.text} but {what} "
        f"has Python {_text(version)}; change {ask.source} or build on a base with Python {ask.text}"
    )


def check_build_python(app_dir: str) -> None:
    """In a buildpack, before anything is installed: the build's python3 satisfies the app, or
    the build stops with one line the platform shows as it is."""
    try:
        request = read_request(app_dir)
    except VersionError as exc:
        print(f"{MISMATCH_MARK}{exc}", flush=True)
        sys.exit(1)
    here = tuple(sys.version_info[:3])
    asked = f"; the app asks for {request.describe()}" if request else "; the app asks for no version"
    print(_BUILD_PYTHON.format(_text(here)) + asked, flush=True)
    if request is not None:
        problem = mismatch(request, here, "the build image's python3")
        if problem:
            print(f"{MISMATCH_MARK}{problem}", flush=True)
            sys.exit(1)


def build_python(log_lines: list[str]) -> str | None:
    """The Python version a build ran, from the line check_build_python printed in its log."""
    head, _, tail = _BUILD_PYTHON.partition("{}")
    for line in reversed(log_lines):
        if line.startswith(head) and tail in line:
            version = line[len(head) : line.index(tail)]
            if parse_version(version) is not None:
                return version
    return None
