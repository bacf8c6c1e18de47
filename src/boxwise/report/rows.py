"""The rows a report shows, built once from a ReportData: the terminal and the Markdown comment
format the same rows (cells are plain text here; each renderer escapes them its own way)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boxwise.analyze.diff import layer_maker
from boxwise.report.format import relative, rule_figure, signed_count
from boxwise.report.model import ReportData, reuse_label, verdict_rules
from boxwise.units import DASH, human_bytes, percent, percent_points

TOP_ROWS = 10


@dataclass(frozen=True)
class SummaryRow:
    """One figure for this change and the baseline; `change` is new minus baseline (None: unknown)."""

    label: str
    kind: str  # bytes | ratio | count: how the change is said
    now: str  # shown
    then: str  # shown; DASH without a baseline
    change: float | None
    base: float | None  # the baseline's figure, for a relative change


@dataclass(frozen=True)
class GateRow:
    name: str
    figure: str
    threshold: str
    outcome: str  # pass | fail | skip


@dataclass(frozen=True)
class LayerRow:
    index: str  # DASH for a removed layer
    size: str  # DASH for a removed layer
    change: str  # ±0 B, a signed size, `new`, or DASH without a baseline
    made_by: str
    reused: str  # yes, no, rebuilt, removed, or the build's word on it


@dataclass(frozen=True)
class WasteRow:
    count: str
    size: str
    path: str


@dataclass(frozen=True)
class FileRow:
    path: str
    size: str
    change: str  # `new` or a signed size


def summary_rows(data: ReportData) -> list[SummaryRow]:
    new, old = data.analysis, data.baseline
    figures: list[tuple[str, str, Any, Any]] = [
        ("image size", "bytes", new.size_bytes, old and old.size_bytes),
        ("efficiency", "ratio", new.dive.efficiency, old and old.dive.efficiency),
        ("wasted", "bytes", new.dive.wasted_bytes, old and old.dive.wasted_bytes),
        ("wasted (exact)", "bytes", new.exact.wasted_bytes, old and old.exact.wasted_bytes),
        ("layers", "count", len(new.layers), old and len(old.layers)),
    ]
    shows: dict[str, Callable[[Any], str]] = {"bytes": human_bytes, "ratio": percent, "count": str}
    rows = []
    for label, kind, now, then in figures:
        show = shows[kind]
        known = old is not None and now is not None and then is not None
        rows.append(
            SummaryRow(
                label,
                kind,
                show(now),
                show(then) if old else DASH,
                now - then if known else None,
                then if known else None,
            )
        )
    return rows


def summary_change(row: SummaryRow, count: Callable[[int], str] = signed_count) -> str:
    """A summary row's change, a size also relative to the baseline (`+3.79 MB (+7.9 %)`), a
    ratio in percentage points; DASH when unknown. `count` says a layer-count change."""
    if row.change is None or row.base is None:
        return DASH
    if row.kind == "ratio":
        return percent_points(row.change)
    if row.kind == "count":
        return count(int(row.change))
    rel = relative(row.change, row.base)
    return human_bytes(row.change, signed=True) + (f" ({rel})" if rel and row.change else "")


def gate_rows(data: ReportData) -> list[GateRow]:
    return [
        GateRow(
            rule.name,
            rule_figure(rule.figure_json(), rule.name),
            rule_figure(rule.threshold, rule.name),
            rule.outcome,
        )
        for rule in verdict_rules(data.verdict)
    ]


def layer_rows(data: ReportData) -> list[LayerRow]:
    """Against the baseline: each layer of the image with its change, then the removed ones (a
    removed layer a rebuilt one replaces is shown as that one). Without: the image's layers."""
    rows: list[LayerRow] = []
    if data.diff is None:
        for layer in data.analysis.layers:
            note = data.layer_notes.get(layer.diff_id)
            rows.append(
                LayerRow(
                    str(layer.index),
                    human_bytes(layer.size_bytes),
                    DASH,
                    layer_maker(layer),
                    reuse_label(None, note),
                )
            )
        return rows
    for change in data.diff.layers:
        if change.status == "removed":
            if not change.replaced:
                rows.append(
                    LayerRow(
                        DASH, DASH, human_bytes(-change.size_bytes, signed=True), change.made_by, "removed"
                    )
                )
            continue
        if change.status == "unchanged":
            shown, kind = "±0 B", "unchanged"
        elif change.rebuilt:
            shown, kind = human_bytes(change.change_bytes, signed=True), "rebuilt"
        else:
            shown, kind = "new", "new"
        reused = reuse_label(kind, data.layer_notes.get(change.diff_id or ""))
        rows.append(
            LayerRow(str(change.index), human_bytes(change.size_bytes), shown, change.made_by, reused)
        )
    return rows


def waste_rows(data: ReportData, top: int = TOP_ROWS) -> tuple[list[WasteRow], int]:
    """The top inefficient files, largest first (then by path), and how many there are in all."""
    files = sorted(data.analysis.dive.files, key=lambda f: (-f.size_bytes, f.path))
    rows = [WasteRow(str(f.copies), human_bytes(f.size_bytes), f.path) for f in files[:top]]
    return rows, len(files)


def file_rows(data: ReportData, top: int = TOP_ROWS) -> list[FileRow] | None:
    """The largest new or grown files, by their change; None when files were not compared."""
    if data.diff is None or data.diff.files is None:
        return None
    entries = [(f.size_bytes, f.size_bytes, f.path, "new") for f in data.diff.files.added]
    entries += [(f.change_bytes, f.size_bytes, f.path, "grown") for f in data.diff.files.grown]
    entries.sort(key=lambda e: (-e[0], e[2]))
    return [
        FileRow(path, human_bytes(size), "new" if kind == "new" else human_bytes(change, signed=True))
        for change, size, path, kind in entries[:top]
    ]
