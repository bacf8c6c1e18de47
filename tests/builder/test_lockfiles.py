"""Lock files are installed from the lock, or refused with one line (real engine, real PyPI).

Each app of tests/builder/lockapps is built with `boxwise build --check`, which starts the image
with PORT and reports whether it answers. What the lock pins is in the image, what its markers
exclude (colorama, Windows only) and its dev groups are not, and the installer tools never are.
A lock out of sync with its manifest is refused naming both files, as the tool itself would.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import build, run_image

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# Its own prefix: the other build tests' session cleanup (boxwise-test-build/*) must not remove
# these images between a build and the look inside it.
PREFIX = "boxwise-test-lockfiles"

LOCKAPPS = Path(__file__).resolve().parent / "lockapps"
# What the image's python can import, and which installer tools it holds (none, ever).
PROBE = (
    "import importlib.util as u, importlib.metadata as m, shutil;"
    "names = ['six', 'colorama', 'greet', 'pytest', 'pip', 'setuptools', 'poetry', 'pipenv'];"
    "print(' '.join(n for n in names if u.find_spec(n)));"
    "print(' '.join(sorted(d.metadata['Name'] for d in m.distributions())));"
    "print(' '.join(t for t in ('pip', 'uv', 'poetry', 'pipenv') if shutil.which(t)) or 'no tools')"
)


@pytest.fixture(scope="module", autouse=True)
def remove_our_images(docker_client) -> Iterator[None]:
    def remove() -> None:
        for image in docker_client.images.list(name=f"{PREFIX}/*"):
            for tag in image.tags:
                if tag.startswith(f"{PREFIX}/"):
                    with contextlib.suppress(Exception):
                        docker_client.images.remove(tag, force=True)

    remove()
    yield
    remove()


def copy_app(name: str, tmp_path: Path) -> Path:
    """The app's files, and the one web app they all serve (lockapps/web.py) where the app runs it."""
    app = Path(shutil.copytree(LOCKAPPS / name, tmp_path / name))
    shutil.copy(LOCKAPPS / "web.py", app / ("hello/web.py" if name == "poetry" else "app.py"))
    return app


def answers(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "answers 200" in output, output[-3000:]
    return output


def refused(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """The build exits 2 with one line naming every one of `names`, and no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-4000:]
    lines = [line for line in result.stderr.splitlines() if all(name in line for name in names)]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in output
    return lines[0]


def probe(client, tag: str) -> tuple[set[str], set[str], str]:
    """(importable modules, installed distributions, installer tools on PATH) in the image."""
    code, output = run_image(client, tag, ["python", "-c", PROBE])
    assert code == 0, output
    modules, dists, tools = [*output.strip().splitlines(), "", "", ""][:3]
    return set(modules.split()), {d.lower() for d in dists.split()}, tools


def test_pipenv_installs_the_lock_exactly_refuses_a_stale_one_and_warns_without_one(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app, tag, cache = copy_app("pipenv", tmp_path), f"{PREFIX}/pipenv:1", tmp_path / "cache"
    output = answers(build(app, tag, cache, "--check"))
    assert "pip install --require-hashes --no-deps" in output
    modules, _, tools = probe(docker_client, tag)
    assert "six" in modules and "colorama" not in modules and "pytest" not in modules
    assert "pip" not in modules and tools == "no tools"

    pipfile = app / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace('six = "==1.16.0"', 'six = "==1.17.0"'))
    line = refused(build(app, tag, cache), "Pipfile.lock", "out of date")
    assert "Pipfile" in line.replace("Pipfile.lock", "") and "pipenv lock" in line

    (app / "Pipfile.lock").unlink()
    output = answers(build(app, tag, cache, "--check"))
    assert "WARNING: Pipfile has no Pipfile.lock" in output
    assert "six" in probe(docker_client, tag)[0]


def test_poetry_installs_the_main_group_and_the_project_or_only_the_dependencies(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app, tag, cache = copy_app("poetry", tmp_path), f"{PREFIX}/poetry:1", tmp_path / "cache"
    output = answers(build(app, tag, cache, "--check"))
    assert "process web: web" in output  # [tool.poetry.scripts] web: the project is installed
    modules, dists, tools = probe(docker_client, tag)
    assert {"six", "hello"} <= dists and "colorama" not in dists and "pytest" not in dists
    assert not {"poetry", "pip"} & modules and tools == "no tools"

    pyproject = app / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("authors = []", "authors = []\npackage-mode = false"))
    (app / "Procfile").write_text("web: python hello/web.py\n")
    output = answers(build(app, tag, cache, "--check"))
    assert "layer 'poetry': reused" in output  # Poetry stays in its cache layer between builds
    assert "package-mode = false" in output
    _, dists, _ = probe(docker_client, tag)
    assert "six" in dists and "hello" not in dists

    pyproject.write_text(pyproject.read_text().replace('six = "1.16.0"', 'six = "1.17.0"'))
    line = refused(build(app, tag, cache), "poetry.lock", "pyproject.toml", "out of date")
    assert "poetry lock" in line


def test_uv_syncs_the_lock_frozen_with_its_path_source_and_refuses_a_stale_one(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app, tag, cache = copy_app("uv", tmp_path), f"{PREFIX}/uv:1", tmp_path / "cache"
    output = answers(build(app, tag, cache, "--check"))
    assert "uv sync --locked --no-default-groups" in output
    modules, dists, tools = probe(docker_client, tag)
    assert {"six", "greet"} <= modules and "colorama" not in modules and "pytest" not in modules
    assert "hello-uv" not in dists  # a virtual project: its dependencies only
    assert tools == "no tools"

    # The path source is installed (not editable): a change in it is a change of the layer.
    greet = app / "libs" / "greet" / "greet.py"
    greet.write_text(greet.read_text().replace("hello from greet", "hello again"))
    output = answers(build(app, tag, cache, "--check"))
    assert "rebuilt: local libs/greet changed" in output
    code, said = run_image(docker_client, tag, ["python", "-c", "import greet; print(greet.hello())"])
    assert (code, said.strip()) == (0, "hello again")

    pyproject = app / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"six==1.16.0"', '"six==1.17.0"'))
    line = refused(build(app, tag, cache), "uv.lock", "pyproject.toml", "out of date")
    assert "uv lock" in line


def test_setup_py_and_setup_cfg_projects_are_installed_and_answer(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app, tag, cache = copy_app("setup-py", tmp_path), f"{PREFIX}/setup-py:1", tmp_path / "cache"
    output = answers(build(app, tag, cache, "--check"))
    assert "pip install -e ." in output
    _, dists, _ = probe(docker_client, tag)
    assert {"six", "hello-setup-py"} <= dists and "colorama" not in dists
    # Installed in place: a code change rebuilds the app layer alone.
    (app / "app.py").write_text((app / "app.py").read_text() + "\n# a code change\n")
    output = answers(build(app, tag, cache, "--check"))
    assert (
        "layer setup-py-install:packages: reused (key unchanged" in output
    )  # or "; from the layer cache)": the fast path

    app, tag = copy_app("setup-cfg", tmp_path), f"{PREFIX}/setup-cfg:1"
    answers(build(app, tag, tmp_path / "cache-cfg", "--check"))
    _, dists, _ = probe(docker_client, tag)
    assert {"six", "hello-setup-cfg"} <= dists


@pytest.mark.parametrize(
    ("files", "names"),
    [
        ({"environment.yml": "dependencies: [flask]\n"}, ("environment.yml", "not supported")),
        ({"pixi.toml": '[project]\nname = "x"\n'}, ("pixi.toml", "not supported")),
        (
            {"requirements.txt": "six==1.16.0\n", "Pipfile": '[packages]\nsix = "*"\n', "uv.lock": ""},
            ("requirements.txt", "Pipfile", "uv.lock", "package-manager"),
        ),
        (
            {"Pipfile": '[packages]\nlib = {path = "../lib"}\n'},
            ("Pipfile", "../lib", "outside the app folder"),
        ),
    ],
    ids=["conda", "pixi", "several", "path-outside"],
)
def test_an_app_no_manager_can_install_is_refused_with_one_line(
    base_image: str, tmp_path: Path, files: dict[str, str], names: tuple[str, ...]
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    for name, text in {**files, "Procfile": "web: python app.py\n", "app.py": "print('hi')\n"}.items():
        (app / name).write_text(text)
    refused(build(app, f"{PREFIX}/refused:1", tmp_path / "cache"), *names)
