"""pack's `--cache-image registry://HOST/REPO:TAG`: the layer cache kept in a registry image.

A runner with an empty disk (no `$XDG_CACHE_HOME/boxwise`, an engine without the app's images)
reads it before the build and is as warm as the machine that wrote it: the image holds every
layer a buildpack declared `cache = true` (the dependency layer and pip's/uv's download caches),
and its config's `io.buildpacks.lifecycle.cache.metadata` label holds their metadata (keys) in
the lifecycle label's shape. It is written after a successful build (skipped when nothing
changed), never when the caller says read-only (`boxwise ci` on merge requests and forks).

The image is untrusted input: the manifest and config digests are checked by the registry
reader, each layer is checked against its diff_id as it is copied, names in the label that
could leave the layers folder are passed over, and the bytes read are capped
(BOXWISE_CACHE_IMAGE_LIMIT, 8 GB). Reading or writing it never fails a build: a missing, broken
or unreachable cache image is one log line, and the build goes on cold.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from boxwise.builder.base import BaseImage
from boxwise.builder.cache import LayerCache
from boxwise.builder.cache_record import AppLayers, BuildpackLayers
from boxwise.builder.log import BuildLog
from boxwise.errors import UserError

LABEL = "io.buildpacks.lifecycle.cache.metadata"
LIMIT_VARIABLE = "BOXWISE_CACHE_IMAGE_LIMIT"
DEFAULT_LIMIT = 8e9  # bytes read from one cache image at most


@dataclass(frozen=True)
class CacheImageRead:
    """What the read found: the config digest there (None: no image), to skip an unchanged write."""

    config_digest: str | None = None


def check_cache_image(ref: str) -> str:
    """The `HOST/REPO:TAG` of a `registry://` reference; one line naming the flag otherwise."""
    if not ref.startswith("registry://"):
        raise UserError(
            f"--cache-image {ref[:120]}: a cache image lives in a registry; write registry://HOST/REPO:TAG"
        )
    from boxwise.image.registry import parse_ref

    where = parse_ref(ref.removeprefix("registry://"))
    if where.digest:
        raise UserError(f"--cache-image {ref[:120]}: give a tag, not a digest (the build writes it)")
    return where.text


def _limit() -> float:
    from boxwise.envnum import positive_float

    return positive_float(LIMIT_VARIABLE, DEFAULT_LIMIT)


def _label_of(config: dict[str, Any]) -> dict[str, Any]:
    labels = (config.get("config") or {}).get("Labels") or {}
    try:
        data = json.loads(str(labels.get(LABEL) or ""))
    except (ValueError, RecursionError, AttributeError):
        return {}
    return data if isinstance(data, dict) else {}


def read_cache_image(ref: str, base: BaseImage, cache: LayerCache, log: BuildLog) -> CacheImageRead:
    """Copy the cache image's layers into the cache (checked), and its metadata beside the cached."""
    from boxwise.builder.base import _copy_layer
    from boxwise.builder.previous import label_layers
    from boxwise.image import open_image

    check_cache_image(ref)
    try:
        with log.progress(f"reading the cache image {ref}"):
            image = open_image(ref)
    except UserError as exc:
        log.say(f"cache image {ref}: not read ({str(exc).removeprefix(ref + ': ')}); starting cold")
        return CacheImageRead()
    digest = "sha256:" + hashlib.sha256(image.config_bytes or b"").hexdigest()
    label = _label_of(image.config)
    same_base = bool(base.diff_ids) and (label.get("runImage") or {}).get("topLayer") == base.diff_ids[-1]
    layers = label_layers(label)
    if not same_base:  # another base: its launch layers would not match; download caches still do
        layers = {
            bp: kept
            for bp, named in layers.items()
            if (kept := {n: e for n, e in named.items() if not (e.launch or e.build)})
        }
    wanted = {entry.sha for named in layers.values() for entry in named.values()}
    budget, copied, failed = _limit(), 0, 0
    for layer in image.layers:
        if layer.diff_id not in wanted or cache.has_blob(layer.diff_id) or layer.opener is None:
            continue
        budget -= layer.size
        try:
            if layer.size < 0 or budget < 0:  # a blob of no stated size is not read at all
                raise UserError(f"its size is over what {LIMIT_VARIABLE} allows ({_limit():.0f} bytes)")
            if _copy_layer(layer.opener, cache.blob_path(layer.diff_id)) != layer.diff_id:
                raise UserError("its content does not match its diff_id")
            copied += 1
        except (UserError, OSError, EOFError) as exc:  # a broken layer: that layer is rebuilt
            cache.blob_path(layer.diff_id).unlink(missing_ok=True)
            log.say(f"cache image {ref}: layer {layer.diff_id[:19]} not taken: {exc}")
            failed += 1
    layers = {
        bp: kept
        for bp, named in layers.items()
        if (kept := {n: e for n, e in named.items() if cache.has_blob(e.sha)})
    }
    if layers and cache.load() is None:
        cache.save(AppLayers(layers))
    elif layers:
        cache.add_alternates(layers)
    count = sum(len(named) for named in layers.values())
    log.say(
        f"restore: {count} cached layer(s) from the cache image {ref} ({copied} downloaded"
        + (f", {failed} refused" if failed else "")
        + ("" if same_base else "; built on another base: download caches only")
        + ")"
    )
    return CacheImageRead(digest)


def cache_image_parts(keep: BuildpackLayers, base: BaseImage, cache: LayerCache) -> tuple[bytes, list[Any]]:
    """(config, layers) of the cache image for this build's cached layers, in a fixed order."""
    from boxwise.image.export import ExportLayer, canonical_json

    buildpacks, layers, seen = [], [], set()
    for bp_id in sorted(keep):
        # a layer whose blob this build did not need (a download cache the fast path left alone) is
        # left out: the cache image holds what is here
        named = {
            name: entry for name, entry in keep[bp_id].items() if entry.cache and cache.has_blob(entry.sha)
        }
        if not named:
            continue
        buildpacks.append(
            {"key": bp_id, "layers": {name: entry.label_json() for name, entry in named.items()}}
        )
        for name in sorted(named):
            sha = named[name].sha
            if sha not in seen:
                seen.add(sha)
                path = cache.blob_path(sha)
                layers.append(ExportLayer(sha, path.stat().st_size, path))
    label = {"buildpacks": buildpacks, "runImage": {"topLayer": base.diff_ids[-1] if base.diff_ids else ""}}
    config = {
        "architecture": str(base.config.get("architecture") or "amd64"),
        "os": "linux",
        "created": "1980-01-01T00:00:01Z",
        "config": {"Labels": {LABEL: json.dumps(label, sort_keys=True)}},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    return canonical_json(config), layers


def write_cache_image(
    ref: str,
    keep: BuildpackLayers,
    base: BaseImage,
    cache: LayerCache,
    log: BuildLog,
    secrets: Any,
    read: CacheImageRead | None = None,
) -> str | None:
    """Push this build's cached layers and their metadata as the cache image; its digest, or None."""
    from boxwise.builder.secrets import scan_layer
    from boxwise.image.export import ExportImage
    from boxwise.image.registry import push_image

    where = check_cache_image(ref)
    config, layers = cache_image_parts(keep, base, cache)
    if read is not None and read.config_digest == ExportImage(config, layers).image_id:
        log.say(f"cache image {ref}: unchanged; not written")
        return None
    # Cache-only layers never reach the image, so the build's secrets check has not seen them.
    kept = {bp: dict(named) for bp, named in keep.items()}
    scanning = bool(secrets.file_hashes or secrets.needles)
    for named in kept.values():
        for name, entry in list(named.items()):
            only_cache = entry.cache and not entry.launch
            if only_cache and scanning and scan_layer(cache.blob_path(entry.sha), secrets):
                log.say(f"cache image {ref}: layer {name} holds a build secret; left out")
                del named[name]
    config, layers = cache_image_parts(kept, base, cache)
    image = ExportImage(config, layers)
    try:
        with log.progress(f"writing the cache image {ref}"):
            blobs = [(layer.diff_id, layer.size, layer.path) for layer in layers]
            return push_image(config, image.manifest(), blobs, where, say=log.say, progress=log.status)
    except (UserError, OSError) as exc:
        log.say(f"cache image {ref}: not written ({str(exc).removeprefix('registry://' + where + ': ')})")
        return None
