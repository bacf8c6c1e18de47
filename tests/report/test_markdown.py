"""The merge-request Markdown, rendered from fixed analyses and compared with reviewed snapshots.

The snapshots in tests/report/snapshots/ are the spec of the comment. To change them on purpose:
`BOXWISE_UPDATE_SNAPSHOTS=1 python -m pytest tests/report/test_markdown.py`, then review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
from support.report import copy_analysis, load_analysis, load_fixture

from boxwise import __version__
from boxwise.analyze.diff import diff_analyses
from boxwise.analyze.efficiency import LayerInfo
from boxwise.findings import Finding
from boxwise.gate import Verdict
from boxwise.report.markdown import GITHUB_LIMIT, render_markdown
from boxwise.report.model import ReportData

SNAPSHOTS = Path(__file__).parent / "snapshots"


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    text = text.replace(f"boxwise {__version__} ", "boxwise {version} ")  # a release keeps the snapshots
    if os.environ.get("BOXWISE_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.exists(), f"no snapshot {name}: run with BOXWISE_UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text()


def full_report(verdict: str = "verdict-fail.json") -> ReportData:
    baseline, new = load_analysis("analysis-baseline.json"), load_analysis("analysis-new.json")
    files = load_fixture("files.json")
    return ReportData(
        app="apps/api",
        ref=new.ref,
        analysis=new,
        verdict=Verdict.from_json(load_fixture(verdict)),
        baseline_ref=baseline.ref,
        baseline=baseline,
        diff=diff_analyses(baseline, new, files["baseline"], files["new"]),
        findings=[Finding(**item) for item in load_fixture("findings.json")],
        app_path="apps/api",
    )


def test_full_report_matches_snapshot() -> None:
    text = render_markdown(full_report())
    check_snapshot("full-report.md", text)
    first = text.splitlines()[0]
    assert first == "### boxwise · `apps/api` · ❌ gate failed: lowestEfficiency, highestImageBytes"
    assert text.rstrip().endswith("<!-- boxwise:report app=apps/api -->")


def test_summary_shows_this_change_the_baseline_and_the_change() -> None:
    text = render_markdown(full_report())
    assert "| image size | 52.1 MB | 48.3 MB | +3.79 MB (+7.9 %) |" in text
    assert "| efficiency | 98.73 % | 99.21 % | -0.48 pp |" in text
    assert "| layers | 5 | 4 | +1 |" in text


def test_layer_table_says_what_was_reused_and_what_was_rebuilt() -> None:
    text = render_markdown(full_report())
    assert "| 1 | 31.0 MB | ±0 B | `RUN /bin/sh -c apt-get install -y python3 # buildkit` | yes |" in text
    assert "| 2 | 19.6 MB | +3.69 MB | `boxwise/pip-install:packages` | rebuilt |" in text
    assert "| 4 | 1.51 kB | new | `boxwise/procfile-run:launcher\\|config` | no |" in text


def test_long_sections_fold_with_a_blank_line_after_summary() -> None:
    short = render_markdown(full_report())
    assert "<details><summary>Layers" not in short  # five rows or fewer stay open
    assert "#### Layers (5, 3 new or rebuilt)\n\n| # |" in short
    assert "<details><summary>Dependencies (5, 27.4 MB, 4 changed)</summary>\n\n| distribution |" in short
    text = render_markdown(many_layers(6))
    assert "<details><summary>Layers (6, 6 new or rebuilt)</summary>\n\n| # |" in text
    assert text.count("<details>") == text.count("</details>") == 2  # the layers and the dependencies


def test_passing_report_without_baseline_matches_snapshot() -> None:
    new = load_analysis("analysis-new.json")
    data = ReportData(
        app="worker",
        ref=new.ref,
        analysis=new,
        verdict=Verdict.from_json(load_fixture("verdict-pass.json")),
        baseline_ref="docker://registry.example.com/shop/worker:main",
        baseline_note="docker://registry.example.com/shop/worker:main could not be read (no such image)",
    )
    text = render_markdown(data)
    check_snapshot("no-baseline.md", text)
    assert text.startswith("### boxwise · `worker` · ✅ gate passed\n")
    assert "**No baseline to compare with:** docker://registry.example.com/shop/worker:main could not" in text
    assert "| image size | 52.1 MB | — | — |" in text
    assert "Not compared: no baseline to compare with." in text
    assert "No lint findings." in text


def many_layers(count: int) -> ReportData:
    data = full_report()
    layers = [
        LayerInfo(i, digest="", diff_id=f"sha256:{i:064x}", size_bytes=5000 + i, command=f"RUN step {i}")
        for i in range(count)
    ]
    data.analysis = dataclasses.replace(data.analysis, layers=layers)
    data.diff = diff_analyses(data.baseline, data.analysis)
    return data


@pytest.mark.parametrize("limit", [GITHUB_LIMIT, 4000])
def test_report_cut_to_the_limit_keeps_whole_rows_and_the_marker(limit: int) -> None:
    data = many_layers(3000)
    whole = render_markdown(data)
    assert len(whole) > GITHUB_LIMIT
    text = render_markdown(data, limit=limit, where="GitHub")
    assert len(text) <= limit
    assert f"This report was cut to fit the {limit:,}-character comment limit of GitHub" in text
    assert text.rstrip().endswith("<!-- boxwise:report app=apps/api -->")
    assert text.count("<details>") == text.count("</details>")
    assert re.search(r"\| … \d+ more rows cut to fit the comment limit \|", text)
    for line in text.splitlines():
        if line.startswith("| ") and "RUN step" in line:
            assert line.endswith("|")  # never half a row
    assert text.startswith(whole.split("<details>")[0])  # the headline and summary stay whole


def test_cut_report_matches_snapshot() -> None:
    check_snapshot("cut-report.md", render_markdown(many_layers(40), limit=3000, where="GitHub"))


def test_report_under_the_limit_is_not_cut() -> None:
    data = full_report()
    assert render_markdown(data, limit=GITHUB_LIMIT) == render_markdown(data)


def test_marker_cannot_be_closed_early_by_an_app_name() -> None:
    from boxwise.report.model import marker

    assert marker("apps/api") == "<!-- boxwise:report app=apps/api -->"
    assert marker("odd-->name x") == "<!-- boxwise:report app=odd-%2D%3Ename%20x -->"
    assert marker("a---b") == "<!-- boxwise:report app=a-%2D-b -->"


def test_build_failure_comment_matches_snapshot() -> None:
    from boxwise.report.markdown import render_failure
    from boxwise.report.model import BuildFailure

    failure = BuildFailure(
        "apps/empty", "apps/empty", "build failed: apps/empty: no buildpack group detects it\n```x```"
    )
    text = render_failure(failure)
    check_snapshot("build-failed.md", text)
    assert text.startswith("### boxwise · `apps/empty` · 💥 build failed\n")
    assert text.count("```") == 2  # the message cannot close the code block early
    assert text.rstrip().endswith("<!-- boxwise:report app=apps/empty -->")


def test_the_builds_own_word_on_each_layer_shows_in_the_reused_column() -> None:
    new = load_analysis("analysis-new.json")
    ids = [layer.diff_id for layer in new.layers]
    notes = {ids[2]: "rebuilt: requirements.txt changed", ids[3]: "reused: key unchanged"}
    alone = ReportData(app="api", ref=new.ref, analysis=new, layer_notes=notes)
    text = render_markdown(alone)  # no baseline: the build still says what it reused
    assert "| 2 | 19.6 MB | — | `boxwise/pip-install:packages` | rebuilt: requirements.txt changed |" in text
    assert "| 3 | 319 kB | — | `boxwise/procfile-run:app` | reused: key unchanged |" in text
    assert "| 0 | 1.22 MB | — | `COPY busybox /bin/busybox # buildkit` | — |" in text
    compared = full_report()
    compared.layer_notes = notes
    text = render_markdown(compared)  # against a baseline: unchanged layers stay "yes"
    assert (
        "| 2 | 19.6 MB | +3.69 MB | `boxwise/pip-install:packages` | rebuilt: requirements.txt changed |"
        in text
    )
    assert "| 1 | 31.0 MB | ±0 B | `RUN /bin/sh -c apt-get install -y python3 # buildkit` | yes |" in text


def test_names_and_versions_from_the_image_are_inline_code_in_the_comment() -> None:
    data = full_report()
    data.analysis = copy_analysis(data.analysis)
    assert data.analysis.dependencies is not None
    dists = data.analysis.dependencies.distributions
    dists[0] = dataclasses.replace(dists[0], name="x|y`![t](http://e.example/p.png)", version="1\n# H")
    data.diff = diff_analyses(data.baseline, data.analysis)
    text = render_markdown(data)
    row = "| `x\\|y'![t](http://e.example/p.png)` | `1 ↵ # H` | 17.6 MB | new | 2 |"
    assert row in text
    assert "+ `x\\|y'![t](http://e.example/p.png)` `1 ↵ # H`: 17.6 MB, new" in text
    # the chart holds no name at all: only layer numbers and sizes
    chart = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert "x|y" not in chart and "http" not in chart
