"""A layer's file index from its tar headers alone: file contents are skipped, never read.

Skipping seeks where the bytes allow it (a layer inside an archive file on disk) and reads past
otherwise (a stream from the engine, a gzip layer, decompressed piece by piece). Only the bytes of
one header, pax record or gzip chunk are held at a time.
"""

from __future__ import annotations

import hashlib
import posixpath
import struct
import zlib
from collections.abc import Iterator

from boxwise.errors import DamagedImage
from boxwise.image.model import HEADER_ONLY_TYPES, RECORD_SUFFIX, REGULAR_TYPES, Entry
from boxwise.image.streams import (
    CHUNK,
    FileSection,
    Reader,
    chunk_stream,
    decompressed,
    file_reader,
    file_section,
    limited,
)

__all__ = ["Reader", "chunk_stream", "file_reader", "file_section", "iter_entries", "limited", "read_index"]

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
# A pax record or GNU long name larger than this is not a real name: the tar is corrupt.
MAX_META = 1 << 20


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
            raise DamagedImage(f"{what}: corrupt pax header; the layer tar is damaged") from None
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
        raise DamagedImage(
            f"{what}: entry '{name}' has an absolute path; the layer tar is not a valid image layer"
        )
    if name and "//" not in name and "." not in name[:1] and "/." not in name:
        cleaned = name.rstrip("/")  # already clean: the usual `usr/lib/x` or `usr/lib/`
    else:
        cleaned = posixpath.normpath(name) if name else "."
    if cleaned == ".." or cleaned.startswith("../"):
        raise DamagedImage(
            f"{what}: entry '{name}' points outside the image root; the layer tar is not safe to use"
        )
    return cleaned


# name, mode, (uid, gid skipped), size, (mtime skipped), checksum, type, link, magic, (version,
# owner names, device numbers skipped), prefix
_HEADER = struct.Struct("100s8s16x12s12x8sc100s6s2x32x32x8x8x155s12x")


def _corrupt(what: str, why: str = "") -> DamagedImage:
    return DamagedImage(f"{what}: corrupt tar header{why}; the layer tar is damaged")


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
    new_tuple = tuple.__new__  # Entry's own __new__ is a Python function: one frame less per entry
    # A file section's read-ahead window is read here directly: no call per header
    section = source if type(source) is FileSection else None
    section_length = section.length if section is not None else 0
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
            raise DamagedImage(f"{what}: truncated tar (a header is cut short); the image is incomplete")
        if block == ZERO_BLOCK:
            return
        raw_name, raw_mode, raw_size, raw_sum, raw_type, raw_link, magic, raw_prefix = unpack(block)
        try:
            stored = int(raw_sum.strip(b" \0") or b"0", 8)
            size = int(raw_size.strip(b" \0") or b"0", 8) if raw_size[0] < 0x80 else _number(raw_size)
            mode = int(raw_mode.strip(b" \0") or b"0", 8) if raw_mode[0] < 0x80 else _number(raw_mode)
        except ValueError:
            raise _corrupt(what) from None
        if (stored + sum(raw_sum) - 256 - (adler32(block) & 0xFFFF) + 1) % 65521:
            raise _corrupt(what, " (bad checksum)")
        if size < 0:
            raise _corrupt(what, " (negative size)")
        typeflag = raw_type.decode("latin-1")
        if typeflag in "xgLK" and typeflag:
            if size > MAX_META:
                raise DamagedImage(f"{what}: a {size}-byte tar name or pax header; the layer tar is damaged")
            data = read(size)
            if len(data) < size:
                raise DamagedImage(f"{what}: truncated tar; the image is incomplete, save it again")
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
                except ValueError:
                    raise _corrupt(what, " (pax record)") from None
                if size < 0:  # a negative skip would read the same headers again, forever
                    raise _corrupt(what, " (negative pax size)")
            pax, long_name, long_link = {}, None, None
        start = source.pos
        if (typeflag == "0" or typeflag == "\x00") and name.endswith("/"):
            typeflag = "5"
        # `tar -C dir -c .` writes `./usr/lib/x`, the same path as `usr/lib/x`
        short = name[2:] if name[:2] == "./" else name
        if not short or short[:1] in "./" or "//" in short or "/." in short:
            path = clean_path(name, what)
        else:
            path = short.rstrip("/")  # already clean: the usual `usr/lib/x` or `usr/lib/`
        yield new_tuple(Entry, (path, size, typeflag, mode, linkname))
        # the consumer may have read some of the data (an outer archive's member): skip the rest
        if size and typeflag not in HEADER_ONLY_TYPES:
            padded = size + (-size % BLOCK) - (source.pos - start)
            if section is not None and section.pos + padded <= section_length:
                section.pos += padded
            elif source.skip(padded) < padded:
                raise DamagedImage(
                    f"{what}: truncated tar (a file's data is cut short); save the image again"
                )


def read_index(
    source: Reader, what: str, diff_id: str | None = None, offsets: dict[str, int] | None = None
) -> list[Entry]:
    """The file index of one layer blob (plain or gzip tar).

    With `diff_id`, every uncompressed byte is read and hashed (file contents too: a skip reads
    and drops) and the index is only returned when the bytes are that diff_id: an index that goes
    into the shared cache under a diff_id must be of that layer, not of one that claims it.
    """
    tar = decompressed(source, what)
    if diff_id is None:
        if offsets is None or not isinstance(tar, FileSection):
            return list(iter_entries(tar, what))
        entries = []
        for entry in iter_entries(tar, what):
            entries.append(entry)
            if entry.path.endswith(RECORD_SUFFIX) and entry.typeflag in REGULAR_TYPES:
                offsets[entry.path] = tar.pos  # the iterator stands at the file's data now
        return entries
    digest = hashlib.sha256()

    def read(size: int) -> bytes:
        data = tar.read(size)
        digest.update(data)
        return data

    hashed = Reader(read)
    entries = list(iter_entries(hashed, what))
    while hashed.read(CHUNK):
        pass  # the end blocks and padding count in the diff_id too
    if "sha256:" + digest.hexdigest() != diff_id:
        raise DamagedImage(
            f"{what}: the layer does not match its diff_id {diff_id} (content is "
            f"sha256:{digest.hexdigest()}); the image is corrupt or forged"
        )
    return entries
