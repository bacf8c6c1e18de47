"""The crash log: what an unexpected exception (a bug) leaves for its report, as pre-commit does.

The user sees one line naming the log; the log holds the boxwise and Python versions, the command
line and the traceback. It lives in boxwise's cache folder, `$XDG_CACHE_HOME/boxwise/boxwise.log`
(`~/.cache/boxwise/boxwise.log` when XDG_CACHE_HOME is unset), and each crash replaces the last.
Nothing in it may hold a credential: the values of the environment's token and password variables,
the password of any `scheme://user:password@` URL and every `--env` value are replaced by
`[hidden]` in everything written or printed.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from boxwise.atomicfile import write_atomically

HIDDEN = "[hidden]"
# Variables whose value is a credential (the CI tokens boxwise reads, and their kind elsewhere).
_SECRET_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|PRIVATE|AUTH|(^|_)KEY($|_)", re.I)
_URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@")
_MESSAGE_LIMIT = 300


def log_path() -> Path:
    """Where the crash log goes: in boxwise's cache folder, next to the layer cache."""
    from boxwise.image.cache import cache_root

    return cache_root() / "boxwise.log"


def redactor(env: Mapping[str, str]) -> Redactor:
    secrets = sorted(
        (value for name, value in env.items() if _SECRET_NAME.search(name) and len(value) >= 8),
        key=len,
        reverse=True,  # a token that holds another is hidden whole
    )
    return Redactor(tuple(secrets))


class Redactor:
    """Hides credentials in text: known secret values and URL passwords."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        return _URL_PASSWORD.sub(rf"\g<1>{HIDDEN}@", text)

    def argv(self, argv: Sequence[str]) -> list[str]:
        """The command line with every `--env NAME=VALUE` value hidden (build variables hold secrets)."""
        shown: list[str] = []
        after_env = False
        for arg in argv:
            if after_env and "=" in arg:
                arg = arg.split("=", 1)[0] + "=" + HIDDEN
            elif arg.startswith("--env=") and arg.count("=") > 1:
                arg = arg.split("=", 2)[0] + "=" + arg.split("=", 2)[1] + "=" + HIDDEN
            after_env = arg == "--env"
            shown.append(self(arg))
        return shown


def one_line(exc: BaseException, redact: Redactor) -> str:
    """`Type: first line of the message`, credentials hidden, made printable and bounded."""
    from boxwise.printable import printable

    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    text = printable(redact(text))
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def write(exc: BaseException, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Path:
    """Write the crash log of `exc` (raised while running `boxwise ARGV`); returns its path.

    Raises OSError when the log cannot be written.
    """
    from boxwise import __version__

    env = os.environ if env is None else env
    redact = redactor(env)
    path = log_path()
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    command = " ".join(redact.argv(["boxwise", *argv]))
    text = (
        "### boxwise crash log\n\n"
        f"boxwise version: {__version__}\n"
        f"python version: {sys.version.splitlines()[0]}\n"
        f"platform: {sys.platform}\n"
        f"executable: {sys.executable}\n"
        f"command line: {command}\n"
        f"working folder: {Path.cwd() if _cwd_exists() else '(removed)'}\n\n"
        "### traceback\n\n"
        f"{redact(trace)}"
    )
    write_atomically(path, text.encode("utf-8", "backslashreplace"))
    return path


def _cwd_exists() -> bool:
    try:
        os.getcwd()
    except OSError:
        return False
    return True


def report(exc: BaseException, argv: Sequence[str]) -> None:
    """The one line on stderr for an unexpected exception; the traceback goes to the crash log
    (or, when no log can be written, to stderr: a bug's evidence is never lost)."""
    redact = redactor(os.environ)
    headline = f"boxwise: unexpected error: {one_line(exc, redact)}"
    try:
        path = write(exc, argv)
    except OSError as problem:
        print(f"{headline}; no crash log ({problem.strerror}); the traceback follows", file=sys.stderr)
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        print(redact(trace), file=sys.stderr, end="")
        return
    print(f"{headline}; details in {path}", file=sys.stderr)
