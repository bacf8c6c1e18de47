"""The layer cache: per-app layer metadata plus layer tars by diff_id, written atomically.

Layout under the cache folder (default `$XDG_CACHE_HOME/boxwise`):

    blobs/sha256/<hex>.tar          layer tars (boxwise's reproducible tars), shared by all apps
    apps/<name>-<hash>/layers.json  what the last good build of that app left, per buildpack layer
                                    (cache_record.AppLayers)
    bases/<id>.json, .pyversion,    a base's config and what the build asks of it (base, basescan);
      .python, .users.json          an engine base's layers stay in the engine, not here

Every file is written to a temporary name and renamed, so an interrupted build (Ctrl-C, engine
gone) leaves the cache as the last good build wrote it. A blob whose sha256 does not match its
name, or a layers.json that is not what boxwise writes, is discarded; the layers are then rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from boxwise.atomicfile import remove_stale_temporaries, write_atomically
from boxwise.builder.cache_record import AppLayers, BuildpackLayers, CachedLayer
from boxwise.image.digest import hex_part

ALTERNATES = 4  # cached entries kept per layer: the latest and three with other keys
MAX_RECORD_BYTES = 64 << 20  # an app's layers.json: a CI cache another branch wrote is read too


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except OSError:  # another build removed it just now
        return False


@dataclass(frozen=True)
class LayerCache:
    root: Path
    app_key: str

    @classmethod
    def for_app(cls, root: Path, app_dir: Path) -> LayerCache:
        app_dir = app_dir.resolve()
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", app_dir.name) or "app"
        key = hashlib.sha256(str(app_dir).encode()).hexdigest()[:12]
        return cls(root, f"{name}-{key}")

    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    @property
    def metadata_path(self) -> Path:
        return self.root / "apps" / self.app_key / "layers.json"

    def blob_path(self, diff_id: str) -> Path:
        return self.blobs / f"{hex_part(diff_id)}.tar"  # checked: a base's config names it

    def has_blob(self, diff_id: str) -> bool:
        return self.blob_path(diff_id).is_file()

    def verified_blob(self, diff_id: str) -> Path | None:
        """The blob for diff_id if it is there and its bytes match; a corrupt one is removed."""
        path = self.blob_path(diff_id)
        if not path.is_file():
            return None
        if file_sha256(path) != diff_id:
            path.unlink(missing_ok=True)
            return None
        return path

    def read(self) -> tuple[AppLayers | None, str]:
        """(the last good build's record, ""), or (None, why it cannot be used; "" when there is none)."""
        try:
            with open(self.metadata_path, "rb") as handle:
                text = handle.read(MAX_RECORD_BYTES + 1)
        except FileNotFoundError:
            return None, ""
        except OSError as exc:
            return None, f"cannot be read ({exc.strerror})"
        if len(text) > MAX_RECORD_BYTES:
            return None, f"is over {MAX_RECORD_BYTES >> 20} MiB"
        try:
            return AppLayers.from_json(json.loads(text)), ""
        except (ValueError, RecursionError) as exc:  # not JSON or UTF-8, or not boxwise's shape
            return None, f"is not what boxwise writes ({str(exc)[:160]})"

    def load(self) -> AppLayers | None:
        """The last good build's record; None when there is none or it cannot be used."""
        return self.read()[0]

    def save(self, layers: AppLayers) -> None:
        """Record this build's layers; earlier layers with other keys stay as alternates.

        Up to ALTERNATES entries per layer (most recent first), so building on two bases or two
        branches in turn finds the other's layer still here (the buildpack asks for it by key).
        """
        previous = self.load() or AppLayers()
        alternates: dict[str, dict[str, tuple[CachedLayer, ...]]] = {}
        for bp_id, named in layers.buildpacks.items():
            for name, entry in named.items():
                last = previous.latest(bp_id, name)
                older = [entry, *([last] if last else []), *previous.alternates_of(bp_id, name)]
                kept: list[CachedLayer] = []
                for item in older:
                    if item.key and item.key not in {other.key for other in kept}:
                        kept.append(item)
                if len(kept) > 1:
                    alternates.setdefault(bp_id, {})[name] = tuple(kept[1:ALTERNATES])
        self._write(replace(layers, alternates=alternates))

    def add_alternates(self, layers: BuildpackLayers) -> None:
        """Entries from elsewhere (a previous image) beside the cached ones, for their keys."""
        document = self.load() or AppLayers()
        alternates = {bp_id: dict(named) for bp_id, named in document.alternates.items()}
        for bp_id, named in layers.items():
            for name, entry in named.items():
                older = alternates.get(bp_id, {}).get(name, ())
                known = [item.key for item in (document.latest(bp_id, name), *older) if item is not None]
                if not entry.key or entry.key in known:
                    continue
                alternates.setdefault(bp_id, {})[name] = (entry, *older)[: ALTERNATES - 1]
        self._write(replace(document, alternates=alternates))

    def _write(self, document: AppLayers) -> None:
        write_atomically(
            self.metadata_path, json.dumps(document.to_json(), indent=1, sort_keys=True).encode()
        )

    def collect_garbage(self, min_age_seconds: float = 3600.0, interval_seconds: float = 0.0) -> int:
        """Remove blobs no app's last good build and no base image uses; returns how many.

        Only blobs older than `min_age_seconds` go: a build running now (another app, another
        process) may have written blobs it has not recorded yet. With `interval_seconds`, nothing
        is done when a collection ran that recently: it reads every app's record, which a
        code-only rebuild should not pay for each time, and an hour-old blob can wait minutes more.
        """
        stamp = self.root / "gc.stamp"
        if interval_seconds and _younger_than(stamp, time.time() - interval_seconds):
            return 0
        with contextlib.suppress(OSError):
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.touch()
        used: set[str] = set()
        for meta in (self.root / "apps").glob("*/layers.json"):
            record = LayerCache(self.root, meta.parent.name).load()  # one that cannot be used keeps nothing
            used.update(sha.removeprefix("sha256:") for sha in (record.used_blobs() if record else ()))
        for base in (self.root / "bases").glob("*.json"):
            try:
                config = json.loads(base.read_bytes())
            except (OSError, ValueError):
                continue
            used.update(d.removeprefix("sha256:") for d in (config.get("rootfs") or {}).get("diff_ids") or [])
        removed = 0
        cutoff = time.time() - min_age_seconds
        for blob in self.blobs.glob("*.tar"):
            if blob.stem not in used and _older_than(blob, cutoff):
                blob.unlink(missing_ok=True)
                removed += 1
        # Temporary files an interrupted build left behind.
        for leftover in (self.root / "tmp").glob("*"):
            if leftover.is_file() and _older_than(leftover, cutoff):
                leftover.unlink(missing_ok=True)
                removed += 1
        # ... and the temporary file of a blob or config written when it was killed (and the
        # `.NAME.PID.tmp` name that earlier builds gave it)
        for folder in (self.blobs, self.root / "bases", *(self.root / "apps").glob("*")):
            removed += remove_stale_temporaries(folder) + remove_stale_temporaries(folder, ".", ".tmp")
        return removed

    def tmp_dir(self) -> Path:
        folder = self.root / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _younger_than(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime > cutoff
    except OSError:
        return False
