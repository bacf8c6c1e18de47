"""The Python version an app asks for chooses its base, pulled as --pull-policy says, and a base
with another Python is one line before anything is installed.

The bases come from a local registry that serves them as the official python:X.Y-slim images are
served (tests/builder/conftest.py: bookworm as 3.11, trixie as 3.13), with the base template
`127.0.0.1:PORT/python:{python}-slim`: what `python:{python}-slim` is on a machine that reaches
Docker Hub.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import pytest
from support.cli import run_boxwise
from support.pybase import PythonRegistry, derived_image, python_version

from .helpers import BASE, PREFIX, REPO, run_image, write_app

NO_ENGINE = {"DOCKER_HOST": "tcp://127.0.0.1:9"}  # nothing answers there: these checks come first
STDLIB_APP = {"Procfile": "web: python3 -m http.server $PORT\n"}
SHOW_PYTHON = ["python3", "-c", "import platform; print(platform.python_version())"]


def boxwise_build(app: Path, cache: Path, *args: str, env: dict[str, str] | None = None):
    return run_boxwise(
        "build", str(app), "--cache", str(cache), *args, env={"PYTHONPATH": str(REPO / "src"), **(env or {})}
    )


def pulls(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("pull: ")]


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.removeprefix("boxwise: error: ").strip()


@pytest.mark.engine
@pytest.mark.slow
def test_the_python_the_app_asks_for_chooses_the_base(
    python_registry: PythonRegistry, docker_client, tmp_path: Path
) -> None:
    template = ("--base", python_registry.template)
    apps = {
        # .python-version, as uv and pyenv write it
        "3.13": write_app(tmp_path / "new", {**STDLIB_APP, ".python-version": "3.13\n"}),
        # a range: the newest supported version it allows
        "3.11": write_app(
            tmp_path / "old",
            {
                **STDLIB_APP,
                "pyproject.toml": '[project]\nname = "old"\nversion = "1"\n'
                'requires-python = ">=3.10,<3.12"\n',
            },
        ),
    }
    for minor, app in apps.items():
        tag = f"{PREFIX}/pyversion-{minor}:1"
        result = boxwise_build(app, tmp_path / "cache", *template, "--tag", tag)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        base = f"{python_registry.host}/python:{minor}-slim"
        assert pulls(result.stdout) == [f"pull: {base} (--pull-policy if-not-present)"]  # not in the engine
        full = python_registry.versions[minor]
        assert f"python: the base {base} has Python {full} (its PYTHON_VERSION)" in result.stdout
        code, out = run_image(docker_client, tag, SHOW_PYTHON)
        assert (code, out.strip()) == (0, full)

    # no version asked: builder.toml's default (python:3.13-slim), here from the same registry
    plain = write_app(tmp_path / "plain", STDLIB_APP)
    result = boxwise_build(plain, tmp_path / "cache", *template, "--tag", f"{PREFIX}/pyversion-default:1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "python: no version asked -> base for Python 3.13" in result.stdout
    assert pulls(result.stdout) == []  # if-not-present: pulled by the first build already


@pytest.mark.engine
@pytest.mark.slow
def test_pull_policies_as_pack_has_them(
    python_registry: PythonRegistry, docker_client, tmp_path: Path
) -> None:
    app = write_app(tmp_path / "app", {**STDLIB_APP, "runtime.txt": "python-3.11\n"})
    base = f"{python_registry.host}/python:3.11-slim"
    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(base)  # only this name (another test may have pulled it)
    tag = ("--tag", f"{PREFIX}/pyversion-pull:1", "--base", python_registry.template)
    with_policy = lambda policy: boxwise_build(app, tmp_path / "cache", *tag, "--pull-policy", policy)  # noqa: E731

    refused = one_line_error(with_policy("never"))  # not in the engine yet
    assert refused.startswith(f"--base {base}: no such image in the engine and --pull-policy is never;")
    first = with_policy("if-not-present")
    assert first.returncode == 0 and pulls(first.stdout) == [f"pull: {base} (--pull-policy if-not-present)"]
    again = with_policy("if-not-present")
    assert again.returncode == 0 and pulls(again.stdout) == []
    assert with_policy("never").returncode == 0  # in the engine now
    always = with_policy("always")
    assert always.returncode == 0 and pulls(always.stdout) == [f"pull: {base} (--pull-policy always)"]

    # No engine at all (--runner local to an OCI layout): the base is read from its registry, and
    # kept in the layer cache by name as an engine keeps a pulled image.
    engineless = ("--runner", "local", "--output", f"oci:{tmp_path / 'layout'}")
    never = ("--pull-policy", "never")
    cold = boxwise_build(app, tmp_path / "cache2", *tag, *engineless, *never, env=NO_ENGINE)
    assert "not read before into this cache and --pull-policy is never" in one_line_error(cold)
    read = boxwise_build(app, tmp_path / "cache2", *tag, *engineless, env=NO_ENGINE)
    assert read.returncode == 0, read.stdout[-3000:] + read.stderr
    assert pulls(read.stdout) == [f"pull: registry://{base} (--pull-policy if-not-present)"]
    cached = boxwise_build(app, tmp_path / "cache2", *tag, *engineless, *never, env=NO_ENGINE)
    assert cached.returncode == 0 and pulls(cached.stdout) == []
    assert (tmp_path / "layout" / "index.json").is_file()


def test_a_python_past_its_end_of_life_is_refused_in_one_line(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {**STDLIB_APP, ".python-version": "3.9\n"})
    template = "127.0.0.1:5000/python:{python}-slim"
    result = boxwise_build(app, tmp_path / "cache", "--base", template, env=NO_ENGINE)
    assert one_line_error(result) == (
        f"{app}/.python-version: asks for Python 3.9, which has reached its end of life; "
        "boxwise chooses bases for Python 3.10 or newer: ask for a newer one, or give --base an image "
        "with Python 3.9"
    )
    assert "layer" not in result.stdout  # nothing was built, no engine was asked


def test_files_that_disagree_are_one_error_naming_both(tmp_path: Path) -> None:
    files = {**STDLIB_APP, "runtime.txt": "python-3.11\n", ".python-version": "3.12\n"}
    app = write_app(tmp_path / "app", files)
    result = boxwise_build(app, tmp_path / "cache", env=NO_ENGINE)
    assert one_line_error(result) == (
        f"{app}/.python-version: asks for Python 3.12 but runtime.txt asks for 3.11; "
        "make the two agree (or delete one)"
    )
    # lint says the same, on the file and line, without an engine
    detect = run_boxwise("detect", str(app), "--format", "json", env={"PYTHONPATH": str(REPO / "src")})
    assert detect.returncode == 1
    assert '"rule": "python-version"' in detect.stdout and '"line": 1' in detect.stdout

    # Files that agree: Heroku's precedence names the request (runtime.txt before .python-version),
    # and the most precise pin chooses the base.
    (app / "runtime.txt").write_text("python-3.12.4\n")
    result = boxwise_build(app, tmp_path / "cache", "--base", "r.example/python:{python}-slim", env=NO_ENGINE)
    assert "python: 3.12.4 (runtime.txt) -> base for Python 3.12.4" in result.stdout
    assert "no Docker engine answers" in result.stderr  # it went on, to the engine
    detect = run_boxwise("detect", str(app), "--format", "json", env={"PYTHONPATH": str(REPO / "src")})
    assert "python-version" not in detect.stdout


@pytest.mark.engine
def test_a_base_with_another_python_is_one_line_before_anything_is_installed(
    base_image: str, tmp_path: Path
) -> None:
    app = write_app(tmp_path / "app", {**STDLIB_APP, ".python-version": "3.13\n", "requirements.txt": "six"})
    result = boxwise_build(app, tmp_path / "cache", "--base", BASE)
    assert one_line_error(result) == (
        f"{app}/.python-version: asks for Python 3.13 but the base {BASE} has Python 3.11; change "
        ".python-version or build on a base with Python 3.13"
    )
    assert "pip install" not in result.stdout
    # known from one pass over the engine's saved image: none of its 150 MB of layers is kept
    kept = sum(blob.stat().st_size for blob in (tmp_path / "cache").glob("blobs/sha256/*"))
    assert kept < 1 << 20, f"{kept} bytes of layers in the cache"


@pytest.mark.engine
@pytest.mark.slow
def test_the_build_images_python_is_checked_in_the_build(
    python_registry: PythonRegistry, base_image: str, tmp_path: Path
) -> None:
    """The run base is 3.13 as the app asks, the build image 3.11: the buildpack itself refuses,
    before pip runs, and the build ends with its one line."""
    app = write_app(tmp_path / "app", {**STDLIB_APP, ".python-version": "3.13\n", "requirements.txt": "six"})
    images = ("--run-image", f"{python_registry.host}/python:3.13-slim", "--builder", BASE)
    result = boxwise_build(app, tmp_path / "cache", *images)
    full = python_registry.versions["3.11"]
    assert one_line_error(result) == (
        f"{app}/.python-version: asks for Python 3.13 but the build image's python3 has Python {full}; "
        "change .python-version or build on a base with Python 3.13"
    )
    assert "$ pip install" not in result.stdout


def test_a_bad_tag_is_refused_before_the_build_starts(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", STDLIB_APP)
    for tag, says in (
        ("Shop/App:1", "the repository 'App' must be lower-case"),
        ("shop/app:v1 beta", "the tag 'v1 beta' may only hold letters, digits"),
        ("shop/app@sha256:" + "0" * 64, "a digest (@sha256:...) names an existing image"),
    ):
        result = boxwise_build(app, tmp_path / "cache", "--tag", tag, env=NO_ENGINE)
        line = one_line_error(result)
        assert line.startswith(f"--tag {tag!r}: not a valid image name: ") and says in line, line
        assert result.stdout == ""  # before anything: not even the app's Python was read
    capitals = "Registry.Example.com:5000/team/app:1.2"
    ok = boxwise_build(app, tmp_path / "cache", "--tag", capitals, env=NO_ENGINE)
    assert "no Docker engine answers" in ok.stderr  # a registry host may hold capitals; it went on


@pytest.fixture(scope="module")
def no_retry_base(docker_client, base_image: str) -> Iterator[tuple[str, str]]:
    """The project base with one retry for pip instead of five (PIP_RETRIES=1 in its config, which
    the build's environment takes): a network failure says what it says once, without pip's long
    back-off; and its Python version."""
    with derived_image(docker_client, base_image, "PIP_RETRIES=1") as tag:
        yield tag, python_version(docker_client, tag)


@pytest.fixture(scope="module")
def failure_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One layer cache for the failing builds: the base is saved into it once, not per build."""
    return tmp_path_factory.mktemp("failure-cache")


@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.parametrize(
    ("requirement", "args", "says", "tail"),
    [
        (
            "six==99.0",
            (),
            "{app}/requirements.txt:1: no release of six==99.0 can be installed on Python {python} "
            "(newest found: ",
            "ERROR: No matching distribution found for six==99.0",
        ),
        (
            "six==1.16.0",
            ("--network", "none"),
            "{app}: the build cannot resolve the package index (no DNS): the build container has no network "
            "(--network none); use --network host",
            "Temporary failure in name resolution",
        ),
        (
            "six==1.16.0",
            ("--ca-cert", "{other_ca}"),
            "{app}: the build cannot verify the TLS certificate of pypi.org (certificate verify failed) with "
            "--ca-cert {other_ca}; pass the CA bundle that signs it",
            "CERTIFICATE_VERIFY_FAILED",
        ),
        (
            # an sdist with a C extension (no wheel for any Linux): the base has no compiler
            "netifaces==0.11.0",
            (),
            "{app}: building netifaces from source needs x86_64-linux-gnu-gcc, which the build image {base} "
            "lacks; pin a version of netifaces that has a wheel for Python {python}, or build on a --builder",
            "No such file or directory: 'x86_64-linux-gnu-gcc'",
        ),
    ],
    ids=["no-release", "no-network", "tls", "no-compiler"],
)
def test_install_failures_say_what_happened(
    no_retry_base: tuple[str, str],
    failure_cache: Path,
    tmp_path: Path,
    requirement: str,
    args: tuple[str, ...],
    says: str,
    tail: str,
) -> None:
    base, python = no_retry_base
    other_ca = tmp_path / "other-ca.pem"  # a CA that signs nothing pip meets
    if "{other_ca}" in " ".join(args):
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-keyout", str(tmp_path / "k.pem"), "-out", str(other_ca), "-subj", "/CN=other"),
            ],
            check=True,
            capture_output=True,
        )
    app = write_app(tmp_path / "app", {"requirements.txt": f"{requirement}\n", **STDLIB_APP})
    filled = [arg.format(other_ca=other_ca) for arg in args]
    result = boxwise_build(app, failure_cache, "--base", base, *filled)
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr
    first, *under = result.stderr.splitlines()
    expected = says.format(app=app, other_ca=other_ca, base=base, python=python)
    assert first.startswith(f"boxwise: error: {expected}"), first
    assert under and all(line.startswith("  | ") for line in under) and len(under) <= 12
    assert any(tail in line for line in under), under  # the installer's own last lines


@pytest.mark.parametrize(
    ("files", "chosen"),
    [
        ({".python-version": "# by uv\n\n  3.12  \n"}, "3.12 (.python-version) -> base for Python 3.12"),
        (
            {
                "Pipfile.lock": '{"_meta": {"requires": {"python_full_version": "3.12.4"}}}',
                "Pipfile": '[requires]\npython_version = "3.12"\n',
            },
            "3.12.4 (Pipfile.lock _meta.requires.python_full_version) -> base for Python 3.12.4",
        ),
        ({"pyproject.toml": '[project]\nrequires-python = ">=3.14"\n'}, "-> base for Python 3.14"),
        ({"pyproject.toml": '[project]\nrequires-python = "~=3.11.2"\n'}, "-> base for Python 3.11"),
        ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.11"\n'}, "-> base for Python 3.13"),
        (
            {"pyproject.toml": '[tool.poetry.dependencies]\npython = ">=3.9 <3.12 || ^3.14"\n'},
            "-> base for Python 3.11",
        ),
    ],
    ids=["python-version", "pipfile-lock", "requires-python", "compatible", "poetry-caret", "poetry-or"],
)
def test_each_file_that_asks_chooses_the_base(tmp_path: Path, files: dict[str, str], chosen: str) -> None:
    app = write_app(tmp_path / "app", {**STDLIB_APP, **files})
    result = boxwise_build(app, tmp_path / "cache", "--base", "r.example/python:{python}-slim", env=NO_ENGINE)
    assert chosen in next(line for line in result.stdout.splitlines() if line.startswith("python: "))
    assert "no Docker engine answers" in result.stderr  # chosen before the engine is asked


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({".python-version": "pypy3.10\n"}, ".python-version: 'pypy3.10' is not a Python version; write "),
        ({".python-version": "3.12\n3.11\n"}, ".python-version: holds 2 versions; keep exactly one line"),
        ({"runtime.txt": "3.12\n"}, "runtime.txt: '3.12' is not a Python version; write python-<major>"),
        (
            {"pyproject.toml": '[project]\nrequires-python = "3.11"\n'},
            "pyproject.toml: requires-python '3.11' is not a PEP 440 version specifier",
        ),
    ],
    ids=["not-a-version", "two-versions", "runtime-txt", "not-pep440"],
)
def test_a_file_that_asks_wrongly_is_one_line(tmp_path: Path, files: dict[str, str], says: str) -> None:
    app = write_app(tmp_path / "app", {**STDLIB_APP, **files})
    assert one_line_error(boxwise_build(app, tmp_path / "cache", env=NO_ENGINE)).startswith(f"{app}/{says}")


@pytest.mark.engine
def test_a_version_no_python_has_is_one_line_naming_the_file_and_the_base(tmp_path: Path) -> None:
    """Heroku's fixture python_version_unknown (`3.999`): refused in one line, never a traceback."""
    app = tmp_path / "unknown"
    app.mkdir()
    (app / ".python-version").write_text("3.999\n")
    (app / "requirements.txt").write_text("six==1.16.0\n")
    result = run_boxwise(
        "build", str(app), "--base", "boxwise-python:bookworm", env={"PYTHONPATH": str(REPO / "src")}
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert ".python-version: asks for Python 3.999" in result.stderr
