"""The HTML report artifact, rendered by Debian's headless Chromium as a person would open it.

The page has no scripts, so any console message Chromium logs (a script error, a resource the
page's Content-Security-Policy blocked) is a fault. Each test keeps its screenshot under the
pytest tmp folder and prints where.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.report import copy_analysis

from boxwise.report.html import render_html
from boxwise.report.model import BuildFailure
from boxwise.startup import Startup

from .test_markdown import full_report
from .test_post import report as cli_report

HOSTILE = '<img src="http://127.0.0.1:9/x.png" onerror="alert(1)">'


def chromium(page: Path, shot: Path, height: int = 2600) -> list[str]:
    """Load `page` in a fresh headless Chromium, save a screenshot; the console messages it logged."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed; run scripts/setup.sh (Debian package chromium)")
    result = subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={shot.parent / (shot.stem + '-profile')}",
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size=1200,{height}",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.stat().st_size > 10_000, "the screenshot is (nearly) empty"
    print(f"screenshot: {shot}")
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def hostile_report():
    data = full_report()
    data.analysis = copy_analysis(data.analysis)
    assert data.analysis.dependencies is not None
    dists = data.analysis.dependencies.distributions
    dists[0] = dataclasses.replace(dists[0], name=HOSTILE)
    layer = data.analysis.layers[3]
    layer.command, layer.buildpack, layer.layer_name = "<script>alert(1)</script>", None, None
    data.startup = Startup(checked=True, answered=True, seconds=1.42, status=200, memory_bytes=52 << 20)
    from boxwise.analyze.diff import diff_analyses

    files = data.diff.files
    data.diff = dataclasses.replace(diff_analyses(data.baseline, data.analysis), files=files)
    return data


def test_the_html_report_renders_in_chromium_with_no_console_message(tmp_path: Path) -> None:
    page = tmp_path / "boxwise-report.html"
    failure = BuildFailure("apps/web", "apps/web", f"build failed: {HOSTILE}")
    page.write_text(render_html([hostile_report()], [failure]))
    console = chromium(page, tmp_path / "report.png")
    assert console == []
    text = page.read_text()
    # self-contained: no script, no resource from anywhere, a policy that forbids both
    assert "<script" not in text and not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "default-src 'none'" in text
    assert "&lt;img src=&quot;http://127.0.0.1:9/x.png&quot;" in text
    for shown in (
        "starts in 1.4 s, answers 200, 52 MiB",
        "gate failed: lowestEfficiency",
        "Dependencies (5,",
    ):
        assert shown in text


def test_the_console_check_catches_a_page_that_errs(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(f"<!doctype html><p>{'x ' * 5000}</p><script>notAFunction()</script>")
    console = chromium(page, tmp_path / "broken.png", height=800)
    assert any("notAFunction is not defined" in line for line in console), console


def test_report_and_its_html_flag_write_the_page(analyses) -> None:
    out = analyses["new"].parent / "out" / "boxwise-report.html"
    result = cli_report(analyses, {}, "--html", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "<h2>api" in text and "gate passed" in text
    assert "numpy</code>" in text and "2.2.6 → 2.3.1" in text
    assert "+ numpy" not in text and "+ idna 3.7: 317 kB, new" in text
