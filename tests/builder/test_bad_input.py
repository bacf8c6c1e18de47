"""Bad input and a missing engine: one clear line, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import PREFIX, build, write_app


def test_no_engine_is_one_clear_line(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"Procfile": "web: python3 -c pass\n"})
    result = build(app, f"{PREFIX}/no-engine:1", tmp_path / "cache", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("boxwise: error: no Docker engine answers at tcp://127.0.0.1:9")
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.engine
def test_missing_base_image_names_the_flag_and_the_script(engine: str, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"Procfile": "web: python3 -c pass\n"})
    missing = ("--run-image", "boxwise-test-build/none:0")
    result = build(app, f"{PREFIX}/nobase:1", tmp_path / "cache", *missing, "--pull-policy", "never")
    assert result.returncode == 2
    assert "--run-image boxwise-test-build/none:0: no such image in the engine" in result.stderr
    # by default it is pulled; no registry has it: one line that says the engine cannot pull it
    result = build(app, f"{PREFIX}/nobase:1", tmp_path / "cache", *missing)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--run-image boxwise-test-build/none:0: the engine cannot pull it (" in result.stderr


@pytest.mark.engine
def test_unreadable_ca_cert_is_named(engine: str, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"Procfile": "web: python3 -c pass\n"})
    result = build(app, f"{PREFIX}/noca:1", tmp_path / "cache", "--ca-cert", str(tmp_path / "missing.pem"))
    assert result.returncode == 2
    assert f"{tmp_path / 'missing.pem'}: cannot read --ca-cert" in result.stderr


@pytest.mark.engine
def test_unknown_output_place_is_named(base_image: str, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"Procfile": "web: python3 -c pass\n"})
    result = build(app, f"{PREFIX}/out:1", tmp_path / "cache", "--output", "ftp://somewhere")
    assert result.returncode == 2
    assert "--output ftp://somewhere: not a place boxwise writes" in result.stderr


def test_a_file_base_with_the_docker_runner_says_to_name_a_builder(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"Procfile": "web: python3 -c pass\n"})
    file_base = f"docker-archive:{tmp_path}/b.tar"
    result = build(app, f"{PREFIX}/filebase:1", tmp_path / "cache", "--base", file_base)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "give --builder NAME, or use --runner local" in result.stderr
