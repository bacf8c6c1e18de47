"""The one exception type that reaches the user as a single line and exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Input boxwise cannot use: bad config, unreadable file, no engine, bad token.

    The message is one line that names the thing and says what to do. The CLI prints it as
    ``boxwise: error: <message>`` and exits 2, with no traceback.
    """

    exit_code = 2
