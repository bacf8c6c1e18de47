"""Layer reuse: a code-only change keeps the dependency layer byte for byte; a requirements change
rebuilds it from empty; a failed build leaves a cache the next build uses."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import BASE, PREFIX, REPO, build, build_ok, layer_ids, run_image, write_app

pytestmark = pytest.mark.engine

MAIN = "import six\nprint('v1', six.__version__)\n"


def simple_app(folder: Path, requirements: str) -> Path:
    files = {"requirements.txt": requirements, "Procfile": "web: python3 main.py\n", "main.py": MAIN}
    return write_app(folder, files)


def test_code_change_reuses_the_dependency_layer_and_a_requirements_change_rebuilds_it(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "cached-app",
        {
            "requirements.txt": "six==1.16.0\nidna==3.7\n",
            "Procfile": "web: python3 main.py\n",
            "main.py": MAIN,
        },
    )
    cache = tmp_path / "cache"
    tag = f"{PREFIX}/cached-app:1"
    build_ok(app, tag, cache)
    first = layer_ids(docker_client, tag)

    (app / "main.py").write_text(MAIN.replace("v1", "v2"))
    out = build_ok(app, tag, cache)
    second = layer_ids(docker_client, tag)
    assert "pip-install:packages: reused (key unchanged)" in out
    assert "$ pip install" not in out  # pip did not even run
    assert "app:app: rebuilt: app files changed" in out
    assert second[:-1] == first[:-1]  # base + dependency layer: the same diff_ids
    assert second[-1] != first[-1]
    assert run_image(docker_client, tag) == (0, "v2 1.16.0\n")

    (app / "requirements.txt").write_text("six==1.16.0\n")
    out = build_ok(app, tag, cache)
    assert "pip-install:packages: rebuilt: requirements.txt changed" in out
    assert layer_ids(docker_client, tag)[-3] != first[-3]
    code, output = run_image(docker_client, tag, ["python3", "-c", "import idna"])
    assert code != 0 and "No module named 'idna'" in output  # the removed package is gone


def test_an_included_requirements_file_is_part_of_the_key(base_image: str, tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "included",
        {
            "requirements.txt": "-r requirements/base.txt\n",
            "requirements/base.txt": "six==1.16.0\n",
            "Procfile": "web: python3 -c 'import six'\n",
        },
    )
    cache = tmp_path / "cache"
    build_ok(app, f"{PREFIX}/included:1", cache)
    (app / "requirements" / "base.txt").write_text("six==1.16.0\nidna==3.7\n")
    out = build_ok(app, f"{PREFIX}/included:1", cache)
    assert "pip-install:packages: rebuilt: requirements/base.txt changed" in out
    assert "Successfully installed idna-3.7" in out


def test_a_broken_requirement_fails_with_pips_message_and_the_line_and_the_cache_survives(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    good = "six==1.16.0\n"
    app = write_app(
        tmp_path / "broken", {"requirements.txt": good, "Procfile": "web: python3 main.py\n", "main.py": MAIN}
    )
    cache = tmp_path / "cache"
    tag = f"{PREFIX}/broken:1"
    build_ok(app, tag, cache)
    image_before = docker_client.images.get(tag).id

    (app / "requirements.txt").write_text(good + "boxwise-no-such-package-xyz==1.0\n")
    result = build(app, tag, cache)
    assert result.returncode == 2
    assert (
        "No matching distribution found for boxwise-no-such-package-xyz==1.0" in result.stdout
    )  # pip's words
    # one line naming the file, line and package, then pip's own last lines under it
    first, *under = result.stderr.splitlines()
    assert first.startswith(
        f"boxwise: error: {app}/requirements.txt:2: no release of boxwise-no-such-package-xyz==1.0 "
    ), first
    assert under and all(line.startswith("  | ") for line in under)
    assert "  | ERROR: No matching distribution found for boxwise-no-such-package-xyz==1.0" in under
    assert docker_client.images.get(tag).id == image_before  # the failed build wrote no image

    (app / "requirements.txt").write_text(good)
    out = build_ok(app, tag, cache)
    assert "pip-install:packages: reused (key unchanged)" in out


def test_a_corrupt_cached_layer_is_discarded_and_rebuilt(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "corrupt",
        {"requirements.txt": "six==1.16.0\n", "Procfile": "web: python3 main.py\n", "main.py": MAIN},
    )
    cache = tmp_path / "cache"
    tag = f"{PREFIX}/corrupt:1"
    build_ok(app, tag, cache)
    dependency_layer = layer_ids(docker_client, tag)[-3]
    blob = cache / "blobs" / "sha256" / f"{dependency_layer.removeprefix('sha256:')}.tar"
    blob.write_bytes(blob.read_bytes()[:1000])  # as a crash mid-copy would leave it

    out = build_ok(app, tag, cache)
    assert "cached layer missing or corrupt; it will be rebuilt" in out
    assert "pip-install:packages: rebuilt: no cached layer" in out
    assert layer_ids(docker_client, tag)[-3] == dependency_layer  # rebuilt to the very same bytes
    assert run_image(docker_client, tag) == (0, "v1 1.16.0\n")

    # A layers.json boxwise did not write this way (edited, or a CI cache another job wrote): one
    # line naming it, then the build goes on as from an empty cache (which the image under --tag fills)
    (record,) = (cache / "apps").glob("corrupt-*/layers.json")
    record.write_text('{"buildpacks": {"boxwise/pip-install": 5}, "app": {}}')
    out = build_ok(app, tag, cache)
    (line,) = [line for line in out.splitlines() if "layer cache:" in line]
    assert f"{record} is not what boxwise writes ('buildpacks.boxwise/pip-install' is not an object)" in line
    assert f"restore: no cached layers; reading them from the previous image {tag}" in out
    assert "pip-install:packages: reused (key unchanged)" in out
    assert layer_ids(docker_client, tag)[-3] == dependency_layer
    assert json.loads(record.read_text())["buildpacks"]  # the good build wrote it anew


def test_an_interrupted_build_leaves_no_container_and_a_cache_the_next_build_uses(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = simple_app(tmp_path / "interrupted", "six==1.16.0\n")
    cache = tmp_path / "cache"
    tag = f"{PREFIX}/interrupted:1"
    build_ok(app, tag, cache)

    # pip asks an index that takes connections and never answers (pip waits 15 s a try): the
    # Ctrl-C below lands while pip runs, however late this test reads the build's output. With
    # PyPI, pip was done in a second and on a loaded machine the build had ended before it.
    silent = socket.create_server(("127.0.0.1", 0))  # never accepts: the kernel's backlog holds pip
    port = silent.getsockname()[1]
    (app / "requirements.txt").write_text(
        f"--index-url http://127.0.0.1:{port}/simple\nsix==1.16.0\nidna==3.7\n"
    )
    command = [sys.executable, "-m", "boxwise", "build", str(app), "--base", BASE, "--tag", tag]
    child = subprocess.Popen(
        [*command, "--cache", str(cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO / "src")},
        # Ctrl-C as a terminal gives it, even when this suite runs with SIGINT ignored (a
        # background job of a shell without job control), which a child would inherit
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("$ pip install"):  # pip is running inside the build container
            child.send_signal(signal.SIGINT)  # Ctrl-C
            break
    _, err = child.communicate(timeout=120)
    silent.close()
    assert child.returncode == 130, err
    assert "boxwise: interrupted" in err
    assert not docker_client.containers.list(
        all=True, filters={"name": "boxwise-build-interrupted-"}, ignore_removed=True
    )

    (app / "requirements.txt").write_text("six==1.16.0\n")
    out = build_ok(app, tag, cache)
    assert "pip-install:packages: reused (key unchanged)" in out


def test_an_empty_cache_takes_the_layers_of_the_previous_image_under_the_tag(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = simple_app(tmp_path / "previous", "six==1.16.0\n")
    tag = f"{PREFIX}/previous:1"
    build_ok(app, tag, tmp_path / "cache-of-machine-1")
    first = layer_ids(docker_client, tag)

    (app / "main.py").write_text(MAIN.replace("v1", "v3"))
    out = build_ok(app, tag, tmp_path / "cache-of-machine-2")  # a fresh cache, the image still there
    assert f"reading them from the previous image {tag}" in out
    assert "pip-install:packages: reused (key unchanged)" in out
    assert "$ pip install" not in out
    assert layer_ids(docker_client, tag)[:-1] == first[:-1]
    assert run_image(docker_client, tag) == (0, "v3 1.16.0\n")


def test_the_pip_cache_layer_is_restored_only_when_a_key_changes_and_then_saves_the_wheel_build(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    # termcolor 1.1.0 exists only as an sdist: pip builds a wheel and keeps it in its cache.
    app = simple_app(tmp_path / "sdist-app", "termcolor==1.1.0\n")
    cache = tmp_path / "cache"
    tag = f"{PREFIX}/sdist-app:1"
    out = build_ok(app, tag, cache)
    assert "Building wheel for termcolor" in out
    assert "cache layer pip-install:pip-cache: updated" in out

    (app / "main.py").write_text(MAIN.replace("v1", "v2"))
    out = build_ok(app, tag, cache)
    assert "pip-cache: needed now" not in out  # an unchanged key never touches the download cache
    assert "cache layer pip-install:pip-cache: kept" in out

    (app / "requirements.txt").write_text("termcolor==1.1.0\nsix==1.16.0\n")
    out = build_ok(app, tag, cache)
    assert "layer 'pip-cache': needed now; asking the platform to restore it" in out
    assert "pip-install:packages: rebuilt: requirements.txt changed" in out
    assert "Building wheel for termcolor" not in out  # the wheel built last time came from the cache
    code, output = run_image(docker_client, tag, ["python3", "-c", "import termcolor, six"])
    assert code == 0, output


def test_switching_back_to_earlier_dependencies_reuses_their_cached_layer(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    """Two branches (or two bases) built in turn: each finds its own dependency layer still cached."""
    app = write_app(
        tmp_path / "branches",
        {"requirements.txt": "six==1.16.0\n", "Procfile": "web: python3 main.py\n", "main.py": MAIN},
    )
    cache = tmp_path / "cache"
    tag = f"{PREFIX}/branches:1"
    build_ok(app, tag, cache)
    main_layer = layer_ids(docker_client, tag)[-3]
    (app / "requirements.txt").write_text("six==1.16.0\nidna==3.7\n")  # the feature branch
    out = build_ok(app, tag, cache)
    assert "pip-install:packages: rebuilt: requirements.txt changed" in out
    (app / "requirements.txt").write_text("six==1.16.0\n")  # back on main
    out = build_ok(app, tag, cache)
    assert "an earlier cached layer has this key; asking the platform for it" in out
    assert "$ pip install" not in out
    assert "pip-install:packages: reused (key unchanged)" in out
    assert layer_ids(docker_client, tag)[-3] == main_layer
    assert run_image(docker_client, tag) == (0, "v1 1.16.0\n")


def _dependency_layer(out: str) -> str:
    """The dependency layer's short digest, from `boxwise build`'s summary lines."""
    return next(
        re.findall(r"sha256:[0-9a-f]{12}", line)[0]
        for line in out.splitlines()
        if line.startswith("  pip-install:packages:")
    )


def test_a_previous_image_in_a_registry_warms_a_fresh_runner(
    base_image: str, docker_client, local_registry: str, tmp_path: Path
) -> None:
    """pack's --previous-image: a runner with an empty cache (and an engine without the image)
    takes the dependency layer of the branch's image in the registry; pip never runs."""
    app = write_app(
        tmp_path / "previous",
        {"requirements.txt": "six==1.16.0\n", "Procfile": "web: python3 main.py\n", "main.py": MAIN},
    )
    ref = f"{local_registry}/{PREFIX}/previous:main"
    out = build_ok(app, tag := f"{PREFIX}/previous:1", tmp_path / "cache-a", "--output", f"registry://{ref}")
    pushed_layers = _dependency_layer(out)
    (app / "main.py").write_text(MAIN.replace("v1", "v2"))  # a code-only change on a fresh runner

    out = build_ok(app, tag, tmp_path / "cache-b", "--previous-image", f"registry://{ref}")
    assert f"restore: layers of the previous image registry://{ref}" in out
    assert "$ pip install" not in out
    assert "pip-install:packages: reused (key unchanged)" in out
    assert _dependency_layer(out) == pushed_layers
    assert run_image(docker_client, tag) == (0, "v2 1.16.0\n")

    # a cache that holds other dependencies: the previous image's layer joins them, and is used
    (app / "requirements.txt").write_text("six==1.16.0\nidna==3.7\n")
    build_ok(app, tag, tmp_path / "cache-c")
    (app / "requirements.txt").write_text("six==1.16.0\n")
    out = build_ok(app, tag, tmp_path / "cache-c", "--previous-image", f"registry://{ref}")
    assert "an earlier cached layer has this key; asking the platform for it" in out
    assert "$ pip install" not in out
