"""Which installed Python distribution weighs what, from the `*.dist-info/RECORD` files of an image.

Every `NAME-VERSION.dist-info/RECORD` the image shows in a `site-packages` or `dist-packages`
folder (boxwise's dependency layers, `/usr/local/lib/pythonX.Y/site-packages` of python images,
Debian's `/usr/lib/python3/dist-packages`) names the files its distribution installed. A
distribution's size is the sum of those files' sizes as the image's layers hold them (the tar
headers, whiteouts applied), never RECORD's own size column, and only files the image has.

RECORD files are untrusted: each is read up to a limit (longer ones are counted as far as they
were read, and say so), paths outside the site folder (absolute, or climbing out with `..`) are
ignored, and at most MAX_DISTRIBUTIONS are read.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boxwise.image.model import RECORD_SUFFIX, REGULAR_TYPES, Entry, Image
from boxwise.image.whiteout import final_view

if TYPE_CHECKING:
    from boxwise.analyze.layerfiles import FileBytes

SITE_DIRS = ("site-packages", "dist-packages")
MAX_DISTRIBUTIONS = 5000


@dataclass(frozen=True)
class Distribution:
    """One installed distribution as the image shows it."""

    name: str  # as its .dist-info folder spells it
    version: str
    size_bytes: int  # its files that the image holds, sizes from the layer tars
    files: int  # how many of its files the image holds
    layer: int  # the layer holding its RECORD (the installed version the image shows)
    site: str  # the site folder, e.g. /usr/local/lib/python3.12/site-packages
    missing_files: int = 0  # listed in RECORD, not in the image
    truncated: bool = False  # RECORD longer than the read limit: counted as far as it was read

    @property
    def key(self) -> str:
        return canonical_name(self.name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "size_bytes": self.size_bytes,
            "files": self.files,
            "layer": self.layer,
            "site": self.site,
            "missing_files": self.missing_files,
            "truncated": self.truncated,
        }


@dataclass
class Dependencies:
    """The image's distributions, largest first, and notes on what could not be read."""

    distributions: list[Distribution] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        return sum(dist.size_bytes for dist in self.distributions)

    def to_json(self) -> dict[str, Any]:
        return {
            "size_bytes": self.size_bytes,
            "distributions": [dist.to_json() for dist in self.distributions],
            "notes": list(self.notes),
        }


def canonical_name(name: str) -> str:
    """PEP 503's normalized name: `Typing_Extensions` and `typing-extensions` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split_dist_info(folder: str) -> tuple[str, str]:
    """(name, version) of a `NAME-VERSION.dist-info` folder name (`-` in a name is escaped as `_`)."""
    stem = folder.removesuffix(".dist-info")
    name, dash, version = stem.rpartition("-")
    return (name, version) if dash and name else (stem, "?")


def site_of(record: str) -> str | None:
    """The site folder of `…/site-packages/X.dist-info/RECORD` (index spelling, no leading `/`)."""
    if not record.endswith(RECORD_SUFFIX):
        return None
    dist_info = record[: -len("/RECORD")]
    site, slash, _ = dist_info.rpartition("/")
    if not slash or site.rpartition("/")[2] not in SITE_DIRS:
        return None
    return site


def record_layers(indexes: Sequence[Sequence[Entry]]) -> dict[str, int]:
    """RECORD path → the highest layer holding it as a regular file (the version the image shows)."""
    found: dict[str, int] = {}
    for number, entries in enumerate(indexes):
        for entry in entries:
            if entry.path.endswith(RECORD_SUFFIX) and entry.typeflag in REGULAR_TYPES and site_of(entry.path):
                found[entry.path] = number
    return found


def record_paths(data: bytes, site: str) -> tuple[list[str], bool]:
    """The files a RECORD lists, as `/`-rooted image paths inside `site`; True if it broke off.

    `site` is `/`-rooted. Absolute paths and paths that climb out of the site folder are ignored.
    """
    text = data.decode("utf-8", "surrogateescape")
    if not text.endswith("\n"):
        text = text.rpartition("\n")[0]  # a cut RECORD: only its whole lines
    names = _split_names(text)
    if names is None:
        return _csv_paths(text, site)
    joined = "\n".join(names)  # a third of the text: the hashes and sizes are left out
    if (
        joined[:1] not in ("/", ".")
        and not joined.endswith("/")
        and not any(map(joined.__contains__, _ODD_NAMES))
    ):
        prefix = site + "/"  # every name is a plain relative path (pandas' 2,930 rows: 0.9 ms less)
        return list(dict.fromkeys([prefix + name for name in names if name])), False
    return _named_paths(names, site), False


# A row break for str.splitlines but not for csv, a quote or a NUL (csv's own cases): such a
# RECORD is read by the csv module.
_CSV_ONLY = ('"', "\0", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
# In the names joined by \n: an absolute, dotted, doubled or folder name somewhere.
_ODD_NAMES = ("/.", "//", "/\n", "\n/", "\n.")


def _split_names(text: str) -> list[str] | None:
    """Each row's first field, as csv.reader gives it, split by hand (pip's and wheel's RECORDs:
    rows end in \r\n, no quotes); None when the text needs the csv module."""
    if any(map(text.__contains__, _CSV_ONLY)) or text.count("\r") != text.count("\r\n"):
        return None  # (a lone CR is an error to csv: it says where the RECORD broke off)
    lines = text.splitlines()  # rows end at \n or \r\n, as csv's do
    if lines and max(map(len, lines)) > csv.field_size_limit():
        return None  # csv refuses such a field: _csv_paths says where it broke off
    return [line.partition(",")[0] for line in lines]


def _named_paths(names: Iterable[str], site: str) -> list[str]:
    paths: list[str] = []
    seen: set[str] = set()
    for name in names:
        if not name or name.startswith("/") or "\0" in name:
            continue
        if "." in name[:1] or "/." in name or "//" in name or name.endswith("/"):
            path = posixpath.normpath(f"{site}/{name}")  # `../bin/x`, `./x`, `a//b`: made plain
        else:
            path = f"{site}/{name}"  # already plain: most rows
        if path.startswith(site + "/") and path not in seen:
            seen.add(path)
            paths.append(path)
    return paths


def _csv_paths(text: str, site: str) -> tuple[list[str], bool]:
    names: list[str] = []
    broken = False
    try:
        for row in csv.reader(io.StringIO(text)):
            names.append(row[0] if row else "")
    except csv.Error:
        broken = True  # a malformed or over-long field: what came before it still counts
    return _named_paths(names, site), broken


def _dist_info_files(view: Mapping[str, int], folders: set[str]) -> dict[str, list[str]]:
    """Files under each `.dist-info` folder of the view, in one pass over it."""
    found: dict[str, list[str]] = {folder: [] for folder in folders}
    for path in view:
        if ".dist-info/" not in path:
            continue
        folder = path.rpartition("/")[0]
        if folder in found:
            found[folder].append(path)
    return found


def measure(
    records: Mapping[str, tuple[bytes, bool]],
    layers: Mapping[str, int],
    view: Mapping[str, int],
) -> list[Distribution]:
    """Distributions from RECORD contents (index path → (bytes, cut short)) against the final view."""
    folders = {"/" + path.rpartition("/")[0] for path in records}
    extra = _dist_info_files(view, folders)
    dists = []
    for path, (data, cut) in records.items():
        site = "/" + (site_of(path) or "")
        folder = "/" + path.rpartition("/")[0]
        listed, broken = record_paths(data, site)
        files = set(listed) | set(extra.get(folder, ()))
        present = [p for p in files if p in view]
        name, version = split_dist_info(folder.rpartition("/")[2])
        dists.append(
            Distribution(
                name=name,
                version=version,
                size_bytes=sum(view[p] for p in present),
                files=len(present),
                layer=layers[path],
                site=site,
                missing_files=len(files) - len(present),
                truncated=cut or broken,
            )
        )
    dists.sort(key=lambda d: (-d.size_bytes, d.key, d.site))
    return dists


def site_bytes(view: Mapping[str, int], records: Mapping[str, int]) -> dict[str, int]:
    """Site folder (index spelling) → bytes the image holds below it, for the folders of `records`."""
    totals = {site: 0 for path in records if (site := site_of(path)) is not None}
    for path, size in view.items():
        head, found, _ = path.partition("-packages/")
        site = head[1:] + "-packages"
        if found and site in totals:
            totals[site] += size
    return totals


def site_view(indexes: Sequence[Sequence[Entry]]) -> dict[str, int]:
    """The final view (`/path` → size) of the site folders alone, whiteouts applied: what the
    table needs, without holding a path for every file of a big image."""
    return final_view(
        [(e.path, e.size, e.is_dir) for e in entries if "-packages/" in e.path or ".wh." in e.path]
        for entries in indexes
    )


def read_dependencies(
    image: Image, indexes: Sequence[Sequence[Entry]], view: Mapping[str, int] | None = None
) -> Dependencies:
    """The distributions an image shows; `view` is its final file view (`/path` → size) when the
    caller has it already, else the site folders' own is made."""
    if view is None:
        view = site_view(indexes)
    return read_listed(image, record_layers(indexes), view)


def read_listed(
    image: Image, records: Mapping[str, int], view: Mapping[str, int], offsets: dict[str, int] | None = None
) -> Dependencies:
    """The distributions from `record_layers` and a view holding at least the site folders: all
    a table needs from the layer indexes (the warm-analysis record keeps just these).

    `offsets` (RECORD path → where its bytes start in its layer on disk) are tried before walking
    a layer, and what this read finds is added to them, for the warm-analysis record to keep."""
    from boxwise.analyze.layerfiles import read_files

    layers = {path: n for path, n in records.items() if "/" + path in view}
    notes: list[str] = []
    if len(layers) > MAX_DISTRIBUTIONS:
        notes.append(f"{len(layers)} distributions; only the first {MAX_DISTRIBUTIONS} by path are read")
        layers = dict(sorted(layers.items())[:MAX_DISTRIBUTIONS])
    contents, wanted = _cached(image, layers)
    found, read_notes = read_files(image, wanted, folders=site_bytes(view, layers), hints=offsets)
    if offsets is not None:
        offsets.update({path: item.offset for path, item in found.items() if item.offset is not None})
    _keep(image, wanted, found)
    contents.update(found)
    notes += read_notes
    unread = len(layers) - len(contents)
    if unread:
        notes.append(f"{unread} RECORD file(s) could not be read; their distributions are not listed")
    texts = {path: (item.data, item.truncated) for path, item in contents.items()}
    return Dependencies(measure(texts, layers, view), notes)


def _cached(image: Image, layers: Mapping[str, int]) -> tuple[dict[str, FileBytes], dict[int, list[str]]]:
    """(RECORDs the cache holds for their layer, layer → RECORD paths still to read)."""
    from boxwise.analyze.layerfiles import FileBytes
    from boxwise.analyze.recordcache import RecordCache

    cache, by_layer = RecordCache(), {}
    found: dict[str, FileBytes] = {}
    wanted: dict[int, list[str]] = {}
    for path, number in layers.items():
        if number not in by_layer:
            by_layer[number] = cache.get(image.layers[number].diff_id)
        if path in by_layer[number]:
            found[path] = FileBytes(by_layer[number][path])
        else:
            wanted.setdefault(number, []).append(path)
    return found, wanted


def _keep(image: Image, wanted: Mapping[int, list[str]], found: Mapping[str, FileBytes]) -> None:
    from boxwise.analyze.recordcache import RecordCache

    # Only what the engine gave: it holds a layer under its diff_id because the bytes hash to it.
    # An archive or a registry names its own diff_ids, and RECORDs read without hashing the whole
    # layer would let a forged layer poison the figures of a real image that shares the diff_id.
    if image.source != "docker":
        return
    cache = RecordCache()
    for number, paths in wanted.items():
        cache.put(image.layers[number].diff_id, {p: found[p] for p in paths if p in found})
