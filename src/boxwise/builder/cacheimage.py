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
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boxwise.builder.base import BaseImage
from boxwise.builder.cache import LayerCache
from boxwise.builder.cache_record import AppLayers, BuildpackLayers, FastRecord
from boxwise.builder.log import BuildLog
from boxwise.errors import UserError

if TYPE_CHECKING:
    from boxwise.image.model import Layer

LABEL = "io.buildpacks.lifecycle.cache.metadata"
# boxwise's own: the fast-path record of the build that wrote the cache image (cache_record.FastRecord),
# so a runner with an empty disk takes the host-side fast path on a code-only change
FAST_LABEL = "io.boxwise.fast-path"
LIMIT_VARIABLE = "BOXWISE_CACHE_IMAGE_LIMIT"
DEFAULT_LIMIT = 8e9  # bytes read from one cache image at most


@dataclass
class CacheImageRead:
    """What the read found: the config digest there (None: no image), to skip an unchanged write,
    and the download caches left in the registry until a build container needs them (`fetch_pending`)."""

    ref: str = ""
    config_digest: str | None = None
    pending: dict[str, Layer] = field(default_factory=dict)  # diff_id -> the cache image's layer
    budget: float = 0.0  # bytes still allowed to be read from it


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
    """Copy the cache image's layers into the cache (checked), and its metadata beside the cached.

    Download caches (pip's, uv's: cache-only layers) are left in the registry for now: only a
    build container uses them, and a code-only change takes the fast path without one. Their
    metadata is kept, so the cache image written after such a build is the same one (not written).
    """
    from boxwise.builder.previous import label_layers
    from boxwise.image import open_image

    check_cache_image(ref)
    try:
        with log.progress(f"reading the cache image {ref}"):
            image = open_image(ref)
    except UserError as exc:
        log.say(f"cache image {ref}: not read ({str(exc).removeprefix(ref + ': ')}); starting cold")
        return CacheImageRead(ref)
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
    entries = [entry for named in layers.values() for entry in named.values()]
    later = {entry.sha for entry in entries if entry.cache_only}
    now = {entry.sha for entry in entries} - later
    found = [
        layer for layer in image.layers if layer.opener is not None and not cache.has_blob(layer.diff_id)
    ]
    read = CacheImageRead(
        ref, digest, {layer.diff_id: layer for layer in found if layer.diff_id in later}, _limit()
    )
    copied, failed = _copy_layers(read, [layer for layer in found if layer.diff_id in now], cache, log)
    layers = {
        bp: kept
        for bp, named in layers.items()
        if (kept := {n: e for n, e in named.items() if cache.has_blob(e.sha) or e.sha in read.pending})
    }
    if layers and cache.load() is None:
        fast = _fast_record(image.config, ref, log) if same_base else None
        # a record is only written for builds whose steps write nothing into the app: none here
        cache.save(AppLayers(layers, fast=fast, app_steps=() if fast is not None else None))
    elif layers:
        cache.add_alternates(layers)
    count = sum(len(named) for named in layers.values())
    log.say(
        f"restore: {count} cached layer(s) from the cache image {ref} ({copied} downloaded"
        + (f", {failed} refused" if failed else "")
        + (
            f", {len(read.pending)} download cache(s) left there until a build needs them"
            if read.pending
            else ""
        )
        + ("" if same_base else "; built on another base: download caches only")
        + ")"
    )
    return read


def _fast_record(config: dict[str, Any], ref: str, log: BuildLog) -> FastRecord | None:
    """The fast-path record in the cache image's label, checked field by field; None if absent or
    not what boxwise writes (then the first build here runs the buildpacks, as without it)."""
    from boxwise.builder.cache_record import RECORD_VERSION
    from boxwise.jsonread import JsonFormatError, JsonReader

    text = ((config.get("config") or {}).get("Labels") or {}).get(FAST_LABEL)
    if not text:
        return None
    try:
        data = json.loads(str(text))
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            return None  # another boxwise's: not an error, just not usable
        return FastRecord.from_json(JsonReader(data, FAST_LABEL))
    except (ValueError, RecursionError, JsonFormatError) as exc:
        log.say(f"cache image {ref}: its fast-path record is not usable ({str(exc)[:120]}); ignored")
        return None


def fetch_pending(read: CacheImageRead, cache: LayerCache, log: BuildLog) -> None:
    """Download the cache-only layers the read left in the registry (a build container runs now)."""
    if read.pending:
        copied, failed = _copy_layers(read, list(read.pending.values()), cache, log)
        read.pending.clear()
        log.say(
            f"restore: {copied} download cache(s) from the cache image {read.ref}"
            + (f" ({failed} refused)" if failed else "")
        )


def _copy_layers(
    read: CacheImageRead, layers: list[Layer], cache: LayerCache, log: BuildLog
) -> tuple[int, int]:
    """(copied, refused): each layer copied into the cache, checked against its diff_id and the
    read budget; a broken one is left out (its layer is built again), never fatal."""
    from boxwise.builder.base import _copy_layer

    copied = failed = 0
    for layer in layers:
        read.budget -= layer.size
        try:
            if layer.size < 0 or read.budget < 0:  # a blob of no stated size is not read at all
                raise UserError(f"its size is over what {LIMIT_VARIABLE} allows ({_limit():.0f} bytes)")
            assert layer.opener is not None  # only layers with bytes are handed here
            if _copy_layer(layer.opener, cache.blob_path(layer.diff_id)) != layer.diff_id:
                raise UserError("its content does not match its diff_id")
            copied += 1
        except (UserError, OSError, EOFError) as exc:  # a broken layer: that layer is rebuilt
            cache.blob_path(layer.diff_id).unlink(missing_ok=True)
            log.say(f"cache image {read.ref}: layer {layer.diff_id[:19]} not taken: {exc}")
            failed += 1
    return copied, failed


def cache_image_parts(
    keep: BuildpackLayers,
    base: BaseImage,
    cache: LayerCache,
    pending: Collection[str] = (),
    fast: FastRecord | None = None,
) -> tuple[bytes, list[Any]]:
    """(config, layers) of the cache image for this build's cached layers, in a fixed order.
    `pending` layers (still in the registry) count in the config; they have no local bytes."""
    from boxwise.image.export import ExportLayer, canonical_json

    buildpacks, layers, seen = [], [], set()
    for bp_id in sorted(keep):
        # a layer whose blob this build did not need (a download cache the fast path left alone) is
        # left out: the cache image holds what is here
        named = {
            name: entry
            for name, entry in keep[bp_id].items()
            if entry.cache and (cache.has_blob(entry.sha) or entry.sha in pending)
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
                layers.append(ExportLayer(sha, path.stat().st_size if sha not in pending else -1, path))
    label = {"buildpacks": buildpacks, "runImage": {"topLayer": base.diff_ids[-1] if base.diff_ids else ""}}
    config = {
        "architecture": str(base.config.get("architecture") or "amd64"),
        "os": "linux",
        "created": "1980-01-01T00:00:01Z",
        "config": {"Labels": {LABEL: json.dumps(label, sort_keys=True), **_fast_label(fast)}},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    return canonical_json(config), layers


def _fast_label(fast: FastRecord | None) -> dict[str, str]:
    return {FAST_LABEL: json.dumps(fast.to_json(), sort_keys=True)} if fast is not None else {}


def write_cache_image(
    ref: str,
    keep: BuildpackLayers,
    base: BaseImage,
    cache: LayerCache,
    log: BuildLog,
    secrets: Any,
    read: CacheImageRead | None = None,
    fast: FastRecord | None = None,
) -> str | None:
    """Push this build's cached layers and their metadata as the cache image; its digest, or None."""
    from boxwise.builder.secrets import scan_layer
    from boxwise.image.export import ExportImage
    from boxwise.image.registry import push_image

    where = check_cache_image(ref)
    config, layers = cache_image_parts(keep, base, cache, read.pending if read is not None else (), fast)
    if read is not None and read.config_digest == ExportImage(config, layers).image_id:
        log.say(f"cache image {ref}: unchanged; not written")
        return None
    if read is not None:  # a new cache image holds every layer: the ones left there come down first
        fetch_pending(read, cache, log)
    # Cache-only layers never reach the image, so the build's secrets check has not seen them.
    kept = {bp: dict(named) for bp, named in keep.items()}
    scanning = bool(secrets.file_hashes or secrets.needles)
    for named in kept.values():
        for name, entry in list(named.items()):
            only_cache = entry.cache and not entry.launch
            if only_cache and scanning and scan_layer(cache.blob_path(entry.sha), secrets):
                log.say(f"cache image {ref}: layer {name} holds a build secret; left out")
                del named[name]
    config, layers = cache_image_parts(kept, base, cache, fast=fast)
    image = ExportImage(config, layers)
    try:
        with log.progress(f"writing the cache image {ref}"):
            blobs = [(layer.diff_id, layer.size, layer.path) for layer in layers]
            return push_image(config, image.manifest(), blobs, where, say=log.say, progress=log.status)
    except (UserError, OSError) as exc:
        log.say(f"cache image {ref}: not written ({str(exc).removeprefix('registry://' + where + ': ')})")
        return None
