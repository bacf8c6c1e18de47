"""OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), as a folder or a tar."""

from __future__ import annotations

from functools import partial
from typing import Any

from boxwise.errors import UserError
from boxwise.image.archive import check_digest
from boxwise.image.digest import checked
from boxwise.image.mediatypes import INDEX_TYPES, OCI_LAYER
from boxwise.image.model import Image, Layer, load_json, parse_config
from boxwise.image.platforms import choose_platform
from boxwise.image.store import Store

REF_NAME = "org.opencontainers.image.ref.name"


def blob_name(digest: str, what: str) -> str:
    return "blobs/sha256/" + checked(digest, what)[len("sha256:") :]


def _read_blob(store: Store, descriptor: dict[str, Any], what: str) -> bytes:
    digest = descriptor.get("digest")
    if not isinstance(digest, str):
        raise UserError(f"{store.label}: {what} has no digest; the layout is corrupt")
    data = store.read(blob_name(digest, store.label))
    check_digest(data, digest, f"{store.label}: {what} {digest}")
    return data


def _pick(manifests: list[Any], tag: str | None, label: str) -> dict[str, Any]:
    candidates = [m for m in manifests if isinstance(m, dict)]
    if not candidates:
        raise UserError(f"{label}: the index lists no images")
    if tag is not None:
        for item in candidates:
            names = (
                (item.get("annotations") or {}).get(REF_NAME),
                (item.get("annotations") or {}).get("io.containerd.image.name"),
            )
            if tag in names or any(isinstance(n, str) and n.endswith(f":{tag}") for n in names):
                return item
        raise UserError(f"{label}: no image tagged '{tag}' in index.json")
    if len(candidates) == 1:
        return candidates[0]
    chosen = choose_platform(candidates)
    return chosen[0] if chosen is not None else candidates[0]


def read_oci_layout(store: Store, ref: str, tag: str | None = None) -> Image:
    if not store.exists("index.json"):
        raise UserError(f"{store.label}: no index.json; not an OCI image layout")
    index = load_json(store.read("index.json"), f"{store.label}: index.json")
    descriptor = _pick((index or {}).get("manifests") or [], tag, f"{store.label}: index.json")
    name = (descriptor.get("annotations") or {}).get(REF_NAME)
    for _ in range(8):  # nested indexes (Docker with the containerd store writes one)
        data = _read_blob(store, descriptor, "manifest")
        document = load_json(data, f"{store.label}: manifest {descriptor.get('digest')}")
        if not isinstance(document, dict):
            raise UserError(f"{store.label}: manifest {descriptor.get('digest')} is not an object")
        if document.get("mediaType") in INDEX_TYPES or "manifests" in document:
            descriptor = _pick(document.get("manifests") or [], None, f"{store.label}: nested index")
            continue
        return _image(store, ref, document, name)
    raise UserError(f"{store.label}: indexes nested too deep; the layout is corrupt")


def _image(store: Store, ref: str, manifest: dict[str, Any], name: str | None) -> Image:
    config_descriptor = manifest.get("config")
    descriptors = manifest.get("layers")
    if not isinstance(config_descriptor, dict) or not isinstance(descriptors, list):
        raise UserError(f"{store.label}: the manifest lacks config or layers; the layout is corrupt")
    config_bytes = _read_blob(store, config_descriptor, "config")
    config, ids, commands = parse_config(config_bytes, len(descriptors), f"{store.label}: config", "layout")
    layers = []
    for index, descriptor in enumerate(descriptors):
        digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
        if not isinstance(digest, str):
            raise UserError(f"{store.label}: layer {index} has no digest; the layout is corrupt")
        path = blob_name(digest, store.label)
        if not store.exists(path):
            raise UserError(
                f"{store.label}: layer blob {digest} is listed but absent; the layout is incomplete"
            )
        media_type = str(descriptor.get("mediaType") or OCI_LAYER)
        if not media_type.endswith(("gzip", "zstd")) and digest != ids[index]:
            raise UserError(
                f"{store.label}: digest mismatch for uncompressed layer {digest}"
                f" (config diff_id {ids[index]})"
            )
        layers.append(
            Layer(
                digest=digest,
                diff_id=ids[index],
                media_type=media_type,
                size=store.size(path),
                created_by=commands[index],
                opener=partial(store.open, path),
                place=partial(store.place, path),
                location=f"{store.label}:{path}",
            )
        )
    return Image(
        ref=ref,
        manifest=manifest,
        config=config,
        layers=layers,
        source="oci",
        name=name,
        config_bytes=config_bytes,
    )
