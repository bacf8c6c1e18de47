"""The analyzer's part: what a previous image says of its layers (pack's `--previous-image`).

A CNB lifecycle reads the previous image's `io.buildpacks.lifecycle.metadata` label to restore
layer metadata. boxwise does the same: `--previous-image REF` (docker://, registry://,
docker-archive:, oci:) — in `boxwise ci` the app's baseline, the target branch's image — or, with
an empty cache, the image under `--tag` in the engine. When it was built on the same base, the
label gives each layer's metadata and diff_id, and the layers come out of that image into the
cache: with an empty cache they are what restore puts back; otherwise they join the cached
entries as alternates, so a buildpack whose key matches one asks for it instead of rebuilding.
Cache-only layers (pip's download cache) are not in an image, so they start empty. Every layer
is checked against its diff_id before the cache keeps it.
"""

from __future__ import annotations

import json
import re
import tarfile
from typing import Any

from boxwise.builder.base import BaseImage
from boxwise.builder.cache import LayerCache
from boxwise.builder.cache_record import AppLayers, AppRecord, BuildpackLayers, CachedLayer
from boxwise.builder.log import BuildLog
from boxwise.errors import UserError
from boxwise.image.digest import DIGEST

LABEL = "io.buildpacks.lifecycle.metadata"


def _label(client: Any, tag: str) -> dict[str, Any] | None:
    import docker.errors

    try:
        labels = client.images.get(tag).labels or {}
    except docker.errors.DockerException:
        return None
    try:
        data = json.loads(labels.get(LABEL, ""))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# A layer's name becomes a file name in the layers folder: one that could leave it is passed over.
_LAYER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def label_layers(label: dict[str, Any]) -> BuildpackLayers:
    """{buildpack: {layer: entry}} of a lifecycle label (the image's own or a cache image's)."""
    layers: BuildpackLayers = {}
    buildpacks = label.get("buildpacks")
    for bp in buildpacks if isinstance(buildpacks, list) else []:
        if not isinstance(bp, dict) or not isinstance(bp.get("layers"), dict):
            continue
        for name, entry in bp["layers"].items():
            if not isinstance(name, str) or not _LAYER_NAME.match(name) or ".." in name:
                continue
            if isinstance(entry, dict) and DIGEST.match(str(entry.get("sha", ""))):
                layers.setdefault(str(bp.get("key")), {})[name] = CachedLayer(
                    sha=entry["sha"],
                    data=entry["data"] if isinstance(entry.get("data"), dict) else {},
                    launch=bool(entry.get("launch")),
                    build=bool(entry.get("build")),
                    cache=bool(entry.get("cache")),
                )
    return layers


def _copy_layers(client: Any, tag: str, diff_ids: set[str], cache: LayerCache) -> None:
    """The wanted layers of the image, out of one `docker save`, into the cache (checked by sha256)."""
    import os

    from boxwise.builder.base import copy_hashed, saved_member

    saved = cache.tmp_dir() / f"previous-{os.getpid()}.tar"
    try:
        with open(saved, "wb") as out:
            for chunk in client.api.get_image(tag, chunk_size=1 << 20):
                out.write(chunk)
        with tarfile.open(saved) as tar:
            manifest = json.load(saved_member(tar, "manifest.json"))[0]
            config = json.load(saved_member(tar, manifest["Config"]))
            for member, diff_id in zip(manifest["Layers"], config["rootfs"]["diff_ids"], strict=True):
                if diff_id not in diff_ids or cache.has_blob(diff_id):
                    continue
                if copy_hashed(saved_member(tar, member), cache.blob_path(diff_id)) != diff_id:
                    cache.blob_path(diff_id).unlink(missing_ok=True)  # restore will call it missing
    finally:
        saved.unlink(missing_ok=True)


def _copy_from_place(ref: str, diff_ids: set[str], cache: LayerCache) -> None:
    """The wanted layers of an image in a registry or a file, into the cache (checked by sha256)."""
    from boxwise.builder.base import _copy_layer
    from boxwise.image import open_image

    for layer in open_image(ref).layers:
        if layer.diff_id not in diff_ids or cache.has_blob(layer.diff_id) or layer.opener is None:
            continue
        if _copy_layer(layer.opener, cache.blob_path(layer.diff_id)) != layer.diff_id:
            cache.blob_path(layer.diff_id).unlink(missing_ok=True)  # restore will call it missing


def _label_of(ref: str) -> dict[str, Any] | None:
    from boxwise.image import open_image

    try:
        labels = (open_image(ref).config.get("config") or {}).get("Labels") or {}
        data = json.loads(labels.get(LABEL, ""))
    except (UserError, ValueError, AttributeError):
        return None
    return data if isinstance(data, dict) else None


def seed_from_previous(client: Any, ref: str, base: BaseImage, cache: LayerCache, log: BuildLog) -> bool:
    """Take the layers of the previous image `ref`: into an empty cache, else as alternates."""
    engine = not ref.startswith(("registry://", "docker-archive:", "oci:"))
    name = ref.removeprefix("docker://")
    label = _label(client, name) if engine and client is not None else None if engine else _label_of(ref)
    if not label:
        log.say(f"previous image {ref}: none there, or not built by boxwise; no layers from it")
        return False
    top = (label.get("runImage") or {}).get("topLayer")
    if not base.diff_ids or top != base.diff_ids[-1]:
        log.say(f"previous image {ref}: built on another base; its layers would not match")
        return False
    layers = label_layers(label)
    wanted = {entry.sha for bp in layers.values() for entry in bp.values()}
    if not wanted:
        return False
    log.say(f"restore: layers of the previous image {ref} (its lifecycle label names them)")
    if engine:
        _copy_layers(client, name, wanted, cache)
    else:
        _copy_from_place(ref, wanted, cache)
    if cache.load() is None:
        cache.save(AppLayers(layers, _label_app(label)))
    else:
        cache.add_alternates(layers)
    return True


def seed_cache(client: Any, tag: str, base: BaseImage, cache: LayerCache, log: BuildLog) -> bool:
    """Fill an empty cache from the previous image under `tag`; True when it did."""
    label = _label(client, tag)
    if not label:
        return False
    top = (label.get("runImage") or {}).get("topLayer")
    if not base.diff_ids or top != base.diff_ids[-1]:
        return False  # another base: every key would differ anyway
    layers = label_layers(label)
    wanted = {entry.sha for bp in layers.values() for entry in bp.values()}
    if not wanted:
        return False
    log.say(f"restore: no cached layers; reading them from the previous image {tag}")
    _copy_layers(client, tag, wanted, cache)
    cache.save(AppLayers(layers, _label_app(label)))
    return True


def _label_app(label: dict[str, Any]) -> AppRecord:
    """The app layer the label names (the first of `app`), when it is a digest."""
    app = label.get("app")
    first = app[0] if isinstance(app, list) and app and isinstance(app[0], dict) else {}
    return AppRecord(sha if isinstance(sha := first.get("sha"), str) and DIGEST.match(sha) else None)
