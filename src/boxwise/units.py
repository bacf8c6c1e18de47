"""How boxwise writes sizes and ratios for people: the way dive does, so figures compare at a glance."""

from __future__ import annotations

import math


def human_bytes(size: int) -> str:
    """go-humanize's Bytes (SI), as dive prints sizes: `14 kB`, `1.0 kB`, `2.0 MB`, `0 B`."""
    if size < 10:
        return f"{size} B"
    exponent = min(math.floor(math.log(size) / math.log(1000)), 6)
    value = math.floor(size / 1000**exponent * 10 + 0.5) / 10
    unit = ("B", "kB", "MB", "GB", "TB", "PB", "EB")[exponent]
    return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"


def dive_percent(ratio: float) -> str:
    """A 0..1 ratio as dive's CI output writes it (four decimals; NaN and +Inf spelled out)."""
    if math.isnan(ratio):
        return "NaN %"
    if math.isinf(ratio):
        return "+Inf %"
    return f"{ratio * 100:.4f} %"
