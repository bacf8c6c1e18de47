"""The report in a terminal, with rich: the same facts as the Markdown comment."""

from __future__ import annotations

from typing import IO, Any

from boxwise.analyze.diff import layer_maker
from boxwise.report.format import rule_figure, signed_count
from boxwise.report.model import ReportData, failed_rules, reuse_label, verdict_passed, verdict_rules
from boxwise.units import DASH, human_bytes, percent, percent_points

TOP_ROWS = 10


def _change(new: Any, old: Any, show) -> str:
    if new is None or old is None:
        return DASH
    return show(new - old)


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
        names = ", ".join(rule["name"] for rule in failed_rules(data.verdict))
        head.append(f"gate failed: {names}", style="bold red")
    console.print(head)
    if data.startup is not None:
        ok = data.startup.checked and data.startup.answered
        style = "green" if ok else "bold red" if data.startup.checked else "dim"
        console.print(Text(printable(data.startup.headline()), style=style))
    console.print(Text(f"image {printable(data.ref)}", style="dim"))

    new, old = data.analysis, data.baseline or {}
    summary = Table(show_edge=False, pad_edge=False)
    for name, justify in (("", "left"), ("this change", "right"), ("baseline", "right"), ("change", "right")):
        summary.add_column(name, justify=justify)  # type: ignore[arg-type]
    signed = lambda value: human_bytes(value, signed=True)  # noqa: E731
    exact_new, exact_old = new.get("exact") or {}, old.get("exact") or {}
    rows = [
        ("image size", new.get("size_bytes"), old.get("size_bytes"), human_bytes, signed),
        ("efficiency", new.get("efficiency"), old.get("efficiency"), percent, percent_points),
        ("wasted", new.get("wasted_bytes"), old.get("wasted_bytes"), human_bytes, signed),
        ("wasted (exact)", exact_new.get("wasted_bytes"), exact_old.get("wasted_bytes"), human_bytes, signed),
        ("layers", len(new.get("layers") or []), len(old["layers"]) if old else None, str, signed_count),
    ]
    for label, now, then, show, change in rows:
        summary.add_row(label, show(now), show(then) if data.baseline else DASH, _change(now, then, change))
    console.print(summary)
    if data.baseline is None:
        console.print(
            Text(
                f"No baseline: {printable(data.baseline_note or 'none given or configured')}", style="yellow"
            )
        )
    else:
        console.print(Text(f"baseline {printable(data.baseline_ref)}", style="dim"))

    rules = verdict_rules(data.verdict)
    if rules:
        table = Table(title="gate", title_justify="left", show_edge=False)
        for name in ("rule", "figure", "threshold", "result"):
            table.add_column(name)
        styles = {"pass": "green", "fail": "bold red", "skip": "dim"}
        for rule in rules:
            table.add_row(
                escape(str(rule["name"])),
                rule_figure(rule["figure"], rule["name"]),
                rule_figure(rule["threshold"], rule["name"]),
                Text(rule["status"], style=styles.get(rule["status"], "")),
            )
        console.print(table)

    layers = Table(title="layers", title_justify="left", show_edge=False)
    for name, justify in (
        ("#", "right"),
        ("size", "right"),
        ("change", "right"),
        ("made by", "left"),
        ("reused", "left"),
    ):
        layers.add_column(name, justify=justify, overflow="ellipsis", no_wrap=name == "made by")  # type: ignore[arg-type]
    if data.diff is not None:
        for layer in data.diff["layers"]:
            if layer["status"] == "removed":
                if "replaced_by" not in layer:
                    layers.add_row(
                        DASH, DASH, signed(-layer["size_bytes"]), escape(layer["made_by"]), "removed"
                    )
                continue
            if layer["status"] == "unchanged":
                change, kind = "±0 B", "unchanged"
            elif "change_bytes" in layer:
                change, kind = signed(layer["change_bytes"]), "rebuilt"
            else:
                change, kind = "new", "new"
            reused = reuse_label(kind, data.layer_notes.get(layer["diff_id"]))
            layers.add_row(
                str(layer["index"]),
                human_bytes(layer["size_bytes"]),
                change,
                escape(layer["made_by"]),
                escape(reused),
            )
    else:
        for layer in new.get("layers") or []:
            layers.add_row(
                str(layer.get("index")),
                human_bytes(layer.get("size_bytes")),
                DASH,
                escape(layer_maker(layer)),
                escape(reuse_label(None, data.layer_notes.get(layer.get("diff_id", "")))),
            )
    console.print(layers)

    _dependencies(console, data)

    files = sorted(new.get("inefficient_files") or [], key=lambda f: -(f.get("size_bytes") or 0))[:TOP_ROWS]
    if files:
        table = Table(title="top inefficient files", title_justify="left", show_edge=False)
        for name, justify in (("copies", "right"), ("total size", "right"), ("path", "left")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for f in files:
            table.add_row(str(f.get("count")), human_bytes(f.get("size_bytes")), escape(str(f.get("path"))))
        console.print(table)

    changed = (data.diff or {}).get("files")
    if changed:
        entries = [(f["size_bytes"], f["size_bytes"], f["path"], "new") for f in changed["added"]]
        entries += [(f["change_bytes"], f["size_bytes"], f["path"], "grown") for f in changed["grown"]]
        entries.sort(key=lambda e: (-e[0], e[2]))
        if entries:
            table = Table(title="largest new or grown files", title_justify="left", show_edge=False)
            for name, justify in (("path", "left"), ("size", "right"), ("change", "right")):
                table.add_column(name, justify=justify)  # type: ignore[arg-type]
            for change, size, path, kind in entries[:TOP_ROWS]:
                table.add_row(escape(path), human_bytes(size), "new" if kind == "new" else signed(change))
            console.print(table)

    if data.findings:
        console.print(Text(f"lint findings ({len(data.findings)})", style="bold"))
        for f in data.findings:
            where = f"{f.get('path')}:{f['line']}" if f.get("line") else str(f.get("path"))
            style = "bold red" if f.get("severity") == "error" else "yellow"
            line = Text(f"  {printable(where)}  ")
            line.append(str(f.get("severity")), style=style)
            line.append(f"  {f.get('rule')}  {printable(f.get('message'))}")
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
        cells = [
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
