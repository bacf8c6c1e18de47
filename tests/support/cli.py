"""The real CLI, as a user runs it: `boxwise.cli.main` with its own streams, environment and folder.

Most commands run in the test's own process (a child costs 0.2-0.3 s of interpreter start and
imports, and the quick run makes hundreds). They still go through `main()` exactly as
`python -m boxwise` does: the same argument parsing, error handling and exit codes, with stdout and
stderr as bytes decoded as `subprocess.run(text=True)` does. Whatever needs the process boundary
runs in a child: `build`, `ci` and `rebase` (their runner writes to the file descriptors, not
`sys.stdout`), `--version`-style starts with no command, an environment that changes how Python
itself starts (PYTHON*, LANG, LC_*), and everything when BOXWISE_TESTS_CLI=child (the way to check
that both ways agree).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IN_PROCESS = frozenset({"detect", "inspect", "gate", "diff", "report", "plan", "buildpacks"})
INTERPRETER_ENV = ("PYTHON", "LANG", "LC_")


def run_boxwise(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI with these arguments, folder, extra environment and standard input."""
    if _needs_child(args, env or {}):
        return run_boxwise_child(*args, cwd=cwd, env=env, input=input)
    return _run_in_process(list(args), cwd, env or {}, input)


def run_boxwise_child(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process (`python -m boxwise`)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "boxwise", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        input=input,
        timeout=900,
    )


def _needs_child(args: tuple[str, ...], env: dict[str, str]) -> bool:
    if os.environ.get("BOXWISE_TESTS_CLI") == "child":
        return True
    return _command(args) not in IN_PROCESS or any(key.startswith(INTERPRETER_ENV) for key in env)


def _command(args: tuple[str, ...]) -> str | None:
    """The subcommand: the first argument past the global options (`-C DIR`, `--version`)."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        if rest.pop(0) == "-C" and rest:
            rest.pop(0)
    return rest[0] if rest else None


def _run_in_process(
    args: list[str], cwd: Path | None, env: dict[str, str], input: str | None
) -> subprocess.CompletedProcess[str]:
    from boxwise.cli import main

    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    with _environment(env), _folder(cwd), _streams(stdout, stderr, io.StringIO(input or "")):
        try:
            code = main(args)
        except SystemExit as exit_:  # argparse's usage errors, as the interpreter turns them into a status
            code = _status(exit_.code, stderr)
        stdout.flush()
        stderr.flush()
    return subprocess.CompletedProcess(
        [sys.executable, "-m", "boxwise", *args], code, _text(out.getvalue()), _text(err.getvalue())
    )


def _status(code: object, stderr: io.TextIOWrapper) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=stderr)
    return 1


def _text(data: bytes) -> str:
    """As `subprocess.run(text=True)` reads a child's output: UTF-8, universal newlines."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


@contextlib.contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:  # the command may set variables of its own (ci does): none outlives the run
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _folder(cwd: Path | None) -> Iterator[None]:
    saved = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:  # `-C` moves too
        os.chdir(saved)


@contextlib.contextmanager
def _streams(stdout: io.TextIOWrapper, stderr: io.TextIOWrapper, stdin: io.StringIO) -> Iterator[None]:
    saved = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr, sys.stdin = stdout, stderr, stdin
    try:
        yield
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
