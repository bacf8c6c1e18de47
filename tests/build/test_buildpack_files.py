"""The buildpack folders: no links out; the shared code has one source, copied in at packaging."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from boxwise.build.builder import load_builder
from boxwise.build.lifecycle import _buildpacks_tar

BUILDPACKS = Path(__file__).resolve().parents[2] / "buildpacks"
IDS = ("pip-install", "pyproject-toml-install", "procfile-run")
SHARED = ("processes.py", "pylayer.py")


def test_each_buildpack_has_an_executable_build_and_no_links_out() -> None:
    for bp in IDS:
        folder = BUILDPACKS / bp
        assert (folder / "bin" / "build").stat().st_mode & 0o111
        for path in folder.rglob("*"):
            assert not path.is_symlink(), f"{path} is a link; pack would not carry its target"


def test_the_shared_modules_have_one_source_and_every_packaged_buildpack_gets_them() -> None:
    for bp in IDS:  # no hand-kept copies in the buildpack folders
        assert not any((BUILDPACKS / bp / name).exists() for name in SHARED), bp
    data = _buildpacks_tar(load_builder(BUILDPACKS), {}, None)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}
    for bp in IDS:
        for name in SHARED:
            assert members[f"cnb/buildpacks/{bp}/{name}"] == (BUILDPACKS / "shared" / name).read_bytes()
