"""Image efficiency, two ways side by side: dive 0.13.1's accounting and the exact one.

`dive`: the efficiency score, wastedBytes, userWastedPercent and the inefficient-file list exactly
as dive computes them, quirks included, so a `.dive-ci` threshold means here what it means in dive.
dive rebuilds the stacked tree of every lower layer for each whiteout; here one stacked tree moves
up a layer at a time, which gives the same tree each time, so cost grows with entries only.

`exact`: the bytes a user could actually save: every version of a path that something later
overwrites, deletes (whiteout) or hides (opaque whiteout), directories counted by their content,
the surviving copy never counted.

`Analysis.to_json()` is the documented `boxwise inspect --format json` schema (README).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from boxwise.image.model import Entry, Image, dive_command
from boxwise.image.tree import WHITEOUT, Node, layer_tree, lookup, stack_layer, walk

SCHEMA = "boxwise.inspect/1"
LARGEST_FILES = 10
OPAQUE = ".wh..wh..opq"


@dataclass
class FileWaste:
    path: str
    count: int
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "count": self.count, "size_bytes": self.size_bytes}


@dataclass
class Accounting:
    """One way of counting waste: score, wasted bytes, wasted/user bytes ratio, per-file rows."""

    efficiency: float
    wasted_bytes: int
    user_wasted_percent: float  # a fraction, as dive's (0.1 = 10 %); NaN for 0/0, +Inf for x/0
    files: list[FileWaste] = field(default_factory=list)


@dataclass
class LayerInfo:
    index: int
    digest: str
    diff_id: str
    size_bytes: int
    command: str
    created_by: str | None = None
    media_type: str = ""
    blob_size_bytes: int = -1
    buildpack: str | None = None
    layer_name: str | None = None
    largest_files: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Analysis:
    ref: str
    name: str | None
    source: str
    resolved_as: str | None
    size_bytes: int
    user_size_bytes: int
    layers: list[LayerInfo]
    dive: Accounting
    exact: Accounting

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ref": self.ref,
            "name": self.name,
            "source": self.source,
            "resolved_as": self.resolved_as,
            "size_bytes": self.size_bytes,
            "user_size_bytes": self.user_size_bytes,
            "efficiency": self.dive.efficiency,
            "wasted_bytes": self.dive.wasted_bytes,
            "user_wasted_percent": ratio_json(self.dive.user_wasted_percent),
            "inefficient_files": [row.to_json() for row in self.dive.files],
            "exact": {
                "efficiency": self.exact.efficiency,
                "wasted_bytes": self.exact.wasted_bytes,
                "user_wasted_percent": ratio_json(self.exact.user_wasted_percent),
                "files": [row.to_json() for row in self.exact.files],
            },
            "layers": [
                {
                    "index": layer.index,
                    "digest": layer.digest,
                    "diff_id": layer.diff_id,
                    "size_bytes": layer.size_bytes,
                    "command": layer.command,
                    "created_by": layer.created_by,
                    "media_type": layer.media_type,
                    "blob_size_bytes": layer.blob_size_bytes,
                    "buildpack": layer.buildpack,
                    "layer_name": layer.layer_name,
                    "largest_files": [{"path": p, "size_bytes": s} for p, s in layer.largest_files],
                }
                for layer in self.layers
            ],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)


def ratio_json(value: float) -> float | str | None:
    """JSON has no NaN or infinity: NaN (0/0) is null, x/0 is the string "+Inf"."""
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "+Inf"
    return value


def ratio_from_json(value: Any) -> float:
    if value is None:
        return math.nan
    if value == "+Inf":
        return math.inf
    return float(value)


def _ratio(wasted: int, user_size: int) -> float:
    if user_size == 0:
        return math.nan if wasted == 0 else math.inf
    return wasted / user_size


def dive_accounting(indexes: Sequence[Sequence[Entry]]) -> tuple[float, int, list[FileWaste]]:
    """Efficiency score, wasted bytes and inefficient files exactly as dive 0.13.1 computes them."""
    records: dict[str, list[int]] = {}  # path -> [count, cum, min]; min starts at dive's -1 sentinel
    order: list[str] = []  # paths in the order they reached their second occurrence
    stacked: Node | None = None
    for entries in indexes:
        tree = layer_tree(entries)
        if stacked is None:
            stacked = tree.copy()  # dive sizes layer 0's whiteouts against layer 0 itself
        for parts, node in walk(tree, leaves_only=True):
            name = parts[-1]
            whiteout = name.startswith(WHITEOUT)
            if whiteout:
                parts = [*parts[:-1], name[len(WHITEOUT) :]]
            path = "/" + "/".join(parts)
            record = records.get(path)
            if record is None:
                record = records[path] = [0, 0, -1]
            if whiteout:
                previous = lookup(stacked, parts)
                if previous is None:
                    break  # dive's walk errors out here: the rest of this layer is never counted
                size = previous.total() if previous.is_dir else 0
            else:
                size = node.size
            record[1] += size
            if record[2] < 0 or size < record[2]:
                record[2] = size
            record[0] += 1
            if record[0] == 2:
                order.append(path)
        stack_layer(stacked, tree)
    total_min = sum(record[2] for record in records.values())
    total_cum = sum(record[1] for record in records.values())
    efficiency = 1.0 if total_cum == 0 else total_min / total_cum
    # Go's sort.Sort ascending by cum (a stable insertion sort up to 12 items), printed reversed.
    ascending = sorted(order, key=lambda path: records[path][1])
    files = [FileWaste(path, records[path][0], records[path][1]) for path in reversed(ascending)]
    return efficiency, sum(row.size_bytes for row in files), files


class _Exact:
    """The merged filesystem, layer by layer, counting every version something hides."""

    def __init__(self) -> None:
        self.root = Node(is_dir=True)
        self.waste: dict[str, list[int]] = {}  # path -> [versions hidden, bytes]

    def _hide(self, parts: list[str], node: Node) -> None:
        stack = [(parts, node)]
        while stack:
            here, current = stack.pop()
            if current.size:
                row = self.waste.setdefault("/" + "/".join(here), [0, 0])
                row[0] += 1
                row[1] += current.size
            if current.children:
                stack.extend(([*here, name], child) for name, child in current.children.items())

    def _remove(self, parts: list[str]) -> None:
        parent = lookup(self.root, parts[:-1])
        if parent is not None and parent.children and parts[-1] in parent.children:
            self._hide(parts, parent.children.pop(parts[-1]))

    def _clear(self, parts: list[str]) -> None:
        folder = lookup(self.root, parts)
        if folder is not None and folder.children:
            for name, child in folder.children.items():
                self._hide([*parts, name], child)
            folder.children = None

    def _add(self, parts: list[str], entry: Entry) -> None:
        node = self.root
        for depth, name in enumerate(parts):
            child = node.children.get(name) if node.children else None
            last = depth == len(parts) - 1
            if (
                child is not None
                and (last or not child.is_dir)
                and not (child.is_dir and entry.is_dir and last)
            ):
                # a file (or a directory replaced by a non-directory) is hidden with all it holds
                self._hide(parts[: depth + 1], child)
                child = None
                node.children.pop(name)  # type: ignore[union-attr]
            if child is None:
                child = node.child(name)
                child.is_dir = not last
            node = child
        node.size = entry.size
        node.is_dir = entry.is_dir

    def apply(self, entries: Sequence[Entry]) -> None:
        content = []
        for entry in entries:  # a layer's whiteouts act on the layers below it only: apply them first
            if entry.path == ".":
                continue
            parts = entry.path.split("/")
            name = parts[-1]
            if name == OPAQUE:
                self._clear(parts[:-1])
            elif name.startswith(WHITEOUT):
                self._remove([*parts[:-1], name[len(WHITEOUT) :]])
            elif not any(part.startswith(WHITEOUT) for part in parts):
                content.append((parts, entry))
        for parts, entry in content:
            self._add(parts, entry)


def exact_accounting(indexes: Sequence[Sequence[Entry]]) -> tuple[int, list[FileWaste]]:
    merged = _Exact()
    for entries in indexes:
        merged.apply(entries)
    files = [FileWaste(path, row[0], row[1]) for path, row in merged.waste.items()]
    files.sort(key=lambda row: (-row.size_bytes, row.path))
    return sum(row.size_bytes for row in files), files


def buildpack_layers(labels: dict[str, str]) -> dict[str, tuple[str | None, str]]:
    """diff_id -> (buildpack id, layer name), from the `io.buildpacks.lifecycle.metadata` label."""
    try:
        metadata = json.loads(labels.get("io.buildpacks.lifecycle.metadata") or "{}")
    except ValueError:
        return {}
    if not isinstance(metadata, dict):
        return {}
    found: dict[str, tuple[str | None, str]] = {}
    for buildpack in metadata.get("buildpacks") or []:
        if not isinstance(buildpack, dict):
            continue
        for layer_name, layer in (buildpack.get("layers") or {}).items():
            if isinstance(layer, dict) and isinstance(layer.get("sha"), str):
                found[layer["sha"]] = (buildpack.get("key") or buildpack.get("id"), layer_name)
    for item in metadata.get("app") or []:
        if isinstance(item, dict) and isinstance(item.get("sha"), str):
            found[item["sha"]] = (None, "app")
    for key in ("launcher", "config", "process-types", "sbom"):
        item = metadata.get(key)
        if isinstance(item, dict) and isinstance(item.get("sha"), str):
            found[item["sha"]] = (None, key)
    return found


def largest_files(entries: Sequence[Entry], count: int = LARGEST_FILES) -> list[tuple[str, int]]:
    files = [(entry.path, entry.size) for entry in entries if entry.kind == "file" and entry.size > 0]
    files.sort(key=lambda item: (-item[1], item[0]))
    return [("/" + path, size) for path, size in files[:count]]


def analyze(
    image: Image,
    indexes: Sequence[Sequence[Entry]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Both accountings of an image; layer indexes are read (or taken from the cache) if not given."""
    if indexes is None:
        from boxwise.image import load_indexes

        indexes = load_indexes(image, progress)
    sizes = [sum(entry.size for entry in entries) for entries in indexes]
    size_bytes = sum(sizes)
    user_size = sum(sizes[1:])  # dive treats only layer 0 as the base
    efficiency, wasted, inefficient = dive_accounting(indexes)
    exact_wasted, exact_files = exact_accounting(indexes)
    owners = buildpack_layers(image.labels)
    layers = []
    for index, (layer, entries) in enumerate(zip(image.layers, indexes, strict=False)):
        buildpack, layer_name = owners.get(layer.diff_id, (None, None))
        layers.append(
            LayerInfo(
                index=index,
                digest=layer.digest,
                diff_id=layer.diff_id,
                size_bytes=sizes[index],
                command=dive_command(layer.created_by),
                created_by=layer.created_by,
                media_type=layer.media_type,
                blob_size_bytes=layer.size,
                buildpack=buildpack,
                layer_name=layer_name,
                largest_files=largest_files(entries) if index > 0 else [],
            )
        )
    return Analysis(
        ref=image.ref,
        name=image.name,
        source=image.source,
        resolved_as=image.guess,
        size_bytes=size_bytes,
        user_size_bytes=user_size,
        layers=layers,
        dive=Accounting(efficiency, wasted, _ratio(wasted, user_size), inefficient),
        exact=Accounting(
            1.0 if size_bytes == 0 else (size_bytes - exact_wasted) / size_bytes,
            exact_wasted,
            _ratio(exact_wasted, user_size),
            exact_files,
        ),
    )
