"""The buildpack folders: no links out; the shared code has one source, copied in at packaging."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from boxwise.builder.builder_toml import load_builder
from boxwise.builder.lifecycle import _buildpacks_tar

BUILDPACKS = Path(__file__).resolve().parents[2] / "buildpacks"
IDS = tuple(sorted(p.parent.name for p in BUILDPACKS.glob("*/buildpack.toml")))
SHARED = (
    "processes.py",
    "pylayer.py",
    "pyversion.py",
    "installfail.py",
    "package_managers.py",
    "lockinstall.py",
)


def test_each_buildpack_has_an_executable_build_and_no_links_out() -> None:
    assert len(IDS) == 7  # pip, Pipenv, Poetry, uv, pyproject.toml, setup.py, Procfile
    for bp in IDS:
        folder = BUILDPACKS / bp
        assert (folder / "bin" / "build").stat().st_mode & 0o111
        for path in folder.rglob("*"):
            assert not path.is_symlink(), f"{path} is a link; pack would not carry its target"


def test_the_shared_modules_have_one_source_and_every_packaged_buildpack_gets_them() -> None:
    for bp in IDS:  # no hand-kept copies in the buildpack folders
        assert not any((BUILDPACKS / bp / name).exists() for name in SHARED), bp
    builder = load_builder(BUILDPACKS)
    data = _buildpacks_tar(builder, builder.plan("/workspace", "/layers", "/platform"), None)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}
    for bp in IDS:
        for name in SHARED:
            assert members[f"cnb/buildpacks/{bp}/{name}"] == (BUILDPACKS / "shared" / name).read_bytes()


def test_a_launch_toml_that_is_not_toml_fails_the_build(tmp_path: Path, capsys) -> None:
    """A buildpack's launch.toml the lifecycle cannot read is a failed build, never an image with no
    process that passes (the JSON-escaped emoji launch.toml of old did exactly that)."""
    import pytest

    from boxwise.builder.driver import read_toml

    launch = tmp_path / "launch.toml"
    launch.write_text('[[processes]]\ntype = "web"\ncommand = ["echo", "\\ud83d\\ude80"]\n')
    with pytest.raises(SystemExit) as exited:
        read_toml(str(launch))
    assert exited.value.code == 51
    assert "a buildpack wrote invalid TOML" in capsys.readouterr().out


def _metadata(floats: bool):
    """Layer metadata as buildpacks write it: tables of text, integers, booleans and arrays (any
    Unicode but lone surrogates, which UTF-8 cannot hold), nested."""
    from hypothesis import strategies as st

    text = st.text(st.characters(blacklist_categories=("Cs",)))
    scalars = text | st.integers(-(2**63), 2**63 - 1) | st.booleans()
    if floats:
        scalars |= st.floats(allow_nan=False)
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=8,
    )
    return st.dictionaries(text, values, max_size=4)


def test_the_buildpacks_toml_writer_round_trips_any_text() -> None:
    """What procfile-run writes for any Procfile line reads back the same (emoji, quotes, controls),
    and so does any layer metadata a buildpack writes with pylayer (the in-container writer)."""
    import sys

    from hypothesis import given, settings
    from hypothesis import strategies as st

    sys.path.insert(0, str(BUILDPACKS / "shared"))
    import pylayer

    if sys.version_info < (3, 11):  # pragma: no cover
        return
    import tomllib

    @settings(max_examples=200, deadline=None)
    @given(st.text())
    def round_trip(text: str) -> None:
        clean = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be written
        table = {"processes": [{"type": "web", "command": ["/bin/sh", "-c", clean], "default": True}]}
        assert tomllib.loads(pylayer.toml_dumps(table)) == table

    @settings(max_examples=200, deadline=None)
    @given(_metadata(floats=False))
    def metadata_round_trip(metadata: dict) -> None:
        table = {"types": {"launch": True}, "metadata": metadata}
        assert tomllib.loads(pylayer.toml_dumps(table)) == table

    round_trip()
    metadata_round_trip()


def test_the_restored_layer_toml_round_trips_any_metadata() -> None:
    """The host side's writer (tomli-w) gives a buildpack back exactly the metadata it wrote."""
    import sys

    from hypothesis import given, settings

    from boxwise.builder.layers import _restore_toml

    if sys.version_info < (3, 11):  # pragma: no cover
        return
    import tomllib

    @settings(max_examples=200, deadline=None)
    @given(_metadata(floats=True))
    def round_trip(metadata: dict) -> None:
        assert tomllib.loads(_restore_toml(metadata).decode()) == {"metadata": metadata}

    round_trip()
