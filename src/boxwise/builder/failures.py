"""The one line a failed build ends with: what happened and what to do, with the installer's last
lines under it.

What happened is read from the build log by buildpacks/shared/installfail.py (the one copy of the
patterns, also used inside the build); this module says it in boxwise's terms (its flags: --ca-cert,
--network, --builder) with what the platform knows (the build image, the network, the Python).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from boxwise.errors import UserError

# What the install buildpacks print when pip failed on one line of a requirements file.
_REQ_LINE = re.compile(r"^ERROR: [^\s:]+:\d+: ")
# What a buildpack prints when a file of the app is wrong (`ERROR: poetry.lock is out of date ...`).
_FILE_ERROR = re.compile(r"^ERROR: ((?:[\w.-]+/)*[\w.-]+)[: ]")
# What a bin/detect prints (through the driver) when it refuses the app: `  <id>: ERROR: <why>`.
_DETECT_ERROR = re.compile(r"^\s+[\w./-]+: ERROR: (.+)$")
# The file a failed lock-file buildpack's fallback message names.
_INSTALL_FILES = {
    "pipenv-install": "Pipfile.lock",
    "poetry-install": "poetry.lock",
    "uv-install": "uv.lock",
    "setup-py-install": "setup.py",
}
_TAIL = 12
# The driver's line as each buildpack's build starts: `build: pip-install@0.1.0`.
_BUILDPACK_START = re.compile(r"^build: \S+@\S+$")
# Debian packages for the headers and tools builds most often miss.
_DEV_PACKAGES = {
    "Python.h": "python3-dev",
    "ffi.h": "libffi-dev",
    "openssl/ssl.h": "libssl-dev",
    "libpq-fe.h": "libpq-dev",
    "pg_config": "libpq-dev",
    "mysql_config": "default-libmysqlclient-dev",
    "mysql.h": "default-libmysqlclient-dev",
    "libxml/xmlversion.h": "libxml2-dev",
    "xml2-config": "libxml2-dev",
    "zlib.h": "zlib1g-dev",
    "jpeglib.h": "libjpeg-dev",
    "pkg-config": "pkg-config",
}


@dataclass(frozen=True)
class FailureContext:
    """What the platform knows that the log does not say."""

    app_dir: Path
    network: str
    build_image: str
    python: str | None = None  # the Python the build ran (the base's, when known on the host)
    ca_cert: Path | None = None  # the CA bundle --ca-cert gave, if one was given


def installer_output(lines: list[str]) -> list[str]:
    """What the failing buildpack's installer printed (its last `$ pip install ...` onwards), without
    boxwise's own lines; empty when the buildpack that failed ran no installer."""
    failing = max((i for i, line in enumerate(lines) if _BUILDPACK_START.match(line)), default=-1)
    start = max((i for i, line in enumerate(lines) if line.startswith("$ ") and i > failing), default=-1)
    if start < 0:
        return []
    own = ("build: ", "ERROR: pip install failed", "detect: ")
    return [line[:300] for line in lines[start + 1 :] if line.strip() and not line.startswith(own)]


def _explain(failure: object, lines: list[str], context: FailureContext, python: str) -> str:
    kind, subject = getattr(failure, "kind", ""), getattr(failure, "subject", "")
    package, detail = getattr(failure, "package", ""), getattr(failure, "detail", "")
    app = context.app_dir
    host = subject or "the package index"
    if kind == "tls" and context.ca_cert is not None:
        return (
            f"{app}: the build cannot verify the TLS certificate of {host} (certificate verify failed) "
            f"with --ca-cert {context.ca_cert}; pass the CA bundle that signs it (your proxy's or index's)"
        )
    if kind == "tls":
        return (
            f"{app}: the build cannot verify the TLS certificate of {host} (certificate verify failed): "
            "a proxy or private index signs with a CA the build image does not trust; pass --ca-cert FILE "
            "with that CA bundle"
        )
    if kind == "network":
        what = f"cannot resolve {host} (no DNS)" if detail == "dns" else f"cannot connect to {host}"
        if context.network == "none":
            return (
                f"{app}: the build {what}: the build container has no network (--network none); "
                "use --network host"
            )
        return (
            f"{app}: the build {what} from the build container (--network {context.network}); give a "
            "--network with DNS and a route to the index, or set HTTPS_PROXY"
        )
    building = f"building {package} from source" if package else "building a package from source"
    instead = f"pin a version of {package} that has a wheel for Python {python}" if package else "use wheels"
    if kind == "compiler":
        return (
            f"{app}: {building} needs {subject}, which the build image {context.build_image} lacks; "
            f"{instead}, or build on a --builder image that has it (e.g. with build-essential)"
        )
    if kind == "header":
        dev = _DEV_PACKAGES.get(subject)
        lacks = f"{subject} (Debian: {dev})" if dev else subject
        return (
            f"{app}: {building} needs {lacks}, which the build image {context.build_image} lacks; "
            f"{instead}, or build on a --builder image that has it"
        )
    if kind == "no-match":
        where = next((line[7:].split(": ", 1)[0] for line in reversed(lines) if _REQ_LINE.match(line)), "")
        place = f"{app}/{where}" if where else str(app)
        why = f" ({detail})" if detail else ""
        return (
            f"{place}: no release of {subject} can be installed on Python {python}{why}; pick a version that "
            f"exists for Python {python}, or ask for another Python (.python-version)"
        )
    return ""


def failure_error(
    code: int,
    lines: list[str],
    context: FailureContext,
    installfail: ModuleType,
    pyversion: ModuleType,
    collectstatic: ModuleType,
) -> UserError:
    """The UserError a build that exited with `code` ends with (installfail, pyversion and
    collectstatic: the shared modules of buildpacks/shared)."""
    app = context.app_dir
    if code == 20:
        return UserError(
            f"{app}: no buildpack group detected the app; add a requirements.txt (or Pipfile.lock, "
            "poetry.lock, uv.lock), a pyproject.toml or setup.py project, or a Procfile"
        )
    if code == 21:  # a detect refused the app: its one line says why (several package managers, ...)
        refused = next((m.group(1) for line in reversed(lines) for m in [_DETECT_ERROR.match(line)] if m), "")
        if refused:
            return UserError(f"{app}: {refused}")
    if code in (126, 127):  # the engine could not start python3 in the build image
        return UserError(
            f"{app}: the build image has no python3 to run the buildpacks (exit {code}); pass --builder an "
            "image with python3 >= 3.11, e.g. python:3.13-slim"
        )
    mark = pyversion.MISMATCH_MARK
    mismatch = next((line for line in reversed(lines) if line.startswith(mark)), None)
    if mismatch:
        return UserError(f"{app}/{mismatch[len(mark) :]}")
    output = installer_output(lines)
    tail = tuple(output[-_TAIL:])
    static = next((line for line in reversed(lines) if line.startswith(collectstatic.FAILED_MARK)), None)
    if static:
        return _collectstatic_error(app, static[len(collectstatic.FAILED_MARK) :], output)
    wrong = _app_file_error(lines, app)
    if wrong:  # a buildpack said which of the app's files is wrong (a lock out of sync, ...)
        said = "ERROR: " + wrong[len(f"{app}/") :]
        return UserError(wrong, tuple(line for line in tail if line != said))  # that line once
    failure = installfail.classify(output or lines)
    no_answer = failure is not None and failure.kind == "no-match" and failure.detail == "no release at all"
    if no_answer and context.network == "none":  # the index never answered: the build has no network
        failure = installfail.Failure("network", "", detail="dns")
    python = pyversion.build_python(lines) or context.python or "the build's Python"
    explained = _explain(failure, lines, context, python) if failure is not None else ""
    if explained:
        return UserError(explained, tail)
    return UserError(_generic(code, lines, app), tail)


def _collectstatic_error(app: Path, said: str, output: list[str]) -> UserError:
    """`APP/manage.py: python manage.py collectstatic --noinput failed (exit 1): <its last line>; ...`
    with the command's last lines under it, as Heroku shows them with its hint."""
    shown = [line for line in output if not line.startswith("ERROR: [")]
    last = next((line.strip() for line in reversed(shown) if line.strip()), "")
    why = f": {last[:200]}" if last else ""
    return UserError(
        f"{app}/{said}{why}; fix the app's settings or static files (a variable the settings need at "
        "build time: --env NAME=VALUE), or skip the step with --env DISABLE_COLLECTSTATIC=1",
        tuple(shown[-_TAIL:]),
    )


def _app_file_error(lines: list[str], app: Path) -> str:
    """`APP/poetry.lock is out of date ...`: the last `ERROR: <file of the app>...` a buildpack printed."""
    for line in reversed(lines):
        match = _FILE_ERROR.match(line)
        if match and not _REQ_LINE.match(line) and (app / match.group(1)).is_file():
            return f"{app}/{line[7:]}"
    return ""


def _generic(code: int, lines: list[str], app: Path) -> str:
    failed = next((line for line in reversed(lines) if line.startswith("build: ") and "failed" in line), "")
    where = next((line[7:] for line in reversed(lines) if _REQ_LINE.match(line)), None)
    if where:
        return f"{app}/{where}: pip cannot install it (see pip's message above); fix the requirement"
    for buildpack, name in _INSTALL_FILES.items():
        if buildpack in failed:
            return f"{app / name}: installing it failed (see the installer's message above); fix it"
    if "pip-install" in failed:
        return f"{app / 'requirements.txt'}: pip install failed (see pip's message above); fix it"
    if "pyproject-toml-install" in failed:
        return f"{app / 'pyproject.toml'}: installing the project failed (see above); fix its dependencies"
    if "procfile-run" in failed:
        return f"{app}: no launch process (see above); add a Procfile such as `web: python3 app.py`"
    return f"{app}: the build failed (lifecycle exit {code}, see the log above)"
