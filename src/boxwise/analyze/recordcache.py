"""RECORD contents by the diff_id of the layer that holds them, under the user cache folder.

A layer's bytes never change for its diff_id, so a RECORD read from it once (an engine image's
dependency layer, a registry baseline's layer that would be downloaded again) is kept. The entry
format follows the layer-index cache: a header with a checksum of the body, written atomically,
and an entry that fails to parse or check is deleted, never trusted. Only whole RECORDs are kept
(one cut at the read limit is read again next time).
"""

from __future__ import annotations

import json
from pathlib import Path

from boxwise.analyze.layerfiles import FileBytes
from boxwise.image.cache import cache_root, checked_body, read_trusted, signed, store_entry
from boxwise.image.digest import is_digest

FORMAT = "boxwise-records/1"


class RecordCache:
    """{RECORD path: its bytes} per layer diff_id. A cache that cannot be written is not used."""

    def __init__(self, root: Path | None = None) -> None:
        self.folder = (root or cache_root()) / "records"

    def _path(self, diff_id: str) -> Path | None:
        return self.folder / diff_id.replace(":", "-") if is_digest(diff_id) else None

    def get(self, diff_id: str) -> dict[str, bytes]:
        return read_trusted(self._path(diff_id), lambda data: _decode(data, diff_id)) or {}

    def put(self, diff_id: str, found: dict[str, FileBytes]) -> None:
        path = self._path(diff_id)
        whole = {name: item.data for name, item in found.items() if not item.truncated}
        if path is None or not whole:
            return
        records = {**self.get(diff_id), **whole}
        body = json.dumps(
            {name: data.decode("utf-8", "surrogateescape") for name, data in records.items()}
        ).encode()
        store_entry(path, signed(FORMAT, "diff_id", diff_id, body))


def _decode(data: bytes, diff_id: str) -> dict[str, bytes] | None:
    body = checked_body(data, FORMAT, "diff_id", diff_id)
    if body is None:
        return None
    try:
        records = json.loads(body)
        if not isinstance(records, dict) or not all(isinstance(v, str) for v in records.values()):
            return None
        return {name: text.encode("utf-8", "surrogateescape") for name, text in records.items()}
    except (ValueError, UnicodeError):
        return None
