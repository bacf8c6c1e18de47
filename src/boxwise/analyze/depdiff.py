"""What a change did to the image's Python distributions: added, removed, upgraded, grown, shrunk.

Distributions are matched by their normalized name; when one name is installed in several site
folders, the same folder is matched first, then the rest in order (a dependency layer that moved
folders is still the same distribution).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from boxwise.analyze.dependencies import Dependencies, Distribution

# status of a distribution against the baseline
ADDED, REMOVED, UPGRADED, DOWNGRADED = "added", "removed", "upgraded", "downgraded"
CHANGED, UNCHANGED = "changed", "unchanged"  # CHANGED: same version, other size (or versions not comparable)


@dataclass(frozen=True)
class DependencyChange:
    name: str
    status: str
    version: str | None  # None: removed
    before_version: str | None  # None: added
    size_bytes: int  # 0 when removed
    before_bytes: int  # 0 when added
    layer: int | None = None  # the new image's layer holding it

    @property
    def change_bytes(self) -> int:
        return self.size_bytes - self.before_bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "version": self.version,
            "before_version": self.before_version,
            "size_bytes": self.size_bytes,
            "before_bytes": self.before_bytes,
            "change_bytes": self.change_bytes,
            "layer": self.layer,
        }


def _status(old: Distribution, new: Distribution) -> str:
    if old.version == new.version:
        return UNCHANGED if old.size_bytes == new.size_bytes else CHANGED
    from packaging.version import InvalidVersion, Version

    try:
        return UPGRADED if Version(new.version) > Version(old.version) else DOWNGRADED
    except InvalidVersion:
        return CHANGED


def _pairs(
    old: list[Distribution], new: list[Distribution]
) -> list[tuple[Distribution | None, Distribution | None]]:
    """Same site first, then in order; the leftovers of one side stand alone."""
    pairs: list[tuple[Distribution | None, Distribution | None]] = []
    old, new = list(old), list(new)
    for dist in list(new):
        twin = next((o for o in old if o.site == dist.site), None)
        if twin is not None:
            pairs.append((twin, dist))
            old.remove(twin)
            new.remove(dist)
    pairs += list(zip(old, new, strict=False))  # the longer side's rest follows
    pairs += [(o, None) for o in old[len(new) :]] + [(None, n) for n in new[len(old) :]]
    return pairs


def diff_dependencies(
    baseline: Sequence[Distribution], new: Sequence[Distribution]
) -> list[DependencyChange]:
    """Every distribution of either image, changes first (largest change first), then unchanged."""
    groups: dict[str, tuple[list[Distribution], list[Distribution]]] = {}
    for dist in baseline:
        groups.setdefault(dist.key, ([], []))[0].append(dist)
    for dist in new:
        groups.setdefault(dist.key, ([], []))[1].append(dist)
    rows = []
    for olds, news in groups.values():
        for old, now in _pairs(olds, news):
            if old is None and now is not None:
                rows.append(
                    DependencyChange(now.name, ADDED, now.version, None, now.size_bytes, 0, now.layer)
                )
            elif now is None and old is not None:
                rows.append(DependencyChange(old.name, REMOVED, None, old.version, 0, old.size_bytes))
            elif old is not None and now is not None:
                rows.append(
                    DependencyChange(
                        now.name,
                        _status(old, now),
                        now.version,
                        old.version,
                        now.size_bytes,
                        old.size_bytes,
                        now.layer,
                    )
                )
    rows.sort(key=lambda r: (r.status == UNCHANGED, -abs(r.change_bytes), -r.size_bytes, r.name.lower()))
    return rows


@dataclass(frozen=True)
class DependencyDiff:
    """The `dependencies` part of a diff: every distribution's change, and the totals."""

    changes: list[DependencyChange]  # changes first, largest first, then unchanged

    @property
    def before_bytes(self) -> int:
        return sum(r.before_bytes for r in self.changes)

    @property
    def size_bytes(self) -> int:
        return sum(r.size_bytes for r in self.changes)

    @property
    def change_bytes(self) -> int:
        return sum(r.change_bytes for r in self.changes)

    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in (ADDED, REMOVED, UPGRADED, DOWNGRADED, CHANGED, UNCHANGED)}
        for row in self.changes:
            counts[row.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "before_bytes": self.before_bytes,
            "size_bytes": self.size_bytes,
            "change_bytes": self.change_bytes,
            "counts": self.counts(),
            "changes": [row.to_json() for row in self.changes],
        }


def dependency_diff(baseline: Dependencies | None, new: Dependencies | None) -> DependencyDiff | None:
    """The distributions' changes between two analyses' dependency tables; None when either
    analysis has none."""
    if baseline is None or new is None:
        return None
    return DependencyDiff(diff_dependencies(baseline.distributions, new.distributions))
