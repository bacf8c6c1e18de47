"""Small formatting helpers shared by the text, markdown and terminal renderings."""

from __future__ import annotations

from typing import Any

from boxwise.report.escape import md_code, md_text

__all__ = ["md_cell", "md_code"]

DASH = "—"


def human_bytes(size: int | float | None, signed: bool = False) -> str:
    """Decimal (SI) units with three significant digits (812 B, 4.33 MB, 45.2 MB): finer than
    dive's own `units.human_bytes`, so a merge request sees a change of a few kB in a 50 MB image."""
    if size is None:
        return DASH
    sign = ""
    if signed:
        sign = "+" if size > 0 else "-" if size < 0 else "±"
    value = float(abs(size))
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    if unit == "B":
        return f"{sign}{int(value)} B"
    digits = 2 if value < 10 else 1 if value < 100 else 0
    return f"{sign}{value:.{digits}f} {unit}"


def percent(ratio: float | None) -> str:
    """A 0..1 ratio as a percentage with two decimals."""
    if ratio is None:
        return DASH
    return f"{ratio * 100:.2f} %"


def percent_points(change: float | None) -> str:
    """A change of a 0..1 ratio, in percentage points."""
    if change is None:
        return DASH
    points = change * 100
    if abs(points) < 0.005:
        return "±0.00 pp"
    return f"{points:+.2f} pp"


def relative(change: int | float | None, base: int | float | None) -> str:
    """A change relative to its base, e.g. `+2.5 %`; empty when the base is zero or unknown."""
    if change is None or not base:
        return ""
    return f"{change / base * 100:+.1f} %"


def signed_count(change: int | None) -> str:
    if change is None:
        return DASH
    return f"{change:+d}" if change else "±0"


# Markdown text and inline code, escaped by the one rule in report/escape.py
md_cell = md_text


def untrusted(text: object, limit: int = 100) -> str:
    """THE escape of every string a merge request controls (distribution names, versions, paths,
    what the image printed) in the Markdown the report renders: inline code, in which nothing is
    Markdown or HTML and no pipe or newline breaks a table. One function, so the shared escaping
    module can replace it in one place."""
    return md_code(text, limit)


def rule_figure(value: Any, rule: str) -> str:
    """A gate rule's figure or threshold: bytes for the *Bytes rules, a short ratio otherwise."""
    if value is None:
        return DASH
    if rule.endswith("Bytes") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return human_bytes(value)
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)
