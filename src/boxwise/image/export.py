"""Write an image out: a docker-archive tar, an OCI image layout folder, or into the engine.

The image is given as its exact config bytes and its layers (uncompressed tars, base first), so
the image ID (sha256 of the config) is the one boxwise computed. Layers stay uncompressed: the
engine decompresses anyway, and the diff_id is then also the blob digest.

The docker-archive is the dual format `docker save` writes since Docker 25: an OCI layout
(`oci-layout`, `index.json`, `blobs/sha256/…`) whose `manifest.json` points into `blobs/`, so
`docker load` (20.10 too), skopeo and dive all read it. For the engine, a *thin* archive leaves
out the layers the engine already has (the base's): the classic image store looks a layer chain
up before it opens the file (docs/design.md, Thin archives).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boxwise.atomicfile import atomic_path, write_atomically
from boxwise.errors import UserError
from boxwise.image.digest import hex_part
from boxwise.image.layer_writer import DEFAULT_EPOCH
from boxwise.image.mediatypes import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST


@dataclass(frozen=True)
class ExportLayer:
    diff_id: str
    size: int
    path: Path | None  # None: the layer is left out of a thin archive (the engine has it)


@dataclass(frozen=True)
class ExportImage:
    config: bytes
    layers: list[ExportLayer]
    tag: str | None = None

    @property
    def image_id(self) -> str:
        return f"sha256:{hashlib.sha256(self.config).hexdigest()}"

    def manifest(self) -> bytes:
        data = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self.image_id, "size": len(self.config)},
            "layers": [
                {"mediaType": OCI_LAYER, "digest": layer.diff_id, "size": layer.size} for layer in self.layers
            ],
        }
        return canonical_json(data)

    @property
    def manifest_digest(self) -> str:
        return f"sha256:{hashlib.sha256(self.manifest()).hexdigest()}"


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _index(image: ExportImage) -> bytes:
    manifest = image.manifest()
    descriptor: dict[str, Any] = {
        "mediaType": OCI_MANIFEST,
        "digest": image.manifest_digest,
        "size": len(manifest),
    }
    if image.tag:
        descriptor["annotations"] = {
            "io.containerd.image.name": image.tag,
            "org.opencontainers.image.ref.name": image.tag.rpartition(":")[2]
            if ":" in image.tag
            else "latest",
        }
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor]})


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + hex_part(digest)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = DEFAULT_EPOCH
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_docker_archive(image: ExportImage, dest: Path) -> Path:
    """The image as one tar at `dest` (written to a temp name, then renamed)."""
    docker_manifest = [
        {
            "Config": _blob_name(image.image_id),
            "RepoTags": [image.tag] if image.tag else None,
            "Layers": [_blob_name(layer.diff_id) for layer in image.layers],
        }
    ]
    with atomic_path(dest) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add_bytes(tar, "index.json", _index(image))
        _add_bytes(tar, "manifest.json", canonical_json(docker_manifest))
        _add_bytes(tar, _blob_name(image.image_id), image.config)
        _add_bytes(tar, _blob_name(image.manifest_digest), image.manifest())
        written = set()
        for layer in image.layers:
            if layer.path is None or layer.diff_id in written:
                continue
            written.add(layer.diff_id)
            info = tarfile.TarInfo(_blob_name(layer.diff_id))
            info.size = layer.size
            info.mtime = DEFAULT_EPOCH
            info.mode = 0o644
            with open(layer.path, "rb") as data:
                tar.addfile(info, data)
    return dest


def write_oci_layout(image: ExportImage, dest: Path) -> Path:
    """The image as an OCI image layout folder (blobs are added; index.json names this image)."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_bytes(b'{"imageLayoutVersion":"1.0.0"}')
    for digest, data in ((image.image_id, image.config), (image.manifest_digest, image.manifest())):
        (blobs / hex_part(digest)).write_bytes(data)
    for layer in image.layers:
        if layer.path is None:
            raise ValueError(f"layer {layer.diff_id} has no file; an OCI layout needs every layer")
        target = blobs / hex_part(layer.diff_id)
        if not target.exists():
            with atomic_path(target) as tmp:
                shutil.copyfile(layer.path, tmp)
    write_atomically(dest / "index.json", _index(image))
    return dest


def _refused(why: str) -> UserError:
    return UserError(
        f"the engine cannot load the image ({why.splitlines()[0][:300] if why else 'no reason given'}); "
        "check the engine (its free space, its log) and build again"
    )


def load_into_engine(client: Any, archive: Path) -> None:
    """`docker load` of an archive (over the local socket when the client has that side, else through
    the Docker SDK); the engine's refusal is one UserError line."""
    side = getattr(client, "socket", None)
    if side is not None:
        try:
            side.load(archive)
        except RuntimeError as exc:
            raise _refused(str(exc)) from None
        return
    with open(archive, "rb") as data:
        for message in client.api.load_image(data):
            if isinstance(message, dict) and message.get("errorDetail"):
                detail = message["errorDetail"]
                why = str((detail.get("message") if isinstance(detail, dict) else None) or message)
                raise _refused(why)
