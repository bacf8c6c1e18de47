"""The buildpack folders stand alone (as pack packages them): no links out, shared code in copies."""

from __future__ import annotations

from pathlib import Path

BUILDPACKS = Path(__file__).resolve().parents[2] / "buildpacks"
IDS = ("pip-install", "pyproject-toml-install", "procfile-run")


def test_each_buildpack_has_an_executable_build_and_no_links_out() -> None:
    for bp in IDS:
        folder = BUILDPACKS / bp
        assert (folder / "bin" / "build").stat().st_mode & 0o111
        for path in folder.rglob("*"):
            assert not path.is_symlink(), f"{path} is a link; pack would not carry its target"


def test_the_shared_build_helpers_are_identical_copies() -> None:
    copies = {bp: (BUILDPACKS / bp / "pylayer.py").read_text() for bp in IDS}
    # edit buildpacks/pip-install/pylayer.py, then copy it to the others
    assert len(set(copies.values())) == 1
