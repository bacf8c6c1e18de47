"""boxwise's exceptions: every failure it expects is a `BoxwiseError`, shown as one line.

The CLI (`boxwise.cli.main`) is the one handler: a `BoxwiseError` prints ``boxwise: error: <message>``
and exits with its `exit_code` (2 for a `UserError`); any other exception is a bug, reported as one
line plus a crash log (`boxwise.crashlog`) and exit 3, as pre-commit does.
"""

from __future__ import annotations


class BoxwiseError(Exception):
    """A failure boxwise expects and explains: one line that names the thing and says what to do.

    `details` are lines of evidence printed under it (a failed installer's last lines), never part
    of the message itself.
    """

    exit_code = 1

    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


class UserError(BoxwiseError):
    """Input boxwise cannot use: bad config, unreadable file, no engine, bad token. Exit code 2."""

    exit_code = 2


class DamagedImage(UserError):
    """An image part that is not what it must be: a corrupt, truncated or unsafe layer tar, a
    document that is not JSON, a digest that is no digest. Readers with another source for the
    same image (the engine's own records before `docker save`) catch this one and fall back."""


# The exit code of an unexpected exception (a bug): the crash log holds its traceback.
CRASH_EXIT_CODE = 3
