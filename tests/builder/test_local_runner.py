"""`--runner local`: the buildpacks run in place with no engine at all (a CI job's own image as the
build image, as kaniko does); the base comes from a docker-archive and the image goes to one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .helpers import BASE, PREFIX, WEB_APP, build_ok, http_get_from_image, save, write_app

pytestmark = pytest.mark.engine


def test_local_runner_builds_without_an_engine_and_the_image_answers(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    base_archive = save(docker_client, BASE, tmp_path / "base.tar")
    app = write_app(
        tmp_path / "local-app",
        {"requirements.txt": "six==1.16.0\n", "Procfile": "web: python3 app.py six\n", "app.py": WEB_APP},
    )
    host_packages_before = subprocess.run(
        ["python3", "-m", "pip", "freeze", "--all"], capture_output=True, text=True
    ).stdout
    out_archive = tmp_path / "local.tar"
    no_engine = {"DOCKER_HOST": "tcp://127.0.0.1:9"}
    tag = f"{PREFIX}/local-app:1"
    extra = ["--runner", "local", "--run-image", f"docker-archive:{base_archive}"]
    extra += ["--output", f"docker-archive:{out_archive}"]
    out = build_ok(
        app, tag, tmp_path / "cache", *extra, "--output", f"docker-archive:{out_archive}", env=no_engine
    )
    assert "pip-install:packages: rebuilt: no cached layer" in out
    # pip ran on this machine's python3, yet left this machine's own packages alone.
    after = subprocess.run(["python3", "-m", "pip", "freeze", "--all"], capture_output=True, text=True).stdout
    assert after == host_packages_before

    with open(out_archive, "rb") as data:
        docker_client.images.load(data.read())
    assert http_get_from_image(docker_client, tag, "local-app") == "hello from boxwise (six 1.16.0)\n"
    env = docker_client.images.get(tag).attrs["Config"]["Env"]
    assert (
        "PATH=/layers/pip-install/packages/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/cnb/process"
        in env
    )

    (app / "app.py").write_text(WEB_APP + "\n# code-only change\n")
    out = build_ok(
        app, tag, tmp_path / "cache", *extra, "--output", f"docker-archive:{out_archive}", env=no_engine
    )
    assert "pip-install:packages: reused (key unchanged)" in out
