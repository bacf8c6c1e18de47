"""`docker://NAME[:TAG]`: an image in the Docker engine (see `engine` for how it is called).

`docker inspect` first gives the layers' diff_ids and the image ID. When every layer's index is
already in the cache, and so is the config (by image ID, from an earlier stream) or the engine's
history pairs up with the layers unambiguously, nothing more is read. Otherwise, for an engine on
the local socket whose data folder we can read, the config and the layers' tar headers come from
the engine's own records (`layerdb`: what `docker save` itself assembles them from). Otherwise
(another host, unreadable or unexpected records) the image is streamed once (the bytes of
`docker save`), and each layer's headers are indexed as they pass; no layer and never the whole
image is held in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boxwise.errors import UserError
from boxwise.image.cache import IndexCache
from boxwise.image.layerdb import read_from_records
from boxwise.image.mediatypes import DOCKER_LAYER
from boxwise.image.model import Entry, Image, Layer, diff_ids, docker_manifest, layer_commands, load_json
from boxwise.image.store import MAX_JSON
from boxwise.image.tarindex import BLOCK, Reader, chunk_stream, iter_entries, limited, read_index


def read_engine_image(
    name: str, ref: str, cache: IndexCache | None = None, progress: Callable[[int, int], None] | None = None
) -> Image:
    from boxwise.image.engine import NoSuchImage, SocketEngine, connect

    if not name:
        raise UserError(f"{ref}: no image name; give docker://NAME[:TAG]")
    cache = cache or IndexCache()
    engine = connect()
    try:
        try:
            inspect = engine.inspect(name)
        except NoSuchImage:
            raise UserError(f"{name}: the Docker engine has no such image; build or pull it first") from None
        ids = [str(i) for i in (inspect.get("RootFS") or {}).get("Layers") or []]
        tags = inspect.get("RepoTags") or []
        image = None
        if ids and all(cache.has(i) for i in ids):
            config_bytes = cache.get_config(str(inspect.get("Id", "")))
            if config_bytes is not None:
                image = _from_cache(ref, str(inspect["Id"]), config_bytes, cache)
            if image is None:
                image = _from_inspect(engine, name, ref, inspect, ids, cache)
        if image is None and isinstance(engine, SocketEngine):
            image = _from_engine_records(engine, ref, inspect, cache, progress)
        if image is None:
            image = _stream(engine, name, ref, cache, progress, len(ids))
        image.name = tags[0] if tags else name
        return image
    finally:
        engine.close()


def _from_engine_records(
    engine: Any,
    ref: str,
    inspect: dict[str, Any],
    cache: IndexCache,
    progress: Callable[[int, int], None] | None,
) -> Image | None:
    """The image from a local engine's own files (see `layerdb`), when they are there to read."""
    import re
    from pathlib import Path

    try:
        info = engine.info()
    except (UserError, ValueError):
        return None
    root, driver = info.get("DockerRootDir"), info.get("Driver")
    if not isinstance(root, str) or not isinstance(driver, str) or not root:
        return None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", driver):  # a folder name: overlay2, fuse-overlayfs
        return None
    return read_from_records(ref, inspect, Path(root) / "image" / driver, cache, progress)


def _from_cache(ref: str, config_digest: str, config_bytes: bytes, cache: IndexCache) -> Image | None:
    """The image from its cached config (exact history) and cached layer indexes."""
    config = load_json(config_bytes, f"{ref}: cached config")
    ids = diff_ids(config)
    commands = layer_commands(config, len(ids))
    layers = []
    for index, diff_id in enumerate(ids):
        entries = cache.get(diff_id)
        if entries is None:
            return None
        layers.append(
            Layer(diff_id, diff_id, DOCKER_LAYER, -1, commands[index], entries=entries, location=diff_id)
        )
    return Image(
        ref,
        docker_manifest(config_digest, layers),
        config,
        layers,
        source="docker",
        config_bytes=config_bytes,
    )


def _from_inspect(
    engine: Any, name: str, ref: str, inspect: dict[str, Any], ids: list[str], cache: IndexCache
) -> Image | None:
    """The image from `inspect` + `history` alone, when every layer index is cached.

    The engine's history does not say which items are empty layers; a zero size is ambiguous
    (a layer holding only a whiteout is 0 bytes too), so that case falls back to streaming.
    """
    items = list(reversed(engine.history(name)))
    if sum(1 for item in items if item.get("Size", 0) > 0) != len(ids):
        return None
    history = [
        {"created_by": item.get("CreatedBy") or "", "empty_layer": item.get("Size", 0) == 0} for item in items
    ]
    for item in history:
        if not item["empty_layer"]:
            item.pop("empty_layer")
    config = {
        "architecture": inspect.get("Architecture"),
        "os": inspect.get("Os"),
        "created": inspect.get("Created"),
        "config": inspect.get("Config") or {},
        "rootfs": {"type": "layers", "diff_ids": ids},
        "history": history,
    }
    commands = layer_commands(config, len(ids))
    layers = []
    for index, diff_id in enumerate(ids):
        entries = cache.get(diff_id)
        if entries is None:  # a corrupt entry was dropped: read the image the long way
            return None
        layers.append(
            Layer(diff_id, diff_id, DOCKER_LAYER, -1, commands[index], entries=entries, location=diff_id)
        )
    return Image(ref, docker_manifest(inspect.get("Id", ""), layers), config, layers, source="docker")


def _is_layer(name: str, head: bytes) -> bool:
    if name.endswith((".tar", ".tar.gz", ".tgz")):
        return True
    if "blobs/" not in name:
        return False
    stripped = head.lstrip()
    return not stripped.startswith((b"{", b"[")) and (
        head.startswith(b"\x1f\x8b")
        or len(head) < BLOCK
        or head[257:262] == b"ustar"
        or not head.strip(b"\0")
    )


def _stream(
    engine: Any,
    name: str,
    ref: str,
    cache: IndexCache,
    progress: Callable[[int, int], None] | None,
    layer_count: int,
) -> Image:
    chunks = engine.save(name)
    source = chunk_stream(iter(chunks))
    documents: dict[str, bytes] = {}
    indexes: dict[str, list[Entry]] = {}
    links: dict[str, str] = {}
    what = f"docker://{name}"
    for member in iter_entries(source, what):
        if member.typeflag in ("1", "2"):
            links[member.path] = member.linkname
            continue
        if member.typeflag not in ("0", "\x00", "7"):
            continue
        data: Reader = limited(source, member.size)
        head = data.read(BLOCK)
        data.unread(head)
        if _is_layer(member.path, head):
            indexes[member.path] = read_index(data, f"{what}: {member.path}")
            if progress is not None:
                progress(min(len(indexes), layer_count), layer_count)
        elif member.size <= MAX_JSON:
            documents[member.path] = data.read(member.size)
    return _assemble(ref, name, documents, indexes, links, cache)


def _resolve(path: str, links: dict[str, str]) -> str:
    import posixpath

    for _ in range(16):
        target = links.get(path)
        if target is None:
            return path
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return path


def _assemble(
    ref: str,
    name: str,
    documents: dict[str, bytes],
    indexes: dict[str, list[Entry]],
    links: dict[str, str],
    cache: Any,
) -> Image:
    what = f"docker://{name}"
    if "manifest.json" not in documents:
        raise UserError(f"{what}: the engine's export has no manifest.json; the engine is not compatible")
    manifest_list = load_json(documents["manifest.json"], f"{what}: manifest.json")
    entry = manifest_list[0] if isinstance(manifest_list, list) and manifest_list else {}
    config_name = entry.get("Config")
    if config_name not in documents:
        raise UserError(f"{what}: the engine's export lacks its config; the engine is not compatible")
    config = load_json(documents[config_name], f"{what}: config")
    ids = diff_ids(config)
    names = entry.get("Layers") or []
    if len(ids) != len(names):
        raise UserError(f"{what}: {len(names)} layers but {len(ids)} diff_ids in the engine's export")
    commands = layer_commands(config, len(names))
    layers = []
    for index, layer_name in enumerate(names):
        entries = indexes.get(_resolve(layer_name, links))
        if entries is None:
            raise UserError(f"{what}: layer '{layer_name}' missing from the engine's export")
        cache.put(ids[index], entries)
        layers.append(
            Layer(
                ids[index],
                ids[index],
                DOCKER_LAYER,
                -1,
                commands[index],
                entries=entries,
                location=layer_name,
            )
        )
    import hashlib

    config_digest = "sha256:" + hashlib.sha256(documents[config_name]).hexdigest()
    cache.put_config(config_digest, documents[config_name])
    return Image(
        ref,
        docker_manifest(config_digest, layers),
        config,
        layers,
        source="docker",
        config_bytes=documents[config_name],
    )
