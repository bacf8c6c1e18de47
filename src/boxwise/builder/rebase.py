"""`boxwise rebase IMAGE --run-image NEW`: put an image on a patched base without rebuilding.

Only the manifest and the config change (rebase_config): the app's layers stay byte for byte.
In the engine, the image is loaded again with the new base's layers left out where the store
allows it (the app's layers must come along: on a new base they form new layer chains). In a
registry nothing of the app is uploaded: the new manifest names the blobs already there; the new
base's blobs are mounted from its repository (same registry) or pushed only when missing.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boxwise.builder.base import BaseImage, base_python_version, load_base
from boxwise.builder.cache import LayerCache
from boxwise.builder.rebase_config import BuiltOn, built_on, check_python, diff_ids_of, rebased_config
from boxwise.errors import UserError
from boxwise.image.export import ExportImage, ExportLayer, canonical_json
from boxwise.image.mediatypes import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST


@dataclass(frozen=True)
class RebaseOptions:
    image: str  # docker://NAME, a bare engine name, or registry://REF
    run_image: str  # the new base: an engine name or anything --base takes
    tag: str | None  # where the result goes (default: IMAGE's own name)
    cache: Path
    pull: str  # the new base's pull policy, as build's


def run_rebase(options: RebaseOptions) -> int:
    print(rebase(options, say=lambda line: print(line, file=sys.stderr)))
    return 0


def rebase(options: RebaseOptions, say: Any = print) -> str:
    """Rebase and write; the reference of the result."""
    cache = LayerCache(options.cache, "rebase")
    if options.image.startswith("registry://"):
        return _rebase_in_registry(options, cache, say)
    if options.image.startswith(("docker-archive:", "oci:")) or "://" in options.image.removeprefix(
        "docker://"
    ):
        raise UserError(f"{options.image}: rebase works on docker://NAME (or a bare name) and registry://REF")
    return _rebase_in_engine(options, cache, say)


def _new_base(options: RebaseOptions, client: Any, cache: LayerCache) -> BaseImage:
    """The new base with its layers in the cache (its Python is read from them when not declared)."""
    base = load_base(
        client, options.run_image, cache, need_layers=True, flag="--run-image", pull=options.pull
    )
    if not base.diff_ids:
        raise UserError(f"--run-image {options.run_image}: the image has no layers; give a run base image")
    return base


def _old_base(client: Any, on: BuiltOn, cache: LayerCache) -> dict[str, Any] | None:
    """The base the image was built on, when the engine still has it under the name the label gives
    (never pulled, never a file or host the image names); its env tells inherited values apart."""
    name = on.reference
    if client is None and name:
        try:
            from boxwise.builder.runner import connect

            client = connect()
        except UserError:
            return None
    if not name or "://" in name or name.startswith(("docker-archive:", "oci:", "/", ".")):
        return None
    try:
        base = load_base(client, name, cache, need_layers=False, flag="the old run image", pull="never")
    except UserError:
        return None
    return base.config if len(base.diff_ids) == on.base_layers else None


def _plan(
    label: str, config: dict[str, Any], options: RebaseOptions, client: Any, cache: LayerCache, say: Any
) -> tuple[BuiltOn, BaseImage, bytes]:
    on = built_on(config, label)
    new_base = _new_base(options, client, cache)
    check_python(label, on.python, base_python_version(new_base, cache), options.run_image)
    old = _old_base(client, on, cache)
    if old is None:
        say(
            f"rebase: the old run image {on.reference or '?'} is not in the engine;"
            " the image's env is kept as is"
        )
    elif diff_ids_of(old)[-1:] == new_base.diff_ids[-1:]:
        say(f"rebase: {label} is already on {options.run_image}")
    new_config = rebased_config(config, on, old, new_base.config, options.run_image)
    say(
        f"rebase: {on.base_layers} base layers replaced by {len(new_base.diff_ids)} of {options.run_image}; "
        f"{len(diff_ids_of(config)) - on.base_layers} layers kept"
    )
    return on, new_base, new_config


def _rebase_in_engine(options: RebaseOptions, cache: LayerCache, say: Any) -> str:
    from boxwise.builder.runner import connect, engine_errors, thin_archives_work
    from boxwise.image.export import load_into_engine, write_docker_archive

    client = connect()
    name = options.image.removeprefix("docker://")
    with engine_errors("the rebase"):
        _must_exist(client, name)
        image = load_base(client, name, cache, need_layers=True, flag="IMAGE")
        on, new_base, config = _plan(options.image, image.config, options, client, cache, say)
        thin = not options.run_image.startswith(("docker-archive:", "oci:", "registry://"))
        thin = thin and thin_archives_work(client)
        layers = [_cached(cache, d, keep=not thin) for d in new_base.diff_ids]
        layers += [_cached(cache, d, keep=True) for d in image.diff_ids[on.base_layers :]]
        tag = options.tag or (None if name.startswith("sha256:") else name)
        result = ExportImage(config, layers, tag)
        archive = cache.tmp_dir() / f"rebase-{os.getpid()}.tar"
        try:
            write_docker_archive(result, archive)
            load_into_engine(client, archive)
        finally:
            archive.unlink(missing_ok=True)
    say(f"rebased {options.image} onto {options.run_image}: image {result.image_id}")
    return f"docker://{tag}" if tag else result.image_id


def _must_exist(client: Any, name: str) -> None:
    import docker.errors

    try:
        client.images.get(name)
    except (docker.errors.ImageNotFound, docker.errors.APIError):
        raise UserError(f"{name}: no such image in the engine; build it first (boxwise build)") from None


def _cached(cache: LayerCache, diff_id: str, keep: bool) -> ExportLayer:
    path = cache.blob_path(diff_id)
    return ExportLayer(diff_id, path.stat().st_size, path if keep else None)


def _rebase_in_registry(options: RebaseOptions, cache: LayerCache, say: Any) -> str:
    from boxwise.image.registry import read_registry_image

    image = read_registry_image(options.image.removeprefix("registry://"), options.image)
    client = _engine_if_needed(options.run_image)
    on, new_base, config = _plan(options.image, image.config, options, client, cache, say)
    target = (options.tag or options.image).removeprefix("registry://")
    if options.tag is None and "@" in target:
        raise UserError(f"{options.image}: named by digest; give --tag registry://HOST/REPO:TAG to write to")
    kept = [d for d in image.manifest.get("layers") or [] if isinstance(d, dict)][on.base_layers :]
    return _push(image.manifest, config, new_base, kept, options.run_image, target, cache, say)


def _engine_if_needed(run_image: str) -> Any:
    if run_image.startswith(("docker-archive:", "oci:", "registry://")):
        return None
    from boxwise.builder.runner import connect

    return connect()


def _push(
    manifest: dict[str, Any],
    config: bytes,
    new_base: BaseImage,
    kept: list[dict[str, Any]],
    run_image: str,
    target: str,
    cache: LayerCache,
    say: Any,
) -> str:
    """Config and missing base blobs up, then the manifest; the kept layers' blobs are only named."""
    from boxwise.image.registry import parse_ref, read_registry_image
    from boxwise.image.registry_client import Registry

    where = parse_ref(target)
    registry = Registry(where, f"registry://{target}", push=True)
    source, base_layers = "", []
    if run_image.startswith("registry://"):
        base_image = read_registry_image(run_image.removeprefix("registry://"), run_image)
        if parse_ref(run_image.removeprefix("registry://")).host == where.host:
            source = parse_ref(run_image.removeprefix("registry://")).repository
            base_layers = [dict(d) for d in base_image.manifest.get("layers") or [] if isinstance(d, dict)]
    if not base_layers:  # uncompressed, from the cache, as boxwise build pushes
        base_layers = [
            {"mediaType": OCI_LAYER, "digest": d, "size": cache.blob_path(d).stat().st_size}
            for d in new_base.diff_ids
        ]
    counts = {"uploaded": 0, "mounted": 0, "present": 0}
    for descriptor in base_layers:
        digest, size = str(descriptor["digest"]), int(descriptor["size"])
        if registry.has_blob(digest):
            counts["present"] += 1
            continue
        location = registry.mount(digest, source) if source and source != where.repository else ""
        if location is None:
            counts["mounted"] += 1
            continue
        if not cache.has_blob(digest):
            raise UserError(f"--run-image {run_image}: layer {digest} cannot be mounted into {target}")
        registry.upload(digest, size, lambda d=digest: open(cache.blob_path(d), "rb"), location)  # noqa: SIM115
        counts["uploaded"] += 1
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    if not registry.has_blob(config_digest):
        registry.upload(config_digest, len(config), config)
    old_config = value if isinstance(value := manifest.get("config"), dict) else {}
    media_type = str(manifest.get("mediaType") or OCI_MANIFEST)
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": str(old_config.get("mediaType") or OCI_CONFIG),
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [*base_layers, *kept],
    }
    digest = registry.put_manifest(
        where.digest or where.tag or "latest", canonical_json(document), media_type
    )
    say(
        f"rebased in registry://{where.host}/{where.repository}: base blobs {counts['uploaded']} uploaded, "
        f"{counts['mounted']} mounted, {counts['present']} already there;"
        f" {len(kept)} layers kept, none uploaded"
    )
    return f"registry://{where.host}/{where.repository}:{where.tag or 'latest'}@{digest}"
