"""A layer's file index from its tar headers alone: file contents are skipped, never read.

Skipping seeks where the bytes allow it (a layer inside an archive file on disk) and reads past
otherwise (a stream from the engine, a gzip layer, decompressed piece by piece). Only the bytes of
one header, pax record or gzip chunk are held at a time.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from boxwise.errors import UserError
from boxwise.image.model import HEADER_ONLY_TYPES, Entry

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
CHUNK = 1 << 20
# A pax record or GNU long name larger than this is not a real name: the tar is corrupt.
MAX_META = 1 << 20
# gzip bomb guard: more than this many bytes out, at more than this ratio to the bytes in.
BOMB_BYTES = 1 << 30
BOMB_RATIO = 200
GZIP_IN_CHUNK = 1 << 16  # small reads keep the bytes-in count close to what was inflated
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Reader:
    """Sequential bytes: `read(n)` gives n bytes unless the end comes first; `skip(n)` moves on.

    `skip` is given a fast path (a seek) when the bytes live in a file; otherwise it reads and
    drops. `unread` puts sniffed bytes back.
    """

    def __init__(self, read: Callable[[int], bytes], skip: Callable[[int], int] | None = None) -> None:
        self._read = read
        self._skip = skip
        self._pending = b""
        self.pos = 0  # bytes consumed so far (read or skipped)

    def read(self, size: int) -> bytes:
        if self._pending:
            head, self._pending = self._pending[:size], self._pending[size:]
            if len(head) < size:
                head += self._read_exact(size - len(head))
            self.pos += len(head)
            return head
        data = self._read_exact(size)
        self.pos += len(data)
        return data

    def _read_exact(self, size: int) -> bytes:
        data = self._read(size)
        if len(data) == size or not data:
            return data
        parts = [data]
        got = len(data)
        while got < size:
            more = self._read(size - got)
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    def skip(self, size: int) -> int:
        done = 0
        if self._pending:
            done = min(size, len(self._pending))
            self._pending = self._pending[done:]
        if done < size:
            if self._skip is not None:
                done += self._skip(size - done)
            else:
                while done < size:
                    data = self._read(min(CHUNK, size - done))
                    if not data:
                        break
                    done += len(data)
        self.pos += done
        return done

    def unread(self, data: bytes) -> None:
        self._pending = data + self._pending
        self.pos -= len(data)


def file_reader(handle: BinaryIO) -> Reader:
    """A reader over a file object; skips seek when the file can."""
    seekable = False
    with contextlib.suppress(AttributeError, OSError):
        seekable = handle.seekable()
    if not seekable:
        return Reader(handle.read)

    def skip(size: int) -> int:
        here = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        target = min(here + size, end)
        handle.seek(target)
        return target - here

    return Reader(handle.read, skip)


class FileSection(Reader):
    """Bytes [offset, offset+length) of an open file, read with pread: seeks are free.

    Small reads are served from a read-ahead window, so the headers of many small files cost one
    system call.
    """

    def __init__(self, fd: int, offset: int, length: int, readahead: int = 1 << 16) -> None:
        super().__init__(self.read)
        self._fd = fd
        self._offset = offset
        self._length = length
        self._readahead = readahead
        self._window = b""
        self._window_start = 0

    def read(self, size: int) -> bytes:
        pos = self.pos
        size = min(size, self._length - pos)
        if size <= 0:
            return b""
        start = pos - self._window_start
        if start >= 0 and start + size <= len(self._window):
            data = self._window[start : start + size]
        elif size >= self._readahead:
            data = os.pread(self._fd, size, self._offset + pos)
        else:
            # after a long skip (a big file's data) the next header is likely alone: read little
            far = pos - (self._window_start + len(self._window)) > self._readahead
            ahead = 4096 if far else self._readahead
            self._window = os.pread(self._fd, min(max(ahead, size), self._length - pos), self._offset + pos)
            self._window_start = pos
            data = self._window[:size]
        self.pos = pos + len(data)
        return data

    @property
    def length(self) -> int:
        return self._length

    def window(self) -> tuple[bytes, int]:
        """The read-ahead bytes and the position they start at."""
        return self._window, self._window_start

    def skip(self, size: int) -> int:
        size = max(0, min(size, self._length - self.pos))
        self.pos += size
        return size

    def unread(self, data: bytes) -> None:
        self.pos -= len(data)


def file_section(fd: int, offset: int, length: int) -> Reader:
    return FileSection(fd, offset, length)


def chunk_stream(chunks: Iterator[bytes]) -> Reader:
    """A reader over an iterator of byte chunks (the engine's `get_image` stream)."""
    buffer = b""
    offset = 0

    def read(size: int) -> bytes:
        nonlocal buffer, offset
        if offset >= len(buffer):
            buffer = next(chunks, b"")
            offset = 0
            if not buffer:
                return b""
        data = buffer[offset : offset + size]
        offset += len(data)
        return data

    def skip(size: int) -> int:
        nonlocal buffer, offset
        done = 0
        while done < size:
            if offset >= len(buffer):
                buffer = next(chunks, b"")
                offset = 0
                if not buffer:
                    break
            step = min(size - done, len(buffer) - offset)
            offset += step
            done += step
        return done

    return Reader(read, skip)


def limited(source: Reader, length: int) -> Reader:
    """The next `length` bytes of `source` as a reader of their own (a member of an outer tar)."""
    left = length

    def read(size: int) -> bytes:
        nonlocal left
        data = source.read(min(size, left))
        left -= len(data)
        return data

    def skip(size: int) -> int:
        nonlocal left
        done = source.skip(min(size, left))
        left -= done
        return done

    return Reader(read, skip)


def gzip_stream(raw: Reader, what: str) -> Reader:
    """Decompress a gzip stream piece by piece; refuse a gzip bomb instead of inflating it."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    state = {"in": 0, "out": 0, "eof": False}

    def fill(want: int) -> None:
        while len(out) < want and not state["eof"]:
            if inflater.unconsumed_tail:
                data = inflater.unconsumed_tail
            else:
                data = raw.read(GZIP_IN_CHUNK)
                state["in"] += len(data)
                if not data:
                    state["eof"] = True
                    break
            try:
                piece = inflater.decompress(data, max(want - len(out), CHUNK))
            except zlib.error as exc:
                raise UserError(
                    f"{what}: corrupt gzip data ({exc}); the image is damaged, save it again"
                ) from None
            out.extend(piece)
            state["out"] += len(piece)
            if state["out"] > BOMB_BYTES and state["out"] > BOMB_RATIO * max(state["in"], 1):
                raise UserError(
                    f"{what}: gzip layer inflates more than {BOMB_RATIO}x past {BOMB_BYTES >> 30} GiB;"
                    " refusing a likely gzip bomb"
                )
            if inflater.eof:
                rest = inflater.unused_data
                if rest.strip(b"\0"):
                    # another gzip member follows (concatenated gzip is still one stream)
                    next_inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    raw.unread(rest)
                    state["in"] -= len(rest)  # read again by the next member: count it once
                    swap(next_inflater)
                else:
                    state["eof"] = True

    def swap(new: zlib._Decompress) -> None:  # type: ignore[name-defined]
        nonlocal inflater
        inflater = new

    def read(size: int) -> bytes:
        fill(size)
        data = bytes(out[:size])
        del out[:size]
        return data

    def skip(size: int) -> int:
        done = 0
        while done < size:
            fill(min(CHUNK, size - done))
            if not out:
                break
            step = min(len(out), size - done)
            del out[:step]
            done += step
        return done

    return Reader(read, skip)


def decompressed(raw: Reader, what: str) -> Reader:
    """The uncompressed tar of a layer blob: gzip is sniffed from its first bytes."""
    head = raw.read(4)
    raw.unread(head)
    if head.startswith(GZIP_MAGIC):
        return gzip_stream(raw, what)
    if head.startswith(ZSTD_MAGIC):
        raise UserError(f"{what}: zstd-compressed layers are not supported; save the image with gzip layers")
    return raw


def _number(field: bytes) -> int:
    try:
        return int(field.strip(b" \0") or b"0", 8)  # the usual case: octal digits, NUL or space padded
    except ValueError:
        pass
    if field and field[0] & 0x80:  # base-256 (GNU) for values that do not fit in octal
        value = int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
        return -value if field[0] & 0x40 else value
    digits = field.split(b"\0", 1)[0].strip(b" ")
    return int(digits, 8) if digits else 0


def _pax_records(data: bytes, what: str) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise UserError(f"{what}: corrupt pax header; the layer tar is damaged") from None
        if length <= 0:
            break
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def clean_path(name: str, what: str) -> str:
    """Go's path.Clean of a tar name, relative; `.` for the root. Refuses names outside the root."""
    if name.startswith("/"):
        raise UserError(
            f"{what}: entry '{name}' has an absolute path; the layer tar is not a valid image layer"
        )
    if name and "//" not in name and "." not in name[:1] and "/." not in name:
        cleaned = name.rstrip("/")  # already clean: the usual `usr/lib/x` or `usr/lib/`
    else:
        cleaned = posixpath.normpath(name) if name else "."
    if cleaned == ".." or cleaned.startswith("../"):
        raise UserError(
            f"{what}: entry '{name}' points outside the image root; the layer tar is not safe to use"
        )
    return cleaned


_HEADER = struct.Struct("100s8s8s8s12s12x8sc100s6s2x32x32x8x8x155s12x")


def _corrupt(what: str, why: str = "") -> UserError:
    return UserError(f"{what}: corrupt tar header{why}; the layer tar is damaged")


def iter_entries(source: Reader, what: str) -> Iterator[Entry]:
    """Every entry of a tar stream, from its headers (pax and GNU long names applied).

    This loop runs once per file of every layer, so it is written for speed: one struct unpack
    per header, octal fields parsed inline, the checksum summed in C (adler32's low half is
    1 + the byte sum mod 65521; the header checksum is the byte sum with its own field as spaces).
    """
    pax: dict[str, str] = {}
    long_name: str | None = None
    long_link: str | None = None
    read, unpack, adler32 = source.read, _HEADER.unpack, zlib.adler32
    # A file section's read-ahead window is read here directly: no call per header
    section = source if type(source) is FileSection else None
    window, window_start = b"", 0
    while True:
        if section is not None:
            pos = section.pos
            offset = pos - window_start
            if 0 <= offset <= len(window) - BLOCK:
                block = window[offset : offset + BLOCK]
                section.pos = pos + BLOCK
            else:
                block = read(BLOCK)
                window, window_start = section.window()
        else:
            block = read(BLOCK)
        if len(block) < BLOCK:
            if not block:
                return  # end of stream without end blocks: Go's reader accepts it too
            raise UserError(f"{what}: truncated tar (a header is cut short); the image is incomplete")
        if block == ZERO_BLOCK:
            return
        raw_name, raw_mode, raw_uid, raw_gid, raw_size, raw_sum, raw_type, raw_link, magic, raw_prefix = (
            unpack(block)
        )
        try:
            stored = int(raw_sum.strip(b" \0") or b"0", 8)
            size = int(raw_size.strip(b" \0") or b"0", 8) if raw_size[0] < 0x80 else _number(raw_size)
            mode = int(raw_mode.strip(b" \0") or b"0", 8) if raw_mode[0] < 0x80 else _number(raw_mode)
            uid = int(raw_uid.strip(b" \0") or b"0", 8) if raw_uid[0] < 0x80 else _number(raw_uid)
            gid = int(raw_gid.strip(b" \0") or b"0", 8) if raw_gid[0] < 0x80 else _number(raw_gid)
        except ValueError:
            raise _corrupt(what) from None
        if (stored + sum(raw_sum) - 256 - (adler32(block) & 0xFFFF) + 1) % 65521:
            raise _corrupt(what, " (bad checksum)")
        if size < 0:
            raise _corrupt(what, " (negative size)")
        typeflag = raw_type.decode("latin-1")
        if typeflag in "xgLK" and typeflag:
            if size > MAX_META:
                raise UserError(f"{what}: a {size}-byte tar name or pax header; the layer tar is damaged")
            data = read(size)
            if len(data) < size:
                raise UserError(f"{what}: truncated tar; the image is incomplete, save it again")
            source.skip(-size % BLOCK)
            if typeflag == "x":
                pax = _pax_records(data, what)
            elif typeflag == "L":
                long_name = _text(data)
            elif typeflag == "K":
                long_link = _text(data)
            continue  # global pax headers ('g') carry nothing dive uses
        if long_name is not None:
            name = long_name
        else:
            name = raw_name.partition(b"\0")[0].decode("utf-8", "surrogateescape")
            if magic == b"ustar\x00" and raw_prefix[0]:  # POSIX ustar: a prefix field extends the name
                name = f"{_text(raw_prefix)}/{name}"
        if long_link is not None:
            linkname = long_link
        else:
            linkname = raw_link.partition(b"\0")[0].decode("utf-8", "surrogateescape") if raw_link[0] else ""
        if pax or long_name is not None or long_link is not None:
            if pax:
                name = pax.get("path", name)
                linkname = pax.get("linkpath", linkname)
                try:
                    size = int(pax.get("size", size))
                    uid = int(pax.get("uid", uid))
                    gid = int(pax.get("gid", gid))
                except ValueError:
                    raise _corrupt(what, " (pax record)") from None
            pax, long_name, long_link = {}, None, None
        start = source.pos
        if (typeflag == "0" or typeflag == "\x00") and name.endswith("/"):
            typeflag = "5"
        if "//" in name or name[:1] == "." or "/." in name or name[:1] == "/" or not name:
            path = clean_path(name, what)
        else:
            path = name.rstrip("/")  # already clean: the usual `usr/lib/x` or `usr/lib/`
        yield Entry(path, size, typeflag, mode, uid, gid, linkname)
        # the consumer may have read some of the data (an outer archive's member): skip the rest
        if size and typeflag not in HEADER_ONLY_TYPES:
            padded = size + (-size % BLOCK) - (source.pos - start)
            if section is not None and section.pos + padded <= section.length:
                section.pos += padded
            elif source.skip(padded) < padded:
                raise UserError(f"{what}: truncated tar (a file's data is cut short); save the image again")


def read_index(source: Reader, what: str) -> list[Entry]:
    """The file index of one layer blob (plain or gzip tar)."""
    return list(iter_entries(decompressed(source, what), what))
