"""A `docker save` archive written byte for byte as a hostile image would be: layers as given,
a config that says what the test wants (wrong diff_ids, paths as digests, deep nesting)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from tests.image.archives import sha


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def config_for(diff_ids: list[str]) -> bytes:
    return json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()


def raw_archive(path: Path, layers: list[bytes], config: bytes | None = None) -> Path:
    """`layers` as `N/layer.tar`, `config` (default: the layers' true diff_ids) as `c.json`."""
    names = [f"{number}/layer.tar" for number in range(len(layers))]
    with tarfile.open(path, "w") as tar:
        for name, layer in zip(names, layers, strict=True):
            add(tar, name, layer)
        add(tar, "c.json", config if config is not None else config_for([sha(layer) for layer in layers]))
        add(tar, "manifest.json", json.dumps([{"Config": "c.json", "Layers": names}]).encode())
    return path
