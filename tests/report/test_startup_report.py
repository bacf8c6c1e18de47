"""The smoke check's figures in the report: the comment's headline, the terminal, the JSON, metrics."""

from __future__ import annotations

import io
import json

from boxwise.report.artifacts import metrics_text, report_json
from boxwise.report.markdown import headline, render_markdown
from boxwise.report.terminal import render_terminal
from boxwise.startup import Startup

from .test_artifacts import OPENMETRICS_LINE
from .test_markdown import full_report

STARTED = Startup(checked=True, answered=True, seconds=1.42, status=200, memory_bytes=52 * (1 << 20) + 1234)
FAILED = Startup(checked=True, answered=False, reason="exited with code 1 | `rm -rf /` <b>x</b>")
SKIPPED = Startup(checked=False, reason="no engine")


def with_startup(startup: Startup | None, app: str = "apps/api"):
    data = full_report()
    data.app, data.startup = app, startup
    return data


def test_the_headline_says_how_the_image_started() -> None:
    assert headline(with_startup(STARTED)) == (
        "### boxwise · `apps/api` · ❌ gate failed: lowestEfficiency, highestImageBytes"
        " · 🚀 starts in 1.4 s, answers 200, 52 MiB"
    )
    # what the image printed is untrusted: inline code, the pipe escaped, the backticks defused
    assert headline(with_startup(FAILED)).endswith(
        " · 💥 `does not start: exited with code 1 \\| 'rm -rf /' <b>x</b>`"
    )
    assert headline(with_startup(SKIPPED)).endswith(" · ⚪ `start not checked (no engine)`")
    assert headline(with_startup(None)).endswith("lowestEfficiency, highestImageBytes")
    assert render_markdown(with_startup(STARTED)).splitlines()[0] == headline(with_startup(STARTED))


def test_the_terminal_report_shows_the_startup_line() -> None:
    out = io.StringIO()
    render_terminal(with_startup(STARTED), out)
    assert out.getvalue().splitlines()[1] == "starts in 1.4 s, answers 200, 52 MiB"
    out = io.StringIO()
    render_terminal(with_startup(FAILED), out)
    assert "does not start: exited with code 1 | `rm -rf /` <b>x</b>" in out.getvalue()


def test_the_json_has_the_startup_figures() -> None:
    apps = json.loads(report_json([with_startup(STARTED), with_startup(None, "apps/worker")]))["apps"]
    assert apps[0]["startup"] == {
        "checked": True,
        "answered": True,
        "seconds": 1.42,
        "status": 200,
        "memory_bytes": 52 * (1 << 20) + 1234,
        "reason": "",
        "log_tail": [],
    }
    assert apps[1]["startup"] is None


def test_metrics_have_startup_seconds_and_memory_for_the_apps_that_started() -> None:
    reports = [with_startup(STARTED), with_startup(FAILED, "apps/worker"), with_startup(SKIPPED, "apps/web")]
    lines = metrics_text(reports).splitlines()
    assert all(OPENMETRICS_LINE.fullmatch(line) for line in lines), lines
    assert 'boxwise_startup_seconds{app="apps/api"} 1.42' in lines
    assert f'boxwise_startup_memory_bytes{{app="apps/api"}} {52 * (1 << 20) + 1234}' in lines
    assert 'boxwise_startup_ok{app="apps/api"} 1' in lines
    assert 'boxwise_startup_ok{app="apps/worker"} 0' in lines
    assert not any("apps/web" in line and "startup" in line for line in lines)  # not checked: no sample
    assert not any("apps/worker" in line and "startup_seconds" in line for line in lines)
    assert 'boxwise_dependencies_bytes{app="apps/api"} 27361902' in lines
