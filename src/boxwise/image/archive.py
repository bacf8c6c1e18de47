"""`docker save` archives (docker-archive): the legacy `<id>/layer.tar` layout and Docker 25+'s
`blobs/sha256/…` layout, read from a tar file in place or from an extracted folder."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from boxwise.errors import UserError
from boxwise.image.mediatypes import DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_MANIFEST
from boxwise.image.model import Image, Layer, load_json, parse_config
from boxwise.image.store import Store

_BLOB_NAME = re.compile(r"^(?:.*/)?blobs/(sha256)/([0-9a-f]{64})$")
_CONFIG_NAME = re.compile(r"^([0-9a-f]{64})\.json$")


def name_digest(name: str) -> str | None:
    """The digest a file's name promises (`blobs/sha256/<hex>`, `<hex>.json`), if it names one."""
    match = _BLOB_NAME.match(name)
    if match:
        return f"{match.group(1)}:{match.group(2)}"
    match = _CONFIG_NAME.match(name)
    return f"sha256:{match.group(1)}" if match else None


def check_digest(data: bytes, digest: str | None, what: str) -> str:
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if digest and digest.startswith("sha256:") and digest != actual:
        raise UserError(
            f"{what}: digest mismatch (expected {digest}, content is {actual}); the image is corrupt"
        )
    return actual


def read_manifest_list(store: Store) -> list[dict[str, Any]]:
    if not store.exists("manifest.json"):
        raise UserError(
            f"{store.label}: no manifest.json; not a docker-archive"
            " (make one with `docker save NAME -o FILE`)"
        )
    data = load_json(store.read("manifest.json"), f"{store.label}: manifest.json")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise UserError(f"{store.label}: manifest.json is not a list of images; the archive is corrupt")
    return data


def read_docker_archive(store: Store, ref: str) -> Image:
    entry = read_manifest_list(store)[0]
    config_name = entry.get("Config")
    layer_names = entry.get("Layers")
    if not isinstance(config_name, str) or not isinstance(layer_names, list):
        raise UserError(f"{store.label}: manifest.json lacks Config or Layers; the archive is corrupt")
    config_bytes = store.read(config_name)
    config_digest = check_digest(config_bytes, name_digest(config_name), f"{store.label}: {config_name}")
    config, ids, commands = parse_config(
        config_bytes, len(layer_names), f"{store.label}: {config_name}", "archive", "manifest.json"
    )
    sources = value if isinstance(value := entry.get("LayerSources"), dict) else {}
    layers = []
    for index, name in enumerate(layer_names):
        if not isinstance(name, str) or not store.exists(name):
            raise UserError(
                f"{store.label}: layer '{name}' is listed in manifest.json but absent from the archive;"
                " save the image again"
            )
        layers.append(_layer(store, name, ids[index], commands[index], sources.get(ids[index])))
    tags = entry.get("RepoTags") or []
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": la.media_type, "digest": la.digest, "size": la.size} for la in layers],
    }
    return Image(
        ref=ref,
        manifest=manifest,
        config=config,
        layers=layers,
        source="docker-archive",
        name=tags[0] if tags and isinstance(tags[0], str) else None,
        config_bytes=config_bytes,
    )


def _layer(store: Store, name: str, diff_id: str, command: str | None, source: Any) -> Layer:
    with store.open(name) as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    blob_digest = name_digest(name)
    if blob_digest and not gzipped and blob_digest != diff_id:
        # an uncompressed blob's digest is its diff_id: a mismatch is visible without hashing
        raise UserError(
            f"{store.label}: digest mismatch for layer '{name}' (config diff_id {diff_id});"
            " the archive is corrupt"
        )
    if isinstance(source, dict) and isinstance(source.get("digest"), str):
        blob_digest = source["digest"]
    return Layer(
        digest=blob_digest or diff_id,
        diff_id=diff_id,
        media_type=DOCKER_LAYER_GZIP if gzipped else DOCKER_LAYER,
        size=store.size(name),
        created_by=command,
        opener=lambda: store.open(name),
        place=lambda: store.place(name),
        location=f"{store.label}:{name}",
    )
