"""Files the build steps wrote into the app (Django's collected static files), as an image layer.

The app layer is written on the host from the app's own files before the build; a build step
that writes into the app folder inside the build (collectstatic, buildpacks/shared/collectstatic.py)
would be lost with it. The driver lists what such steps wrote (result.json `app_writes`) and tars
it; this module reads that tar back out of the build, checks it, and writes it as one reproducible
layer owned by the run user, placed after the app layer.

Everything read is the build's to write, so it is bounded: the tar's size, its entry count, and
every name must be a plain relative path (no `..`, nothing absolute) that goes under /workspace.
Symlinks are kept as links, never followed.

`writes_app(document)` is the predicate for a build that would skip the build container (the
fast path): True when the last build recorded a step that writes into the app, or recorded
nothing (a cache seeded from an image, or an older boxwise) — such an app always builds.
"""

from __future__ import annotations

import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from boxwise.builder.cache import LayerCache
from boxwise.builder.cache_record import AppLayers
from boxwise.builder.imageconfig import APP_DIR, LAYERS_DIR, RUN_OWNER
from boxwise.builder.layers import store_blob
from boxwise.builder.runner import BuildRoot
from boxwise.errors import UserError
from boxwise.image.layer_writer import LayerBlob, normalize_tar

TAR_PATH = f"{LAYERS_DIR}/.boxwise/app-writes.tar"  # the driver's APP_WRITES_TAR in its work folder
MAX_ENTRIES = 200_000  # the driver's MAX_APP_ENTRIES
MAX_BYTES = 1 << 30  # the driver's MAX_APP_WRITE_BYTES
_TAR_OVERHEAD = 1024  # per entry: its header(s) and padding
# What the layer is called in reports and the image history.
LAYER_NAME = "app-build"


@dataclass(frozen=True)
class AppWrites:
    """What result.json said: the steps that may write into the app, and the entries they wrote."""

    steps: tuple[str, ...]
    paths: frozenset[str]

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> AppWrites:
        steps = result.get("app_steps")
        paths = result.get("app_writes")
        steps = steps if isinstance(steps, list) else []
        paths = paths if isinstance(paths, list) else []
        if len(paths) > MAX_ENTRIES:
            raise UserError(f"the build wrote more than {MAX_ENTRIES} files into the app; build fewer")
        return cls(
            tuple(sorted({str(s)[:100] for s in steps})),
            frozenset(clean for p in paths if (clean := _clean_name(p))),
        )


def writes_app(document: AppLayers) -> bool:
    """The fast path's predicate, on the layer cache's record of the last build (LayerCache.load())."""
    return document.app_steps is None or bool(document.app_steps)


def _clean_name(name: object) -> str | None:
    """A tar or result name as a relative POSIX path inside the app, or None when it is not one."""
    if not isinstance(name, str) or not name or "\0" in name or name.startswith("/"):
        return None
    parts = [part for part in PurePosixPath(name.removeprefix("./")).parts if part != "."]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _checked(inner: Path, allowed: frozenset[str]) -> None:
    """Refuse a tar that is not the driver's: unknown names, odd entry types, too many or too big."""
    count = size = 0
    seen: set[str] = set()
    with tarfile.open(inner, mode="r:") as tar:
        for member in tar:
            count += 1
            name = _clean_name(member.name)
            if count > MAX_ENTRIES or name is None or name not in allowed:
                shown = repr(member.name)[:80]
                raise UserError(f"the build wrote an entry outside its list of app files ({shown}); not kept")
            if member.islnk() and _clean_name(member.linkname) not in seen:
                raise UserError(
                    f"the build wrote a hard link into the app that points out of it ({name:.80})"
                )
            if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
                raise UserError(
                    f"the build wrote a special file into the app ({name:.80}); it cannot be kept"
                )
            size += member.size
            if size > MAX_BYTES:
                raise UserError(f"the build wrote more than {MAX_BYTES >> 20} MiB into the app")
            seen.add(name)


def _fetch(box: BuildRoot, dest: Path, work: Path) -> None:
    """The driver's tar, out of the build's copy stream (a tar holding that one file)."""
    raw = work / "app-writes-raw.tar"
    try:
        box.get(TAR_PATH, raw, limit=MAX_BYTES + MAX_ENTRIES * _TAR_OVERHEAD)
        with tarfile.open(raw, mode="r:") as outer:
            member = next((m for m in outer if m.isreg()), None)
            data = outer.extractfile(member) if member is not None else None
            if data is None:
                raise UserError("the build listed files it wrote into the app but left no copy of them")
            with open(dest, "wb") as out:
                shutil.copyfileobj(data, out)
    finally:
        raw.unlink(missing_ok=True)


def export_app_writes(box: BuildRoot, writes: AppWrites, cache: LayerCache, epoch: int) -> LayerBlob | None:
    """The layer of what the build steps wrote into the app, or None when they wrote nothing."""
    if not writes.paths:
        return None
    inner = cache.tmp_dir() / f"app-writes-{id(writes)}.tar"
    prefix = APP_DIR.strip("/")
    try:
        _fetch(box, inner, cache.tmp_dir())
        _checked(inner, writes.paths)
        return store_blob(
            cache,
            lambda dest: normalize_tar(
                inner,
                dest,
                rename=lambda name: f"{prefix}/{clean}" if (clean := _clean_name(name)) else None,
                mtime=epoch,
                owner=RUN_OWNER,
            ),
        )
    except tarfile.TarError as exc:
        raise UserError(f"the build's copy of the files it wrote into the app is not a tar ({exc})") from None
    finally:
        inner.unlink(missing_ok=True)
