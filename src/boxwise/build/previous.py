"""The analyzer's part: with an empty cache, what the previous image under the same tag says.

A CNB lifecycle reads the previous image's `io.buildpacks.lifecycle.metadata` label to restore
layer metadata. boxwise does the same when its cache has nothing for the app but the engine has
an image under `--tag` built on the same base: the label gives each layer's metadata and diff_id,
and the layers themselves come out of the engine once (`docker save`) into the cache. Cache-only
layers (pip's download cache) are not in an image, so they start empty.
"""

from __future__ import annotations

import json
import tarfile
from typing import Any

from boxwise.build.base import BaseImage
from boxwise.build.cache import LayerCache
from boxwise.build.log import BuildLog

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


def _wanted(label: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    layers: dict[str, dict[str, dict[str, Any]]] = {}
    for bp in label.get("buildpacks") or []:
        if not isinstance(bp, dict) or not isinstance(bp.get("layers"), dict):
            continue
        for name, entry in bp["layers"].items():
            if isinstance(entry, dict) and str(entry.get("sha", "")).startswith("sha256:"):
                layers.setdefault(str(bp.get("key")), {})[name] = {
                    "sha": entry["sha"],
                    "data": entry.get("data") or {},
                    "launch": bool(entry.get("launch")),
                    "build": bool(entry.get("build")),
                    "cache": bool(entry.get("cache")),
                }
    return layers


def _copy_layers(client: Any, tag: str, diff_ids: set[str], cache: LayerCache) -> None:
    """The wanted layers of the image, out of one `docker save`, into the cache (checked by sha256)."""
    import os

    from boxwise.build.base import copy_hashed

    saved = cache.tmp_dir() / f"previous-{os.getpid()}.tar"
    try:
        with open(saved, "wb") as out:
            for chunk in client.api.get_image(tag, chunk_size=1 << 20):
                out.write(chunk)
        with tarfile.open(saved) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))[0]
            config = json.load(tar.extractfile(manifest["Config"]))
            for member, diff_id in zip(manifest["Layers"], config["rootfs"]["diff_ids"], strict=True):
                if diff_id not in diff_ids or cache.has_blob(diff_id):
                    continue
                if copy_hashed(tar.extractfile(member), cache.blob_path(diff_id)) != diff_id:
                    cache.blob_path(diff_id).unlink(missing_ok=True)  # restore will call it missing
    finally:
        saved.unlink(missing_ok=True)


def seed_cache(client: Any, tag: str, base: BaseImage, cache: LayerCache, log: BuildLog) -> bool:
    """Fill an empty cache from the previous image under `tag`; True when it did."""
    label = _label(client, tag)
    if not label:
        return False
    top = (label.get("runImage") or {}).get("topLayer")
    if not base.diff_ids or top != base.diff_ids[-1]:
        return False  # another base: every key would differ anyway
    layers = _wanted(label)
    wanted = {entry["sha"] for bp in layers.values() for entry in bp.values()}
    if not wanted:
        return False
    log.say(f"restore: no cached layers; reading them from the previous image {tag}")
    _copy_layers(client, tag, wanted, cache)
    app = (label.get("app") or [{}])[-1].get("sha") if isinstance(label.get("app"), list) else None
    cache.save({"buildpacks": layers, "app": {"sha": app}})
    return True
