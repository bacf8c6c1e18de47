"""The buildpack folders: no links out; the shared code has one source, copied in at packaging."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from boxwise.builder.builder_toml import load_builder
from boxwise.builder.lifecycle import DRIVER_SHARED, _buildpacks_tar

BUILDPACKS = Path(__file__).resolve().parents[2] / "buildpacks"
IDS = tuple(sorted(p.parent.name for p in BUILDPACKS.glob("*/buildpack.toml")))
SHARED = (
    "processes.py",
    "pylayer.py",
    "pyversion.py",
    "installfail.py",
    "package_managers.py",
    "lockinstall.py",
    "tomlwrite.py",
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
    for name in DRIVER_SHARED:  # and the driver gets the ones it imports beside it
        assert members[f"cnb/lifecycle/{name}"] == (BUILDPACKS / "shared" / name).read_bytes()


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


def _tomlwrite():
    import sys

    if str(BUILDPACKS / "shared") not in sys.path:
        sys.path.insert(0, str(BUILDPACKS / "shared"))
    import tomlwrite

    return tomlwrite


def test_the_build_containers_toml_writer_round_trips_any_text() -> None:
    """What procfile-run writes for any Procfile line reads back the same (emoji, quotes, controls),
    and so does any layer metadata a buildpack writes (tomlwrite, the in-container writer)."""
    import pytest
    from hypothesis import given, settings
    from hypothesis import strategies as st

    tomllib = pytest.importorskip("tomllib")
    toml_dumps = _tomlwrite().toml_dumps

    @settings(max_examples=200, deadline=None)
    @given(st.text())
    def round_trip(text: str) -> None:
        clean = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be written
        table = {"processes": [{"type": "web", "command": ["/bin/sh", "-c", clean], "default": True}]}
        assert tomllib.loads(toml_dumps(table)) == table

    @settings(max_examples=200, deadline=None)
    @given(_metadata(floats=True))
    def metadata_round_trip(metadata: dict) -> None:
        table = {"types": {"launch": True}, "metadata": metadata}
        assert tomllib.loads(toml_dumps(table)) == table

    round_trip()
    metadata_round_trip()


def _plan_entries():
    """Build plan entries as a detect writes them: a name, and metadata whose keys may need quotes
    (dots, spaces, quotes, any Unicode) and whose values are text (quotes, newlines, emoji),
    integers and booleans."""
    from hypothesis import strategies as st

    text = st.text(st.characters(blacklist_categories=("Cs",)))
    values = text | st.integers(-(2**63), 2**63 - 1) | st.booleans()
    entry = st.fixed_dictionaries(
        {"name": text}, optional={"metadata": st.dictionaries(text, values, min_size=1)}
    )
    return st.lists(entry, max_size=4)


def test_the_build_plan_and_the_buildpack_plan_read_back_as_written(tmp_path: Path) -> None:
    """bin/detect's [[provides]]/[[requires]] and the driver's [[entries]] (one writer, tomlwrite)
    read back with tomllib as the values they were made from."""
    import pytest
    from hypothesis import given, settings

    from boxwise.builder.driver import write_bp_plan

    tomllib = pytest.importorskip("tomllib")
    toml_dumps = _tomlwrite().toml_dumps

    @settings(max_examples=200, deadline=None)
    @given(_plan_entries(), _plan_entries())
    def build_plan(provides: list, requires: list) -> None:
        plan = {"provides": provides, "requires": requires}
        assert tomllib.loads(toml_dumps(plan)) == plan

    @settings(max_examples=200, deadline=None)
    @given(_plan_entries())
    def buildpack_plan(requires: list) -> None:
        path = tmp_path / "bp-plan.toml"
        write_bp_plan(str(path), requires)
        assert tomllib.loads(path.read_text(encoding="utf-8")) == ({"entries": requires} if requires else {})

    build_plan()
    buildpack_plan()


def test_the_toml_writer_refuses_what_toml_cannot_hold() -> None:
    """TOML has no null: a None is an error in the build, never the text 'None' in a plan."""
    import pytest

    tomlwrite = _tomlwrite()
    with pytest.raises(TypeError, match="no value for NoneType"):
        tomlwrite.toml_dumps({"metadata": {"file": None}})
    with pytest.raises(TypeError, match="a TOML key is a string"):
        tomlwrite.toml_dumps({"metadata": {1: "x"}})


def test_bin_detect_writes_the_build_plan_its_rule_gives(tmp_path: Path) -> None:
    """A buildpack's bin/detect as the driver runs it (CNB_BUILD_PLAN_PATH) writes its rule's plan."""
    import os
    import subprocess
    import sys

    import pytest

    tomllib = pytest.importorskip("tomllib")
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("six\n")
    plan_path = tmp_path / "plan.toml"
    folder = BUILDPACKS / "pip-install"
    env = {**os.environ, "CNB_BUILD_PLAN_PATH": str(plan_path), "CNB_BUILDPACK_DIR": str(folder)}
    done = subprocess.run(
        [sys.executable, str(folder / "bin" / "detect"), "/platform", str(plan_path)],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert tomllib.loads(plan_path.read_text(encoding="utf-8")) == {
        "provides": [{"name": "pip-requirements"}],
        "requires": [{"name": "pip-requirements", "metadata": {"file": "requirements.txt", "launch": True}}],
    }


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
