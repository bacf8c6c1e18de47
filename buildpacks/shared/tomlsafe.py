"""What a TOML parser must not be given: keys dotted into thousands of parts.

Python's tomllib spends time and memory quadratic in the parts of one dotted key (each prefix is
kept as a tuple): a 200 KB `pyproject.toml` with one 100,000-part key takes minutes and tens of
GiB. No real pyproject has a key of more than a handful of parts, so such a file is refused before
it is parsed, with a linear scan.

One file for the host and the build container: boxwise's `src/boxwise/tomlsafe.py` is a symlink to
this one in `buildpacks/shared/` (standard library only), so lint, the config readers and the
buildpacks' own TOML readers (`loads` below) refuse the same files.
"""

from __future__ import annotations

import re

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ModuleNotFoundError:
        tomllib = None  # type: ignore[assignment]

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


def loads(text: str | None) -> dict:  # type: ignore[type-arg]
    """A TOML document as a dict; {} when absent, refused by `unsafe_reason` or not TOML (the
    buildpacks' readers: lint reports those files, the build only must not hang on them)."""
    if text is None or tomllib is None or unsafe_reason(text) is not None:
        return {}
    try:
        data = tomllib.loads(text)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}
