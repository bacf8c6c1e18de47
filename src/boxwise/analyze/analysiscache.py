"""Warm analysis: an image analysed once is answered from one record keyed by its config digest.

The config digest (the image ID) is the sha256 of the config bytes, and the config names every
layer by diff_id, so the layers' contents — and all the figures measured from them — are fixed by
it. The key is always computed here from the config bytes the image was read with, never taken
from a manifest, a name or an engine's answer. What a place says of its layers (blob digests,
compressed sizes, media types, tags) is not in the record: the image read this run gives it.

The entry format follows the layer-index cache: a JSON header (format, config digest, sha256 of
the body) then a marshal body, written atomically; a record that fails any check is deleted and
rebuilt, never trusted. A new FORMAT invalidates every record.

An image whose layers sit in a local file (an archive, a layout) is read without hashing its
layers (image.layer_index), so nothing proves its layers are what its config names: its record is
kept under a key of the config digest and the files' place keys, which only the same unchanged
files ask for. A record under the bare config digest (from the engine or a registry, whose layers
are checked) answers for any place with that config, as the layer-index cache does by diff_id.

The dependency table itself is not kept under a config digest: an archive's or a registry's
RECORD files are read without hashing their whole layer (see dependencies._keep), so a table made
from them must not answer for the image's config. Under a place key it is kept: it was read from
those very files, unchanged since, as the figures were (a warm inspect of an archive then reads
nothing but the record: 20 ms of its ~90). Otherwise the record keeps what the table needs from
the layer indexes (where the RECORDs are, the site folders' files and sizes) and, for layers that
are sections of a file on disk, where each RECORD's bytes start: a warm run reads only the RECORD
files again (an engine image's from the RECORD cache), each in place after checking the tar
header before it names that file — the bytes are always the image's own, an offset only saves
walking the layer.
"""

from __future__ import annotations

import hashlib
import marshal
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from boxwise.analyze.dependencies import Dependencies, Distribution
from boxwise.analyze.efficiency import Accounting, FileWaste, Measures
from boxwise.atomicfile import remove_stale_temporaries
from boxwise.image.cache import cache_root, checked_body, read_trusted, signed, store_entry
from boxwise.image.model import Image

FORMAT = "boxwise-analysis/3"


@dataclass
class Record:
    measures: Measures
    records: dict[str, int]  # RECORD path → layer holding it (dependencies.record_layers)
    site: dict[str, int]  # the site folders' final view (dependencies.site_view)
    offsets: dict[str, int]  # RECORD path → its data's offset in its layer tar, where known
    table: Dependencies | None = None  # the dependency table, kept under a place key only


def config_key(image: Image) -> str | None:
    """The image's config digest computed from its config bytes; None when the place gave no
    bytes or the manifest names another config (then nothing is read or stored)."""
    if image.config_bytes is None:
        return None
    digest = "sha256:" + hashlib.sha256(image.config_bytes).hexdigest()
    named = (image.manifest.get("config") or {}).get("digest")
    return digest if named in (None, "", digest) else None


def place_key(image: Image) -> str | None:
    """The config digest and where each layer's bytes sit on disk, as one key; None when a layer
    is in a file that changed a moment ago (store.place_key), or when no layer is in a file."""
    config = config_key(image)
    places = [layer.place() for layer in image.layers if layer.place is not None]
    if config is None or not places or None in places:
        return None
    return "sha256:" + hashlib.sha256(repr((config, places)).encode()).hexdigest()


def _in_files(image: Image) -> bool:
    return any(layer.place is not None for layer in image.layers)


class AnalysisCache:
    """Records by config digest. A cache folder that cannot be written is simply not used."""

    def __init__(self, root: Path | None = None) -> None:
        self.folder = (root or cache_root()) / "analysis"
        self._swept = False

    def _path(self, key: str) -> Path:
        return self.folder / key.replace(":", "-")

    def get(self, image: Image) -> Record | None:
        for key_name, key in (("config", config_key(image)), ("place", place_key(image))):
            if key is not None:
                found = read_trusted(
                    self._path(key), partial(_decode, key=key, key_name=key_name, layers=len(image.layers))
                )
                if found is not None:
                    return found
        return None

    def keeps_table(self, image: Image) -> bool:
        """Whether this image's record keeps its dependency table (a place key: see above)."""
        return _in_files(image)

    def put(self, image: Image, record: Record) -> None:
        # layers read from files were not hashed: such a record never goes under the config alone
        key_name, key = ("place", place_key(image)) if _in_files(image) else ("config", config_key(image))
        if key is None or len(record.measures.sizes) != len(image.layers):
            return
        if not self._swept:  # once per run: temporaries of writers that were killed
            self._swept = True
            remove_stale_temporaries(self.folder)
        body = marshal.dumps(_encode(record, with_table=key_name == "place"))
        store_entry(self._path(key), signed(FORMAT, key_name, key, body))


def _accounting(acct: Accounting) -> tuple[Any, ...]:
    return (acct.efficiency, acct.wasted_bytes, acct.user_wasted_percent, list(map(tuple, acct.files)))


def _encode(record: Record, with_table: bool) -> tuple[Any, ...]:
    m = record.measures
    largest = [[tuple(f) for f in layer] for layer in m.largest]
    head = (m.sizes, largest, _accounting(m.dive), _accounting(m.exact))
    table = record.table if with_table else None
    if table is None:
        return (*head, record.records, record.site, record.offsets, None)
    rows = [
        (d.name, d.version, d.size_bytes, d.files, d.layer, d.site, d.missing_files, d.truncated)
        for d in table.distributions
    ]
    # with the table kept, what it was made from (thousands of site files) need not be
    return (*head, {}, {}, {}, (rows, list(table.notes)))


def _table(kept: Any, key_name: str) -> Dependencies | None:
    if kept is None or key_name != "place":  # never trusted under a bare config digest
        return None
    rows, notes = kept
    return Dependencies(
        [
            Distribution(str(a), str(b), int(c), int(d), int(e), str(f), int(g), bool(h))
            for a, b, c, d, e, f, g, h in rows
        ],
        [str(note) for note in notes],
    )


def _decode(data: bytes, key: str, key_name: str, layers: int) -> Record | None:
    body = checked_body(data, FORMAT, key_name, key)
    if body is None:
        return None
    try:
        # loaded only after its checksum matched: a damaged body never reaches marshal
        sizes, largest, dive, exact, records, site, offsets, kept = marshal.loads(body)
        if len(sizes) != layers or len(largest) != layers:
            return None
        measures = Measures(
            sizes=list(sizes),
            largest=[[(str(p), int(s)) for p, s in layer] for layer in largest],
            dive=_account(dive),
            exact=_account(exact),
        )
        if not all(isinstance(table, dict) for table in (records, site, offsets)):
            return None
        return Record(measures, records, site, offsets, _table(kept, key_name))
    except (ValueError, TypeError, EOFError, AttributeError):
        return None


def _account(row: tuple[Any, ...]) -> Accounting:
    efficiency, wasted, ratio, files = row
    new_row = tuple.__new__  # rows are the tuples put() wrote (format and checksum matched)
    return Accounting(float(efficiency), int(wasted), float(ratio), [new_row(FileWaste, f) for f in files])
