"""Reproducible layer tars: the same files give the same bytes, whoever builds them and when.

Rules (see docs/design.md, Reproducible layer tars): entries sorted by path, parent folders
written once before their children, one fixed integer mtime (`SOURCE_DATE_EPOCH`, default
1980-01-01T00:00:01Z as the buildpacks lifecycle does), uid/gid fixed, no user or group names,
no PAX atime/ctime, one tar format (PAX, which only adds records for long or non-ASCII names).
The diff_id (sha256 of the uncompressed tar) is computed while writing.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from boxwise.atomicfile import atomic_path

DEFAULT_EPOCH = 315532801  # 1980-01-01T00:00:01Z
TAR_FORMAT = tarfile.PAX_FORMAT


def source_date_epoch(environ: dict[str, str] | None = None) -> int:
    """The fixed mtime of every entry: `SOURCE_DATE_EPOCH` when it is a whole number, else 1980."""
    value = (environ if environ is not None else os.environ).get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value.isdigit() else DEFAULT_EPOCH


@dataclass(frozen=True)
class LayerBlob:
    """One written layer tar: where it is, its diff_id (`sha256:<hex>`) and its size in bytes."""

    path: Path
    diff_id: str
    size: int


class _HashingWriter:
    """A write-only file object that hashes and counts what goes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.sha.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()


def _normal_mode(mode: int, is_dir: bool) -> int:
    # Only the permission bits travel; group/other get what the owner has, minus write, so a
    # host umask or a checkout's odd modes never change the bytes.
    if is_dir:
        return 0o755
    return 0o755 if mode & 0o111 else 0o644


class LayerWriter:
    """Writes one layer tar entry by entry; call `add_*` in sorted path order, then `close()`.

    Parent folders of every entry are added on the way (once each), so callers only add files.
    """

    def __init__(self, out: BinaryIO, *, mtime: int | None = None, uid: int = 0, gid: int = 0) -> None:
        self._hasher = _HashingWriter(out)
        # typeshed's tarfile.open wants read/tell/seek/close of every fileobj, but a "w|" stream
        # (tarfile._Stream) only ever calls write: the stub is stricter than tarfile.
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=self._hasher,  # type: ignore[call-overload]
            mode="w|",
            format=TAR_FORMAT,
        )
        self.mtime = source_date_epoch() if mtime is None else mtime
        self.uid = uid
        self.gid = gid
        self._dirs: set[str] = set()
        self._names: set[str] = set()
        self._closed = False

    def _info(self, name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.mtime = self.mtime
        info.uid, info.gid = self.uid, self.gid
        info.uname = info.gname = ""
        info.pax_headers = {}
        return info

    def _parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for end in range(1, len(parts) + 1):
            folder = "/".join(parts[:end])
            if folder not in self._dirs:
                self._dirs.add(folder)
                self._tar.addfile(self._info(folder, tarfile.DIRTYPE, 0o755))

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        name = name.strip("/")
        if name in self._dirs:
            return
        self._parents(name)
        self._dirs.add(name)
        self._tar.addfile(self._info(name, tarfile.DIRTYPE, _normal_mode(mode, True)))

    def add_file(self, name: str, data: IO[bytes], size: int, mode: int = 0o644) -> None:
        name = name.strip("/")
        self._parents(name)
        info = self._info(name, tarfile.REGTYPE, _normal_mode(mode, False))
        info.size = size
        self._tar.addfile(info, data)
        self._names.add(name)

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        import io

        self.add_file(name, io.BytesIO(data), len(data), mode)

    def add_symlink(self, name: str, target: str) -> None:
        name = name.strip("/")
        self._parents(name)
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self._tar.addfile(info)
        self._names.add(name)

    def add_hardlink(self, name: str, target: str) -> None:
        name, target = name.strip("/"), target.strip("/")
        self._parents(name)
        info = self._info(name, tarfile.LNKTYPE, 0o644)
        info.linkname = target
        self._tar.addfile(info)
        self._names.add(name)

    def has(self, name: str) -> bool:
        return name.strip("/") in self._names

    def close(self) -> tuple[str, int]:
        """Finish the tar; (diff_id, size)."""
        if not self._closed:
            self._tar.close()
            self._closed = True
        return f"sha256:{self._hasher.sha.hexdigest()}", self._hasher.size


def _write_to(
    dest: Path, fill: Callable[[LayerWriter], None], mtime: int | None, owner: tuple[int, int] = (0, 0)
) -> LayerBlob:
    """Write a layer to `dest` atomically (temp name, then rename) and return its blob."""
    with atomic_path(dest) as tmp, open(tmp, "wb") as out:
        writer = LayerWriter(out, mtime=mtime, uid=owner[0], gid=owner[1])
        fill(writer)
        diff_id, size = writer.close()
    return LayerBlob(dest, diff_id, size)


def write_layer(dest: Path, fill: Callable[[LayerWriter], None], *, mtime: int | None = None) -> LayerBlob:
    """A layer whose entries `fill(writer)` adds (in path order), written atomically to `dest`."""
    return _write_to(dest, fill, mtime)


def _walk_sorted(root: Path, excluded: Callable[[str], bool]) -> Iterable[tuple[str, os.stat_result]]:
    """(relative POSIX path, lstat) of every entry under root, sorted by full path, minus excluded."""
    found: list[tuple[str, os.stat_result]] = []
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root).replace(os.sep, "/")
        rel_folder = "" if rel_folder == "." else rel_folder
        keep_dirs = []
        for name in dirs:
            rel = f"{rel_folder}/{name}" if rel_folder else name
            if excluded(rel):
                continue
            path = os.path.join(folder, name)
            st = os.lstat(path)
            found.append((rel, st))
            if not stat.S_ISLNK(st.st_mode):
                keep_dirs.append(name)
        dirs[:] = keep_dirs
        for name in files:
            rel = f"{rel_folder}/{name}" if rel_folder else name
            if not excluded(rel):
                found.append((rel, os.lstat(os.path.join(folder, name))))
    found.sort(key=lambda item: item[0])
    return found


def write_dir_layer(
    src: Path,
    prefix: str,
    dest: Path,
    *,
    excluded: Callable[[str], bool] = lambda rel: False,
    mtime: int | None = None,
    owner: tuple[int, int] = (0, 0),
    entries: Iterable[tuple[str, os.stat_result]] | None = None,
) -> LayerBlob:
    """A layer holding the folder `src` at `prefix` (e.g. `workspace`), minus `excluded` paths,
    every entry owned by `owner` (uid, gid).

    Sockets, devices and fifos are skipped: they have no place in an image layer. `entries`, when
    given, is the walk to use instead (sorted (relative path, lstat) pairs).
    """
    prefix = prefix.strip("/")

    def fill(writer: LayerWriter) -> None:
        writer.add_dir(prefix)
        for rel, st in entries if entries is not None else _walk_sorted(src, excluded):
            name = f"{prefix}/{rel}"
            if stat.S_ISDIR(st.st_mode):
                writer.add_dir(name, st.st_mode)
            elif stat.S_ISLNK(st.st_mode):
                writer.add_symlink(name, os.readlink(src / rel))
            elif stat.S_ISREG(st.st_mode):
                with open(src / rel, "rb") as data:
                    writer.add_file(name, data, st.st_size, st.st_mode)

    return _write_to(dest, fill, mtime, owner)


def _clean(name: str) -> str:
    return name.removeprefix("./").strip("/")


def normalize_tar(
    source: Path,
    dest: Path,
    *,
    rename: Callable[[str], str | None] = lambda name: name,
    mtime: int | None = None,
    owner: tuple[int, int] = (0, 0),
) -> LayerBlob:
    """Rewrite a tar (e.g. from the engine's get_archive) as a reproducible layer at `dest`, every
    entry owned by `owner` (uid, gid).

    `rename` maps each member name to its path in the layer, or None to leave it out. Hard
    links whose target sorts after them become regular files, so the sorted tar still unpacks.
    """
    with tarfile.open(source, mode="r:") as src:
        members: list[tuple[str, tarfile.TarInfo]] = []
        for member in src.getmembers():
            name = rename(_clean(member.name))
            if name is not None and name.strip("/"):
                members.append((name.strip("/"), member))
        members.sort(key=lambda item: item[0])
        new_names = {_clean(member.name): name for name, member in members}

        def fill(writer: LayerWriter) -> None:
            for name, member in members:
                if member.isdir():
                    writer.add_dir(name, member.mode)
                elif member.issym():
                    writer.add_symlink(name, member.linkname)
                elif member.islnk():
                    target = new_names.get(_clean(member.linkname))
                    if target is not None and writer.has(target):
                        writer.add_hardlink(name, target)
                    else:
                        # The link's header has size 0; the bytes (and size) are its target's.
                        data = src.extractfile(member)
                        if data is not None:
                            writer.add_bytes(name, data.read(), member.mode)
                elif member.isreg():
                    data = src.extractfile(member)
                    if data is not None:
                        writer.add_file(name, data, member.size, member.mode)

        return _write_to(dest, fill, mtime, owner)
