"""What the build wrote into the app comes back as a checked, reproducible layer (no engine: the
local runner's root stands in for the build container, and the tars are made as the driver makes
them)."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from boxwise.builder.appwrites import TAR_PATH, AppWrites, export_app_writes, writes_app
from boxwise.builder.cache import LayerCache
from boxwise.builder.cache_record import AppLayers
from boxwise.builder.driver import walk_entries, write_app_tar
from boxwise.builder.runner_local import LocalRoot
from boxwise.errors import UserError


def _driver_tar(box: LocalRoot, app: Path, paths: list[str]) -> None:
    dest = Path(box.path(TAR_PATH))
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_app_tar(str(app), paths, str(dest))


def _collected(app: Path, mtime: float) -> list[str]:
    (app / "staticfiles" / "admin").mkdir(parents=True)
    (app / "staticfiles" / "admin" / "base.css").write_text("body {}\n")
    (app / "staticfiles" / "latest.css").symlink_to("admin/base.css")
    for path in [*app.rglob("*")]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return sorted(rel for rel in walk_entries(str(app / "staticfiles"), str(app), 100) if rel != ".")


def test_the_layer_is_the_run_users_and_the_same_whenever_it_was_written(tmp_path: Path) -> None:
    cache = LayerCache.for_app(tmp_path / "cache", tmp_path)
    blobs = []
    for when in (time.time(), time.time() - 86400):
        with LocalRoot("app") as box:
            app = Path(box.path("/workspace"))
            paths = _collected(app, when)
            _driver_tar(box, app, paths)
            blobs.append(
                export_app_writes(box, AppWrites(("collectstatic",), frozenset(paths)), cache, 315532801)
            )
    assert blobs[0] is not None and blobs[1] is not None
    assert blobs[0].diff_id == blobs[1].diff_id
    with tarfile.open(blobs[0].path) as layer:
        members = {m.name: m for m in layer}
    assert sorted(members) == [
        "workspace",
        "workspace/staticfiles",
        "workspace/staticfiles/admin",
        "workspace/staticfiles/admin/base.css",
        "workspace/staticfiles/latest.css",
    ]
    assert {(m.uid, m.gid, m.mtime) for m in members.values()} == {(1000, 1000, 315532801)}
    assert members["workspace/staticfiles/latest.css"].linkname == "admin/base.css"  # a link, not followed


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("../etc/cron.d/job", tarfile.REGTYPE),
        ("/etc/passwd", tarfile.REGTYPE),
        ("staticfiles/dev", tarfile.CHRTYPE),
    ],
)
def test_a_tar_the_driver_would_not_write_is_refused(tmp_path: Path, name: str, kind: bytes) -> None:
    cache = LayerCache.for_app(tmp_path / "cache", tmp_path)
    with LocalRoot("app") as box:
        dest = Path(box.path(TAR_PATH))
        dest.parent.mkdir(parents=True)
        with tarfile.open(dest, "w") as tar:
            info = tarfile.TarInfo(name)
            info.type = kind
            tar.addfile(info, io.BytesIO(b""))
        listed = AppWrites(("collectstatic",), frozenset({"staticfiles/dev", "etc/passwd", "etc/cron.d/job"}))
        with pytest.raises(UserError, match="the build"):
            export_app_writes(box, listed, cache, 315532801)


def test_a_build_that_may_write_into_the_app_or_did_not_say_must_run_the_buildpacks() -> None:
    assert writes_app(AppLayers(app_steps=("collectstatic",)))
    assert writes_app(AppLayers())  # seeded from an image, or an older boxwise: not known
    assert not writes_app(AppLayers(app_steps=()))
