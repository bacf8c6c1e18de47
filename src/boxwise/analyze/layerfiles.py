"""The bytes of a few named files of an image, read bounded: what the analysis needs beyond tar headers.

A layer's file index holds headers only; a few small files (a distribution's RECORD) need their
contents. A layer with a byte source (docker-archive, OCI layout, registry) is streamed once and
only the named members are read, stopping as soon as all are found. An engine image's layers come
from the engine's records or the index cache, without bytes: those files are read through a
container created from the image (by its ID) and never started, with the engine's archive API,
one file at a time (each call mounts the container's filesystem: ~80 ms), or, where that costs
more, the whole folder holding them streamed once (headers only, skipping all other contents).

Every file is cut at `limit` bytes and all of them together at `budget`: the image is untrusted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from boxwise.errors import UserError
from boxwise.image.model import REGULAR_TYPES, Image, Layer

if TYPE_CHECKING:
    from boxwise.image.streams import FileSection

MAX_FILE_BYTES = 8 << 20
MAX_TOTAL_BYTES = 64 << 20
# one archive call costs about as much as streaming this many bytes of a folder (measured on a
# local engine: ~80 ms a call, ~150 MB/s a stream)
CALL_BYTES = 12_000_000


@dataclass(frozen=True)
class FileBytes:
    """The first bytes of one file; `truncated` when the file was longer than the limit allowed."""

    data: bytes
    truncated: bool = False
    # where the data starts in its layer's tar, when that layer is a section of a file on disk
    offset: int | None = None


@dataclass
class _Budget:
    left: int

    def take(self, size: int, limit: int) -> int:
        amount = max(0, min(size, limit, self.left))
        self.left -= amount
        return amount


def read_files(
    image: Image,
    wanted: Mapping[int, Collection[str]],
    limit: int = MAX_FILE_BYTES,
    budget: int = MAX_TOTAL_BYTES,
    folders: Mapping[str, int] | None = None,
    hints: Mapping[str, int] | None = None,
) -> tuple[dict[str, FileBytes], list[str]]:
    """({path: bytes} of the files found, notes on what could not be read).

    `wanted` maps a layer index to paths as the file index spells them (`usr/lib/x`, no leading
    `/`); a path is read from that layer's own tar, so it must be the layer that holds the version
    the image shows. `folders` (folder → bytes the image holds below it) lets an engine image's
    files under one of them be read by streaming that folder once, when that is cheaper. `hints`
    (path → the `offset` an earlier read returned) are tried first; a hint whose header does not
    name that path is dropped and the layer streamed as without it.
    """
    found: dict[str, FileBytes] = {}
    notes: list[str] = []
    left = _Budget(budget)
    engine_paths: list[str] = []
    for number in sorted(wanted):
        paths = set(wanted[number])
        if not paths or number >= len(image.layers):
            continue
        layer = image.layers[number]
        if layer.opener is not None:
            found.update(_from_layer(layer, paths, limit, left, hints or {}))
        elif image.source == "docker":
            engine_paths += sorted(paths)
        else:
            notes.append(f"layer {number}: no bytes to read {len(paths)} file(s) from")
    if engine_paths:
        try:
            found.update(_from_engine(image, engine_paths, limit, left, folders or {}))
        except UserError as exc:
            notes.append(str(exc))
    if left.left <= 0:
        notes.append(f"stopped reading after {budget} bytes in all; the rest is not counted")
    return found, notes


def _from_layer(
    layer: Layer, paths: set[str], limit: int, left: _Budget, hints: Mapping[str, int]
) -> dict[str, FileBytes]:
    from boxwise.image.streams import FileSection, decompressed, file_reader
    from boxwise.image.tarindex import iter_entries

    assert layer.opener is not None
    what = layer.location or layer.diff_id
    found: dict[str, FileBytes] = {}
    with layer.opener() as handle:
        fast = getattr(handle, "reader", None)  # a section of an archive on disk
        source = decompressed(fast() if fast else file_reader(handle), what)
        section = source if isinstance(source, FileSection) else None
        if section is not None:
            for path in sorted(paths & hints.keys()):
                item = _at_offset(section, path, hints[path], what, limit, left)
                if item is not None:
                    found[path] = item
            if len(found) == len(paths):
                return found
            section.pos = 0
        for entry in iter_entries(source, what):
            if entry.path not in paths or entry.path in found or entry.typeflag not in REGULAR_TYPES:
                continue
            offset = section.pos if section is not None else None
            amount = left.take(entry.size, limit)
            found[entry.path] = FileBytes(source.read(amount), amount < entry.size, offset)
            if len(found) == len(paths):
                break  # the rest of the layer is never decompressed
    return found


def _at_offset(
    section: FileSection, path: str, offset: int, what: str, limit: int, left: _Budget
) -> FileBytes | None:
    """The file `path` whose data an earlier read found at `offset`, when the header just before
    it still says so; else None. The bytes are this layer's own: a hint only saves the walk."""
    from boxwise.image.tarindex import BLOCK, iter_entries

    if offset < BLOCK or offset % BLOCK or offset > section.length:
        return None
    section.pos = offset - BLOCK
    try:
        entry = next(iter_entries(section, what), None)
    except UserError:  # not a header there (another archive's hint): walk the layer instead
        return None
    if entry is None or entry.path != path or entry.typeflag not in REGULAR_TYPES or section.pos != offset:
        return None
    amount = left.take(entry.size, limit)
    return FileBytes(section.read(amount), amount < entry.size, offset)


def _plan_engine(paths: list[str], folders: Mapping[str, int]) -> list[tuple[str | None, list[str]]]:
    """(folder to stream, its paths) where streaming it costs less than a call per file, and
    (None, [path]) for each file read alone."""
    groups: dict[str, list[str]] = {}
    alone: list[str] = []
    for path in paths:
        folder = next((f for f in folders if path.startswith(f + "/")), None)
        if folder is None:
            alone.append(path)
        else:
            groups.setdefault(folder, []).append(path)
    plan: list[tuple[str | None, list[str]]] = []
    for folder, members in groups.items():
        if folders[folder] < len(members) * CALL_BYTES:
            plan.append((folder, members))
        else:
            alone += members
    return plan + [(None, [path]) for path in alone]


def _from_engine(
    image: Image, paths: list[str], limit: int, left: _Budget, folders: Mapping[str, int]
) -> dict[str, FileBytes]:
    """Files of an engine image through a created (never started) container of it."""
    import docker

    image_id = str((image.manifest.get("config") or {}).get("digest") or "")
    if not image_id.startswith("sha256:"):
        raise UserError(f"{image.ref}: no image ID to read dependency records from")
    try:
        client = docker.from_env()
        # an entrypoint that cannot exist: a create needs a command, and this one is never run
        container = client.containers.create(
            image_id, entrypoint=["/boxwise-never-started"], network_disabled=True
        )
    except docker.errors.DockerException as exc:
        raise UserError(f"{image.ref}: cannot read dependency records ({type(exc).__name__})") from None
    found: dict[str, FileBytes] = {}
    try:
        for folder, members in _plan_engine(paths, folders):
            if left.left <= 0:
                break
            try:
                chunks, _stat = container.get_archive("/" + (folder or members[0]))
            except docker.errors.NotFound:
                continue
            # the archive names entries from the basename of what was asked for
            parent = (folder or members[0]).rpartition("/")[0]
            found.update(
                _members(chunks, parent, set(members), f"{image.ref}: /{folder or members[0]}", limit, left)
            )
    except docker.errors.DockerException as exc:
        raise UserError(f"{image.ref}: cannot read dependency records ({type(exc).__name__})") from None
    finally:
        with contextlib.suppress(docker.errors.DockerException):  # gone already
            container.remove(force=True)
        client.close()
    return found


def _members(
    chunks: Iterator[bytes], parent: str, paths: set[str], what: str, limit: int, left: _Budget
) -> dict[str, FileBytes]:
    """The named regular files of an archive stream whose names are relative to `parent`."""
    from boxwise.image.tarindex import chunk_stream, iter_entries

    found: dict[str, FileBytes] = {}
    try:
        source = chunk_stream(iter(chunks))
        for entry in iter_entries(source, what):
            path = f"{parent}/{entry.path}" if parent else entry.path
            if path not in paths or entry.typeflag not in REGULAR_TYPES:
                continue
            amount = left.take(entry.size, limit)
            found[path] = FileBytes(source.read(amount), amount < entry.size)
            if len(found) == len(paths):
                break
        return found
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # the rest of the stream is never read
