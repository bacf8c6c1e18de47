"""The HTML report artifact: one self-contained file (no scripts, no external resources) with the
layers, files, dependencies and gate of every app, for a person to open from the merge request.

Everything the image or the merge request controls goes through `_h` (HTML escaping), and the
page's Content-Security-Policy forbids anything but its own inline styles, so a hostile name can
neither run nor load anything.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from boxwise import __version__
from boxwise.report.format import rule_figure
from boxwise.report.model import BuildFailure, ReportData, failed_rules, verdict_passed, verdict_rules
from boxwise.report.rows import summary_change, summary_rows
from boxwise.units import DASH, human_bytes

MAX_ROWS = 500  # per table: the JSON artifact has them all
STATUS_CLASS = {"pass": "good", "fail": "bad"}
CSP = "default-src 'none'; style-src 'unsafe-inline'"  # no script, no request: only this page's styles

STYLE = """
body{font:14px/1.45 system-ui,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}
header h1{margin:0 0 4px;font-size:22px}
section.app{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin:20px 0}
h2{margin:0 0 8px;font-size:19px} h3{margin:20px 0 8px;font-size:15px}
.badge{display:inline-block;border-radius:12px;padding:1px 10px;font-size:13px;margin-left:8px;color:#fff}
.pass{background:#1a7f37} .fail{background:#cf222e} .none{background:#6e7781}
.muted{color:#656d76} .warn{color:#9a6700} .bad{color:#cf222e} .good{color:#1a7f37}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{border-bottom:1px solid #d8dee4;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600} td.r,th.r{text-align:right;white-space:nowrap}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
pre{background:#f6f8fa;padding:8px;overflow:auto;white-space:pre-wrap}
svg text{font:12px system-ui,sans-serif;fill:#1f2328} svg text.n{fill:#656d76}
"""


def _h(value: object) -> str:
    """THE escape of this page: every string goes into HTML text or attributes through it."""
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A table of cells that are already HTML; `right` are the numeric columns."""

    def cell(tag: str, index: int, text: str) -> str:
        return f'<{tag} class="r">{text}</{tag}>' if index in right else f"<{tag}>{text}</{tag}>"

    head = "".join(cell("th", i, _h(name)) for i, name in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _more(total: int) -> str:
    return (
        f'<p class="muted">{total - MAX_ROWS} more rows in the JSON artifact.</p>' if total > MAX_ROWS else ""
    )


def _code(value: object) -> str:
    return f"<code>{_h(value)}</code>" if value not in (None, "") else DASH


def _verdict(data: ReportData) -> str:
    passed = verdict_passed(data.verdict)
    if passed is None:
        return '<span class="badge none">not gated</span>'
    if passed:
        return '<span class="badge pass">gate passed</span>'
    names = ", ".join(rule.name for rule in failed_rules(data.verdict))
    return f'<span class="badge fail">gate failed: {_h(names)}</span>'


def _startup(data: ReportData) -> str:
    startup = data.startup
    if startup is None:
        return ""
    kind = "good" if startup.checked and startup.answered else "bad" if startup.checked else "muted"
    return f'<p class="{kind}">{_h(startup.headline())}</p>'


def _summary(data: ReportData) -> str:
    def count(change: int) -> str:
        return f"{change:+d}"  # the page says +0 where the comment says ±0

    rows = [
        [_h(row.label), _h(row.now), _h(row.then), _h(summary_change(row, count))]
        for row in summary_rows(data)
    ]
    return _table(["", "this change", "baseline", "change"], rows, right=(1, 2, 3))


def _baseline(data: ReportData) -> str:
    if data.baseline is not None:
        return f'<p class="muted">Compared with the baseline {_code(data.baseline_ref or "?")}.</p>'
    why = data.baseline_note or "no baseline image was given or configured"
    return f'<p class="warn">No baseline to compare with: {_h(why)}. The figures are this image\'s alone.</p>'


def _layers(data: ReportData) -> str:
    from boxwise.analyze.diff import layer_maker
    from boxwise.report.chart import layer_bars, svg_chart

    bars = layer_bars(data)
    chart = svg_chart(bars, _h) if bars else ""
    rows = []
    for layer in data.analysis.layers:
        files = "<br>".join(
            f"{_h(human_bytes(size))} {_code(path)}" for path, size in layer.largest_files[:5]
        )
        rows.append(
            [
                _h(layer.index),
                _h(human_bytes(layer.size_bytes)),
                _code(layer_maker(layer)),
                _h(data.layer_notes.get(layer.diff_id, "")),
                files or DASH,
            ]
        )
    table = _table(["#", "size", "made by", "build", "largest files"], rows[:MAX_ROWS], right=(0, 1))
    return f"<h3>Layer sizes</h3>{chart}<h3>Layers</h3>{table}{_more(len(rows))}"


def _dependencies(data: ReportData) -> str:
    from boxwise.report.deptable import change_phrase, change_text, dependency_view, version_text

    view = dependency_view(data)
    if view is None:
        return ""
    title = f"<h3>Dependencies ({view.total}, {_h(human_bytes(view.size_bytes))})</h3>"
    if not view.rows:
        return title + '<p class="muted">No installed Python distribution (no *.dist-info/RECORD).</p>'
    line = ""
    if view.compared and view.changes:
        line = "<p>" + "; ".join(change_phrase(row, _h) for row in view.changes[:5]) + "</p>"
    rows = [
        [
            _code(r.name),
            version_text(r, _h),
            DASH if r.status == "removed" else _h(human_bytes(r.size_bytes)),
            *([_h(change_text(r))] if view.compared else []),
            DASH if r.layer is None else _h(r.layer),
        ]
        for r in view.rows[:MAX_ROWS]
    ]
    header = ["distribution", "version", "size", *(["change"] if view.compared else []), "layer"]
    notes = "".join(f'<p class="warn">{_h(note)}</p>' for note in view.notes)
    return title + line + _table(header, rows, right=(2, 3, 4)) + _more(len(view.rows)) + notes


def _gate(data: ReportData) -> str:
    rules = verdict_rules(data.verdict)
    if data.verdict is None:
        return ""
    rows = [
        [
            _code(r.name),
            _h(rule_figure(r.figure_json(), r.name)),
            _h(rule_figure(r.threshold, r.name)),
            f'<span class="{STATUS_CLASS.get(r.outcome, "muted")}">{_h(r.outcome)}</span>',
        ]
        for r in rules
    ]
    return "<h3>Gate</h3>" + (
        _table(["rule", "figure", "threshold", "result"], rows, right=(1, 2))
        if rows
        else '<p class="muted">No gate rules are configured.</p>'
    )


def _files(data: ReportData) -> str:
    parts = []
    changed = data.diff.files if data.diff is not None else None
    if changed is not None:
        entries = [(f.size_bytes, f, "new") for f in changed.added]
        entries += [(f.change_bytes, f, "grown") for f in changed.grown]
        entries.sort(key=lambda e: (-e[0], e[1].path))
        rows = [
            [
                _code(f.path),
                _h(human_bytes(f.size_bytes)),
                "new" if kind == "new" else _h(human_bytes(change, signed=True)),
            ]
            for change, f, kind in entries
        ]
        parts.append(
            "<h3>Largest new or grown files</h3>" + _table(["path", "size", "change"], rows, right=(1, 2))
        )
    waste = sorted(data.analysis.dive.files, key=lambda f: -f.size_bytes)
    if waste:
        rows = [[_h(f.copies), _h(human_bytes(f.size_bytes)), _code(f.path)] for f in waste[:MAX_ROWS]]
        parts.append(
            "<h3>Inefficient files</h3>" + _table(["copies", "total size", "path"], rows, right=(0, 1))
        )
        parts.append(_more(len(waste)))
    return "".join(parts)


def _findings(data: ReportData) -> str:
    if not data.findings:
        return '<h3>Lint findings</h3><p class="muted">No lint findings.</p>'
    rows = [
        [
            _code(f.path),
            _h(f.line or DASH),
            _code(f.rule),
            _h(f.severity),
            _h(f.message),
        ]
        for f in data.findings[:MAX_ROWS]
    ]
    return f"<h3>Lint findings ({len(data.findings)})</h3>" + _table(
        ["file", "line", "rule", "severity", "message"], rows, right=(1,)
    )


def _app(data: ReportData) -> str:
    return (
        f'<section class="app"><h2>{_h(data.app)}{_verdict(data)}</h2>{_startup(data)}'
        f'<p class="muted">image {_code(data.ref)}</p>{_baseline(data)}{_summary(data)}'
        f"{_gate(data)}{_layers(data)}{_dependencies(data)}{_files(data)}{_findings(data)}</section>"
    )


def _failure(failure: BuildFailure) -> str:
    return (
        f'<section class="app"><h2>{_h(failure.app)}<span class="badge fail">build failed</span></h2>'
        f"<pre>{_h(failure.message)}</pre>"
        '<p class="muted">No image, so no size, layers or gate.</p></section>'
    )


def render_html(reports: Sequence[ReportData], broken: Sequence[BuildFailure] = (), note: str = "") -> str:
    """The whole page; `note` is a line for the top (e.g. why no comment was posted)."""
    passed = not broken and all(verdict_passed(r.verdict) is not False for r in reports)
    count = len(reports) + len(broken)
    state = (
        '<span class="badge pass">all passed</span>' if passed else '<span class="badge fail">failed</span>'
    )
    top = f'<p class="warn">{_h(note)}</p>' if note else ""
    body = "".join(_failure(f) for f in broken) + "".join(_app(r) for r in reports)
    if not count:
        body = '<p class="muted">No app was built for this change.</p>'
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>boxwise report</title><style>{STYLE}</style></head><body><main>"
        f"<header><h1>boxwise report{state if count else ''}</h1>"
        f'<p class="muted">{count} app(s) · boxwise {_h(__version__)}</p>{top}</header>'
        f"{body}</main></body></html>\n"
    )
