"""The report's input: plain JSON values from the earlier stages, gathered for one app.

Every renderer (terminal, markdown, artifacts) reads a ReportData and nothing else, so a report
can be rendered from fixed analyses in tests exactly as it is from a fresh build in CI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boxwise.startup import Startup

if TYPE_CHECKING:
    from boxwise.analyze.diff import Diff
    from boxwise.analyze.efficiency import Analysis
    from boxwise.findings import Finding
    from boxwise.gate import RuleResult, Verdict

MARKER_PREFIX = "<!-- boxwise:report app="


def marker(app: str) -> str:
    """The hidden HTML comment that identifies an app's comment on a merge request.

    Other characters than `[A-Za-z0-9._/@+-]` are %-encoded, and so is the second `-` of a `--`:
    the name cannot end the comment early (`-->`), and two app names never share a marker (a
    merge request adding `apps/a b` must not take over the comment of `apps/a_b`).
    """
    safe = re.sub(r"[^A-Za-z0-9._/@+-]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), app)
    return f"{MARKER_PREFIX}{safe.replace('--', '-%2D').replace('--', '-%2D')} -->"


def holds_marker(body: str, app_marker: str) -> bool:
    """True when the body's last line is the marker: where boxwise puts it, and the one place
    text from the merge request (a path, a lint message quoting a marker) can never reach."""
    return body.rstrip("\n").rpartition("\n")[2] == app_marker


@dataclass
class ReportData:
    app: str
    ref: str
    analysis: Analysis
    verdict: Verdict | None = None
    baseline_ref: str | None = None
    baseline: Analysis | None = None
    baseline_note: str | None = None  # why there is no baseline to compare with
    diff: Diff | None = None
    findings: list[Finding] = field(default_factory=list)
    app_path: str | None = None  # the app folder, relative to the repo root
    rules_path: str | None = None  # the gate rules file, relative to the repo root
    # diff_id -> what the build said of the layer ("reused: key unchanged", "rebuilt: …")
    layer_notes: dict[str, str] = field(default_factory=dict)
    startup: Startup | None = None  # what the smoke check saw (None: no check ran)

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "app_path": self.app_path,
            "ref": self.ref,
            "passed": verdict_passed(self.verdict),
            "analysis": self.analysis.to_json(),
            "verdict": self.verdict.to_json() if self.verdict is not None else None,
            "baseline_ref": self.baseline_ref,
            "baseline": self.baseline.to_json() if self.baseline is not None else None,
            "baseline_note": self.baseline_note,
            "diff": self.diff.to_json() if self.diff is not None else None,
            "findings": [f.to_dict() for f in self.findings],
            "layer_notes": self.layer_notes,
            "startup": self.startup.to_json() if self.startup is not None else None,
        }


@dataclass(frozen=True)
class BuildFailure:
    """An app `boxwise ci` could not build (or analyse): reported instead of its image."""

    app: str
    app_path: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "app_path": self.app_path, "passed": False, "error": self.message}


def reuse_label(kind: str | None, note: str | None) -> str:
    """The "reused" cell: against the baseline (`unchanged`, `rebuilt`, `new`; None: no baseline),
    with the build's own word on a layer it made (why it was rebuilt, or that the cache served it).
    """
    if note and kind != "unchanged":
        return note
    return {"unchanged": "yes", "rebuilt": "rebuilt", "new": "no"}.get(kind or "", "—")


def verdict_rules(verdict: Verdict | None) -> list[RuleResult]:
    """The verdict's rules (none when the image was not gated)."""
    return [] if verdict is None else list(verdict.results)


def verdict_passed(verdict: Verdict | None) -> bool | None:
    """True/False when the image was gated, None when there was no verdict."""
    return None if verdict is None else verdict.passed


def failed_rules(verdict: Verdict | None) -> list[RuleResult]:
    return [] if verdict is None else verdict.failed
