"""The run base image as the exporter needs it: its exact config and its layer tars.

Read once per base image ID through `docker save` (the Docker SDK's get_image) and kept in the
layer cache: the config under `bases/<id>.json`, the layers as blobs by diff_id. Later builds on
the same base read only the small config file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boxwise.build.cache import LayerCache, write_atomic
from boxwise.errors import UserError


@dataclass(frozen=True)
class BaseImage:
    ref: str
    image_id: str
    config_bytes: bytes

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self.config_bytes)

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])


def engine_image_id(client: Any, ref: str, flag: str) -> str:
    import docker.errors

    try:
        return client.images.get(ref).id
    except docker.errors.ImageNotFound:
        raise UserError(
            f"{flag} {ref}: no such image in the engine; make it (bash scripts/base-image.sh) or pull it"
        ) from None


def _copy_hashed(src: Any, dest: Path) -> str:
    digest = hashlib.sha256()
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            for block in iter(lambda: src.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return f"sha256:{digest.hexdigest()}"


def load_base(
    client: Any, ref: str, cache: LayerCache, *, need_layers: bool, flag: str = "--base"
) -> BaseImage:
    """The base's config (and, with need_layers, its layer blobs in the cache)."""
    image_id = engine_image_id(client, ref, flag)
    config_path = cache.root / "bases" / f"{image_id.removeprefix('sha256:')}.json"
    if config_path.is_file():
        base = BaseImage(ref, image_id, config_path.read_bytes())
        if not need_layers or all(cache.has_blob(d) for d in base.diff_ids):
            return base
    cache.blobs.mkdir(parents=True, exist_ok=True)
    saved = cache.tmp_dir() / f"save-{os.getpid()}.tar"
    try:
        with open(saved, "wb") as out:
            for chunk in client.api.get_image(image_id, chunk_size=1 << 20):
                out.write(chunk)
        with tarfile.open(saved, "r:") as tar:
            manifest = json.load(tar.extractfile("manifest.json"))[0]
            config_bytes = tar.extractfile(manifest["Config"]).read()
            diff_ids = json.loads(config_bytes)["rootfs"]["diff_ids"]
            for member_name, diff_id in zip(manifest["Layers"], diff_ids, strict=True):
                if cache.has_blob(diff_id):
                    continue
                got = _copy_hashed(tar.extractfile(member_name), cache.blob_path(diff_id))
                if got != diff_id:
                    cache.blob_path(diff_id).unlink(missing_ok=True)
                    raise UserError(
                        f"{flag} {ref}: layer {member_name} does not match its diff_id; re-make the image"
                    )
    finally:
        saved.unlink(missing_ok=True)
    write_atomic(config_path, config_bytes)
    return BaseImage(ref, image_id, config_bytes)
