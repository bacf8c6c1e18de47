"""Image efficiency, two ways side by side: dive 0.13.1's accounting and the exact one.

`dive`: the efficiency score, wastedBytes, userWastedPercent and the inefficient-file list exactly
as dive computes them, quirks included, so a `.dive-ci` threshold means here what it means in dive.
dive rebuilds the stacked tree of every lower layer for each whiteout; here one stacked tree moves
up a layer at a time, which gives the same tree each time, so cost grows with entries only.

`exact`: the bytes a user could actually save: every version of a path that something later
overwrites, deletes (whiteout) or hides (opaque whiteout), directories counted by their content,
the surviving copy never counted.

`Analysis.to_json()` is the documented `boxwise inspect --format json` schema (docs/inspect-gate.md).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple, TextIO

from boxwise.analyze import go_sort
from boxwise.analyze.dependencies import Dependencies, Distribution
from boxwise.forkcall import ForkedCall
from boxwise.gcpause import collector_paused
from boxwise.image.model import Entry, Image, buildpack_layers, dive_command, largest_files
from boxwise.image.tree import (
    Node,
    ancestors,
    layer_nodes,
    layer_tree,
    lookup,
    replayed_lookup,
    stack_layer,
    walk_key,
    whiteout_count,
)
from boxwise.image.whiteout import OPAQUE, WHITEOUT, hidden_path
from boxwise.jsonread import JsonFormatError, JsonReader

SCHEMA = "boxwise.inspect/1"


class FileWaste(NamedTuple):
    """One row of an inefficient-file list (a big image has thousands: a tuple is cheap to make)."""

    path: str
    copies: int  # dive's "Count"; not `count`, which would hide tuple.count
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "count": self.copies, "size_bytes": self.size_bytes}


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
    dependencies: Dependencies | None = None  # None: not read (see analyze.dependencies)

    def to_json(self, rows: bool = True) -> dict[str, Any]:
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
            "inefficient_files": [row.to_json() for row in self.dive.files] if rows else [],
            "exact": {
                "efficiency": self.exact.efficiency,
                "wasted_bytes": self.exact.wasted_bytes,
                "user_wasted_percent": ratio_json(self.exact.user_wasted_percent),
                "files": [row.to_json() for row in self.exact.files] if rows else [],
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
            "dependencies": self.dependencies.to_json() if self.dependencies is not None else None,
        }

    @classmethod
    def from_json(cls, data: object) -> Analysis:
        """A saved `boxwise.inspect/1` document (schemas/inspect.schema.json), checked field by
        field: it comes from the merge request. `from_json(x).to_json() == x` for a valid one.

        Raises JsonFormatError naming the first field that is missing or of the wrong type.
        """
        doc = JsonReader(data)
        if doc.field("schema", str) != SCHEMA:
            raise JsonFormatError(f"'schema' is not {SCHEMA!r}")
        deps = doc.get("dependencies")
        return cls(
            ref=doc.field("ref", str),
            name=doc.optional("name", str),
            source=doc.field("source", str),
            resolved_as=doc.optional("resolved_as", str),
            size_bytes=doc.field("size_bytes", int),
            user_size_bytes=doc.field("user_size_bytes", int),
            layers=[_layer_from_json(layer) for layer in doc.items("layers")],
            dive=_accounting_from_json(doc, "inefficient_files"),  # dive's figures are at the top
            exact=_accounting_from_json(doc.child("exact"), "files"),
            dependencies=None if deps is None else _dependencies_from_json(doc.child("dependencies")),
        )

    def dumps(self) -> str:
        # compact on purpose: json's C encoder only runs without indent (5x faster on big images)
        return json.dumps(self.to_json(), separators=(",", ":"))

    def write_json(self, out: TextIO) -> None:
        """`dumps()` written in pieces: the file lists (thousands of rows on a big image) are
        encoded a slice at a time, never all held as dicts and text at once."""
        data = self.to_json(rows=False)
        data["inefficient_files"] = _ROWS_MARK + "dive"
        data["exact"]["files"] = _ROWS_MARK + "exact"
        text = json.dumps(data, separators=(",", ":"))
        before, _, rest = text.partition(json.dumps(_ROWS_MARK + "dive"))
        between, _, after = rest.partition(json.dumps(_ROWS_MARK + "exact"))
        out.write(before)
        _write_rows(out, self.dive.files)
        out.write(between)
        _write_rows(out, self.exact.files)
        out.write(after)


def _ratio_field(reader: JsonReader, key: str) -> float:
    value = reader.get(key)
    return ratio_from_json(value) if value is None or value == "+Inf" else reader.number(key)


def _accounting_from_json(block: JsonReader, files: str) -> Accounting:
    return Accounting(
        block.number("efficiency"),
        block.field("wasted_bytes", int),
        _ratio_field(block, "user_wasted_percent"),
        [_row_from_json(row) for row in block.items(files)],
    )


def _row_from_json(row: JsonReader) -> FileWaste:
    return FileWaste(row.field("path", str), row.field("count", int), row.field("size_bytes", int))


def _layer_from_json(layer: JsonReader) -> LayerInfo:
    return LayerInfo(
        index=layer.field("index", int),
        digest=layer.field("digest", str),
        diff_id=layer.field("diff_id", str),
        size_bytes=layer.field("size_bytes", int),
        command=layer.field("command", str),
        created_by=layer.optional("created_by", str),
        media_type=layer.field("media_type", str),
        blob_size_bytes=layer.field("blob_size_bytes", int),
        buildpack=layer.optional("buildpack", str),
        layer_name=layer.optional("layer_name", str),
        largest_files=[
            (f.field("path", str), f.field("size_bytes", int)) for f in layer.items("largest_files")
        ],
    )


def _dependencies_from_json(deps: JsonReader) -> Dependencies:
    deps.field("size_bytes", int)  # the sum of the distributions': to_json() counts it again
    dists = [
        Distribution(
            name=d.field("name", str),
            version=d.field("version", str),
            size_bytes=d.field("size_bytes", int),
            files=d.field("files", int),
            layer=d.field("layer", int),
            site=d.field("site", str),
            missing_files=d.field("missing_files", int),
            truncated=d.field("truncated", bool),
        )
        for d in deps.items("distributions")
    ]
    return Dependencies(dists, deps.strings("notes"))


_ROWS_MARK = "\0boxwise-rows:"  # no path holds a NUL: the mark cannot collide with data


def _write_rows(out: TextIO, rows: list[FileWaste], step: int = 2000) -> None:
    """The rows as json.dumps(separators=(",", ":")) writes them (FileWaste.to_json's keys), made
    with json's own C string encoder and no dict per row: 7,000 rows in 4 ms instead of 8. The
    counts go in as they are: FileWaste's are ints (never bools: jsonread refuses those)."""
    string = json.encoder.encode_basestring_ascii  # what json.dumps uses with ensure_ascii
    out.write("[")
    for start in range(0, len(rows), step):
        piece = ",".join(
            f'{{"path":{string(path)},"count":{copies},"size_bytes":{size}}}'
            for path, copies, size in rows[start : start + step]
        )
        out.write(("," if start else "") + piece)
    out.write("]")


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


FEW_WHITEOUTS = 8  # up to this many in an image, each is sized by replaying only what touches it


def dive_accounting(
    indexes: Sequence[Sequence[Entry]], few_whiteouts: int = FEW_WHITEOUTS
) -> tuple[float, int, list[FileWaste]]:
    """Efficiency score, wasted bytes and inefficient files exactly as dive 0.13.1 computes them.

    dive keeps a record (count, cumulative size, smallest size) for every path it visits. A path
    visited once adds its size to both sums, so only paths visited again need a record here; a
    layer without whiteouts is matched against the earlier layers with set operations.
    """
    first: dict[str, int] = {}  # path -> size at its first visit
    records: dict[str, list[int]] = {}  # paths visited twice or more -> [count, cum, min]
    order: list[str] = []  # paths in the order they reached their second visit
    aborted: set[str] = set()  # paths whose record a failed whiteout look-up created (dive's -1)

    def visit(path: str, size: int) -> None:
        earlier = first.get(path)
        if earlier is None:
            first[path] = size
            return
        record = records.get(path)
        if record is None:
            records[path] = [2, earlier + size, min(earlier, size)]
            order.append(path)
            return
        record[0] += 1
        record[1] += size
        if size < record[2]:
            record[2] = size

    # The stacked tree of lower layers only sizes whiteouts: keep it up to the last layer that has
    # one; with only a few whiteouts in the image, size each from the entries that touch it instead.
    counts = [whiteout_count(entries) for entries in indexes]
    few = sum(counts) <= few_whiteouts
    last_whiteout = -1 if few else max((k for k, count in enumerate(counts) if count), default=-1)

    def below(layer: int, target: str) -> Node | None:
        if few:
            return replayed_lookup(indexes, layer, target)
        return lookup(stacked, target.split("/")) if stacked is not None else None

    stacked: Node | None = None
    for number, entries in enumerate(indexes):
        tree = layer_tree(entries) if last_whiteout >= 0 and number < max(last_whiteout, 1) else None
        if stacked is None and tree is not None:
            stacked = tree.copy()  # dive sizes layer 0's whiteouts against layer 0 itself
        payload, inner = layer_nodes(entries)
        leaves = payload.keys() - inner
        sizes = {path: payload[path] for path in leaves}  # what each leaf adds, by the path it counts for
        keys: dict[str, str] = {}  # a whiteout counts for its target but walks in its own place
        whiteouts = [p for p in leaves if ".wh." in p and p.rpartition("/")[2].startswith(WHITEOUT)]
        for leaf in whiteouts:
            head, _, name = leaf.rpartition("/")
            target = hidden_path(head, name)
            previous = below(number, target)
            if previous is None or target in sizes or target in keys:
                break  # a missing path (dive stops the layer there) or a double visit: walk it all
            del sizes[leaf]
            sizes[target] = previous.total() if previous.is_dir else 0
            keys[target] = walk_key(leaf)
        else:
            # every leaf is visited once: only the paths seen before need a record
            for path in sorted(sizes.keys() & first.keys(), key=lambda p: keys.get(p) or walk_key(p)):
                visit(path, sizes[path])
            first = sizes | first  # first visits keep their size
            if tree is not None and stacked is not None:
                stack_layer(stacked, tree)
            continue
        for leaf in sorted(leaves, key=walk_key):
            head, _, name = leaf.rpartition("/")
            if not name.startswith(WHITEOUT):
                visit(leaf, payload[leaf])
                continue
            target = hidden_path(head, name)
            previous = below(number, target)
            if previous is None:
                if target not in first:
                    aborted.add(target)
                break  # dive's walk errors out here: the rest of this layer is never counted
            visit(target, previous.total() if previous.is_dir else 0)
        if tree is not None and stacked is not None:
            stack_layer(stacked, tree)
    base = sum(first.values())
    total_cum = base + sum(record[1] - first[path] for path, record in records.items())
    total_min = base + sum(record[2] - first[path] for path, record in records.items())
    total_min -= len(aborted - first.keys())
    efficiency = 1.0 if total_cum == 0 else total_min / total_cum
    # dive sorts with Go's sort.Sort ascending by cum (unstable above 12 items), printed reversed
    ascending = list(order)
    go_sort(ascending, key=lambda path: records[path][1])
    new_row = tuple.__new__
    files = [new_row(FileWaste, ("/" + path, *records[path][:2])) for path in reversed(ascending)]
    return efficiency, sum(row.size_bytes for row in files), files


def exact_accounting(indexes: Sequence[Sequence[Entry]]) -> tuple[int, list[FileWaste]]:
    """Bytes hidden in the merged filesystem, per path: versions a higher layer overwrites,
    whites out (the path or a parent), hides under an opaque directory, or replaces a parent of
    (a file where a directory was, or the reverse). Only entries with bytes can waste any.

    Layers are read from the top down, keeping what the layers above do as sets, so each layer
    costs a few set operations rather than a walk per entry. Each operation starts from this
    layer's (smaller) set: `a & (b | c)` would first copy the image-wide sets into a new union.
    """
    waste: dict[str, list[int]] = {}  # path -> [hidden versions, bytes]
    above: set[str] = set()  # paths with an entry in a higher layer
    gone: set[str] = set()  # paths whited out by a higher layer (and all below them)
    covered: set[str] = set()  # opaque directories and non-directories above: all below is hidden
    above_inner: set[str] = set()  # parents of paths above: a file here would be replaced
    for entries in reversed(indexes):
        marked = [entry for entry in entries if ".wh." in entry.path]  # few or none: a pass in C
        if marked:
            content = [entry for entry in entries if ".wh." not in entry.path and entry.path != "."]
        else:
            content = [entry for entry in entries if entry.path != "."]
        whiteouts, opaques = [], []
        for entry in marked:
            head, _, name = entry.path.rpartition("/")
            if name == OPAQUE:
                opaques.append(head)
            elif name.startswith(WHITEOUT):
                whiteouts.append(hidden_path(head, name))
            elif not any(part.startswith(WHITEOUT) for part in entry.path.split("/")):
                content.append(entry)
        sizes = {entry.path: entry.size for entry in content}
        if len(sizes) < len(content):  # the same path twice in one layer: the last one wins
            seen: dict[str, int] = {}
            for entry in content:
                if seen.get(entry.path):
                    row = waste.setdefault("/" + entry.path, [0, 0])
                    row[0] += 1
                    row[1] += seen[entry.path]
                seen[entry.path] = entry.size
        files = {path for path, size in sizes.items() if size}
        hidden = (files & above) | (files & gone) | (files & above_inner)
        inner = ancestors(sizes)  # a superset of the files' parents: a prefix with no file finds none
        prefixes = (inner & gone) | (inner & covered)
        if prefixes:
            ordered = sorted(files)
            for prefix in prefixes:
                start = bisect.bisect_left(ordered, prefix + "/")
                end = bisect.bisect_left(ordered, prefix + "0")  # "0" follows "/" in code point order
                hidden.update(ordered[start:end])
        for path in hidden:
            row = waste.setdefault("/" + path, [0, 0])
            row[0] += 1
            row[1] += sizes[path]
        above |= sizes.keys()
        gone.update(whiteouts)
        covered.update(opaques)
        covered.update([entry.path for entry in content if not entry.is_dir])
        above_inner |= inner
    new_row = tuple.__new__
    rows = [new_row(FileWaste, (path, row[0], row[1])) for path, row in waste.items()]
    rows.sort(key=lambda row: (-row.size_bytes, row.path))
    return sum(row.size_bytes for row in rows), rows


@dataclass
class Measures:
    """What an analysis takes from the layers' contents: a function of the config's diff_ids alone
    (what the warm-analysis record keeps). Per place facts (blob digests, sizes, names) are not."""

    sizes: list[int]  # per layer, bytes of its files
    largest: list[list[tuple[str, int]]]  # per layer, its largest files (none for the base)
    dive: Accounting
    exact: Accounting


# From this many entries dive's accounting runs in a forked child while this process makes the
# exact one (forkcall.py): 30 ms of the s2i archive's cold inspect overlapped for ~2 ms of fork;
# below it a fork costs more. dive's is the longer of the two (36 ms against 26 there), so it is
# the child's: this process has the exact one and `meanwhile` (the dependency table) to do.
FORK_FROM_ENTRIES = 5000


def _dive_plain(
    indexes: Sequence[Sequence[Entry]], aside: Callable[[], object] | None = None
) -> tuple[float, int, list[tuple[str, int, int]], list[list[tuple[str, int]]]]:
    """dive_accounting with plain tuples for rows (what marshal can send back from a child), and
    each layer's largest files: the child has time for them while this process reads RECORDs,
    and for `aside` first (work with no answer, such as writing caches)."""
    if aside is not None:
        aside()
    efficiency, wasted, rows = dive_accounting(indexes)
    largest = [largest_files(entries) if index > 0 else [] for index, entries in enumerate(indexes)]
    return efficiency, wasted, [(row.path, row.copies, row.size_bytes) for row in rows], largest


def measure(
    indexes: Sequence[Sequence[Entry]],
    meanwhile: Callable[[], object] | None = None,
    aside: Callable[[], object] | None = None,
) -> Measures:
    """Both accountings and the per-layer figures of the layer indexes, base first. `meanwhile`
    runs here while a forked child makes dive's accounting of a big image; `aside` runs once,
    in that child when there is one (its effects must be outside this process: files)."""
    sizes = [sum(map(itemgetter(1), entries)) for entries in indexes]
    size_bytes = sum(sizes)
    user_size = sum(sizes[1:])  # dive treats only layer 0 as the base
    with collector_paused():  # also in the child: a collection there would copy every page it walks
        big = sum(map(len, indexes)) >= FORK_FROM_ENTRIES
        dive = ForkedCall(_dive_plain, indexes, aside) if big else None
        exact_wasted, exact_rows = exact_accounting(indexes)
        if meanwhile is not None:
            meanwhile()
        efficiency, wasted, plain_rows, largest = (
            dive.result() if dive is not None else _dive_plain(indexes, aside)
        )
    new_row = tuple.__new__
    # the child's rows hold copies of paths the exact rows hold too: one string each, so that a
    # warm record (marshal writes a string met twice as a reference) is 40 % smaller
    same = {row[0]: row[0] for row in exact_rows}.get
    inefficient = [new_row(FileWaste, (same(path, path), copies, size)) for path, copies, size in plain_rows]
    return Measures(
        sizes=sizes,
        largest=largest,
        dive=Accounting(efficiency, wasted, _ratio(wasted, user_size), inefficient),
        exact=Accounting(
            1.0 if size_bytes == 0 else (size_bytes - exact_wasted) / size_bytes,
            exact_wasted,
            _ratio(exact_wasted, user_size),
            exact_rows,
        ),
    )


def analyze(
    image: Image,
    indexes: Sequence[Sequence[Entry]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Both accountings of an image; layer indexes are read (or taken from the cache) if not given."""
    if indexes is None:
        from boxwise.image import load_indexes

        indexes = load_indexes(image, progress)
    return assemble(image, measure(indexes))


def assemble(image: Image, measures: Measures) -> Analysis:
    """The analysis of `image` from its measures and what the image itself says of its layers."""
    owners = buildpack_layers(image.labels)
    layers = []
    for index, (layer, size, largest) in enumerate(
        zip(image.layers, measures.sizes, measures.largest, strict=False)
    ):
        buildpack, layer_name = owners.get(layer.diff_id, (None, None))
        layers.append(
            LayerInfo(
                index=index,
                digest=layer.digest,
                diff_id=layer.diff_id,
                size_bytes=size,
                command=dive_command(layer.created_by),
                created_by=layer.created_by,
                media_type=layer.media_type,
                blob_size_bytes=layer.size,
                buildpack=buildpack,
                layer_name=layer_name,
                largest_files=largest,
            )
        )
    return Analysis(
        ref=image.ref,
        name=image.name,
        source=image.source,
        resolved_as=image.guess,
        size_bytes=sum(measures.sizes),
        user_size_bytes=sum(measures.sizes[1:]),
        layers=layers,
        dive=measures.dive,
        exact=measures.exact,
    )
