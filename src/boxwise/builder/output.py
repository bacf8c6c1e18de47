"""The end of a build: the secrets check, then the image written where --output says."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from boxwise.builder import secrets as build_secrets
from boxwise.builder.base import ENGINELESS_PLACES, BaseImage, load_base
from boxwise.builder.cache import LayerCache
from boxwise.builder.log import BuildLog
from boxwise.builder.options import BuildOptions
from boxwise.builder.runner import thin_archives_work
from boxwise.errors import UserError
from boxwise.image.export import (
    ExportImage,
    ExportLayer,
    load_into_engine,
    write_docker_archive,
    write_oci_layout,
)


def scan_for_secrets(
    secrets: build_secrets.BuildSecrets, blobs: list[Path], config: bytes, cache: LayerCache
) -> None:
    if not (secrets.file_hashes or secrets.needles):
        return
    found = build_secrets.scan_config(config, secrets)
    for blob in blobs:
        hits = build_secrets.scan_layer(blob, secrets)
        if hits:
            blob.unlink(missing_ok=True)  # a layer holding a secret must not stay in the cache either
        found += hits
    if found:
        raise UserError(
            "build secret in the image, nothing was written: "
            + "; ".join(sorted(set(found))[:5])
            + "; remove it from the app folder or exclude it in .dockerignore"
        )


def held_layers(client: Any, image_id: str | None, diff_ids: list[str]) -> int:
    """How many leading layers of `diff_ids` the engine holds as the bottom of image `image_id` (the
    image the previous build loaded): the same diff_ids from the bottom up are the same layer
    chains, which `docker load` then neither needs nor reads. 0 when that image is gone."""
    if not image_id:
        return 0
    side = getattr(client, "socket", None)
    try:
        attrs = side.inspect(image_id) if side is not None else client.api.inspect_image(image_id)
    except Exception:  # gone, or the engine cannot say: every layer goes in the archive
        return 0
    held = 0
    for have, want in zip((attrs.get("RootFS") or {}).get("Layers") or [], diff_ids, strict=False):
        if have != want:
            break
        held += 1
    return held


def write_output(
    options: BuildOptions,
    client: Any,
    image: ExportImage,
    base: BaseImage,
    cache: LayerCache,
    log: BuildLog,
    engine_image: str | None = None,
) -> str:
    """Write the image where --output says; `engine_image`: an image the engine may still hold whose
    bottom layers this one shares (they stay out of the archive it loads)."""
    output = options.output or "docker"
    base_blobs = [
        ExportLayer(
            d,
            cache.blob_path(d).stat().st_size if cache.has_blob(d) else 0,
            cache.blob_path(d) if cache.has_blob(d) else None,
        )
        for d in base.diff_ids
    ]
    full = ExportImage(image.config, [*base_blobs, *image.layers], image.tag)
    if output == "docker":
        # Thin (base layers left out) only when the base came from this engine and its store allows it.
        thin = not base.ref.startswith(ENGINELESS_PLACES) and thin_archives_work(client)
        layers = (
            [ExportLayer(layer.diff_id, layer.size, None) for layer in base_blobs] if thin else base_blobs
        )
        if not thin and any(layer.path is None for layer in layers):
            load_base(client, base.ref, cache, need_layers=True)
            return write_output(options, client, image, base, cache, log)
        layers += image.layers
        held = held_layers(client, engine_image, [layer.diff_id for layer in layers]) if thin else 0
        if held > len(base_blobs):
            above = held - len(base_blobs)
            log.say(f"export: {above} layer(s) above the base the engine holds already: not sent")
        log.status("export: loading the image into the engine")
        thin_layers = [ExportLayer(la.diff_id, la.size, None) for la in layers[:held]] + layers[held:]
        try:
            _load(client, image, thin_layers, cache)
        except UserError:
            if held <= len(base_blobs):
                raise
            # the earlier image went away since it was looked at: send those layers after all
            _load(client, image, layers, cache)
        return f"docker://{image.tag}" if image.tag else image.image_id
    kind, _, where = output.partition(":")
    if any(layer.path is None for layer in base_blobs):
        base = load_base(client, base.ref, cache, need_layers=True)
        return write_output(options, client, image, base, cache, log)
    if kind == "registry":
        return push_to_registry(full, where.removeprefix("//"), log)
    if kind == "docker-archive":
        write_docker_archive(full, Path(where))
    else:
        write_oci_layout(full, Path(where))
    return output


def _load(client: Any, image: ExportImage, layers: list[ExportLayer], cache: LayerCache) -> None:
    archive = cache.tmp_dir() / f"load-{os.getpid()}.tar"
    try:
        write_docker_archive(ExportImage(image.config, layers, image.tag), archive)
        load_into_engine(client, archive)
    finally:
        archive.unlink(missing_ok=True)


def push_to_registry(image: ExportImage, where: str, log: BuildLog) -> str:
    """Push to `registry://where`; the reference of what was pushed, pinned by manifest digest."""
    from boxwise.image.registry import parse_ref, push_image

    layers = [(layer.diff_id, layer.size, layer.path) for layer in image.layers if layer.path is not None]
    log.status(f"export: pushing to registry://{where}")
    digest = push_image(image.config, image.manifest(), layers, where, say=log.say, progress=log.status)
    ref = parse_ref(where)
    return f"registry://{ref.host}/{ref.repository}:{ref.tag or 'latest'}@{digest}"


def check_output(output: str) -> None:
    kind, _, where = output.partition(":")
    if kind == "registry" and where.startswith("//"):
        from boxwise.image.registry import parse_ref

        parse_ref(where.removeprefix("//"))  # a bad reference is refused before the build
        return
    if output != "docker" and (kind not in ("docker-archive", "oci") or not where):
        raise UserError(
            f"--output {output}: not a place boxwise writes; use docker, docker-archive:PATH, oci:PATH"
            " or registry://HOST/REPO:TAG"
        )
