"""Where the files of an image container live: a folder, or a tar read in place.

A tar is walked once, header by header (its members' data are skipped by seeking), into a table
of member offsets; a member is then read with pread from that offset. Nothing is extracted.
"""

from __future__ import annotations

import io
import os
import posixpath
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from boxwise.errors import UserError
from boxwise.image.tarindex import Reader, file_section, iter_entries

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from boxwise.image.model import BlobReader

MAX_JSON = 64 << 20  # a manifest, index or config larger than this is not one
RACY_NS = 1_000_000_000  # a file changed more recently gets no place key (see place_key)


class SectionIO(io.RawIOBase):
    """Bytes [offset, offset+length) of a file, as a seekable read-only file object."""

    def __init__(self, path: str | Path, offset: int, length: int) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._offset = offset
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        size = min(len(view), self._length - self._pos)
        if size <= 0:
            return 0
        data = os.pread(self._fd, size, self._offset + self._pos)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def read(self, size: int = -1, /) -> bytes:
        return super().read(size) or b""  # None only from a non-blocking readinto, which this is not

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def reader(self) -> Reader:
        """A tar-index reader over the same bytes: pread with read-ahead, free skips."""
        return file_section(self._fd, self._offset + self._pos, self._length - self._pos)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


@dataclass(frozen=True)
class _Member:
    offset: int
    size: int
    typeflag: str
    linkname: str


class Store:
    """Named files of an image container (`manifest.json`, `blobs/sha256/…`)."""

    label: str

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def open(self, name: str) -> BlobReader:
        raise NotImplementedError

    def place(self, name: str) -> str | None:
        """Where a member's bytes sit on this machine's disk, as a digest-shaped key (see `place_key`),
        or None when it cannot be told. Computed afresh on each call: a changed file has a new one."""
        return None

    def read(self, name: str) -> bytes:
        if not self.exists(name):
            raise UserError(f"{self.label}: '{name}' is missing; the image is incomplete, save it again")
        if self.size(name) > MAX_JSON:
            raise UserError(f"{self.label}: '{name}' is {self.size(name)} bytes, too large for metadata")
        with self.open(name) as handle:
            return handle.read()


class DirStore(Store):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    def _path(self, name: str) -> Path:
        cleaned = posixpath.normpath(name)
        outside = cleaned.startswith(("../", "/")) or cleaned == ".."
        path = self.root / cleaned
        if not outside:
            # a symlink in the folder (`manifest.json -> /etc/…`) must not lead out of it either
            real, top = os.path.realpath(path), os.path.realpath(self.root)
            outside = not real.startswith(top.rstrip(os.sep) + os.sep)
        if outside:
            raise UserError(f"{self.label}: '{name}' points outside the image folder; the image is not safe")
        return path

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def open(self, name: str) -> BlobReader:
        return open(self._path(name), "rb")

    def place(self, name: str) -> str | None:
        path = self._path(name)
        try:
            return place_key(os.path.realpath(path), os.stat(path), 0, -1)
        except OSError:
            return None


class TarStore(Store):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        self.members: dict[str, _Member] = {}
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise UserError(f"{path}: cannot read it ({exc.strerror})") from None
        try:
            total = os.fstat(fd).st_size
            if os.pread(fd, 2, 0) == b"\x1f\x8b":
                raise UserError(
                    f"{path}: a gzip-compressed archive; gunzip it first (docker save writes plain tar)"
                )
            source = file_section(fd, 0, total)
            for entry in iter_entries(source, str(path)):
                self.members[entry.path] = _Member(source.pos, entry.size, entry.typeflag, entry.linkname)
        finally:
            os.close(fd)

    def _resolve(self, name: str) -> _Member | None:
        name = posixpath.normpath(name)
        for _ in range(16):  # docker save links repeated layers: `<id>/layer.tar -> ../<id2>/layer.tar`
            member = self.members.get(name)
            if member is None:
                return None
            if member.typeflag == "2":
                name = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
            elif member.typeflag == "1":
                name = posixpath.normpath(member.linkname)
            else:
                return member if member.typeflag in ("0", "\x00", "7") else None
        return None

    def exists(self, name: str) -> bool:
        return self._resolve(name) is not None

    def size(self, name: str) -> int:
        member = self._resolve(name)
        return member.size if member else 0

    def open(self, name: str) -> BlobReader:
        member = self._resolve(name)
        if member is None:
            raise UserError(f"{self.label}: '{name}' is missing; the image is incomplete, save it again")
        if member.offset + member.size > self.path.stat().st_size:
            raise UserError(f"{self.label}: '{name}' is cut short; the archive is truncated, save it again")
        return SectionIO(self.path, member.offset, member.size)

    def place(self, name: str) -> str | None:
        member = self._resolve(name)
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return (
            None
            if member is None
            else place_key(os.path.realpath(self.path), status, member.offset, member.size)
        )


def place_key(real_path: str, status: os.stat_result, offset: int, length: int) -> str | None:
    """A key for bytes on a local disk: the file (real path, device, inode), its size and its
    modification and change times, and the byte range. Writing to the file, replacing it or
    touching it changes a time (the change time cannot be set back), so an index cached under this
    key was read from exactly these bytes: it is trusted for this file only, never for a diff_id
    (see image.layer_index).

    File times tick coarsely (a jiffy on local Linux file systems, more on some network ones), so
    a file changed less than RACY_NS ago could change again without its times moving: it gets no
    key, and is read afresh (and hashed) until it has been still that long (git's "racy" index
    entries, the same rule)."""
    import hashlib

    if time.time_ns() - max(status.st_mtime_ns, status.st_ctime_ns) < RACY_NS:
        return None
    fields = (real_path, status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns,
              status.st_ctime_ns, offset, length)  # fmt: skip
    return "sha256:" + hashlib.sha256(repr(fields).encode()).hexdigest()


def open_store(path: Path) -> Store:
    if path.is_dir():
        return DirStore(path)
    return TarStore(path)
