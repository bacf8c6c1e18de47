"""The one exception type that reaches the user as a single line and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Input boxwise cannot use: bad config, unreadable file, no engine, bad token.

    The message is one line that names the thing and says what to do. The CLI prints it as
    ``boxwise: error: <message>`` and exits 2, with no traceback. `details` are lines of evidence
    printed under it (a failed installer's last lines), never part of the message itself.
    """

    exit_code = 2

    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)
