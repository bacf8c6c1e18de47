"""The report in a terminal, with rich: the same facts as the Markdown comment."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from boxwise.report.format import signed_count
from boxwise.report.model import ReportData, failed_rules, verdict_passed
from boxwise.report.rows import SummaryRow, file_rows, gate_rows, layer_rows, summary_rows, waste_rows
from boxwise.units import DASH, human_bytes, percent_points

if TYPE_CHECKING:
    from rich.console import JustifyMethod

    Columns = tuple[tuple[str, JustifyMethod], ...]  # (header, justify) of each column


def _change(row: SummaryRow) -> str:
    if row.change is None:
        return DASH
    if row.kind == "bytes":
        return human_bytes(row.change, signed=True)
    return percent_points(row.change) if row.kind == "ratio" else signed_count(int(row.change))


def render_terminal(data: ReportData, out: IO[str], color: bool | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from boxwise.printable import for_rich as escape  # the image's or the MR's text
    from boxwise.printable import printable

    width = None if out.isatty() else 120  # a CI log has no terminal width to ask
    console = Console(file=out, highlight=False, no_color=color is False, width=width)
    passed = verdict_passed(data.verdict)
    head = Text(f"{printable(data.app)}  ", style="bold")
    if passed is None:
        head.append("not gated", style="dim")
    elif passed:
        head.append("gate passed", style="bold green")
    else:
        names = ", ".join(rule.name for rule in failed_rules(data.verdict))
        head.append(f"gate failed: {names}", style="bold red")
    console.print(head)
    if data.startup is not None:
        ok = data.startup.checked and data.startup.answered
        style = "green" if ok else "bold red" if data.startup.checked else "dim"
        console.print(Text(printable(data.startup.headline()), style=style))
    console.print(Text(f"image {printable(data.ref)}", style="dim"))

    summary = Table(show_edge=False, pad_edge=False)
    columns: Columns = (("", "left"), ("this change", "right"), ("baseline", "right"), ("change", "right"))
    for name, justify in columns:
        summary.add_column(name, justify=justify)
    for row in summary_rows(data):
        summary.add_row(row.label, row.now, row.then, _change(row))
    console.print(summary)
    if data.baseline is None:
        console.print(
            Text(
                f"No baseline: {printable(data.baseline_note or 'none given or configured')}", style="yellow"
            )
        )
    else:
        console.print(Text(f"baseline {printable(data.baseline_ref)}", style="dim"))

    rules = gate_rows(data)
    if rules:
        table = Table(title="gate", title_justify="left", show_edge=False)
        for name in ("rule", "figure", "threshold", "result"):
            table.add_column(name)
        styles = {"pass": "green", "fail": "bold red", "skip": "dim"}
        for rule in rules:
            table.add_row(
                escape(rule.name),
                rule.figure,
                rule.threshold,
                Text(rule.outcome, style=styles.get(rule.outcome, "")),
            )
        console.print(table)

    layers = Table(title="layers", title_justify="left", show_edge=False)
    columns = (
        ("#", "right"),
        ("size", "right"),
        ("change", "right"),
        ("made by", "left"),
        ("reused", "left"),
    )
    for name, justify in columns:
        layers.add_column(name, justify=justify, overflow="ellipsis", no_wrap=name == "made by")
    for layer in layer_rows(data):
        layers.add_row(layer.index, layer.size, layer.change, escape(layer.made_by), escape(layer.reused))
    console.print(layers)

    _dependencies(console, data)

    waste, _ = waste_rows(data)
    if waste:
        table = Table(title="top inefficient files", title_justify="left", show_edge=False)
        columns = (("copies", "right"), ("total size", "right"), ("path", "left"))
        for name, justify in columns:
            table.add_column(name, justify=justify)
        for copies in waste:
            table.add_row(copies.count, copies.size, escape(copies.path))
        console.print(table)

    grown = file_rows(data)
    if grown:
        table = Table(title="largest new or grown files", title_justify="left", show_edge=False)
        columns = (("path", "left"), ("size", "right"), ("change", "right"))
        for name, justify in columns:
            table.add_column(name, justify=justify)
        for entry in grown:
            table.add_row(escape(entry.path), entry.size, entry.change)
        console.print(table)

    if data.findings:
        console.print(Text(f"lint findings ({len(data.findings)})", style="bold"))
        for f in data.findings:
            style = "bold red" if f.severity == "error" else "yellow"
            line = Text(f"  {printable(f.location)}  ")
            line.append(f.severity, style=style)
            line.append(f"  {f.rule}  {printable(f.message)}")
            console.print(line)
    else:
        console.print(Text("no lint findings", style="dim"))


def _dependencies(console: Any, data: ReportData) -> None:
    """The dependency changes in one line, then the table: changes first, then the largest."""
    from rich.table import Table
    from rich.text import Text

    from boxwise.report.deptable import change_phrase, change_text, dependency_view, version_text

    view = dependency_view(data)
    if view is None:
        return
    plain = str  # rich Text is never markup: names from the image are shown as they are
    if view.compared and view.changes:
        console.print(Text("dependencies: " + "; ".join(change_phrase(r, plain) for r in view.changes[:5])))
    shown, more = view.shown()
    if not shown:
        console.print(Text("no installed Python distributions", style="dim"))
        return
    title = f"dependencies ({view.total}, {human_bytes(view.size_bytes)})"
    table = Table(title=title, title_justify="left", show_edge=False)
    columns = ["distribution", "version", "size", *(["change"] if view.compared else []), "layer"]
    for name in columns:
        table.add_column(name, justify="right" if name in ("size", "change", "layer") else "left")
    for row in shown:
        cells: list[Text | str] = [
            Text(row.name),
            Text(version_text(row, plain)),
            DASH if row.status == "removed" else human_bytes(row.size_bytes),
            *([change_text(row)] if view.compared else []),
            DASH if row.layer is None else str(row.layer),
        ]
        table.add_row(*cells)
    console.print(table)
    if more:
        console.print(Text(f"{more} more in the JSON artifact", style="dim"))
    for note in view.notes:
        console.print(Text(f"note: {note}", style="yellow"))
