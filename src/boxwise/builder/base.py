"""The run base image as the exporter needs it: its exact config and, for some outputs, its layer tars.

An engine base is read once per image ID through `docker save` (the Docker SDK's get_image), in
one pass that keeps only its config (`bases/<id>.json`) and what the build asks of it (basescan);
its layers are copied into the cache as blobs by diff_id only when an output needs them (a file,
a registry, an engine that cannot take a thin archive). File and registry bases always come as
blobs. Later builds on the same base read only the small files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from boxwise.atomicfile import atomic_path, write_atomically
from boxwise.builder.basescan import SavedBase, base_record, scan_files, scan_saved
from boxwise.builder.cache import LayerCache
from boxwise.builder.runtime import remember_user_files
from boxwise.errors import UserError
from boxwise.image.model import diff_ids

# Places a base image is read from without an engine (its layers become cache blobs).
ENGINELESS_PLACES = ("docker-archive:", "oci:", "registry://")


@dataclass(frozen=True)
class BaseImage:
    ref: str
    image_id: str
    config_bytes: bytes

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(self.config_bytes)
        return config

    @property
    def diff_ids(self) -> list[str]:
        return diff_ids(self.config, self.ref)


# As pack's --pull-policy: pull when the image is missing (the default), every time, or never.
PULL_POLICIES = ("if-not-present", "always", "never")


def engine_image_id(client: Any, ref: str, flag: str, pull: str = "never", say: Any = None) -> str:
    """The engine's ID of `ref`, pulled first as the pull policy says."""
    side = getattr(client, "socket", None)
    if side is not None and pull != "always":  # the common case, without importing the Docker SDK
        from boxwise.image.engine import NoSuchImage

        with contextlib.suppress(NoSuchImage, UserError):  # the SDK's answer below says what is wrong
            return str(side.inspect(ref)["Id"])
    import docker.errors

    if pull != "always":
        try:
            image_id: str = client.images.get(ref).id  # the engine answers every image with its ID
            return image_id
        except docker.errors.ImageNotFound:
            if pull == "never":
                raise UserError(
                    f"{flag} {ref}: no such image in the engine and --pull-policy is never; pull it, make it "
                    "(bash scripts/base-image.sh) or use --pull-policy if-not-present"
                ) from None
        except docker.errors.APIError as exc:
            raise UserError(
                f"{flag} {ref}: the engine cannot use this name ({exc.explanation or exc})"
            ) from None
    if say is not None:
        say(f"pull: {ref} (--pull-policy {pull})")
    _pull(client, ref, flag)
    pulled: str = client.images.get(ref).id
    return pulled


def _pull(client: Any, ref: str, flag: str) -> None:
    """`docker pull ref` through the engine; its error (in the answer or in the stream) is one line."""
    import docker.errors
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(ref)
    error = ""
    try:
        for event in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if isinstance(event, dict) and event.get("error"):
                error = str(event.get("error"))
    except docker.errors.APIError as exc:
        error = str(exc.explanation or exc)
    if error:
        raise UserError(
            f"{flag} {ref}: the engine cannot pull it ({error.splitlines()[0][:200]}); check the name "
            "and the registry login (docker login), or give --base an image the engine has"
        )


def saved_member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    """A file of a `docker save` tar (manifest.json, the config, a layer): the engine writes each as a
    regular file, so anything else means the tar is not one."""
    handle = tar.extractfile(name)
    if handle is None:
        raise ValueError(f"docker save: {name} is not a regular file")
    return handle


def copy_hashed(src: Any, dest: Path) -> str:
    digest = hashlib.sha256()
    with atomic_path(dest) as tmp, open(tmp, "wb") as out:
        for block in iter(lambda: src.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
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


def _ref_record(cache: LayerCache, ref: str) -> Path:
    return cache.root / "bases" / "refs" / f"{hashlib.sha256(ref.encode()).hexdigest()}.json"


def _cached_registry_base(ref: str, cache: LayerCache) -> BaseImage | None:
    """The registry base this cache read last time under this name, when all its layers are here."""
    try:
        image_id = str(json.loads(_ref_record(cache, ref).read_bytes())["image_id"])
        config_bytes = (cache.root / "bases" / f"{image_id.removeprefix('sha256:')}.json").read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    base = BaseImage(ref, image_id, config_bytes)
    try:
        complete = all(cache.has_blob(d) for d in base.diff_ids)
    except (ValueError, AttributeError):
        return None
    return base if complete else None


def load_base_file(
    ref: str, cache: LayerCache, flag: str, pull: str = "always", say: Any = None, progress: Any = None
) -> BaseImage:
    """A base from a file or a registry (no engine): its config and its layers as blobs.

    A registry base is read again only as the pull policy says: with if-not-present (or never)
    the last read of the same name is used while the cache holds it, as an engine keeps a pulled
    image."""
    from boxwise.image import open_image
    from boxwise.image.export import canonical_json

    if ref.startswith("registry://") and pull != "always":
        cached = _cached_registry_base(ref, cache)
        if cached is not None:
            return cached
        if pull == "never":
            raise UserError(
                f"{flag} {ref}: not read before into this cache and --pull-policy is never; "
                "use --pull-policy if-not-present"
            )
    if ref.startswith("registry://") and say is not None:
        say(f"pull: {ref} (--pull-policy {pull})")
    image = open_image(ref)
    config_bytes = canonical_json(image.config)
    image_id = str((image.manifest.get("config") or {}).get("digest") or "")
    cache.blobs.mkdir(parents=True, exist_ok=True)
    for number, layer in enumerate(image.layers, 1):
        if cache.has_blob(layer.diff_id):
            continue
        if progress is not None:  # the terminal's status line: which layer, how big
            size = f", {layer.size / 1e6:.1f} MB" if layer.size >= 0 else ""
            progress(f"pulling {ref}: layer {number} of {len(image.layers)}{size}")
        if layer.opener is None:
            raise UserError(f"{flag} {ref}: layer {layer.diff_id} cannot be read; save the image again")
        got = _copy_layer(layer.opener, cache.blob_path(layer.diff_id))
        if got != layer.diff_id:
            cache.blob_path(layer.diff_id).unlink(missing_ok=True)
            raise UserError(f"{flag} {ref}: a layer does not match its diff_id; save the image again")
    base = BaseImage(ref, image_id or f"sha256:{hashlib.sha256(config_bytes).hexdigest()}", config_bytes)
    if ref.startswith("registry://") and re.fullmatch(r"sha256:[0-9a-f]{64}", base.image_id):
        # kept like an engine base's config (its layers then count as in use), and found by name
        write_atomically(cache.root / "bases" / f"{base.image_id.removeprefix('sha256:')}.json", config_bytes)
        write_atomically(
            _ref_record(cache, ref), json.dumps({"ref": ref, "image_id": base.image_id}).encode()
        )
    return base


def load_base(
    client: Any,
    ref: str,
    cache: LayerCache,
    *,
    need_layers: bool,
    flag: str = "--base",
    pull: str = "never",
    say: Any = None,
    progress: Any = None,
) -> BaseImage:
    """The base's config (and, with need_layers, its layer blobs in the cache)."""
    if ref.startswith(ENGINELESS_PLACES):
        return load_base_file(ref, cache, flag, pull, say, progress)
    ref = ref.removeprefix("docker://")
    image_id = engine_image_id(client, ref, flag, pull, say)
    config_path = cache.root / "bases" / f"{image_id.removeprefix('sha256:')}.json"
    if config_path.is_file():
        base = BaseImage(ref, image_id, config_path.read_bytes())
        if not need_layers or all(cache.has_blob(d) for d in base.diff_ids):
            return base
    if not need_layers:  # what the build asks of the base, learned from one pass, no layer kept
        scanned = scan_saved(client.api.get_image(image_id, chunk_size=1 << 20), f"{flag} {ref}")
        diff_ids(json.loads(scanned.config_bytes), f"{flag} {ref}")  # a config boxwise can build on
        remember_findings(cache, image_id, scanned)
        write_atomically(config_path, scanned.config_bytes)
        return BaseImage(ref, image_id, scanned.config_bytes)
    cache.blobs.mkdir(parents=True, exist_ok=True)
    saved = cache.tmp_dir() / f"save-{os.getpid()}.tar"
    try:
        with open(saved, "wb") as out:
            for chunk in client.api.get_image(image_id, chunk_size=1 << 20):
                out.write(chunk)
        with tarfile.open(saved, "r:") as tar:
            manifest = json.load(saved_member(tar, "manifest.json"))[0]
            config_bytes = saved_member(tar, manifest["Config"]).read()
            ids = diff_ids(json.loads(config_bytes), f"{flag} {ref}")
            for member_name, diff_id in zip(manifest["Layers"], ids, strict=True):
                if cache.has_blob(diff_id):
                    continue
                got = copy_hashed(saved_member(tar, member_name), cache.blob_path(diff_id))
                if got != diff_id:
                    cache.blob_path(diff_id).unlink(missing_ok=True)
                    raise UserError(
                        f"{flag} {ref}: layer {member_name} does not match its diff_id; re-make the image"
                    )
    finally:
        saved.unlink(missing_ok=True)
    write_atomically(config_path, config_bytes)
    return BaseImage(ref, image_id, config_bytes)


def remember_findings(cache: LayerCache, image_id: str, saved: SavedBase) -> None:
    """Keep what the build asks of this base, so that no later build reads its layers again."""
    for suffix, text in (("pyversion", saved.python_version()), ("python", saved.python_path())):
        record = base_record(cache, image_id, suffix)
        if record is not None:
            record.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(record, text.encode())
    remember_user_files(cache, image_id, saved.user_files())


def _findings_from_blobs(base: BaseImage, cache: LayerCache) -> SavedBase | None:
    """The findings of a base whose layers are in the cache (file and registry bases), kept."""
    if not base.diff_ids or not all(cache.has_blob(d) for d in base.diff_ids):
        return None
    saved = scan_files(map(cache.blob_path, base.diff_ids), base.config_bytes)
    remember_findings(cache, base.image_id, saved)
    return saved


def _recorded(cache: LayerCache, image_id: str, suffix: str) -> str | None:
    record = base_record(cache, image_id, suffix)
    if record is None or not record.is_file():
        return None
    return record.read_text(encoding="utf-8").strip()


def base_python(base: BaseImage, cache: LayerCache) -> str | None:
    """Where the run base has python3 (`/usr/local/bin/python3` in python:slim): the top-most layer
    holding one says. Known once per base image (see remember_findings)."""
    found = _recorded(cache, base.image_id, "python")
    if found is None:
        saved = _findings_from_blobs(base, cache)
        found = saved.python_path() if saved is not None else ""
    return found or None


def base_python_version(base: BaseImage, cache: LayerCache) -> tuple[str, str] | None:
    """(the run base's Python version, how it is known), or None when it cannot be known here.

    The config's PYTHON_VERSION first (the official python images set it: 3.13.1); else the
    python3.X whose standard library the top-most layer holds (the minor only), as the one pass
    over an engine base's saved image or the cached layers of a file or registry base found it.
    """
    env = dict(item.partition("=")[::2] for item in (base.config.get("config") or {}).get("Env") or [])
    declared = str(env.get("PYTHON_VERSION", "")).strip()
    if re.match(r"^\d+\.\d+", declared):
        return declared[:40], "its PYTHON_VERSION"
    found = _recorded(cache, base.image_id, "pyversion")
    if found is None:
        saved = _findings_from_blobs(base, cache)
        found = saved.python_version() if saved is not None else ""
    return (found, "its standard library") if found else None
