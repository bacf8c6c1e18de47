"""The one TOML writer of everything written inside the build container: the build plan (bin/detect),
the buildpack plan (the lifecycle driver), `<layer>.toml` and `launch.toml` (pylayer.write_toml).

Standard library only, and any python3 the build image has: boxwise copies this file into each
buildpack folder and beside the driver (/cnb/lifecycle) when it packages the buildpacks, as it
does every module of buildpacks/shared. The host writes its TOML with tomli-w.

What it writes reads back with tomllib as the value it was given: strings, integers, floats,
booleans, dates and times, lists and tables, nested. TOML has no null, so None (or any other
type) is a TypeError, never a string that merely looks right.
"""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeGuard  # 3.10: the build image's python3 may be older (annotations only)

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_string(text: str) -> str:
    """A TOML basic string: any Unicode as itself, quotes, backslashes and controls escaped.

    (json.dumps is not TOML: it writes characters outside the BMP as surrogate pairs, which TOML
    refuses, and leaves DEL raw.)
    """
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        elif 0xD800 <= ord(char) <= 0xDFFF:  # a lone surrogate cannot be written in UTF-8
            out.append("\\uFFFD")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key: object) -> str:
    """A key as itself when TOML allows it bare (`name`, `pip-cache`), else quoted."""
    if not isinstance(key, str):
        raise TypeError(f"a TOML key is a string, not {type(key).__name__}")
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_value(value: object) -> str:
    """A value on one line: arrays and tables inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # 1.5, 1e+100, inf, -inf, nan: all TOML as Python writes them
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()  # what tomllib reads a TOML date or time as, written back
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"TOML has no value for {type(value).__name__}")


def _is_table_array(value: object) -> TypeGuard[list[dict[str, object]]]:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def toml_dumps(table: dict[str, object], prefix: str = "") -> str:
    """A document: plain values first, then sub-tables (`[a.b]`), then arrays of tables (`[[a]]`),
    as TOML wants them in that order."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, object]]] = []
    arrays: list[tuple[str, list[dict[str, object]]]] = []
    for key, value in table.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif _is_table_array(value):
            arrays.append((key, value))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for key, sub in tables:
        name = prefix + toml_key(key)
        lines += ["", f"[{name}]", toml_dumps(sub, f"{name}.").rstrip("\n")]
    for key, items in arrays:
        name = prefix + toml_key(key)
        for item in items:
            lines += ["", f"[[{name}]]", toml_dumps(item, f"{name}.").rstrip("\n")]
    return "\n".join(lines).strip("\n") + "\n"
