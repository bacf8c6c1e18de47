"""The dependency rows every rendering shows (comment, terminal, HTML), and how a change is said.

"+ pandas 2.2.3: 61.2 MB, new; numpy 2.2.6 → 2.3.1: +3.40 MB": the changes against the baseline
come first, largest first, then the largest unchanged distributions. The renderers pass their
own escape for names and versions (they come from the image: untrusted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from boxwise.analyze.depdiff import ADDED, REMOVED, UNCHANGED, DependencyChange
from boxwise.report.model import ReportData
from boxwise.units import human_bytes

NO_BASELINE = ""  # status of a row when there is nothing to compare with
MAX_CHANGES = 20
TOP_ROWS = 10
HEADLINE_CHANGES = 5

Escape = Callable[[object], str]


@dataclass(frozen=True)
class DependencyView:
    """What a report knows of the image's distributions."""

    rows: list[DependencyChange]  # every distribution (and removed ones), changes first
    total: int  # distributions this image has
    size_bytes: int  # their size together
    compared: bool  # rows carry changes against the baseline
    notes: list[str]

    @property
    def changes(self) -> list[DependencyChange]:
        return [row for row in self.rows if row.status not in (UNCHANGED, NO_BASELINE)]

    def shown(
        self, top: int = TOP_ROWS, max_changes: int = MAX_CHANGES
    ) -> tuple[list[DependencyChange], int]:
        """(the rows a short table shows, how many it leaves out)."""
        changes = self.changes[:max_changes]
        rest = [row for row in self.rows if row.status in (UNCHANGED, NO_BASELINE)]
        rows = changes + rest[: max(top - len(changes), 0)]
        return rows, len(self.rows) - len(rows)


def dependency_view(data: ReportData) -> DependencyView | None:
    """None when the analysis has no dependency table (an analysis JSON saved before it existed)."""
    table = data.analysis.dependencies
    if table is None:
        return None
    dists, notes = table.distributions, list(table.notes)
    diff = data.diff.dependencies if data.diff is not None else None
    if diff is not None:
        rows = list(diff.changes)
        compared = True
    else:
        rows = [
            DependencyChange(d.name, NO_BASELINE, d.version, None, d.size_bytes, 0, d.layer) for d in dists
        ]
        compared = False
    return DependencyView(rows, len(dists), sum(d.size_bytes for d in dists), compared, notes)


def version_text(row: DependencyChange, esc: Escape) -> str:
    if row.status == REMOVED:
        return esc(row.before_version)
    if row.before_version is not None and row.before_version != row.version:
        return f"{esc(row.before_version)} → {esc(row.version)}"
    return esc(row.version)


def change_text(row: DependencyChange) -> str:
    """The change column: `new`, `removed`, a signed size, or empty without a baseline."""
    if row.status == NO_BASELINE:
        return ""
    if row.status == ADDED:
        return "new"
    if row.status == REMOVED:
        return f"removed ({human_bytes(-row.before_bytes, signed=True)})"
    return human_bytes(row.change_bytes, signed=True)


def change_phrase(row: DependencyChange, esc: Escape) -> str:
    """`+ pandas 2.2.3: 61.2 MB, new`, `numpy 2.2.6 → 2.3.1: +3.40 MB`, `− six 1.16.0: -38.1 kB, removed`."""
    if row.status == ADDED:
        return f"+ {esc(row.name)} {esc(row.version)}: {human_bytes(row.size_bytes)}, new"
    if row.status == REMOVED:
        change = human_bytes(-row.before_bytes, signed=True)
        return f"− {esc(row.name)} {esc(row.before_version)}: {change}, removed"
    return f"{esc(row.name)} {version_text(row, esc)}: {human_bytes(row.change_bytes, signed=True)}"


def changes_line(view: DependencyView, esc: Escape, count: int = HEADLINE_CHANGES) -> str | None:
    """The headline's one line on what the change did to the dependencies; None if nothing."""
    changes = view.changes
    if not view.compared or not changes:
        return None
    text = "; ".join(change_phrase(row, esc) for row in changes[:count])
    if len(changes) > count:
        text += f"; and {len(changes) - count} more"
    return text
