"""How boxwise writes sizes and ratios for people: one module for every figure a person reads.

Two byte formats on purpose: `dive_bytes` and `dive_percent` are dive's own (its CI lines and
tables), so figures compare with dive's at a glance; `human_bytes` has three significant digits,
for the report, where a change of a few kB in a 50 MB image must show."""

from __future__ import annotations

import math


def dive_bytes(size: int) -> str:
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


DASH = "—"


def human_bytes(size: int | float | None, signed: bool = False) -> str:
    """Decimal (SI) units with three significant digits (812 B, 4.33 MB, 45.2 MB): finer than
    dive's own (`dive_bytes`), so a merge request sees a change of a few kB in a 50 MB image."""
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
