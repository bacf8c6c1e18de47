"""Text from the merge request made safe for a GitLab/GitHub comment: the one escaping rule.

App names, refs, file paths, lint messages and commands all come from the merge request. In the
comment they must stay text: no HTML (`<img>`, `</details>`, `<!--`), no Markdown that breaks out
of a code span or a table cell, no `@mention` (`@all` pings everyone) and no `#123`, `!12`, `~label`,
`%milestone`, `$snippet` or `&epic` reference. Mentions and references are broken by a zero-width
space after their sigil, which GitLab and GitHub both render as nothing.
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
# control characters and the bidi overrides that make text read otherwise than it is
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_REFERENCE = re.compile(r"([@#!$%&~])(?=\w)")
# `_` inside a word never makes emphasis (CommonMark's flanking rules): paths keep theirs as typed
_MARKDOWN = re.compile(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def one_line(text: object, limit: int) -> str:
    """`text` on one line (a newline shows as ↵), without control characters, cut to `limit`."""
    value = str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ↵ ")
    value = _INVISIBLE.sub("�", value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def md_text(text: object, limit: int = 100) -> str:
    """Text for a Markdown paragraph or table cell: HTML and Markdown escaped, mentions and
    references neutralised, on one line, at most `limit` characters before escaping."""
    value = one_line(text, limit)
    value = _REFERENCE.sub(rf"\1{ZWSP}", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", value)


def md_code(text: object, limit: int = 100) -> str:
    """Text as inline code (in a table cell too); empty text stays empty. A code span shows HTML,
    mentions and references as typed; a backtick cannot close it early and `|` cannot end a cell."""
    value = one_line(text, limit).replace("`", "'").replace("|", "\\|")
    return f"`{value}`" if value else ""
