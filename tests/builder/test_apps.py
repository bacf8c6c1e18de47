"""Each kind of app builds into an image that runs and answers (real engine, real pip, real PyPI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import (
    PREFIX,
    WEB_APP,
    assert_dive_efficient,
    build,
    build_ok,
    http_get_from_image,
    run_image,
    write_app,
)

pytestmark = pytest.mark.engine


def test_requirements_app_answers_http_and_its_config_is_clean(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "req-app",
        {
            "requirements.txt": "six==1.16.0\nidna==3.7\n",
            "Procfile": "web: python3 app.py six idna\nworker: python3 -c 'print(1)'\n",
            "app.py": WEB_APP,
            ".dockerignore": "notes/\n",
            ".boxwiseignore": "*.log\n",
            "notes/todo.txt": "not for the image\n",
            "debug.log": "not for the image either\n",
            ".git/config": "[core]\n",
        },
    )
    tag = f"{PREFIX}/req-app:1"
    out = build_ok(app, tag, tmp_path / "cache")
    assert "pip-install:packages: rebuilt: no cached layer" in out
    assert "Successfully installed" in out  # pip's own output is in the build log

    assert http_get_from_image(docker_client, tag, "req-app") == "hello from boxwise (six 1.16.0, idna 3.7)\n"

    config = docker_client.images.get(tag).attrs["Config"]
    assert config["User"] == "1000:1000"
    assert config["WorkingDir"] == "/workspace"
    assert config["Entrypoint"] == ["python3", "app.py", "six", "idna"]  # web is the default process
    env = dict(item.split("=", 1) for item in config["Env"])
    # the dependencies are a virtual environment whose bin/ comes first on PATH
    assert env["PATH"].startswith("/layers/pip-install/packages/bin:")
    assert env["VIRTUAL_ENV"] == "/layers/pip-install/packages"
    assert "PYTHONPATH" not in env
    # a runtime like a CNB run image's: a home of the run user, unbuffered logs, UTF-8, PORT 8080
    assert (env["HOME"], env["PYTHONUNBUFFERED"], env["LANG"], env["PORT"]) == (
        "/home/cnb",
        "1",
        "C.UTF-8",
        "8080",
    )
    for build_only in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "SOURCE_DATE_EPOCH"):
        assert build_only not in env
    lifecycle = json.loads(config["Labels"]["io.buildpacks.lifecycle.metadata"])
    layers = lifecycle["buildpacks"][0]["layers"]
    assert lifecycle["buildpacks"][0]["key"] == "pip-install"
    assert set(layers) == {"packages"}  # the pip download cache is never exported
    assert layers["packages"]["data"]["inputs"]["python"].startswith("3.")
    processes = json.loads(config["Labels"]["io.buildpacks.build.metadata"])["processes"]
    assert {p["type"] for p in processes} == {"web", "worker"}

    code, listing = run_image(docker_client, tag, ["ls", "-A", "/workspace"])
    assert code == 0 and listing.split() == [
        ".boxwiseignore",
        ".dockerignore",
        "Procfile",
        "app.py",
        "requirements.txt",
    ]

    # the app folder belongs to the run user, as in a pack-built image: the app may write beside its code
    code, output = run_image(docker_client, tag, ["sh", "-c", "echo data > /workspace/state.txt && id -u"])
    assert (code, output.strip()) == (0, "1000"), output

    # pip, setuptools and wheel are not shipped: the app did not ask for them.
    code, output = run_image(docker_client, tag, ["python3", "-c", "import pip"])
    assert code != 0 and "No module named 'pip'" in output
    assert_dive_efficient(docker_client, tag, tmp_path)


def test_pyproject_app_runs_its_script_from_the_virtual_environment(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "pp-app",
        {
            "pyproject.toml": (
                '[project]\nname = "hello-pp"\nversion = "1.2.0"\n'
                'dependencies = ["six==1.16.0", "idna==3.7"]\n\n'
                '[project.scripts]\nhello-pp = "hello_pp.cli:main"\n'
            ),
            "src/hello_pp/__init__.py": "",
            "src/hello_pp/cli.py": (
                "import importlib.metadata, idna, six\n"
                "def main():\n"
                "    print('hello-pp', importlib.metadata.version('hello-pp'), six.__file__)\n"
                "    return 0\n"
            ),
        },
    )
    tag = f"{PREFIX}/pp-app:1"
    out = build_ok(app, tag, tmp_path / "cache")
    assert "no Procfile: web process `hello-pp` (the project's first script in [project.scripts]" in out
    code, output = run_image(docker_client, tag)
    assert code == 0, output
    assert output.startswith(
        "hello-pp 1.2.0 /layers/pyproject-toml-install/packages/lib/python3.11/site-packages/"
    )
    # the project's source is importable by any python of the image (a .pth file, as `pip -e` does)
    code, output = run_image(
        docker_client, tag, ["python3", "-c", "import hello_pp.cli as m; print(m.__file__)"]
    )
    assert (code, output) == (0, "/workspace/src/hello_pp/cli.py\n")
    assert_dive_efficient(docker_client, tag, tmp_path)


def test_requirements_beside_pyproject_is_what_gets_installed_as_on_heroku(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "both-app",
        {
            "pyproject.toml": '[project]\nname = "both"\nversion = "1"\ndependencies = ["idna==3.7"]\n',
            "requirements.txt": "six==1.16.0\n",
            "Procfile": "web: python3 app.py six\n",
            "app.py": WEB_APP,
        },
    )
    tag = f"{PREFIX}/both-app:1"
    out = build_ok(app, tag, tmp_path / "cache")
    assert "detect: group 1 passed: pip-install@0.1.0, procfile-run@0.1.0" in out
    assert http_get_from_image(docker_client, tag, "both-app") == "hello from boxwise (six 1.16.0)\n"
    code, output = run_image(docker_client, tag, ["python3", "-c", "import idna"])
    assert code != 0 and "No module named 'idna'" in output


def test_procfile_only_app_answers_http(base_image: str, docker_client, tmp_path: Path) -> None:
    app = write_app(tmp_path / "proc-app", {"Procfile": "web: python3 app.py\n", "app.py": WEB_APP})
    tag = f"{PREFIX}/proc-app:1"
    out = build_ok(app, tag, tmp_path / "cache")
    assert "detect: group 7 passed: procfile-run@0.1.0" in out  # the last group: no dependencies
    assert http_get_from_image(docker_client, tag, "proc-app") == "hello from boxwise ()\n"
    assert_dive_efficient(docker_client, tag, tmp_path)


def test_app_without_procfile_runs_as_its_module(base_image: str, docker_client, tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "mod-app",
        {
            "requirements.txt": "six==1.16.0\n",
            "greet/__init__.py": "",
            "greet/__main__.py": "import six\nprint('hello from greet, six', six.__version__)\n",
        },
    )
    tag = f"{PREFIX}/mod-app:1"
    out = build_ok(app, tag, tmp_path / "cache")
    assert "no Procfile: web process `python -m greet` (package greet has a __main__.py)" in out
    assert run_image(docker_client, tag) == (0, "hello from greet, six 1.16.0\n")
    assert_dive_efficient(docker_client, tag, tmp_path)


def test_app_with_nothing_to_start_fails_and_says_what_to_add(base_image: str, tmp_path: Path) -> None:
    app = write_app(tmp_path / "lib-only", {"requirements.txt": "six==1.16.0\n", "README.md": "no code\n"})
    result = build(app, f"{PREFIX}/lib-only:1", tmp_path / "cache")
    assert result.returncode == 2
    assert "nothing to start: add a Procfile" in result.stdout
    assert result.stderr.count("\n") == 1 and "add a Procfile" in result.stderr


SPARK_STUB = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "pyspark"
version = "0.0.1"

[tool.setuptools]
packages = ["pyspark"]
"""
SPARK_CHECK = """\
import os, pyspark
print(os.environ["SPARK_HOME"] == os.path.dirname(pyspark.__file__), os.environ["SPARK_HOME"])
"""


def test_a_spark_bundle_among_the_packages_sets_spark_home(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    # A stand-in for pyspark (the real one is 300 MB): a local package of that name, built by pip.
    app = write_app(
        tmp_path / "spark-app",
        {
            "requirements.txt": "six==1.16.0\n./vendor/pyspark\n",
            "vendor/pyspark/pyproject.toml": SPARK_STUB,
            "vendor/pyspark/pyspark/__init__.py": "__version__ = '0.0.1'\n",
            "Procfile": "web: python3 check.py\n",
            "check.py": SPARK_CHECK,
        },
    )
    tag = f"{PREFIX}/spark-app:1"
    out = build_ok(app, tag, tmp_path / "cache")
    assert "Spark bundle found: SPARK_HOME=" in out
    code, output = run_image(docker_client, tag)
    assert code == 0, output
    assert output.startswith("True /layers/pip-install/packages/") and output.rstrip().endswith("/pyspark")


def test_a_cnb_project_descriptor_chooses_the_files_and_gives_the_build_its_env(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "descriptor-app",
        {
            "project.toml": (
                '[_]\nschema-version = "0.2"\n[io.buildpacks]\nexclude = ["notes", "*.csv"]\n'
                '[[io.buildpacks.build.env]]\nname = "SIX_VERSION"\nvalue = "1.16.0"\n'
            ),
            "requirements.txt": "six==${SIX_VERSION}\n",  # pip expands variables of the build env
            "Procfile": "web: python3 app.py six\n",
            "app.py": WEB_APP,
            "notes/todo.txt": "not for the image\n",
            "data.csv": "a,b\n",
        },
    )
    tag = f"{PREFIX}/descriptor-app:1"
    build_ok(app, tag, tmp_path / "cache")
    assert http_get_from_image(docker_client, tag, "descriptor-app") == "hello from boxwise (six 1.16.0)\n"
    code, listing = run_image(docker_client, tag, ["ls", "-A", "/workspace"])
    assert code == 0 and listing.split() == ["Procfile", "app.py", "project.toml", "requirements.txt"]
    env = docker_client.images.get(tag).attrs["Config"]["Env"]
    assert not any(item.startswith("SIX_VERSION=") for item in env)  # the build's, never the image's


def test_vendored_wheels_install_offline(base_image: str, docker_client, tmp_path: Path) -> None:
    """vendor/ with the wheels: installed from there alone, with the build's network off."""
    app = write_app(
        tmp_path / "vendored-app",
        {"requirements.txt": "six==1.16.0\n", "Procfile": "web: python3 app.py six\n", "app.py": WEB_APP},
    )
    download = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(app / "vendor")]
    subprocess.run([*download, "six==1.16.0"], check=True)
    tag = f"{PREFIX}/vendored-app:1"
    out = build_ok(app, tag, tmp_path / "cache", "--network", "none")
    assert "vendor/ holds the packages: installing offline from it" in out
    assert http_get_from_image(docker_client, tag, "vendored-app") == "hello from boxwise (six 1.16.0)\n"
