"""Restore and export of buildpack layers, with the layer cache.

Reuse rule: a cached layer is restored into the build root with its metadata; when the buildpack
writes back the same metadata (its key is unchanged), the cached tar is exported as it is, byte
for byte, without reading the layer back out. Any other layer is read back (get_archive) and
rewritten as a reproducible tar.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from boxwise.builder.builder_toml import Builder
from boxwise.builder.cache import LayerCache
from boxwise.builder.cache_record import AppLayers, BuildpackLayers, CachedLayer
from boxwise.builder.cnbfiles import BuildpackBuild, LaunchLayer
from boxwise.builder.imageconfig import LAYERS_DIR
from boxwise.builder.log import BuildLog
from boxwise.builder.options import LayerReport
from boxwise.builder.runner import BuildRoot
from boxwise.errors import UserError
from boxwise.image.layer_writer import LayerBlob, normalize_tar


@dataclass
class Restored:
    """What restore put into the container: per buildpack, per layer, the cached entry."""

    layers: BuildpackLayers = field(default_factory=dict)
    # Cache-only layers whose contents wait until a buildpack asks for them (exit 75).
    deferred: list[Path] = field(default_factory=list)
    # Earlier entries of a layer, with other keys, that a buildpack may ask for by key (exit 75).
    alternates: dict[tuple[str, str], tuple[CachedLayer, ...]] = field(default_factory=dict)

    def get(self, bp: str, name: str) -> CachedLayer | None:
        return self.layers.get(bp, {}).get(name)


def store_blob(cache: LayerCache, write: Callable[[Path], LayerBlob]) -> LayerBlob:
    """Write a layer with `write(dest)` to a temp file, then move it to the blob named by its diff_id."""
    tmp = cache.tmp_dir() / f"layer-{os.getpid()}-{time.monotonic_ns()}.tar"
    blob = write(tmp)
    final = cache.blob_path(blob.diff_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_file() and final.stat().st_size == blob.size:
        tmp.unlink(missing_ok=True)  # the same bytes are there already
    else:
        os.replace(tmp, final)  # new, or a leftover of an interrupted write: replaced
    return LayerBlob(final, blob.diff_id, blob.size)


def _prefixed(prefix: str, member: str) -> str:
    return prefix + member


def tar_bytes(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A small tar of {path: (content, mode)}; folders are made by the engine as it extracts."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _restore_toml(metadata: dict[str, Any]) -> bytes:
    """A restored `<layer>.toml`: the metadata only, never `[types]` (the buildpack sets them again)."""
    import tomli_w

    return tomli_w.dumps({"metadata": metadata}).encode()


def restore(container: BuildRoot, builder: Builder, cache: LayerCache, log: BuildLog) -> Restored:
    """Put each cached layer's metadata (and, when its blob is intact, its contents) back."""
    document = cache.load() or AppLayers()
    restored = Restored()
    files: dict[str, tuple[bytes, int]] = {}
    for bp_id, layers in document.buildpacks.items():
        bp = builder.buildpacks.get(bp_id)
        if bp is None:
            continue
        for name, entry in sorted(layers.items()):
            blob = cache.verified_blob(entry.sha)
            if blob is None:
                log.say(f"restore: {bp_id}:{name}: cached layer missing or corrupt; it will be rebuilt")
                continue
            folder = f"{LAYERS_DIR}/{bp.dir_name}"
            if entry.cache_only:
                # A download cache can be big and is needed only when a key changed: later.
                files[f"{folder}/{name}.deferred"] = (b"", 0o644)
                restored.deferred.append(blob)
            elif entry.cache:
                container.put(blob, "/")
            files[f"{folder}/{name}.toml"] = (_restore_toml(entry.data), 0o644)
            restored.layers.setdefault(bp_id, {})[name] = entry
            others = document.alternates_of(bp_id, name)
            if others and entry.cache:
                keys = "".join(f"{item.key}\n" for item in others)
                files[f"{folder}/{name}.alternates"] = (keys.encode(), 0o644)
                restored.alternates[(bp_id, name)] = others
    if files:
        container.put(tar_bytes(files), "/")
    return restored


def restore_wanted(
    container: BuildRoot, builder: Builder, cache: LayerCache, restored: Restored, log: BuildLog
) -> bool:
    """Put back the earlier entries the buildpacks asked for by key (`<name>.want`); any?"""
    files: dict[str, tuple[bytes, int]] = {}
    for (bp_id, name), others in restored.alternates.items():
        folder = f"{LAYERS_DIR}/{builder.buildpacks[bp_id].dir_name}"
        try:
            wanted = container.read_file(f"{folder}/{name}.want").decode().strip()
        except Exception:  # no such file: this layer asked for nothing
            continue
        entry = next((e for e in others if e.key == wanted), None)
        blob = cache.verified_blob(entry.sha) if entry else None
        if entry is None or blob is None:
            log.say(f"restore: {bp_id}:{name}: the entry asked for is gone; it will be rebuilt")
            files[f"{folder}/{name}.alternates"] = (b"", 0o644)
            continue
        log.say(f"restore: {bp_id}:{name}: an earlier cached layer with the same key")
        container.put(blob, "/")
        files[f"{folder}/{name}.toml"] = (_restore_toml(entry.data), 0o644)
        restored.layers.setdefault(bp_id, {})[name] = entry
    if files:
        container.put(tar_bytes(files), "/")
    restored.alternates.clear()
    return bool(files)


def _reason(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    if old is None:
        return "no cached layer"
    old_inputs, new_inputs = old.get("inputs") or {}, new.get("inputs") or {}
    if isinstance(old_inputs, dict) and isinstance(new_inputs, dict) and (old_inputs or new_inputs):
        changed = [k for k in new_inputs if old_inputs.get(k) != new_inputs[k]]
        changed += [f"{k} (removed)" for k in old_inputs if k not in new_inputs]
        if changed:
            return ", ".join(changed) + " changed"
    return "layer metadata changed"


def export_layers(
    container: BuildRoot,
    group: Sequence[BuildpackBuild],
    restored: Restored,
    cache: LayerCache,
    log: BuildLog,
) -> tuple[list[LaunchLayer], list[LayerReport], BuildpackLayers]:
    """(launch layers for the image, reports, cache entries) for every layer the group declared."""
    launch: list[LaunchLayer] = []
    reports: list[LayerReport] = []
    keep: BuildpackLayers = {}
    for bp in group:
        for name in sorted(bp.layers):
            layer = bp.layers[name]
            types = layer.types
            if not (types["launch"] or types["cache"]):
                continue
            old = restored.get(bp.id, name)
            # Same metadata: the restored contents (cache=true) are still there untouched, or the
            # buildpack left no contents (launch-only reuse); either way the cached tar is the layer.
            if old is not None and old.data == layer.metadata and (old.cache or not layer.has_dir):
                diff_id, status, reason = old.sha, "reused", "key unchanged"
                size = cache.blob_path(diff_id).stat().st_size
            elif layer.has_dir:
                log.status(f"export: reading layer {bp.id}:{name}")
                raw = cache.tmp_dir() / f"raw-{os.getpid()}.tar"
                try:
                    container.get(f"{LAYERS_DIR}/{bp.dir_name}/{name}", raw)
                    prefix = f"layers/{bp.dir_name}/"
                    blob = store_blob(cache, partial(normalize_tar, raw, rename=partial(_prefixed, prefix)))
                finally:
                    raw.unlink(missing_ok=True)
                diff_id, size, status = blob.diff_id, blob.size, "rebuilt"
                reason = _reason(old.data if old else None, layer.metadata)
            else:
                raise UserError(
                    f"buildpack {bp.id} kept layer '{name}' without contents and boxwise has no cached "
                    "copy of it; build again with an empty --cache folder"
                )
            entry = CachedLayer(diff_id, layer.metadata, types["launch"], types["build"], types["cache"])
            keep.setdefault(bp.id, {})[name] = entry
            if types["launch"]:
                launch.append(LaunchLayer(bp.id, name, diff_id, types, layer.metadata, size))
                reports.append(LayerReport(bp.id, name, diff_id, size, status, reason))
            if not types["launch"]:  # cache only: never in the image, so no reuse story to tell
                log.say(f"cache layer {bp.id}:{name}: " + ("kept" if status == "reused" else "updated"))
            else:
                log.say(
                    f"layer {bp.id}:{name}: "
                    + ("reused (key unchanged)" if status == "reused" else f"rebuilt: {reason}")
                )
    return launch, reports, keep
