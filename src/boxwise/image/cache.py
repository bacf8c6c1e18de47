"""Per-layer file index cache, keyed by diff_id, under the user cache folder.

A base layer shared by many images is read once across runs. An entry is one file written to a
temporary name and renamed into place (atomic); it carries a checksum of its own body, and an
entry that fails to parse or check is deleted and rebuilt, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from boxwise.atomicfile import remove_stale_temporaries, write_atomically
from boxwise.image.digest import is_digest
from boxwise.image.model import Entry, index_columns, index_from_columns

T = TypeVar("T")

FORMAT = "boxwise-layer-index/4"  # /3: entries without uid and gid; /4: in columns


def cache_root() -> Path:
    """`$XDG_CACHE_HOME/boxwise` (default `~/.cache/boxwise`)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "boxwise"


class IndexCache:
    """Layer indexes by diff_id. A cache that cannot be written is simply not used."""

    def __init__(self, root: Path | None = None) -> None:
        self.folder = (root or cache_root()) / "layer-index"
        self._swept = False
        self._held: list[tuple[Path, str, str, list[Entry]]] | None = None

    def hold_writes(self) -> None:
        """Keep the indexes put from now on in memory until write_held(): a cold inspect has a
        forked child write them while this process goes on measuring (6 ms of the s2i image)."""
        self._held = []

    def write_held(self) -> None:
        """Write what was held (in whichever process calls this), and write at once again."""
        held, self._held = self._held or [], None
        for path, key_name, key, entries in held:
            self._store(path, key_name, key, entries)

    def _sweep(self) -> None:
        """Once per run, before the first write: the temporary files of writers that were killed."""
        if not self._swept:
            self._swept = True
            for folder in (self.folder, self.folder.parent / "config", self.folder.parent / "file-index"):
                remove_stale_temporaries(folder)

    def _path(self, diff_id: str) -> Path | None:
        if not is_digest(diff_id):
            return None
        return self.folder / diff_id.replace(":", "-")

    def has(self, diff_id: str) -> bool:
        path = self._path(diff_id)
        return path is not None and path.is_file()

    def get(self, diff_id: str) -> list[Entry] | None:
        return _read_trusted(self._path(diff_id), lambda data: _decode(data, diff_id, "diff_id"))

    def put(self, diff_id: str, entries: list[Entry]) -> None:
        self._store(self._path(diff_id), "diff_id", diff_id, entries)

    def _store(self, path: Path | None, key_name: str, key: str, entries: list[Entry]) -> None:
        if path is None:
            return
        if self._held is not None:
            self._held.append((path, key_name, key, entries))
            return
        self._sweep()
        # marshal: the fastest stdlib (de)serialiser by far; the body is only loaded after its
        # sha256 matches, so a damaged entry is never handed to it
        # in columns (a list each of paths, sizes, types, modes, links): made and written in
        # half the time of a tuple per entry, the same kept
        body = marshal.dumps(index_columns(entries))
        store_entry(path, signed(FORMAT, key_name, key, body))

    def _placed_path(self, place: str) -> Path | None:
        return self.folder.parent / "file-index" / place.replace(":", "-") if is_digest(place) else None

    def get_placed(self, place: str) -> list[Entry] | None:
        """The index read earlier from these very bytes on this disk (a place key), if any."""
        return _read_trusted(self._placed_path(place), lambda data: _decode(data, place, "place"))

    def has_placed(self, place: str | None) -> bool:
        path = self._placed_path(place) if place is not None else None
        return path is not None and path.is_file()

    def put_placed(self, place: str, entries: list[Entry]) -> None:
        """An index read without hashing the layer: kept under its place, never under a diff_id."""
        self._store(self._placed_path(place), "place", place, entries)

    def _config_path(self, digest: str) -> Path | None:
        if not is_digest(digest):
            return None
        return self.folder.parent / "config" / digest.replace(":", "-")

    def get_config(self, digest: str) -> bytes | None:
        """An image config by its digest (the image ID), only if its bytes still hash to it."""
        return _read_trusted(
            self._config_path(digest),
            lambda data: data if "sha256:" + hashlib.sha256(data).hexdigest() == digest else None,
        )

    def put_config(self, digest: str, data: bytes) -> None:
        path = self._config_path(digest)
        if path is None or "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            return
        store_entry(path, data)


def signed(fmt: str, key_name: str, key: str, body: bytes) -> bytes:
    """A cache entry: a JSON header naming its format, its key and its body's sha256, then the body."""
    header = {"format": fmt, key_name: key, "sha256": hashlib.sha256(body).hexdigest()}
    return json.dumps(header).encode() + b"\n" + body


def checked_body(data: bytes, fmt: str, key_name: str, key: str) -> bytes | None:
    """The body of an entry `signed` wrote for this format and key, or None when it is not one
    (another format, another key, a body that no longer hashes to its header): never trusted."""
    header, sep, body = data.partition(b"\n")
    if not sep:
        return None
    try:
        meta = json.loads(header)
    except ValueError:
        return None
    if (
        not isinstance(meta, dict)
        or meta.get("format") != fmt
        or meta.get(key_name) != key
        or meta.get("sha256") != hashlib.sha256(body).hexdigest()
    ):
        return None
    return body


def read_trusted(path: Path | None, decode: Callable[[bytes], T | None]) -> T | None:
    return _read_trusted(path, decode)


def store_entry(path: Path, data: bytes) -> None:
    """Write a cache entry atomically; a read-only or full cache folder costs speed, never correctness."""
    with contextlib.suppress(OSError):
        write_atomically(path, data, mode=0o644)


def _read_trusted(path: Path | None, decode: Callable[[bytes], T | None]) -> T | None:
    """A cache entry decoded, or None. An entry `decode` rejects (corrupt or foreign) is never
    trusted: it is removed so the next run rebuilds it."""
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    value = decode(data)
    if value is None:
        with contextlib.suppress(OSError):
            path.unlink()
    return value


def _decode(data: bytes, key: str, key_name: str) -> list[Entry] | None:
    body = checked_body(data, FORMAT, key_name, key)
    if body is None:
        return None
    try:
        return index_from_columns(marshal.loads(body))  # what put() wrote: format and checksum matched
    except (ValueError, TypeError, EOFError):
        return None
