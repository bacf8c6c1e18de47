"""What changed between a baseline image and a new one: layers, sizes, efficiency, files.

The comparison works on two analyses (an image's, or one saved with `boxwise inspect --format json`
and read back with `Analysis.from_json`) plus, when available, each image's final filesystem view
(path → size), so the report can be rendered and tested from fixed inputs, whatever image place the
analyses came from.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boxwise.analyze.depdiff import DependencyDiff

from boxwise.analyze.efficiency import Analysis, LayerInfo, ratio_json
from boxwise.errors import UserError
from boxwise.image.whiteout import final_view
from boxwise.jsonread import JsonFormatError

TOP_FILES = 10


def layer_maker(layer: LayerInfo) -> str:
    """What made a layer, as a person reads it: the buildpack layer's name, else its history command."""
    buildpack = layer.buildpack or ""
    name = layer.layer_name or ""
    if buildpack and name:
        return f"{buildpack}:{name}"
    if name or buildpack:
        return name or buildpack
    return layer.command


JsonRatio = float | str | None  # a ratio as JSON holds it: null for 0/0, "+Inf" for x/0


@dataclass(frozen=True)
class Figures:
    """One image's figures in a diff: size, layer count, and waste in both accountings."""

    ref: str | None
    size_bytes: int
    layer_count: int
    efficiency: float | None
    wasted_bytes: int | None
    user_wasted_percent: JsonRatio
    exact_efficiency: float | None
    exact_wasted_bytes: int | None

    @classmethod
    def of(cls, analysis: Analysis) -> Figures:
        return cls(
            ref=analysis.ref,
            size_bytes=analysis.size_bytes,
            layer_count=len(analysis.layers),
            efficiency=analysis.dive.efficiency,
            wasted_bytes=analysis.dive.wasted_bytes,
            user_wasted_percent=ratio_json(analysis.dive.user_wasted_percent),
            exact_efficiency=analysis.exact.efficiency,
            exact_wasted_bytes=analysis.exact.wasted_bytes,
        )

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, **self.numbers()}

    def numbers(self) -> dict[str, Any]:
        """The figures without the ref, by their JSON names (the keys `change` has too)."""
        return {
            "size_bytes": self.size_bytes,
            "layer_count": self.layer_count,
            "efficiency": self.efficiency,
            "wasted_bytes": self.wasted_bytes,
            "user_wasted_percent": self.user_wasted_percent,
            "exact_efficiency": self.exact_efficiency,
            "exact_wasted_bytes": self.exact_wasted_bytes,
        }


def _change(new: object, old: object) -> float | None:
    numbers = (int, float)
    if not isinstance(new, numbers) or not isinstance(old, numbers):
        return None  # absent, or "+Inf": no change to tell
    change = new - old
    return round(change, 6) if isinstance(change, float) else change


@dataclass(frozen=True)
class LayerChange:
    """One layer of a diff: the new image's (unchanged or added) or the baseline's (removed)."""

    status: str  # unchanged | added | removed
    index: int | None  # in its own image
    diff_id: str | None
    size_bytes: int
    made_by: str
    command: str
    buildpack: str | None
    layer_name: str | None
    replaces: int | None = None  # an added layer made by the same thing as this removed one
    change_bytes: int | None = None  # set when it replaces one: its size minus that one's
    replaced: bool = False  # a removed layer an added one replaces
    replaced_by: int | None = None

    @property
    def rebuilt(self) -> bool:
        """An added layer that replaces a removed one made by the same thing."""
        return self.change_bytes is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "status": self.status,
            "index": self.index,
            "diff_id": self.diff_id,
            "size_bytes": self.size_bytes,
            "made_by": self.made_by,
            "command": self.command,
            "buildpack": self.buildpack,
            "layer_name": self.layer_name,
        }
        if self.rebuilt:
            data["replaces"], data["change_bytes"] = self.replaces, self.change_bytes
        if self.replaced:
            data["replaced_by"] = self.replaced_by
        return data


def _layer_row(layer: LayerInfo, status: str) -> LayerChange:
    return LayerChange(
        status=status,
        index=layer.index,
        diff_id=layer.diff_id,
        size_bytes=layer.size_bytes,
        made_by=layer_maker(layer),
        command=layer.command,
        buildpack=layer.buildpack,
        layer_name=layer.layer_name,
    )


def diff_layers(baseline: Sequence[LayerInfo], new: Sequence[LayerInfo]) -> list[LayerChange]:
    """New layers in order (unchanged or added, by diff_id), then the baseline's removed layers.

    An added layer made by the same thing as a removed one (same buildpack layer or command) is
    marked as replacing it, so a rebuilt app layer shows its size change rather than "new".
    """
    available = Counter(layer.diff_id for layer in baseline)
    kept: Counter[str] = Counter()
    rows: list[LayerChange] = []
    for layer in new:
        diff_id = layer.diff_id
        if diff_id and available[diff_id] > kept[diff_id]:
            kept[diff_id] += 1
            rows.append(_layer_row(layer, "unchanged"))
        else:
            rows.append(_layer_row(layer, "added"))
    removed: list[LayerChange] = []
    for layer in baseline:
        diff_id = layer.diff_id
        if diff_id and kept[diff_id] > 0:
            kept[diff_id] -= 1
        else:
            removed.append(_layer_row(layer, "removed"))
    unmatched = list(range(len(removed)))
    for number, row in enumerate(rows):
        if row.status != "added":
            continue
        for position in unmatched:
            old = removed[position]
            if row.made_by and old.made_by == row.made_by:
                change = row.size_bytes - old.size_bytes
                rows[number] = replace(row, replaces=old.index, change_bytes=change)
                removed[position] = replace(old, replaced=True, replaced_by=row.index)
                unmatched.remove(position)
                break
    return rows + removed


@dataclass(frozen=True)
class FileChange:
    """A file of the final view added, removed, or grown (then with its size before)."""

    path: str
    size_bytes: int
    before_bytes: int | None = None  # grown files only

    @property
    def change_bytes(self) -> int:
        return self.size_bytes - (self.before_bytes or 0)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "size_bytes": self.size_bytes}
        if self.before_bytes is not None:
            data["before_bytes"], data["change_bytes"] = self.before_bytes, self.change_bytes
        return data


@dataclass(frozen=True)
class FileChanges:
    added: list[FileChange]
    grown: list[FileChange]
    removed: list[FileChange]

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {kind: [f.to_json() for f in getattr(self, kind)] for kind in ("added", "grown", "removed")}


def diff_files(baseline: Mapping[str, int], new: Mapping[str, int], top: int = TOP_FILES) -> FileChanges:
    """The largest added, grown and removed files between two final filesystem views."""
    added = [FileChange(p, s) for p, s in new.items() if p not in baseline]
    removed = [FileChange(p, s) for p, s in baseline.items() if p not in new]
    grown = [FileChange(p, s, baseline[p]) for p, s in new.items() if p in baseline and s > baseline[p]]
    added.sort(key=lambda f: (-f.size_bytes, f.path))
    removed.sort(key=lambda f: (-f.size_bytes, f.path))
    grown.sort(key=lambda f: (-f.change_bytes, f.path))
    return FileChanges(added[:top], grown[:top], removed[:top])


@dataclass(frozen=True)
class Diff:
    """What changed between a baseline image and a new one (`boxwise diff --format json`,
    schemas/diff.schema.json)."""

    baseline: Figures
    new: Figures
    change: dict[str, Any]  # figure name -> new minus baseline (None when either lacks it)
    layers: list[LayerChange]
    files: FileChanges | None  # None: one of the images had no file view
    dependencies: DependencyDiff | None  # None: one of the analyses had no dependency table

    @property
    def added_layers(self) -> int:
        return sum(1 for layer in self.layers if layer.status == "added")

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.to_json(),
            "new": self.new.to_json(),
            "change": dict(self.change),
            "layers": [layer.to_json() for layer in self.layers],
            "files": self.files.to_json() if self.files is not None else None,
            "dependencies": self.dependencies.to_json() if self.dependencies is not None else None,
        }


def diff_analyses(
    baseline: Analysis,
    new: Analysis,
    baseline_files: Mapping[str, int] | None = None,
    new_files: Mapping[str, int] | None = None,
    top: int = TOP_FILES,
) -> Diff:
    """Both images' figures, their changes, layers and (when known) files and distributions."""
    from boxwise.analyze.depdiff import dependency_diff

    old_figures, new_figures = Figures.of(baseline), Figures.of(new)
    old_numbers = old_figures.numbers()
    changes = {key: _change(value, old_numbers[key]) for key, value in new_figures.numbers().items()}
    files = None
    if baseline_files is not None and new_files is not None:
        files = diff_files(baseline_files, new_files, top)
    return Diff(
        baseline=old_figures,
        new=new_figures,
        change=changes,
        layers=diff_layers(baseline.layers, new.layers),
        files=files,
        dependencies=dependency_diff(baseline.dependencies, new.dependencies),
    )


# --- the `boxwise diff` command -------------------------------------------------------------------


def render_text(diff: Diff) -> str:
    from boxwise.units import human_bytes, percent, percent_points

    old, new, change = diff.baseline.numbers(), diff.new.numbers(), diff.change

    def figure(label: str, key: str, show: Callable[[Any], str], show_change: Callable[[Any], str]) -> str:
        return f"{label:<19}{show(old[key])} -> {show(new[key])}  ({show_change(change[key])})"

    def signed(value: int | None) -> str:
        return human_bytes(value, signed=True)

    lines = [
        f"baseline  {diff.baseline.ref or '?'}",
        f"new       {diff.new.ref or '?'}",
        "",
        figure("size", "size_bytes", human_bytes, signed),
        figure("layers", "layer_count", str, lambda v: f"{v:+d}"),
        figure("efficiency", "efficiency", percent, percent_points),
        figure("wasted", "wasted_bytes", human_bytes, signed),
        figure("efficiency (exact)", "exact_efficiency", percent, percent_points),
        figure("wasted (exact)", "exact_wasted_bytes", human_bytes, signed),
        "",
        "layers:",
    ]
    for row in diff.layers:
        size = human_bytes(row.size_bytes)
        extra = ""
        if row.rebuilt:
            extra = f" ({human_bytes(row.change_bytes, signed=True)} against layer {row.replaces})"
        index = "-" if row.status == "removed" else row.index
        lines.append(f"  {row.status:<9} {index!s:>3} {size:>9}{extra}  {row.made_by[:80]}")
    if diff.files is None:
        lines += ["", "files: not compared (no per-layer file index for one of the images)"]
    else:
        for kind in ("added", "grown", "removed"):
            entries: list[FileChange] = getattr(diff.files, kind)
            lines += ["", f"largest {kind} files:"]
            if not entries:
                lines.append("  (none)")
            for entry in entries:
                shown = human_bytes(entry.change_bytes, signed=kind == "grown")
                lines.append(f"  {shown:>10}  {entry.path}")
    lines += _dependency_lines(diff.dependencies)
    return "\n".join(lines) + "\n"


def _dependency_lines(data: DependencyDiff | None) -> list[str]:
    """The distributions that changed, largest change first (`boxwise diff` text)."""
    from boxwise.analyze.depdiff import UNCHANGED
    from boxwise.units import human_bytes

    if data is None:
        return ["", "dependencies: not compared (no dependency table for one of the images)"]
    rows = [row for row in data.changes if row.status != UNCHANGED]
    lines = ["", f"dependencies: {len(rows)} changed, {human_bytes(data.change_bytes, signed=True)}"]
    for row in rows:
        versions = " → ".join(v for v in (row.before_version, row.version) if v is not None)
        change = human_bytes(row.change_bytes, signed=True)
        lines.append(f"  {row.status:<10} {change:>10}  {row.name} {versions}")
    return lines


def read_image(ref: str) -> tuple[Analysis, dict[str, int]]:
    """An image's analysis and final file view, from one read of its layer indexes."""
    from boxwise.analyze.efficiency import analyze
    from boxwise.image import load_indexes, open_image

    try:
        image = open_image(ref)
        indexes = load_indexes(image)
    except OSError as exc:
        raise UserError(f"{ref}: cannot read the image ({exc.strerror or exc})") from None
    from boxwise.analyze.dependencies import read_dependencies

    analysis = analyze(image, indexes)
    view = final_view([(entry.path, entry.size, entry.is_dir) for entry in entries] for entries in indexes)
    try:
        analysis.dependencies = read_dependencies(image, indexes, view)
    except OSError as exc:
        raise UserError(f"{ref}: cannot read the image ({exc.strerror or exc})") from None
    return analysis, view


def _is_json_file(ref: str) -> bool:
    return ref.endswith(".json") and "://" not in ref and ":" not in ref.split("/")[0][1:]


def load_analysis(ref: str) -> tuple[Analysis, dict[str, int] | None]:
    """The analysis of an image (or a saved one) and, for an image, its final file view."""
    if _is_json_file(ref):
        path = Path(ref)
        try:
            analysis = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(
                f"{ref}: no such file; pass an image reference or a `boxwise inspect --format json` file"
            ) from None
        except (OSError, ValueError) as exc:
            raise UserError(
                f"{ref}: not a readable analysis JSON ({exc}); save it with `boxwise inspect --format json`"
            ) from None
        if not isinstance(analysis, dict) or "layers" not in analysis:
            raise UserError(
                f"{ref}: not an analysis (no 'layers'); save it with `boxwise inspect --format json`"
            )
        analysis.setdefault("ref", ref)
        try:
            return Analysis.from_json(analysis), None
        except JsonFormatError as exc:
            raise UserError(
                f"{ref}: not a valid analysis ({exc}); save it with `boxwise inspect --format json`"
            ) from None
    return read_image(ref)


@dataclass(frozen=True)
class DiffOptions:
    """`boxwise diff BASELINE NEW`: two images (or saved analyses) and the output format."""

    baseline: str
    new: str
    format: str = "text"  # text | json


def run_diff(options: DiffOptions) -> int:
    baseline, baseline_files = load_analysis(options.baseline)
    new, new_files = load_analysis(options.new)
    diff = diff_analyses(baseline, new, baseline_files, new_files)
    if options.format == "json":
        json.dump(diff.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(diff))
    return 0
