"""The reproducible layer writer: the same files give the same bytes whatever their times and owners."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from boxwise.image.layer_writer import DEFAULT_EPOCH, normalize_tar, source_date_epoch, write_dir_layer


def _tree(root: Path) -> Path:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "sub" / "b.py").write_text("b = 2\n")
    (root / "pkg" / "a.py").write_text("a = 1\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o700)
    (root / "link").symlink_to("pkg/a.py")
    return root


def test_times_owners_and_modes_of_the_source_do_not_change_the_layer(tmp_path: Path) -> None:
    first = write_dir_layer(_tree(tmp_path / "one"), "workspace", tmp_path / "one.tar")
    two = _tree(tmp_path / "two")
    for path in two.rglob("*"):
        if not path.is_symlink():
            os.utime(path, (1_700_000_000, 1_700_000_000))
            if os.geteuid() == 0:  # only root may give files away
                os.chown(path, 1234, 5678)
    (two / "pkg" / "a.py").chmod(0o664)
    second = write_dir_layer(two, "workspace", tmp_path / "two.tar")
    assert first.diff_id == second.diff_id
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()

    with tarfile.open(tmp_path / "one.tar") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [
        "workspace",
        "workspace/link",
        "workspace/pkg",
        "workspace/pkg/a.py",
        "workspace/pkg/sub",
        "workspace/pkg/sub/b.py",
        "workspace/run.sh",
    ]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(DEFAULT_EPOCH, 0, 0, "", "")}
    modes = {m.name: m.mode for m in members}
    assert modes["workspace/run.sh"] == 0o755 and modes["workspace/pkg/a.py"] == 0o644


def test_source_date_epoch_sets_every_mtime(tmp_path: Path) -> None:
    assert source_date_epoch({"SOURCE_DATE_EPOCH": "1700000000"}) == 1_700_000_000
    assert source_date_epoch({"SOURCE_DATE_EPOCH": "soon"}) == DEFAULT_EPOCH
    blob = write_dir_layer(_tree(tmp_path / "app"), "workspace", tmp_path / "l.tar", mtime=1_700_000_000)
    with tarfile.open(blob.path) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1_700_000_000}


def test_normalize_tar_renames_sorts_and_keeps_hard_links_unpackable(tmp_path: Path) -> None:
    source = tmp_path / "engine.tar"
    with tarfile.open(source, "w") as tar:  # an engine's tar: its own order, times and owners
        for name, data in (("packages/z.txt", b"z"), ("packages/a.txt", b"a")):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uid, info.uname = len(data), 1_600_000_000, 1000, "build"
            tar.addfile(info, __import__("io").BytesIO(data))
        link = tarfile.TarInfo("packages/0-link.txt")  # sorts before its target
        link.type, link.linkname = tarfile.LNKTYPE, "packages/z.txt"
        tar.addfile(link)
    blob = normalize_tar(source, tmp_path / "layer.tar", rename=lambda name: f"layers/bp/{name}")
    with tarfile.open(blob.path) as tar:
        names = [m.name for m in tar.getmembers()]
        assert names == [
            "layers",
            "layers/bp",
            "layers/bp/packages",
            "layers/bp/packages/0-link.txt",
            "layers/bp/packages/a.txt",
            "layers/bp/packages/z.txt",
        ]
        early_link = tar.getmember("layers/bp/packages/0-link.txt")
        assert early_link.isreg() and tar.extractfile(early_link).read() == b"z"
