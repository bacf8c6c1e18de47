"""Write image archives by hand, for what a Dockerfile cannot make.

A layer is a list of items: `("f", path, size)` a file of `size` bytes (or `("f", path, b"...")` a
file holding those bytes), `("d", path)` a directory,
`("l", path, target)` a symlink, `("h", path, target)` a hard link, `("w", path)` a whiteout of
path (written as `.wh.NAME`), `("o", dir)` an opaque marker.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

Item = tuple[Any, ...]


def layer_tar(items: list[Item]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in items:
            kind, path = item[0], item[1]
            info = tarfile.TarInfo(path)
            info.mtime = 0
            data = None
            if kind == "f":
                data = item[2] if isinstance(item[2], bytes) else bytes([65 + len(path) % 26]) * item[2]
                info.size = len(data)
                info.mode = 0o644
            elif kind == "d":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "l":
                info.type = tarfile.SYMTYPE
                info.linkname = item[2]
            elif kind == "h":
                info.type = tarfile.LNKTYPE
                info.linkname = item[2]
            elif kind == "w":
                head, _, name = path.rpartition("/")
                info.name = f"{head}/.wh.{name}" if head else f".wh.{name}"
            elif kind == "o":
                info.name = f"{path}/.wh..wh..opq"
            else:
                raise ValueError(kind)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config(diff_ids: list[str], commands: list[str] | None, labels: dict[str, str] | None) -> bytes:
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": labels or {}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if commands is not None:
        config["history"] = [{"created_by": c} for c in commands]
    return json.dumps(config).encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def docker_archive(
    path: Path,
    layers: list[list[Item]],
    *,
    commands: list[str] | None = None,
    blobs: bool = False,
    gzip_layers: bool = False,
    labels: dict[str, str] | None = None,
) -> Path:
    """A `docker save` archive: legacy `<n>/layer.tar` names, or Docker 25+ `blobs/sha256/<hex>`."""
    tars = [layer_tar(items) for items in layers]
    ids = [sha(t) for t in tars]
    blobs_out = [gzip.compress(t, mtime=0) if gzip_layers else t for t in tars]
    if commands is None:
        commands = [f"/bin/sh -c step {n}" for n in range(len(layers))]
    config = _config(ids, commands if commands != [] else None, labels)
    with tarfile.open(path, "w") as tar:
        names = []
        for number, blob in enumerate(blobs_out):
            name = f"blobs/sha256/{sha(blob)[7:]}" if blobs else f"{number:064x}/layer.tar"
            names.append(name)
            _add(tar, name, blob)
        config_name = f"blobs/sha256/{sha(config)[7:]}" if blobs else f"{sha(config)[7:]}.json"
        _add(tar, config_name, config)
        manifest = [{"Config": config_name, "RepoTags": ["handmade:latest"], "Layers": names}]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return path


def oci_layout(folder: Path, layers: list[list[Item]], *, gzip_layers: bool = True) -> Path:
    """An OCI image layout folder (index.json, oci-layout, blobs/sha256)."""
    tars = [layer_tar(items) for items in layers]
    blobs_dir = folder / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = sha(data)
        (blobs_dir / digest[7:]).write_bytes(data)
        return digest

    descriptors = []
    for data in tars:
        blob = gzip.compress(data, mtime=0) if gzip_layers else data
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else "")
        descriptors.append({"mediaType": media, "digest": put(blob), "size": len(blob)})
    config = _config([sha(t) for t in tars], [f"step {n}" for n in range(len(tars))], None)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(config),
                "size": len(config),
            },
            "layers": descriptors,
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": put(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }
        ],
    }
    (folder / "index.json").write_text(json.dumps(index))
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return folder


def settled(path: Path) -> Path:
    """`path` once it has been still long enough for boxwise to cache what it reads from it
    (image.store.place_key: a file changed within the last second gets no cache entry)."""
    import time

    from boxwise.image.store import RACY_NS

    status = path.stat()
    wait = max(status.st_mtime_ns, status.st_ctime_ns) + RACY_NS - time.time_ns()
    if wait > 0:
        time.sleep(wait / 1e9 + 0.01)
    return path
