"""The image model and its places.

`open_image(ref)` reads any image reference into one `Image`; `layer_index(layer)` gives a layer's
file index (tar headers only), through the per-layer cache keyed by diff_id.

References: `docker://NAME[:TAG]` (the engine), `docker-archive:PATH` (a `docker save` tar or its
extracted folder), `oci:PATH[:TAG]` (an OCI image layout, folder or tar), or a bare path or name,
resolved by what it is (the guess is kept in `Image.guess` for the caller to report).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from boxwise.errors import UserError
from boxwise.gcpause import collector_paused
from boxwise.image.model import Columns, Entry, History, Image, Layer, index_columns, index_from_columns

if TYPE_CHECKING:
    from boxwise.image.cache import IndexCache

__all__ = ["Entry", "History", "Image", "Layer", "layer_index", "load_indexes", "open_image"]


def _split_tag(path: str) -> tuple[str, str | None]:
    """`oci:PATH:TAG` as skopeo writes it: the tag is split off only when PATH itself is absent."""
    if Path(path).exists() or ":" not in path:
        return path, None
    base, _, tag = path.rpartition(":")
    return base, tag or None


def _open_archive(path: str, ref: str) -> Image:
    from boxwise.image.archive import read_docker_archive
    from boxwise.image.store import open_store

    target = Path(path)
    if not target.exists():
        raise UserError(f"{path}: no such file; give a `docker save` archive (docker save NAME -o FILE)")
    return read_docker_archive(open_store(target), ref)


def _open_layout(path: str, ref: str) -> Image:
    from boxwise.image.layout import read_oci_layout
    from boxwise.image.store import open_store

    base, tag = _split_tag(path)
    target = Path(base)
    if not target.exists():
        raise UserError(f"{base}: no such OCI image layout (folder or tar)")
    return read_oci_layout(open_store(target), ref, tag)


Progress = Callable[[int, int], None]


def _open_bare(ref: str, progress: Progress | None) -> Image:
    from boxwise.image.store import open_store

    target = Path(ref)
    if target.exists():
        store = open_store(target)
        if store.exists("manifest.json"):
            from boxwise.image.archive import read_docker_archive

            image = read_docker_archive(store, ref)
            image.guess = f"docker-archive:{ref}"
            return image
        if store.exists("index.json"):
            from boxwise.image.layout import read_oci_layout

            image = read_oci_layout(store, ref)
            image.guess = f"oci:{ref}"
            return image
        raise UserError(f"{ref}: neither a docker-archive (manifest.json) nor an OCI layout (index.json)")
    if ref.startswith(("/", "./", "../", "~")) or ref.endswith((".tar", ".tar.gz", ".tgz")):
        raise UserError(f"{ref}: no such file or folder; give a `docker save` archive or an OCI layout")
    from boxwise.image.daemon import read_engine_image

    image = read_engine_image(ref, ref, progress=progress)
    image.guess = f"docker://{ref}"
    return image


def open_image(ref: str, progress: Progress | None = None) -> Image:
    """Read the image a reference names (metadata now; layer indexes on demand).

    `progress(done, total)` is called per layer when the layers must be read right away (an
    engine image streamed once)."""
    if ref.startswith("docker://"):
        from boxwise.image.daemon import read_engine_image

        return read_engine_image(ref.removeprefix("docker://"), ref, progress=progress)
    if ref.startswith("docker-archive:"):
        return _open_archive(ref.removeprefix("docker-archive:").removeprefix("//"), ref)
    if ref.startswith("oci:"):
        return _open_layout(ref.removeprefix("oci:").removeprefix("//"), ref)
    if ref.startswith("registry://"):
        from boxwise.image.registry import read_registry_image

        return read_registry_image(ref.removeprefix("registry://"), ref)
    if ref.startswith(("oci-archive:", "podman://")):
        scheme = ref.split(":", 1)[0]
        raise UserError(
            f"{ref}: {scheme} references cannot be read here; use docker://, docker-archive: or oci:"
        )
    if not ref:
        raise UserError("empty image reference; give docker://NAME, docker-archive:PATH or oci:PATH")
    return _open_bare(ref, progress)


def layer_index(layer: Layer, cache: object | None = None) -> list[Entry]:
    """Every tar header of a layer, in tar order: from memory, the cache, or the blob itself.

    The cache by diff_id is shared by every image, so what goes into it is checked: the layer's
    bytes are hashed whole against the diff_id. A layer in a local file (an archive, a layout) is
    not hashed — only its tar headers are read, the data skipped, as dive does — and its index is
    kept under the file's place key instead, which only that file, unchanged, ever asks for."""
    from boxwise.image.cache import IndexCache

    store = cache if isinstance(cache, IndexCache) else IndexCache()
    entries, place = _known_index(layer, store)
    if entries is None:
        entries = _read_layer(layer, place)
        _keep_index(layer, place, entries, store)
    return entries


def _known_index(layer: Layer, store: IndexCache) -> tuple[list[Entry] | None, str | None]:
    """(the index already in memory or the cache, or None; the layer's place key, if in a file)."""
    if layer.entries is not None:
        return layer.entries, None
    entries = store.get(layer.diff_id)
    if entries is not None:
        return entries, None
    place = layer.place() if layer.place is not None else None
    return (store.get_placed(place) if place is not None else None), place


def _read_layer(layer: Layer, place: str | None) -> list[Entry]:
    """The layer's index read from its bytes: hashed against its diff_id unless it has a place."""
    from boxwise.image.tarindex import file_reader, read_index

    if layer.opener is None:
        raise UserError(f"layer {layer.diff_id}: no bytes to read it from; read the image again")
    what = layer.location or layer.diff_id
    with layer.opener() as handle:
        fast = getattr(handle, "reader", None)  # a section of an archive on disk: pread, no seeks
        source = fast() if fast else file_reader(handle)
        if place is None:
            return read_index(source, what, layer.diff_id)
        return read_index(source, what, offsets=layer.record_offsets)


def _keep_index(layer: Layer, place: str | None, entries: list[Entry], store: IndexCache) -> None:
    if place is None:
        store.put(layer.diff_id, entries)
    elif layer.place is not None and layer.place() == place:  # the file did not change while read
        store.put_placed(place, entries)


def load_indexes(
    image: Image, progress: Callable[[int, int], None] | None = None, cache: object | None = None
) -> list[list[Entry]]:
    """The file index of every layer, base first; `progress(done, total)` after each layer."""
    from boxwise.image.cache import IndexCache

    store = cache if isinstance(cache, IndexCache) else IndexCache()
    config_digest = str((image.manifest.get("config") or {}).get("digest") or "")
    if image.config_bytes is not None and config_digest and image.source != "docker":
        # the config by its digest (the engine's image ID): a later docker:// read of the same
        # image then needs only `docker inspect`, its layers being cached by diff_id already
        store.put_config(config_digest, image.config_bytes)
    indexes = []
    with collector_paused():
        for number, entries in enumerate(_each_index(image, store), start=1):
            indexes.append(entries)
            if progress is not None:
                progress(number, len(image.layers))
    return indexes


# Files on disk can be read at any offset by several threads or processes; an engine's or a
# registry's stream is read in order, by one.
_PARALLEL_SOURCES = ("docker-archive", "oci")
# From this many layer bytes in files a forked child shares the reading of the tar headers: ~2 ms
# of fork and ~1 ms per 8,000 entries sent back, against ~5 us a header read here.
FORK_FROM_BYTES = 64 << 20


def _each_index(image: Image, store: IndexCache) -> Iterator[list[Entry]]:
    """The layers' indexes in order. Reading tar headers is Python work the GIL serialises:
    threads only cost there (a cold inspect of the s2i archive: 0.38 s in one thread, 0.46 s in
    two), so a forked child (forkcall.py) shares a big image's layers with this process and sends
    their entries back as plain columns (the same inspect: 0.35 s -> 0.31 s). A layer read cold
    from a file changed a moment ago is hashed whole instead, and hashlib lets other threads run
    while it hashes: then a second thread reads the next layer meanwhile."""
    layers = image.layers
    if image.source not in _PARALLEL_SOURCES or len(layers) < 2 or (os.cpu_count() or 1) < 2:
        yield from (layer_index(layer, store) for layer in layers)
    elif any(map(_hashed, layers)):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="boxwise-index") as pool:
            yield from pool.map(lambda layer: layer_index(layer, store), layers)
    else:
        yield from _split_read(layers, store)


def _split_read(layers: list[Layer], store: IndexCache) -> Iterator[list[Entry]]:
    """Layers read here and by a forked child at once: each takes the next unclaimed layer when
    done with one (a layer's bytes say little of its entries: a base layer of large files has few
    headers for its size), so both finish about together."""
    known = (store.has_placed(layer.place()) for layer in layers if layer.place is not None)
    if sum(max(layer.size, 0) for layer in layers) < FORK_FROM_BYTES or len(layers) > 255 or any(known):
        yield from (layer_index(layer, store) for layer in layers)  # small, or known already
        return
    from boxwise.forkcall import ForkedCall

    claims, tokens = os.pipe()  # one byte per layer number: a read of one byte claims one layer
    os.write(tokens, bytes(range(len(layers))))
    os.close(tokens)
    try:
        child = ForkedCall(_claimed_columns, layers, store, claims)
        mine = {number: layer_index(layers[number], store) for number in _claims(claims)}
        theirs = dict(child.result())  # made here if the child failed: the drained pipe gives none
    finally:
        os.close(claims)
    for number, layer in enumerate(layers):
        if number in mine:
            yield mine[number]
        elif number in theirs:
            columns, offsets = theirs[number]
            layer.record_offsets.update(offsets)
            yield index_from_columns(columns)
        else:
            yield layer_index(layer, store)  # claimed by a child that then failed


def _claims(claims: int) -> Iterator[int]:
    while number := os.read(claims, 1):
        yield number[0]


def _claimed_columns(
    layers: list[Layer], store: IndexCache, claims: int
) -> list[tuple[int, tuple[Columns, dict[str, int]]]]:
    """The child's part of _split_read: the layers it claimed, each as its number, its index in
    columns of plain values (what marshal sends back fast) and its RECORD offsets."""
    answer = []
    for number in _claims(claims):
        layer = layers[number]
        entries = layer_index(layer, store)
        answer.append((number, (index_columns(entries), dict(layer.record_offsets))))
    store.write_held()  # cached by the child, as it would be here: the parent never holds them
    return answer


def _hashed(layer: Layer) -> bool:
    """Whether a cold read of this layer hashes its bytes: a file with no place key (changed a
    moment ago, image.store.place_key) or bytes with no place at all."""
    return layer.entries is None and (layer.place is None or layer.place() is None)
