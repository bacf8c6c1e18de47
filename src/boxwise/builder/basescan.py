"""What a build needs of an engine base, learned in one pass over `docker save`, no layer stored.

A build on an engine base needs the base's exact config (the new image's parent), the Python its
standard library shows (checked before anything installs), where its python3 lives (the local
runner) and its /etc/passwd and /etc/group (the run user). Copying the base's layers into the
layer cache for that cost every fresh cache (a CI runner, a test) 150 MB of disk per base, and a
CI cache of the folder carried them along, while the engine keeps the layers anyway.

The save stream is read once, as it comes: each layer is walked header by header, the few files
wanted are kept, and only small members (the config, manifest.json) are held whole.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from boxwise.builder.cache import LayerCache
from boxwise.errors import UserError
from boxwise.image.streams import chunk_stream

# Where a Debian or python:slim base keeps the standard library of its python3.X.
STDLIB = re.compile(r"^(?:\./)?usr/(?:local/)?lib/python(3\.\d+)/os\.py$")
PYTHON_CANDIDATES = ("usr/local/bin/python3", "usr/bin/python3", "bin/python3")
USER_FILES = ("etc/passwd", "etc/group")
MAX_USER_FILE = 1 << 20  # a base's passwd beyond this is not read (and the user is added anew)
_USER_WHITEOUTS = {"etc/.wh.passwd": "etc/passwd", "etc/.wh.group": "etc/group"}
# A config is JSON of a few KiB: members this small that are JSON are held whole, up to _MAX_HELD
# in all (a hostile base cannot make boxwise hold much in memory); the others are layers.
_SMALL = 4 << 20
_MAX_HELD = 64 << 20


def base_record(cache: LayerCache, image_id: str, suffix: str) -> Path | None:
    """Where the cache keeps one finding of a base (`bases/<id>.<suffix>`). The ID names a file:
    only a real sha256 digest does (a registry's answer is not trusted)."""
    digest = image_id.removeprefix("sha256:")
    return cache.root / "bases" / f"{digest}.{suffix}" if re.fullmatch("[0-9a-f]{64}", digest) else None


@dataclass(frozen=True)
class LayerFindings:
    """What one base layer holds of what the build asks about."""

    stdlib: frozenset[str] = frozenset()  # the 3.X of every usr/(local/)lib/python3.X/os.py
    pythons: frozenset[str] = frozenset()  # which of PYTHON_CANDIDATES it has
    user_files: dict[str, bytes] = field(default_factory=dict)  # b"" for a whited-out one


@dataclass(frozen=True)
class SavedBase:
    """The base as `docker save` gave it: its config bytes and its layers' findings, bottom first."""

    config_bytes: bytes
    layers: list[LayerFindings]

    def python_version(self) -> str:
        """The newest python3.X of the top-most layer holding a standard library ("" if none)."""
        for layer in reversed(self.layers):
            if layer.stdlib:
                return max(layer.stdlib, key=lambda text: tuple(int(part) for part in text.split(".")))
        return ""

    def python_path(self) -> str:
        """/usr/local/bin/python3 or the like, from the top-most layer holding one ("" if none)."""
        for layer in reversed(self.layers):
            found = next((name for name in PYTHON_CANDIDATES if name in layer.pythons), None)
            if found:
                return "/" + found
        return ""

    def user_files(self) -> dict[str, bytes]:
        """etc/passwd and etc/group as the top-most layer holding (or removing) each has them."""
        found: dict[str, bytes] = {}
        for layer in reversed(self.layers):
            for name, data in layer.user_files.items():
                found.setdefault(name, data)
        return found


def scan_layer(stream: IO[bytes]) -> LayerFindings:
    """One layer tar (plain or compressed), read once from the front."""
    stdlib: set[str] = set()
    pythons: set[str] = set()
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            version = STDLIB.match(name)
            if version:
                stdlib.add(version.group(1))
            elif name in PYTHON_CANDIDATES:
                pythons.add(name)
            elif name in USER_FILES and member.isreg() and member.size <= MAX_USER_FILE:
                handle = tar.extractfile(member)
                files[name] = handle.read() if handle else b""
            elif name in _USER_WHITEOUTS:
                files.setdefault(_USER_WHITEOUTS[name], b"")
    return LayerFindings(frozenset(stdlib), frozenset(pythons), files)


def scan_files(paths: Iterable[Path], config_bytes: bytes = b"") -> SavedBase:
    """The findings of layer tars on disk (a file or registry base's blobs in the cache), bottom first."""
    layers = []
    for path in paths:
        with open(path, "rb") as layer:
            layers.append(scan_layer(layer))
    return SavedBase(config_bytes, layers)


def _layer(stream: IO[bytes]) -> LayerFindings:
    """A member that is a layer, or a file of the save format that is not one (VERSION)."""
    try:
        return scan_layer(stream)
    except tarfile.TarError:  # not a tar, or an empty layer: nothing the build asks about
        return LayerFindings()


def scan_saved(chunks: Iterable[bytes], what: str) -> SavedBase:
    """The config and the layers' findings of one image's `docker save` stream."""
    held: dict[str, bytes] = {}
    findings: dict[str, LayerFindings] = {}
    total = 0
    try:
        # a stream tar only calls read(n), which the engine-stream reader has (it is not an IO)
        saved = cast(IO[bytes], chunk_stream(iter(chunks)))
        with tarfile.open(fileobj=saved, mode="r|") as tar:
            for member in tar:
                handle = tar.extractfile(member) if member.isreg() else None
                if handle is None:
                    continue
                if member.name.endswith("/layer.tar") or member.size > _SMALL:
                    findings[member.name] = _layer(handle)
                    continue
                data = handle.read()
                if data[:1] not in (b"{", b"["):  # not JSON: a small layer, or VERSION
                    findings[member.name] = _layer(io.BytesIO(data))
                    continue
                total += len(data)
                if total > _MAX_HELD:
                    raise UserError(f"{what}: its saved image holds over {_MAX_HELD >> 20} MiB of JSON")
                held[member.name] = data
        manifest = json.loads(held["manifest.json"])[0]
        config_bytes = held[str(manifest["Config"])]
        layers = [findings.get(name, LayerFindings()) for name in map(str, manifest["Layers"])]
    except (tarfile.TarError, OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise UserError(f"{what}: the engine's saved image cannot be read ({error}); re-make it") from None
    return SavedBase(config_bytes, layers)
