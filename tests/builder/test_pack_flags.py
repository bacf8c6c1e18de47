"""pack's vocabulary on `boxwise build`: --env/--env-file, --publish, --clear-cache,
--default-process, and `boxwise buildpacks` (real engine, real PyPI, a real registry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run_boxwise

from .helpers import PREFIX, REPO, WEB_APP, build, build_ok, http_get_from_image, run_image, write_app


def test_buildpacks_lists_the_buildpacks_and_the_groups_in_order() -> None:
    result = run_boxwise("buildpacks", "--format", "json", env={"PYTHONPATH": str(REPO / "src")})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {bp["id"] for bp in document["buildpacks"]} >= {
        "pip-install",
        "pyproject-toml-install",
        "procfile-run",
    }
    assert document["order"][0][0] == {"id": "pip-install", "optional": False}
    text = run_boxwise("buildpacks", env={"PYTHONPATH": str(REPO / "src")}).stdout
    assert "group 1: pip-install, procfile-run (optional)" in text


@pytest.mark.engine
def test_build_env_default_process_and_clear_cache(base_image: str, docker_client, tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "pack-app",
        {
            "requirements.txt": "six==${SIX_VERSION}\n",  # pip expands the build's variables
            "Procfile": "web: python3 app.py six\nworker: python3 -c 'print(\"worker here\")'\n",
            "app.py": WEB_APP,
        },
    )
    env_file = tmp_path / "build.env"
    env_file.write_text("# for the build\nSIX_VERSION=1.15.0\n")
    tag = f"{PREFIX}/pack-app:1"
    cache = tmp_path / "cache"
    out = build_ok(app, tag, cache, "--env-file", str(env_file), "--env", "SIX_VERSION=1.16.0")
    assert "six-1.16.0" in out  # --env wins over --env-file, as in pack
    config = docker_client.images.get(tag).attrs["Config"]
    assert not any(item.startswith("SIX_VERSION=") for item in config["Env"])  # never in the image
    assert http_get_from_image(docker_client, tag, "pack-app") == "hello from boxwise (six 1.16.0)\n"

    out = build_ok(app, tag, cache, "--env", "SIX_VERSION=1.16.0", "--default-process", "worker")
    assert "pip-install:packages: reused (key unchanged)" in out
    assert run_image(docker_client, tag) == (0, "worker here\n")

    out = build_ok(app, tag, cache, "--env", "SIX_VERSION=1.16.0", "--clear-cache")
    assert "pip-install:packages: rebuilt: no cached layer" in out

    for bad, says in (
        (
            ["--default-process", "nope"],
            "--default-process nope: the app has no such process (it has web, worker)",
        ),
        (["--env", "1BAD=x"], "--env: '1BAD' is not a variable name"),
        (["--publish", "--output", "oci:/tmp/x"], "--publish and --output both say where the image goes"),
    ):
        result = build(app, tag, cache, "--env", "SIX_VERSION=1.16.0", *bad)
        assert result.returncode == 2 and says in result.stderr, result.stderr


@pytest.mark.engine
def test_publish_pushes_to_the_registry_the_tag_names(
    base_image: str, docker_client, local_registry: str, tmp_path: Path
) -> None:
    app = write_app(tmp_path / "publish-app", {"Procfile": "web: python3 app.py\n", "app.py": WEB_APP})
    ref = f"{local_registry}/{PREFIX}/publish-app:1"
    out = build_ok(app, ref, tmp_path / "cache", "--publish")
    assert f"registry://{ref}@sha256:" in out
    docker_client.images.pull(ref)
    assert http_get_from_image(docker_client, ref, "publish-app") == "hello from boxwise ()\n"
    docker_client.images.remove(ref, force=True)
