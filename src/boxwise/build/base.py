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

# Places a base image is read from without an engine (its layers become cache blobs).
ENGINELESS_PLACES = ("docker-archive:", "oci:", "registry://")


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
    except docker.errors.APIError as exc:
        raise UserError(f"{flag} {ref}: the engine cannot use this name ({exc.explanation or exc})") from None


def copy_hashed(src: Any, dest: Path) -> str:
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


def _copy_layer(opener: Any, dest: Path) -> str:
    """A stored layer blob (plain or gzip) copied uncompressed to dest; its diff_id."""
    import gzip

    with opener() as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    with opener() as raw:  # opened again: a blob stream need not be seekable
        if gzipped:
            with gzip.GzipFile(fileobj=raw) as plain:
                return copy_hashed(plain, dest)
        return copy_hashed(raw, dest)


def load_base_file(ref: str, cache: LayerCache, flag: str) -> BaseImage:
    """A base from a file or a registry (no engine): its config and its layers as blobs."""
    from boxwise.image import open_image
    from boxwise.image.export import canonical_json

    image = open_image(ref)
    config_bytes = canonical_json(image.config)
    image_id = str((image.manifest.get("config") or {}).get("digest") or "")
    cache.blobs.mkdir(parents=True, exist_ok=True)
    for layer in image.layers:
        if cache.has_blob(layer.diff_id):
            continue
        if layer.opener is None:
            raise UserError(f"{flag} {ref}: layer {layer.diff_id} cannot be read; save the image again")
        got = _copy_layer(layer.opener, cache.blob_path(layer.diff_id))
        if got != layer.diff_id:
            cache.blob_path(layer.diff_id).unlink(missing_ok=True)
            raise UserError(f"{flag} {ref}: a layer does not match its diff_id; save the image again")
    return BaseImage(ref, image_id or f"sha256:{hashlib.sha256(config_bytes).hexdigest()}", config_bytes)


def load_base(
    client: Any, ref: str, cache: LayerCache, *, need_layers: bool, flag: str = "--base"
) -> BaseImage:
    """The base's config (and, with need_layers, its layer blobs in the cache)."""
    if ref.startswith(ENGINELESS_PLACES):
        return load_base_file(ref, cache, flag)
    ref = ref.removeprefix("docker://")
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
                got = copy_hashed(tar.extractfile(member_name), cache.blob_path(diff_id))
                if got != diff_id:
                    cache.blob_path(diff_id).unlink(missing_ok=True)
                    raise UserError(
                        f"{flag} {ref}: layer {member_name} does not match its diff_id; re-make the image"
                    )
    finally:
        saved.unlink(missing_ok=True)
    write_atomic(config_path, config_bytes)
    return BaseImage(ref, image_id, config_bytes)


PYTHON_CANDIDATES = ("usr/local/bin/python3", "usr/bin/python3", "bin/python3")


def base_python(base: BaseImage, cache: LayerCache) -> str | None:
    """Where the run base has python3 (`/usr/local/bin/python3` in python:slim), from its layer tars.

    Read from the top layer down (headers only); kept per base image in the cache.
    """
    digest = base.image_id.removeprefix("sha256:")
    record = cache.root / "bases" / f"{digest}.python" if len(digest) == 64 and digest.isalnum() else None
    if record is not None and record.is_file():
        return record.read_text(encoding="utf-8").strip() or None
    found = None
    for diff_id in reversed(base.diff_ids):
        if not cache.has_blob(diff_id):
            return None
        with tarfile.open(cache.blob_path(diff_id), "r:") as tar:
            names = {member.name.removeprefix("./") for member in tar}
        found = next(("/" + name for name in PYTHON_CANDIDATES if name in names), None)
        if found:
            break
    if record is not None:
        write_atomic(record, (found or "").encode())
    return found
