"""`docker://` without `docker save`: the local engine's own records of an image.

`docker save` writes nothing it computes afresh: the config is the file named by the image ID in
`<root>/image/<driver>/imagedb/content/sha256/`, and each layer tar is reassembled from the
layer's tar-split record (`layerdb/sha256/<chain ID>/tar-split.json.gz`: every byte of the tar
outside file contents, verbatim, and each file's size) plus the file contents from the layer's
folder. The file index needs only the headers, so reading the tar-split record gives exactly the
headers `docker save` would stream, without the engine reading and writing every file.

Everything is checked against the digests `docker inspect` gave: the config must hash to the image
ID, its diff_ids must be the inspected ones, and each layer's record must state that diff_id
(a record is found by chain ID, itself a digest of the diff_ids below it). The diff_id is the
digest of the whole layer tar, headers included, so a record stating it describes that tar.
Anything missing, unreadable or not as expected gives None: the caller streams `docker save`.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from boxwise.errors import DamagedImage
from boxwise.image.cache import IndexCache
from boxwise.image.digest import is_digest
from boxwise.image.mediatypes import DOCKER_LAYER
from boxwise.image.model import Entry, Image, Layer, diff_ids, docker_manifest, layer_commands, load_json
from boxwise.image.tarindex import Reader, iter_entries

_SEGMENT, _FILE = 2, 1  # tar-split entry types: raw tar bytes, a file's contents (by size)


def chain_ids(ids: list[str]) -> list[str]:
    """The OCI chain ID of each layer: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
    chains: list[str] = []
    for diff_id in ids:
        if chains:
            diff_id = "sha256:" + hashlib.sha256(f"{chains[-1]} {diff_id}".encode()).hexdigest()
        chains.append(diff_id)
    return chains


def _records(lines: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """(raw bytes, file size) of each tar-split entry. The JSON lines are parsed ~1 MiB at a time
    as one array: a `json.loads` per line would cost more than the rest of the read."""
    a2b = binascii.a2b_base64
    rest = b""
    while True:
        chunk = lines.read(1 << 20)
        batch = (rest + chunk).split(b"\n")
        rest = batch.pop() if chunk else b""
        batch = [line for line in batch if line]
        if batch:
            for record in json.loads(b"[" + b",".join(batch) + b"]"):
                kind = record.get("type")
                if kind == _SEGMENT:
                    yield a2b(record.get("payload") or ""), 0
                elif kind == _FILE:
                    size = record.get("size") or 0
                    if type(size) is not int or size < 0:
                        raise ValueError("bad file size in tar-split record")
                    yield b"", size
                else:
                    raise ValueError(f"unknown tar-split entry type {kind!r}")
        if not chunk:
            return


class _TarSplit:
    """The tar a tar-split record describes, as a byte source: file contents are holes of their
    size, skipped without ever being read (reading inside one gives zeros, never file bytes)."""

    def __init__(self, records: Iterator[tuple[bytes, int]]) -> None:
        self._records = records
        self._data = b""  # the rest of the current raw segment
        self._hole = 0  # bytes left of the current file's contents
        self.ended = False  # the record ran out (a layer tar ends with zero blocks before that)

    def _next(self) -> bool:
        for data, hole in self._records:
            if data or hole:
                self._data, self._hole = data, hole
                return True
        self.ended = True
        return False

    def read(self, size: int) -> bytes:
        if not self._data and not self._hole and not self._next():
            return b""
        if self._data:
            head, self._data = self._data[:size], self._data[size:]
            return head
        take = min(size, self._hole)
        self._hole -= take
        return bytes(take)

    def skip(self, size: int) -> int:
        done = 0
        while done < size:
            if not self._data and not self._hole and not self._next():
                break
            if self._data:
                take = min(size - done, len(self._data))
                self._data = self._data[take:]
            else:
                take = min(size - done, self._hole)
                self._hole -= take
            done += take
        return done


def tar_split_index(path: Path, what: str) -> list[Entry]:
    """The file index of the layer tar a tar-split record describes (the same rows as the tar)."""
    with gzip.open(path, "rb") as lines:
        split = _TarSplit(_records(lines))
        entries = list(iter_entries(Reader(split.read, split.skip), what))
    if split.ended:
        raise ValueError(f"{path}: the record stops before the tar's end; it is not a whole layer")
    return entries


def _read_small(path: Path, limit: int = 64 << 20) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path}: larger than any record")
    return data


def read_from_records(
    ref: str,
    inspect: dict[str, Any],
    layer_store: Path,
    cache: IndexCache,
    progress: Callable[[int, int], None] | None = None,
) -> Image | None:
    """The image from the engine's records under `layer_store` (`<root>/image/<driver>`), or None
    when they are not there or not exactly the image `inspect` describes."""
    image_id = str(inspect.get("Id") or "")
    ids = [str(i) for i in (inspect.get("RootFS") or {}).get("Layers") or []]
    if not ids or not all(is_digest(digest) for digest in (image_id, *ids)):
        return None  # also keeps every path below a plain file name
    what = f"docker://{ref.removeprefix('docker://')}"
    try:
        config_bytes = _read_small(layer_store / "imagedb" / "content" / "sha256" / image_id[7:])
        if "sha256:" + hashlib.sha256(config_bytes).hexdigest() != image_id:
            return None
        config = load_json(config_bytes, f"{what}: config")
        if not isinstance(config, dict) or diff_ids(config) != ids:
            return None
        commands = layer_commands(config, len(ids))
        layers = []
        for number, (diff_id, chain_id) in enumerate(zip(ids, chain_ids(ids), strict=True), start=1):
            record = layer_store / "layerdb" / "sha256" / chain_id.removeprefix("sha256:")
            if _read_small(record / "diff", 1024).decode("ascii").strip() != diff_id:
                return None
            entries = cache.get(diff_id)
            if entries is None:
                entries = tar_split_index(record / "tar-split.json.gz", f"{what}: layer {diff_id}")
                cache.put(diff_id, entries)
            layers.append(
                Layer(
                    diff_id,
                    diff_id,
                    DOCKER_LAYER,
                    -1,
                    commands[number - 1],
                    entries=entries,
                    location=diff_id,
                )
            )
            if progress is not None:
                progress(number, len(ids))
    except (OSError, ValueError, EOFError, zlib.error, DamagedImage):
        # gzip.BadGzipFile, json and base64 errors are ValueErrors; `docker save` says what is damaged
        return None
    cache.put_config(image_id, config_bytes)
    return Image(
        ref, docker_manifest(image_id, layers), config, layers, source="docker", config_bytes=config_bytes
    )
