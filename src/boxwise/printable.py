"""Text from a merge request or an image, made safe for a terminal or a CI log: the one rule.

A file name may hold a newline (the next line, `::warning …`, is a GitHub workflow command), an
escape sequence (it recolours or rewrites the terminal, hides lines in a CI log), or bidi controls
(it reads otherwise than it is). Every such character is shown as a backslash escape, so what is
printed is one line that says exactly what the name holds. A leading `::` is escaped too: a name
printed at the start of a line must not be read as a workflow command either.
"""

from __future__ import annotations

import re

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object) -> str:
    value = _UNPRINTABLE.sub(_escape, str(text))
    return "\\x3a" + value[1:] if value.startswith("::") else value


def for_rich(text: object) -> str:
    """`printable(text)` with rich markup escaped: for a rich table cell or markup string."""
    from rich.markup import escape

    return escape(printable(text))
