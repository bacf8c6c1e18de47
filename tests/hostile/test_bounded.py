"""Issue 12 item 6: no endless loop, no unbounded memory, no read without a deadline.

A negative pax size (the reader jumped back forever), a 200 MB manifest, an endless blob, a host
that sends one byte at a time: each ends in one line, in seconds. BOXWISE_NET_DEADLINE is set
low here so "a slow host" is seconds, not minutes; each run is also cut by a timeout, so a hang
fails the test instead of holding the suite.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from support.report import gitlab_env

from tests.image.archives import layer_tar, sha

from .hostserver import Answer, Seen, forever, serving
from .rawarchive import raw_archive

LIMIT_SECONDS = 40


# A trickle (a byte each 0.5 s) meets a deadline of 1 s after its second byte: the same one line
# as at 3 s, 2 s sooner.
TRICKLE_DEADLINE = {"BOXWISE_NET_DEADLINE": "1"}


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "boxwise", *args],
            env={**os.environ, "BOXWISE_NET_DEADLINE": "3", **(env or {})},
            capture_output=True,
            text=True,
            timeout=LIMIT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"boxwise {args[0]} still ran after {LIMIT_SECONDS} s") from None
    return result, time.monotonic() - start


def _one_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    for needle in needles:
        assert needle in result.stderr


def _archive(path: Path, layer: bytes) -> Path:
    return raw_archive(path, [layer])


def test_a_negative_pax_size_is_a_corrupt_layer_not_an_endless_loop(tmp_path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("app/x")
        info.pax_headers = {"size": "-1024"}
        tar.addfile(info)
        tar.addfile(tarfile.TarInfo("app/y"), io.BytesIO(b""))
    archive = _archive(tmp_path / "neg.tar", buffer.getvalue())
    env = {"XDG_CACHE_HOME": str(tmp_path / "c")}
    result, _ = _run("inspect", f"docker-archive:{archive}", env=env)
    _one_line(result, "negative")
    gated, _ = _run("gate", f"docker-archive:{archive}", env=env)
    _one_line(gated, "negative")


def _registry(manifest: Answer, config: bytes = b"", blob: Answer | None = None):
    def script(seen: Seen) -> Answer:
        if seen.path == "/v2/":
            return Answer(200, body=b"{}")
        if "/manifests/" in seen.path:
            return manifest
        if config and seen.path.endswith(sha(config)):
            return Answer(200, body=config)
        if blob is not None and "/blobs/" in seen.path:
            return blob
        return Answer(404, body=b"{}")

    return script


def test_a_200_mb_manifest_is_refused_after_4_mib(tmp_path) -> None:
    huge = Answer(200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, chunks=forever())
    with serving("127.0.0.1", _registry(huge)) as registry:
        result, _ = _run("inspect", f"registry://{registry.host}/app:1")
    _one_line(result, "larger than 4096 KiB")
    assert sum(len(s.body) for s in registry.seen) == 0


@pytest.mark.slow
def test_a_trickling_manifest_meets_the_deadline(tmp_path) -> None:
    slow = Answer(200, {"Content-Type": "application/json"}, chunks=forever(b"{", pause=0.5))
    with serving("127.0.0.1", _registry(slow)) as registry:
        result, took = _run("inspect", f"registry://{registry.host}/app:1", env=TRICKLE_DEADLINE)
    _one_line(result, "took longer than 1 s", "BOXWISE_NET_DEADLINE")
    assert took < 20


def test_an_endless_blob_is_cut_where_its_descriptor_ends(tmp_path) -> None:
    layer = layer_tar([("f", "app/main.py", 10)])
    config = json.dumps({"os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
    descriptor = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
        "digest": sha(layer),
        "size": len(layer),
    }
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config)},
            "layers": [descriptor],
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json", "Docker-Content-Digest": digest}
    endless = Answer(200, chunks=itertools.chain([layer], forever()))
    with serving("127.0.0.1", _registry(Answer(200, headers, manifest), config, endless)) as registry:
        result, took = _run(
            "inspect", f"registry://{registry.host}/app:1", env={"XDG_CACHE_HOME": str(tmp_path / "c")}
        )
    _one_line(result, "longer than the")
    assert took < 20


@pytest.mark.slow
def test_a_trickling_comment_api_does_not_hold_the_job(fake_api, analyses, tmp_path) -> None:
    slow = Answer(200, {"Content-Type": "application/json"}, chunks=forever(b" ", pause=0.5))
    with serving("127.0.0.1", lambda seen: slow) as api:
        env = {**gitlab_env(fake_api), "CI_API_V4_URL": f"{api.url}/api/v4", **TRICKLE_DEADLINE}
        result, took = _run(
            "report", str(analyses["new"]), "--baseline", str(analyses["baseline"]), "--app", "api",
            "--post", "gitlab", env=env,
        )  # fmt: skip
    assert "Traceback" not in result.stderr
    assert "took longer than 1 s" in result.stderr
    assert took < 20
