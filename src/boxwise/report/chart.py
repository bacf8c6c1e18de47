"""Layer sizes as a picture: the rows both charts draw (the comment's Mermaid, the HTML's SVG).

Each row is one layer of this change beside the baseline layer it matches: the same layer
(unchanged), the layer it rebuilt (same buildpack layer or command), nothing (new), or a baseline
layer this change removed. Labels are the layer numbers only: nothing the merge request controls
reaches the Mermaid source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from boxwise.report.model import ReportData
from boxwise.units import human_bytes

BASELINE_COLOUR, NEW_COLOUR = "#8b949e", "#1f6feb"
MAX_BARS = 24  # more layers than this: the largest are drawn, in image order


@dataclass(frozen=True)
class LayerBar:
    label: str  # "3" (a layer of this change) or "−2" (baseline layer 2, removed)
    baseline: int | None  # bytes; None: no baseline to compare with
    new: int  # bytes; 0 for a removed layer
    made_by: str  # for the HTML's text (escaped there); never in Mermaid


def layer_bars(data: ReportData) -> list[LayerBar]:
    from boxwise.analyze.diff import layer_maker

    bars: list[LayerBar] = []
    if data.diff is None:
        for layer in data.analysis.layers:
            bars.append(LayerBar(str(layer.index), None, layer.size_bytes, layer_maker(layer)))
        return _largest(bars)
    for row in data.diff.layers:
        size = row.size_bytes
        if row.status == "removed":
            if not row.replaced:
                bars.append(LayerBar(f"−{row.index}", size, 0, row.made_by))
        elif row.status == "unchanged":
            bars.append(LayerBar(str(row.index), size, size, row.made_by))
        elif row.change_bytes is not None:
            bars.append(LayerBar(str(row.index), size - row.change_bytes, size, row.made_by))
        else:
            bars.append(LayerBar(str(row.index), 0, size, row.made_by))
    return _largest(bars)


def _largest(bars: list[LayerBar]) -> list[LayerBar]:
    if len(bars) <= MAX_BARS:
        return bars
    keep = sorted(range(len(bars)), key=lambda i: -max(bars[i].new, bars[i].baseline or 0))[:MAX_BARS]
    return [bars[i] for i in sorted(keep)]


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f}"


def mermaid_rows(bars: list[LayerBar]) -> list[tuple[str, int]]:
    """(label, bytes) per bar: one for an unchanged, new or removed layer, two for a rebuilt one."""
    rows: list[tuple[str, int]] = []
    for bar in bars:
        if bar.baseline is None:
            rows.append((bar.label, bar.new))
        elif bar.label.startswith("−"):
            rows.append((f"{bar.label.removeprefix('−')} removed", bar.baseline))
        elif bar.baseline == bar.new:
            rows.append((f"{bar.label} unchanged", bar.new))
        elif bar.baseline == 0:
            rows.append((f"{bar.label} new", bar.new))
        else:
            rows += [(f"{bar.label} baseline", bar.baseline), (f"{bar.label} this change", bar.new)]
    return rows


def mermaid_chart(data: ReportData) -> str | None:
    """A horizontal Mermaid `xychart-beta` of layer sizes in MB, a rebuilt layer's baseline bar
    right above this change's. xychart needs Mermaid 10.5 or later: GitHub's, and GitLab's (10.7,
    then 11); an older renderer shows the block as text, and the layer table says it all too.

    One bar series: xychart draws a second series over the first (not beside it), and its
    zero-valued bars show as slivers on the other series' bars, so the labels say which bar is
    which instead of colours.
    """
    bars = layer_bars(data)
    if not bars:
        return None
    rows = mermaid_rows(bars)
    top = max(size for _, size in rows)
    title = "Layer sizes (MB)" if data.diff is None else "Layer sizes (MB), baseline above this change"
    labels = ", ".join(f'"{label}"' for label, _ in rows)
    return "\n".join(
        [
            "```mermaid",
            '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + NEW_COLOUR + '"}}}}%%',
            "xychart-beta horizontal",
            f'    title "{title}"',
            f"    x-axis [{labels}]",
            f'    y-axis "MB" 0 --> {max(top / 1e6 * 1.1, 0.01):.2f}',
            f"    bar [{', '.join(_mb(size) for _, size in rows)}]",
            "```",
        ]
    )


def svg_chart(bars: list[LayerBar], escape: Callable[[object], str], width: int = 880) -> str:
    """An inline SVG of the bars for the HTML report: each layer a row, its baseline bar (grey)
    above this change's (blue). `escape` is the page's HTML escape (made_by is untrusted)."""
    label_width, row_height, bar_height = 300, 34, 12
    plot = width - label_width - 90
    top = max([max(bar.new, bar.baseline or 0) for bar in bars] + [1])
    height = 30 + row_height * len(bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Layer sizes">',
        f'<rect x="{label_width}" y="4" width="12" height="12" fill="{BASELINE_COLOUR}"/>'
        f'<text x="{label_width + 16}" y="14">baseline</text>'
        f'<rect x="{label_width + 90}" y="4" width="12" height="12" fill="{NEW_COLOUR}"/>'
        f'<text x="{label_width + 106}" y="14">this change</text>',
    ]
    for number, bar in enumerate(bars):
        y = 28 + number * row_height
        made_by = bar.made_by if len(bar.made_by) <= 40 else bar.made_by[:39] + "…"
        parts.append(f'<text x="0" y="{y + 17}">{escape(bar.label)}  {escape(made_by)}</text>')
        rows = [(bar.baseline, BASELINE_COLOUR, y)] if bar.baseline is not None else []
        rows.append((bar.new, NEW_COLOUR, y + (bar_height + 2 if bar.baseline is not None else 6)))
        for size, colour, bar_y in rows:
            length = max(round((size or 0) / top * plot), 1 if size else 0)
            shown = escape(human_bytes(size or 0))
            parts.append(
                f'<rect x="{label_width}" y="{bar_y}" width="{length}" height="{bar_height}" '
                f'fill="{colour}"/>'
                f'<text x="{label_width + length + 6}" y="{bar_y + 10}" class="n">{shown}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
