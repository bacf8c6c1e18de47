"""What a TOML parser must not be given: keys dotted into thousands of parts.

Python's tomllib spends time and memory quadratic in the parts of one dotted key (each prefix is
kept as a tuple): a 200 KB `pyproject.toml` with one 100,000-part key takes minutes and tens of
GiB. No real pyproject has a key of more than a handful of parts, so such a file is refused before
it is parsed, with a linear scan.
"""

from __future__ import annotations

import re

MAX_KEY_PARTS = 256
_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_LONG_KEY = re.compile(rf"^[ \t]*\[{{0,2}}[ \t]*{_PART}(?:[ \t]*\.[ \t]*{_PART}){{{MAX_KEY_PARTS},}}", re.M)


def unsafe_reason(text: str) -> str | None:
    """Why `text` must not be parsed (the line of a key of over MAX_KEY_PARTS parts), or None."""
    if text.count(".") <= MAX_KEY_PARTS:
        return None  # the usual file: no scan at all
    match = _LONG_KEY.search(text)
    if match is None:
        return None
    line = text.count("\n", 0, match.start()) + 1
    return f"line {line} has a key of more than {MAX_KEY_PARTS} dotted parts"
