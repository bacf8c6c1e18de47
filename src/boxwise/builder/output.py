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


def write_output(
    options: BuildOptions, client: Any, image: ExportImage, base: BaseImage, cache: LayerCache, log: BuildLog
) -> str:
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
        archive = cache.tmp_dir() / f"load-{os.getpid()}.tar"
        try:
            write_docker_archive(ExportImage(image.config, [*layers, *image.layers], image.tag), archive)
            log.status("export: loading the image into the engine")
            load_into_engine(client, archive)
        finally:
            archive.unlink(missing_ok=True)
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
