"""The merge-request comment: one Markdown body per app, cut to the platform's comment limit."""

from __future__ import annotations

from dataclasses import dataclass, field

from boxwise import __version__
from boxwise.report.format import md_cell, md_code, untrusted
from boxwise.report.model import BuildFailure, ReportData, failed_rules, marker, verdict_passed
from boxwise.report.rows import file_rows, gate_rows, layer_rows, summary_change, summary_rows, waste_rows
from boxwise.units import DASH, human_bytes

GITLAB_LIMIT = 1_000_000
GITHUB_LIMIT = 65_536
FOLD_ROWS = 5  # sections with more rows than this fold into <details>


@dataclass
class Block:
    """Text that is shown whole or not at all (a chart): no rows to cut."""

    text: str
    rows: list[str] = field(default_factory=list)

    def render(self, rows: list[str] | None = None, cut: int = 0) -> str:
        return self.text


@dataclass
class Section:
    title: str
    header: list[str]
    rows: list[str]
    empty: str
    notes: list[str] = field(default_factory=list)

    def render(self, rows: list[str] | None = None, cut: int = 0) -> str:
        shown = self.rows if rows is None else rows
        if not self.rows:
            return f"#### {self.title}\n\n{self.empty}\n"
        body = [*self.header, *shown]
        if cut:
            body.append(f"| … {cut} more rows cut to fit the comment limit |")
        body += ["", *self.notes] if self.notes else []
        table = "\n".join(body)
        if len(self.rows) > FOLD_ROWS:
            return f"<details><summary>{self.title}</summary>\n\n{table}\n\n</details>\n"
        return f"#### {self.title}\n\n{table}\n"


def headline(data: ReportData) -> str:
    passed = verdict_passed(data.verdict)
    if passed is None:
        state = "⚪ not gated"
    elif passed:
        state = "✅ gate passed"
    else:
        names = ", ".join(rule.name for rule in failed_rules(data.verdict))
        state = f"❌ gate failed: {md_cell(names, 200)}" if names else "❌ gate failed"
    start = f" · {startup_text(data)}" if data.startup is not None else ""
    return f"### boxwise · {md_code(data.app, 80)} · {state}{start}"


def startup_text(data: ReportData) -> str:
    """`🚀 starts in 1.4 s, answers 200, 52 MiB`; a failed or skipped check says why, escaped."""
    startup = data.startup
    if startup is None:
        return ""
    if startup.checked and startup.answered:
        return f"🚀 {startup.headline()}"  # numbers only
    icon = "💥" if startup.checked else "⚪"
    return f"{icon} {untrusted(startup.headline(), 200)}"


def _summary(data: ReportData) -> list[str]:
    lines = ["| | this change | baseline | change |", "|:--|--:|--:|--:|"]
    for row in summary_rows(data):
        lines.append(f"| {row.label} | {row.now} | {row.then} | {summary_change(row)} |")
    return lines


def _baseline_line(data: ReportData) -> str:
    if data.baseline is not None:
        return f"Compared with the baseline {md_code(data.baseline_ref or '?', 200)}."
    reason = data.baseline_note or "no baseline image was given or configured"
    return f"> **No baseline to compare with:** {md_cell(reason, 400)}. The figures are this image's alone."


def _dependency_line(data: ReportData) -> list[str]:
    from boxwise.report.deptable import changes_line, dependency_view

    view = dependency_view(data)
    line = changes_line(view, untrusted) if view is not None else None
    return [f"**Dependencies:** {line}", ""] if line else []


def _dependency_section(data: ReportData) -> Section | None:
    from boxwise.report.deptable import change_text, dependency_view, version_text

    view = dependency_view(data)
    if view is None:
        return None
    shown, more = view.shown()
    if view.compared:
        header = ["| distribution | version | size | change | layer |", "|:--|:--|--:|--:|--:|"]
    else:
        header = ["| distribution | version | size | layer |", "|:--|:--|--:|--:|"]
    rows = []
    for row in shown:
        size = DASH if row.status == "removed" else human_bytes(row.size_bytes)
        layer = DASH if row.layer is None else str(row.layer)
        change = f" {change_text(row)} |" if view.compared else ""
        rows.append(f"| {untrusted(row.name)} | {version_text(row, untrusted)} | {size} |{change} {layer} |")
    title = f"Dependencies ({view.total}, {human_bytes(view.size_bytes)}"
    title += f", {len(view.changes)} changed)" if view.compared else ")"
    section = Section(title, header, rows, "No installed Python distribution (no `*.dist-info/RECORD`).")
    if more:
        section.notes.append(f"{more} more in the JSON artifact.")
    section.notes += [f"Note: {untrusted(note, 300)}" for note in view.notes]
    return section


def _chart_block(data: ReportData) -> Block | None:
    from boxwise.report.chart import mermaid_chart

    chart = mermaid_chart(data)
    return Block(f"#### Layer sizes\n\n{chart}\n") if chart else None


def _gate_section(data: ReportData) -> Section | None:
    if data.verdict is None:
        return None
    icons = {"pass": "✅ pass", "fail": "❌ fail", "skip": "➖ skip"}
    rows = [
        f"| {md_code(rule.name)} | {md_cell(rule.figure)} | {md_cell(rule.threshold)} | "
        f"{icons.get(rule.outcome, md_cell(rule.outcome))} |"
        for rule in gate_rows(data)
    ]
    header = ["| rule | figure | threshold | result |", "|:--|--:|--:|:--|"]
    return Section("Gate rules", header, rows, "No gate rules are configured.")


def _layer_section(data: ReportData) -> Section:
    header = ["| # | size | change | made by | reused |", "|--:|--:|--:|:--|:--|"]
    rows = [
        f"| {row.index} | {row.size} | {row.change} | {md_code(row.made_by) or DASH} | "
        f"{md_cell(row.reused, 80)} |"
        for row in layer_rows(data)
    ]
    count = len(data.analysis.layers)
    title = f"Layers ({count}" + (
        f", {data.diff.added_layers} new or rebuilt)" if data.diff is not None else ")"
    )
    return Section(title, header, rows, "The image has no layers.")


def _inefficient_section(data: ReportData) -> Section:
    files, total = waste_rows(data)
    rows = [f"| {f.count} | {f.size} | {md_code(f.path, 160)} |" for f in files]
    header = ["| copies | total size | path |", "|--:|--:|:--|"]
    section = Section("Top inefficient files", header, rows, "No file is stored more than once.")
    if total > len(files):
        section.notes.append(f"{total - len(files)} more in the JSON artifact.")
    return section


def _new_files_section(data: ReportData) -> Section:
    header = ["| path | size | change |", "|:--|--:|--:|"]
    files = file_rows(data)
    if files is None:
        why = "no baseline to compare with" if data.diff is None else "the file index was not available"
        return Section("Largest new or grown files", header, [], f"Not compared: {why}.")
    rows = [f"| {md_code(f.path, 160)} | {f.size} | {f.change} |" for f in files]
    return Section("Largest new or grown files", header, rows, "No file was added or grew.")


def _findings_section(data: ReportData) -> Section:
    header = ["| file | line | rule | severity | message |", "|:--|--:|:--|:--|:--|"]
    rows = [
        f"| {md_code(f.path)} | {md_cell(f.line or DASH)} | {md_code(f.rule)} | "
        f"{md_cell(f.severity)} | {md_cell(f.message, 300)} |"
        for f in data.findings
    ]
    return Section(f"Lint findings ({len(rows)})", header, rows, "No lint findings.")


def _footer(data: ReportData) -> str:
    return f"<sub>boxwise {__version__} · image {md_code(data.ref, 200)}</sub>\n\n{marker(data.app)}\n"


def render_markdown(data: ReportData, limit: int | None = None, where: str = "the platform") -> str:
    """The comment body; when longer than `limit` characters, whole rows are cut and a note says so."""
    head = [headline(data), "", *_summary(data), "", _baseline_line(data), "", *_dependency_line(data)]
    head_text = "\n".join(head) + "\n"
    sections = [
        s
        for s in (
            _gate_section(data),
            _layer_section(data),
            _chart_block(data),
            _dependency_section(data),
            _inefficient_section(data),
            _new_files_section(data),
            _findings_section(data),
        )
        if s is not None
    ]
    footer = _footer(data)
    full = head_text + "".join(s.render() + "\n" for s in sections) + footer
    if limit is None or len(full) <= limit:
        return full
    return _cut(head_text, sections, footer, limit, where)


def _cut(head: str, sections: list[Section | Block], footer: str, limit: int, where: str) -> str:
    note = (
        f"> ✂️ This report was cut to fit the {limit:,}-character comment limit of {where}; "
        "the full report is in the job's artifacts (`--json`) and summary.\n\n"
    )
    budget = limit - len(footer) - len(note)
    out = head[:budget]
    for section in sections:
        whole = section.render() + "\n"
        if len(out) + len(whole) <= budget:
            out += whole
            continue
        fitted = _fit_rows(section, budget - len(out))
        if fitted:
            out += fitted
        break
    return out + note + footer


def _fit_rows(section: Section | Block, room: int) -> str:
    """The section with as many leading rows as fit in `room` characters, or '' if none do."""
    low, high, best = 0, len(section.rows) - 1, ""
    while low <= high:  # binary search: rendering is linear, sections can hold thousands of rows
        mid = (low + high) // 2
        text = section.render(section.rows[:mid], cut=len(section.rows) - mid) + "\n"
        if len(text) <= room:
            best, low = text, mid + 1
        else:
            high = mid - 1
    return best


def render_failure(failure: BuildFailure, limit: int | None = None) -> str:
    """The comment of an app whose image could not be built: it replaces the last good report."""
    message = failure.message.replace("```", "` ` `")
    if limit is not None and len(message) > limit // 2:
        message = message[: limit // 2] + " …"
    return (
        f"### boxwise · {md_code(failure.app, 80)} · 💥 build failed\n\n"
        f"```text\n{message}\n```\n\n"
        "No image, so no size, layers or gate for this change; the report comes back with the next "
        "successful build.\n\n"
        f"<sub>boxwise {__version__} · no image was built</sub>\n\n{marker(failure.app)}\n"
    )
