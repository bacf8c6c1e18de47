"""Small formatting helpers shared by the text, markdown and terminal renderings."""

from __future__ import annotations

from typing import Any

from boxwise.report.escape import md_code, md_text
from boxwise.units import DASH, human_bytes

__all__ = ["md_cell", "md_code"]


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
