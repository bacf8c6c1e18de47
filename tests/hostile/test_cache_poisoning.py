"""Issue 12 item 5: the shared layer-index cache holds only indexes verified from the bytes read.

An archive that claims another image's diff_id for its own (forged) layer must not leave its
index under that diff_id: a later read of the real image on the same cache (CI caches it across
jobs) would report the attacker's figures. A registry blob is checked against its digest however
large its descriptor says it is.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from support.cli import run_boxwise

from tests.image.archives import docker_archive, layer_tar, settled, sha

from .hostserver import Answer, Seen, serving
from .rawarchive import config_for, raw_archive

GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _inspect(ref: str, cache: Path):
    return run_boxwise("inspect", ref, "--format", "json", env={"XDG_CACHE_HOME": str(cache)})


def _forged_archive(path: Path, claimed_diff_id: str) -> Path:
    """One layer of 5 MB of files, whose config claims `claimed_diff_id` for it."""
    return raw_archive(path, [layer_tar([("f", "evil/huge.bin", 5_000_000)])], config_for([claimed_diff_id]))


def test_a_forged_layer_leaves_nothing_under_the_diff_id_it_claims(tmp_path) -> None:
    """A file changed a moment ago (as a `docker save` just written) is hashed as it is read."""
    real_layer = [("f", "app/main.py", 300)]
    real = docker_archive(tmp_path / "real.tar", [real_layer])
    real_id = sha(layer_tar(real_layer))
    cache = tmp_path / "shared-cache"

    forged = _inspect(f"docker-archive:{_forged_archive(tmp_path / 'forged.tar', real_id)}", cache)
    assert forged.returncode == 2, forged.stdout
    assert "does not match its diff_id" in forged.stderr and "Traceback" not in forged.stderr

    honest = _inspect(f"docker-archive:{real}", cache)
    assert honest.returncode == 0, honest.stderr
    assert json.loads(honest.stdout)["size_bytes"] == 300


def test_a_forged_layer_read_without_hashing_is_cached_for_its_own_file_only(tmp_path) -> None:
    """An archive that has been still for a while is read as dive reads it, headers only, no hash:
    its figures are its own bytes', and its index is kept for that file alone."""
    real_layer = [("f", "app/main.py", 300)]
    real = docker_archive(tmp_path / "real.tar", [real_layer])
    real_id = sha(layer_tar(real_layer))
    cache = tmp_path / "shared-cache"
    forged_archive = settled(_forged_archive(tmp_path / "forged.tar", real_id))

    for _ in range(2):  # cold, then answered from the cache
        forged = _inspect(f"docker-archive:{forged_archive}", cache)
        assert forged.returncode == 0, forged.stderr
        assert json.loads(forged.stdout)["size_bytes"] == 5_000_000
    assert not list(cache.glob("*/layer-index/*")) and list(cache.glob("*/file-index/*"))

    honest = _inspect(f"docker-archive:{settled(real)}", cache)
    assert honest.returncode == 0, honest.stderr
    assert json.loads(honest.stdout)["size_bytes"] == 300


def _registry_script(manifest: bytes, config: bytes, blob: bytes, blob_digest: str):
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()

    def script(seen: Seen) -> Answer:
        if seen.path == "/v2/":
            return Answer(200, body=b"{}")
        if "/manifests/" in seen.path:
            media = "application/vnd.oci.image.manifest.v1+json"
            return Answer(200, {"Content-Type": media, "Docker-Content-Digest": manifest_digest}, manifest)
        if seen.path.endswith(sha(config)):
            return Answer(200, body=config)
        if seen.path.endswith(blob_digest):
            return Answer(200, body=blob)
        return Answer(404, body=b'{"errors": [{"code": "BLOB_UNKNOWN"}]}')

    return script


def test_a_registry_blob_is_checked_whatever_size_its_descriptor_claims(tmp_path) -> None:
    plain = layer_tar([("f", "app/main.py", 300)])
    # zeros after the gzip member: the index is complete long before the blob's end
    blob = gzip.compress(plain, mtime=0) + bytes(5 << 20)
    claimed = "sha256:" + "ab" * 32  # what the manifest says the blob is: not these bytes
    config = json.dumps({"os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(plain)]}}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config)},
            "layers": [{"mediaType": GZIP_LAYER, "digest": claimed, "size": 1 << 40}],
        }
    ).encode()
    with serving("127.0.0.1", _registry_script(manifest, config, blob, claimed)) as registry:
        result = _inspect(f"registry://{registry.host}/app:1", tmp_path / "cache")
    assert result.returncode == 2, result.stdout
    assert "digest mismatch" in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "cache").glob("*/layer-index/*")), "an unverified index was cached"


def test_records_read_from_an_archive_are_never_cached_under_the_diff_ids_it_names(tmp_path) -> None:
    """RECORD files (the dependency table) from an archive are read, never kept: an archive names
    its own diff_ids, and a forged one must not answer later for a real image sharing one."""
    site = "usr/lib/python3/site-packages"
    record = b"evil/__init__.py,,100\nevil-1.0.dist-info/RECORD,,\n"
    layer = [("f", f"{site}/evil/__init__.py", 100), ("f", f"{site}/evil-1.0.dist-info/RECORD", record)]
    archive = docker_archive(tmp_path / "app.tar", [layer])
    cache = tmp_path / "cache"
    result = _inspect(f"docker-archive:{archive}", cache)
    assert result.returncode == 0, result.stderr
    assert [d["name"] for d in json.loads(result.stdout)["dependencies"]["distributions"]] == ["evil"]
    assert not list(cache.rglob("records/*"))
