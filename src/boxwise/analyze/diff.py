"""What changed between a baseline image and a new one: layers, sizes, efficiency, files.

The comparison works on the documented analysis JSON (`Analysis.to_json()`) plus, when available,
each image's final filesystem view (path → size). Keeping it on plain dicts lets the report be
rendered and tested from fixed inputs, whatever image place the analyses came from.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from boxwise.errors import UserError
from boxwise.image.whiteout import final_view

TOP_FILES = 10


def layer_maker(layer: Mapping[str, Any]) -> str:
    """What made a layer, as a person reads it: the buildpack layer's name, else its history command."""
    buildpack = layer.get("buildpack") or ""
    name = layer.get("layer_name") or ""
    if buildpack and name:
        return f"{buildpack}:{name}"
    if name or buildpack:
        return str(name or buildpack)
    return str(layer.get("command") or "")


def _figures(analysis: Mapping[str, Any]) -> dict[str, Any]:
    exact = analysis.get("exact") or {}
    return {
        "size_bytes": int(analysis.get("size_bytes") or 0),
        "layer_count": len(analysis.get("layers") or []),
        "efficiency": analysis.get("efficiency"),
        "wasted_bytes": analysis.get("wasted_bytes"),
        "user_wasted_percent": analysis.get("user_wasted_percent"),
        "exact_efficiency": exact.get("efficiency"),
        "exact_wasted_bytes": exact.get("wasted_bytes"),
    }


def _change(new: Any, old: Any) -> Any:
    if new is None or old is None:
        return None
    change = new - old
    return round(change, 6) if isinstance(change, float) else change


def _layer_row(layer: Mapping[str, Any], status: str) -> dict[str, Any]:
    return {
        "status": status,
        "index": layer.get("index"),
        "diff_id": layer.get("diff_id"),
        "size_bytes": int(layer.get("size_bytes") or 0),
        "made_by": layer_maker(layer),
        "command": layer.get("command") or "",
        "buildpack": layer.get("buildpack"),
        "layer_name": layer.get("layer_name"),
    }


def diff_layers(baseline: list[Mapping[str, Any]], new: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """New layers in order (unchanged or added, by diff_id), then the baseline's removed layers.

    An added layer made by the same thing as a removed one (same buildpack layer or command) is
    marked as replacing it, so a rebuilt app layer shows its size change rather than "new".
    """
    available = Counter(layer.get("diff_id") for layer in baseline)
    kept: Counter[Any] = Counter()
    rows: list[dict[str, Any]] = []
    for layer in new:
        diff_id = layer.get("diff_id")
        if diff_id and available[diff_id] > kept[diff_id]:
            kept[diff_id] += 1
            rows.append(_layer_row(layer, "unchanged"))
        else:
            rows.append(_layer_row(layer, "added"))
    removed: list[dict[str, Any]] = []
    for layer in baseline:
        diff_id = layer.get("diff_id")
        if diff_id and kept[diff_id] > 0:
            kept[diff_id] -= 1
        else:
            removed.append(_layer_row(layer, "removed"))
    unmatched = list(removed)
    for row in rows:
        if row["status"] != "added":
            continue
        for old in unmatched:
            if row["made_by"] and old["made_by"] == row["made_by"]:
                row["replaces"] = old["index"]
                row["change_bytes"] = row["size_bytes"] - old["size_bytes"]
                old["replaced_by"] = row["index"]
                unmatched.remove(old)
                break
    return rows + removed


def diff_files(
    baseline: Mapping[str, int], new: Mapping[str, int], top: int = TOP_FILES
) -> dict[str, list[dict[str, Any]]]:
    """The largest added, grown and removed files between two final filesystem views."""
    added = [{"path": p, "size_bytes": s} for p, s in new.items() if p not in baseline]
    removed = [{"path": p, "size_bytes": s} for p, s in baseline.items() if p not in new]
    grown = [
        {"path": p, "size_bytes": s, "before_bytes": baseline[p], "change_bytes": s - baseline[p]}
        for p, s in new.items()
        if p in baseline and s > baseline[p]
    ]
    added.sort(key=lambda f: (-f["size_bytes"], f["path"]))
    removed.sort(key=lambda f: (-f["size_bytes"], f["path"]))
    grown.sort(key=lambda f: (-f["change_bytes"], f["path"]))
    return {"added": added[:top], "grown": grown[:top], "removed": removed[:top]}


def diff_analyses(
    baseline: Mapping[str, Any],
    new: Mapping[str, Any],
    baseline_files: Mapping[str, int] | None = None,
    new_files: Mapping[str, int] | None = None,
    top: int = TOP_FILES,
) -> dict[str, Any]:
    """The diff JSON: both images' figures, their changes, layers and (when known) files."""
    old_figures, new_figures = _figures(baseline), _figures(new)
    changes = {key: _change(new_figures[key], old_figures[key]) for key in new_figures}
    files = None
    if baseline_files is not None and new_files is not None:
        files = diff_files(baseline_files, new_files, top)
    from boxwise.analyze.depdiff import diff_dependencies_json

    return {
        "baseline": {"ref": baseline.get("ref"), **old_figures},
        "new": {"ref": new.get("ref"), **new_figures},
        "change": changes,
        "layers": diff_layers(list(baseline.get("layers") or []), list(new.get("layers") or [])),
        "files": files,
        "dependencies": diff_dependencies_json(baseline.get("dependencies"), new.get("dependencies")),
    }


# --- the `boxwise diff` command -------------------------------------------------------------------


def render_text(diff: Mapping[str, Any]) -> str:
    from boxwise.units import human_bytes, percent, percent_points

    old, new, change = diff["baseline"], diff["new"], diff["change"]

    def figure(label: str, key: str, show, show_change) -> str:
        return f"{label:<19}{show(old[key])} -> {show(new[key])}  ({show_change(change[key])})"

    def signed(value: int | None) -> str:
        return human_bytes(value, signed=True)

    lines = [
        f"baseline  {old.get('ref') or '?'}",
        f"new       {new.get('ref') or '?'}",
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
    for row in diff["layers"]:
        size = human_bytes(row["size_bytes"])
        extra = ""
        if "change_bytes" in row:
            extra = f" ({human_bytes(row['change_bytes'], signed=True)} against layer {row['replaces']})"
        index = "-" if row["status"] == "removed" else row["index"]
        lines.append(f"  {row['status']:<9} {index!s:>3} {size:>9}{extra}  {row['made_by'][:80]}")
    files = diff.get("files")
    if files is None:
        lines += ["", "files: not compared (no per-layer file index for one of the images)"]
    else:
        for kind in ("added", "grown", "removed"):
            lines += ["", f"largest {kind} files:"]
            if not files[kind]:
                lines.append("  (none)")
            for entry in files[kind]:
                shown = human_bytes(entry.get("change_bytes", entry["size_bytes"]), signed=kind == "grown")
                lines.append(f"  {shown:>10}  {entry['path']}")
    lines += _dependency_lines(diff.get("dependencies"))
    return "\n".join(lines) + "\n"


def _dependency_lines(data: Any) -> list[str]:
    """The distributions that changed, largest change first (`boxwise diff` text)."""
    from boxwise.analyze.depdiff import UNCHANGED, changes_from_json
    from boxwise.units import human_bytes

    if data is None:
        return ["", "dependencies: not compared (no dependency table for one of the images)"]
    rows = [row for row in changes_from_json(data) if row.status != UNCHANGED]
    lines = ["", f"dependencies: {len(rows)} changed, {human_bytes(data.get('change_bytes'), signed=True)}"]
    for row in rows:
        versions = " → ".join(v for v in (row.before_version, row.version) if v is not None)
        change = human_bytes(row.change_bytes, signed=True)
        lines.append(f"  {row.status:<10} {change:>10}  {row.name} {versions}")
    return lines


def read_image(ref: str) -> tuple[dict[str, Any], dict[str, int]]:
    """An image's analysis JSON and final file view, from one read of its layer indexes."""
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
    return analysis.to_json(), view


def _is_json_file(ref: str) -> bool:
    return ref.endswith(".json") and "://" not in ref and ":" not in ref.split("/")[0][1:]


def load_analysis(ref: str) -> tuple[dict[str, Any], dict[str, int] | None]:
    """The analysis JSON of an image (or a saved one) and, for an image, its final file view."""
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
        return analysis, None
    return read_image(ref)


def run_diff(args: argparse.Namespace) -> int:
    baseline, baseline_files = load_analysis(args.baseline)
    new, new_files = load_analysis(args.new)
    diff = diff_analyses(baseline, new, baseline_files, new_files)
    if args.format == "json":
        json.dump(diff, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(diff))
    return 0
