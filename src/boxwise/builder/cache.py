"""The layer cache: per-app layer metadata plus layer tars by diff_id, written atomically.

Layout under the cache folder (default `$XDG_CACHE_HOME/boxwise`):

    blobs/sha256/<hex>.tar          layer tars (boxwise's reproducible tars), shared by all apps
    apps/<name>-<hash>/layers.json  what the last good build of that app left, per buildpack layer:
                                    {bp: {layer: {sha, data, launch, build, cache}}}

Every file is written to a temporary name and renamed, so an interrupted build (Ctrl-C, engine
gone) leaves the cache as the last good build wrote it. A blob whose sha256 does not match its
name, or unreadable metadata, is discarded; the layer is then rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boxwise.atomicfile import remove_stale_temporaries, write_atomically
from boxwise.image.digest import hex_part

ALTERNATES = 4  # cached entries kept per layer: the latest and three with other keys


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

    def load(self) -> dict[str, Any]:
        """The last good build's layers ({"buildpacks", "app", "alternates"} as save wrote them); empty
        when there is none or it cannot be read."""
        try:
            data = json.loads(self.metadata_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, layers: dict[str, Any]) -> None:
        """Record this build's layers; earlier layers with other keys stay as alternates.

        Up to ALTERNATES entries per layer (most recent first), so building on two bases or two
        branches in turn finds the other's layer still here (the buildpack asks for it by key).
        """
        previous = self.load()
        alternates: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for bp_id, named in (layers.get("buildpacks") or {}).items():
            for name, entry in named.items():
                older = [entry, *(self.alternates(previous, bp_id, name))]
                if (previous.get("buildpacks") or {}).get(bp_id, {}).get(name):
                    older.insert(1, previous["buildpacks"][bp_id][name])
                kept, keys = [], set()
                for item in older:
                    key = str((item.get("data") or {}).get("key") or "")
                    if key and key not in keys:
                        keys.add(key)
                        kept.append(item)
                if len(kept) > 1:
                    alternates.setdefault(bp_id, {})[name] = kept[1:ALTERNATES]
        document = {**layers, "alternates": alternates}
        write_atomically(self.metadata_path, json.dumps(document, indent=1, sort_keys=True).encode())

    def add_alternates(self, layers: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Entries from elsewhere (a previous image) beside the cached ones, for their keys."""
        document = self.load()
        alternates = document.setdefault("alternates", {})
        for bp_id, named in layers.items():
            for name, entry in named.items():
                key = (entry.get("data") or {}).get("key")
                latest = ((document.get("buildpacks") or {}).get(bp_id) or {}).get(name) or {}
                known = [latest, *self.alternates(document, bp_id, name)]
                if not key or any((item.get("data") or {}).get("key") == key for item in known):
                    continue
                alternates.setdefault(bp_id, {}).setdefault(name, []).insert(0, entry)
                del alternates[bp_id][name][ALTERNATES - 1 :]
        write_atomically(self.metadata_path, json.dumps(document, indent=1, sort_keys=True).encode())

    @staticmethod
    def alternates(data: dict[str, Any], bp_id: str, name: str) -> list[dict[str, Any]]:
        found = ((data.get("alternates") or {}).get(bp_id) or {}).get(name) or []
        return [item for item in found if isinstance(item, dict)]

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
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            for layers in (data.get("buildpacks") or {}).values():
                used.update(str(entry.get("sha", "")).removeprefix("sha256:") for entry in layers.values())
            for named in (data.get("alternates") or {}).values():
                for entries in named.values():
                    used.update(str(entry.get("sha", "")).removeprefix("sha256:") for entry in entries)
            for key in ("sha", "built"):  # the app layer, and what the build wrote into the app
                used.add(str((data.get("app") or {}).get(key, "")).removeprefix("sha256:"))
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
