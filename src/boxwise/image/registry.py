"""Images in a registry (`registry://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`), read and pushed
over the Registry HTTP API v2 with no engine (docs/design.md, Registry HTTP API v2).

Reading gives the manifest and config (their digests checked) and layers whose bytes are fetched
only when a layer's index is not cached: `Layer.opener` streams the blob, hashing as it goes.
Pushing follows the engine's flow: HEAD each blob (present: skip it), POST an upload and PUT the
blob with its digest, then PUT the manifest, whose exact bytes give its digest.

The protocol (requests, auth, retries) is `registry_client`; where credentials come from is
`registry_auth`. A credential never goes into a message. `requests` is imported only when a
registry is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from boxwise.atomicfile import write_atomically
from boxwise.errors import UserError
from boxwise.image.digest import checked
from boxwise.image.mediatypes import INDEX_TYPES, OCI_LAYER, OCI_MANIFEST
from boxwise.image.model import Image, Layer, load_json, parse_config
from boxwise.image.platforms import choose_platform, host_architecture, offered_platforms
from boxwise.image.registry_client import Registry, RegistryRef, parse_ref

__all__ = ["RegistryRef", "parse_ref", "push_image", "read_registry_image"]

_PUSHED_KEEP = 5000  # blobs remembered per registry for cross-repository mounts


def _pick_platform(index: dict[str, Any], label: str) -> tuple[dict[str, Any], str]:
    entries = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    chosen = choose_platform(entries, fallbacks=("amd64",))
    if chosen is not None:
        return chosen
    arch, offered = host_architecture(), offered_platforms(entries)
    raise UserError(
        f"{label}: no linux/{arch} or linux/amd64 image in its index (it has {', '.join(offered) or 'none'});"
        " give the image's digest (REPO@sha256:...)"
    )


def read_registry_image(text: str, ref: str) -> Image:
    """The image `registry://text` names: manifest and config now, layer bytes when indexed."""
    where = parse_ref(text)
    client = Registry(where, ref)
    data, media_type = client.manifest(where.reference)
    guess = None
    for _ in range(4):
        document = load_json(data, f"{ref}: manifest")
        if not isinstance(document, dict):
            raise UserError(f"{ref}: the manifest is not a JSON object; the image is corrupt")
        kind = media_type or str(document.get("mediaType") or "")
        if kind in INDEX_TYPES or "manifests" in document:
            chosen, plat = _pick_platform(document, ref)
            digest = checked(chosen.get("digest"), f"{ref}: index")
            count = len(document.get("manifests") or [])
            guess = f"registry://{where.host}/{where.repository}@{digest} ({plat} of {count} in its index)"
            data, media_type = client.manifest(digest)
            continue
        if document.get("schemaVersion") == 1:
            raise UserError(
                f"{ref}: a schema 1 manifest (deprecated); push the image again with a current client"
            )
        image = _image(client, ref, document)
        image.guess = guess
        return image
    raise UserError(f"{ref}: indexes nested too deep; the image is corrupt")


def _image(client: Registry, ref: str, manifest: dict[str, Any]) -> Image:
    config_descriptor = manifest.get("config")
    descriptors = manifest.get("layers")
    if not isinstance(config_descriptor, dict) or not isinstance(descriptors, list):
        raise UserError(f"{ref}: the manifest lacks config or layers; the image is corrupt")
    config_bytes = client.blob(checked(config_descriptor.get("digest"), f"{ref}: config"), "config")
    config, ids, commands = parse_config(config_bytes, len(descriptors), f"{ref}: config", "image")
    layers = []
    for number, descriptor in enumerate(descriptors):
        digest = checked(
            descriptor.get("digest") if isinstance(descriptor, dict) else None, f"{ref}: layer {number}"
        )
        size = descriptor.get("size")
        size = size if isinstance(size, int) and size >= 0 else -1
        layers.append(
            Layer(
                digest=digest,
                diff_id=ids[number],
                media_type=str(descriptor.get("mediaType") or OCI_LAYER),
                size=size,
                created_by=commands[number],
                opener=lambda digest=digest, size=size: client.open_blob(digest, size),  # type: ignore[misc]
                location=f"{client.ref.host}/{client.ref.repository}@{digest}",
            )
        )
    name = f"{client.ref.host}/{client.ref.repository}" + (f":{client.ref.tag}" if client.ref.tag else "")
    return Image(
        ref=ref,
        manifest=manifest,
        config=config,
        layers=layers,
        source="registry",
        name=name,
        config_bytes=config_bytes,
    )


def _pushed_record(host: str) -> Path:
    from boxwise.image.cache import cache_root

    return cache_root() / "registry-blobs" / (re.sub(r"[^A-Za-z0-9.-]", "_", host) + ".json")


def _read_pushed(host: str) -> dict[str, str]:
    """digest -> a repository of `host` that held it when this machine last pushed there."""
    try:
        record = json.loads(_pushed_record(host).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_pushed(host: str, record: dict[str, str]) -> None:
    path = _pushed_record(host)
    with contextlib.suppress(OSError):  # only a shortcut for the next push is lost
        write_atomically(path, json.dumps(dict(list(record.items())[-_PUSHED_KEEP:])).encode())


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def push_image(
    config: bytes,
    manifest: bytes,
    layers: list[tuple[str, int, Path]],
    text: str,
    say: Any = print,
    progress: Any = None,
) -> str:
    """Push blobs that are missing, then the manifest; the pushed manifest's digest.

    `layers` are (digest, size, file) triples; `manifest` refers to them and to `config` exactly.
    A blob this machine pushed to another repository of the registry is mounted from there."""
    where = parse_ref(text)
    label = f"registry://{text}"
    client = Registry(where, label, push=True)
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    counts = {"uploaded": 0, "mounted": 0, "present": 0}
    blobs: list[tuple[str, int, Any]] = [(config_digest, len(config), config)]
    blobs += [(digest, size, lambda path=path: open(path, "rb")) for digest, size, path in layers]  # noqa: SIM115
    elsewhere = _read_pushed(where.host)
    record: dict[str, str] = {}
    total, done = sum(size for _, size, _ in blobs), 0
    for number, (digest, size, body) in enumerate(blobs, 1):
        if progress is not None:  # a terminal's status line: blobs and bytes so far
            progress(f"pushing blob {number} of {len(blobs)}: {_mb(done)} of {_mb(total)}")
        done += size
        if digest in record:
            continue
        record[digest] = where.repository
        if client.has_blob(digest):
            counts["present"] += 1
            continue
        source = elsewhere.get(digest)
        location = client.mount(digest, source) if source and source != where.repository else ""
        if location is None:
            counts["mounted"] += 1
            continue
        client.upload(digest, size, body, location)
        counts["uploaded"] += 1
    media_type = str(load_json(manifest, f"{label}: manifest").get("mediaType") or OCI_MANIFEST)
    digest = client.put_manifest(where.digest or where.tag or "latest", manifest, media_type)
    _write_pushed(where.host, {**{d: r for d, r in elsewhere.items() if d not in record}, **record})
    say(
        f"pushed {where.host}/{where.repository}:{where.tag or 'latest'}  digest {digest}"
        f"  ({counts['uploaded']} blobs uploaded, {counts['mounted']} mounted from other repositories,"
        f" {counts['present']} already there)"
    )
    return digest
